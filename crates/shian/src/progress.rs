//! Progress bars on the terminal (hidden when output is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};
use std::cell::RefCell;

/// A bar for an import: bytes read, with rows and rows/s.
pub struct ImportBar(ProgressBar);

impl ImportBar {
    pub fn new() -> ImportBar {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent}% {msg}")
                .expect("valid template"),
        );
        ImportBar(bar)
    }
}

impl Default for ImportBar {
    fn default() -> Self {
        ImportBar::new()
    }
}

impl shian_services::import::Progress for ImportBar {
    fn update(&self, done: u64, total: u64, rows: u64) {
        if total > 0 {
            self.0.set_length(total);
            self.0.set_position(done.min(total));
        }
        let secs = self.0.elapsed().as_secs_f64().max(0.001);
        self.0.set_message(format!("{rows} 行 / rows, {:.0} 行/秒 rows/s", rows as f64 / secs));
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// A bar per phase of the simulator.
pub struct PhaseBar {
    bar: ProgressBar,
    phase: RefCell<String>,
    started: RefCell<std::time::Instant>,
    /// Time each phase took, in order.
    pub timings: RefCell<Vec<(String, f64)>>,
}

impl PhaseBar {
    pub fn new() -> PhaseBar {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
            )
            .expect("valid template"),
        );
        PhaseBar {
            bar,
            phase: RefCell::new(String::new()),
            started: RefCell::new(std::time::Instant::now()),
            timings: RefCell::new(Vec::new()),
        }
    }

    pub fn finish(&self) {
        self.close_phase();
        self.bar.finish_and_clear();
    }

    fn close_phase(&self) {
        let phase = self.phase.borrow().clone();
        if !phase.is_empty() {
            let secs = self.started.borrow().elapsed().as_secs_f64();
            self.timings.borrow_mut().push((phase, secs));
        }
        *self.started.borrow_mut() = std::time::Instant::now();
    }
}

impl Default for PhaseBar {
    fn default() -> Self {
        PhaseBar::new()
    }
}

impl shian_sim::Progress for PhaseBar {
    fn update(&self, phase: &str, done: u64, total: u64) {
        if *self.phase.borrow() != phase {
            self.close_phase();
            *self.phase.borrow_mut() = phase.to_string();
            self.bar.set_prefix(phase.to_string());
            self.bar.reset();
        }
        self.bar.set_length(total);
        self.bar.set_position(done);
    }
}
