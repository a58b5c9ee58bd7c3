//! The supervision work a running server does by itself, each on a thread with its own database
//! connection: the dispatcher (every 200 ms, and the escalation of overdue entries every minute),
//! the tracer that attaches the trace snapshots to new entries, and the delivery worker.
//!
//! Each thread sleeps on a channel, so [`Background::stop`] (or dropping the handle) ends it at
//! its next wake-up rather than after a full interval. A failing round is logged (once per
//! distinct error, not every 200 ms) and tried again at the next one.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shian_store::Store;

use super::config::NotifyConfig;
use super::deliver::{Backoff, Deliverer, deliver_due};
use super::dispatch::{attach_traces, dispatch_pending};
use super::escalate::escalate_overdue;
use super::{Result, now, now_ms};

/// How often each piece of work runs when there is nothing waiting.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub dispatch: Duration,
    pub trace: Duration,
    pub deliver: Duration,
    pub escalate: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            dispatch: Duration::from_millis(200),
            trace: Duration::from_millis(200),
            deliver: Duration::from_millis(500),
            escalate: Duration::from_secs(60),
        }
    }
}

/// The running background work; stops when dropped.
pub struct Background {
    stops: Vec<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Background {
    /// Starts the work over the database of `store`, with the channels configured in the
    /// environment. A configuration error is logged and only the inbox is used; a database that
    /// cannot be opened again (a private in-memory one) runs nothing.
    pub fn start(store: &dyn Store) -> Background {
        let cfg = NotifyConfig::from_env().unwrap_or_else(|e| {
            tracing::error!(error = %e, "notification channels not used; only the platform inbox");
            NotifyConfig::default()
        });
        Background::start_with(store, cfg, Intervals::default()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "supervision background work not started");
            Background { stops: Vec::new(), threads: Vec::new() }
        })
    }

    /// Starts the work with these settings.
    pub fn start_with(store: &dyn Store, cfg: NotifyConfig, every: Intervals) -> Result<Background> {
        let mut bg = Background { stops: Vec::new(), threads: Vec::new() };
        let dispatch_cfg = cfg.clone();
        let mut next_escalation = Instant::now();
        bg.spawn("shian-dispatch", store.reopen()?, every.dispatch, move |s| {
            let r = dispatch_pending(s, &dispatch_cfg, 500)?;
            if Instant::now() >= next_escalation {
                next_escalation = Instant::now() + every.escalate;
                escalate_overdue(s, now())?;
            }
            Ok(r.opened + r.skipped > 0)
        })?;
        bg.spawn("shian-trace", store.reopen()?, every.trace, |s| Ok(attach_traces(s, 20)? > 0))?;
        let mut deliverer = None;
        bg.spawn("shian-deliver", store.reopen()?, every.deliver, move |s| {
            // The HTTP client is made on this thread, outside any async runtime.
            if deliverer.is_none() {
                deliverer = Some(Deliverer::new(cfg.clone(), Backoff::default())?);
            }
            let Some(d) = deliverer.as_ref() else { return Ok(false) };
            let r = deliver_due(s, d, now_ms(), 50)?;
            Ok(r.delivered + r.retrying + r.gave_up > 0)
        })?;
        Ok(bg)
    }

    fn spawn(
        &mut self,
        name: &str,
        mut store: Box<dyn Store>,
        every: Duration,
        mut step: impl FnMut(&mut dyn Store) -> Result<bool> + Send + 'static,
    ) -> Result<()> {
        let (stop, stopped) = mpsc::channel();
        let label = name.to_string();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(&label, store.as_mut(), every, &stopped, &mut step))
            .map_err(|e| super::SupervisionError::Config(format!("cannot start {name}: {e}")))?;
        self.stops.push(stop);
        self.threads.push(thread);
        Ok(())
    }

    /// Stops every thread and waits for it (a delivery attempt in flight finishes first).
    pub fn stop(mut self) {
        self.stops.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Closing the channels wakes the threads, which then end; they are not waited for here.
        self.stops.clear();
    }
}

/// A worker's loop: a step, then (if it found nothing to do) a sleep that a stop interrupts.
fn run(
    name: &str,
    store: &mut dyn Store,
    every: Duration,
    stopped: &Receiver<()>,
    step: &mut dyn FnMut(&mut dyn Store) -> Result<bool>,
) {
    let mut last_error = String::new();
    loop {
        let busy = match step(store) {
            Ok(busy) => {
                last_error.clear();
                busy
            }
            Err(e) => {
                let text = e.to_string();
                if text != last_error {
                    tracing::error!(worker = name, error = %text, "supervision work failed; retrying");
                    last_error = text;
                }
                false
            }
        };
        if !keep_going(stopped, busy, every) {
            return;
        }
    }
}

/// Whether to run another round: at once after a busy round (unless stopped), else after `every`
/// unless stopped meanwhile.
fn keep_going(stopped: &Receiver<()>, busy: bool, every: Duration) -> bool {
    if busy {
        matches!(stopped.try_recv(), Err(TryRecvError::Empty))
    } else {
        matches!(stopped.recv_timeout(every), Err(RecvTimeoutError::Timeout))
    }
}
