//! Page views per vendor and China day, counted without slowing the page: a view adds one to a
//! counter in memory; a background task moves the counters into the `page_views` table every
//! [`FLUSH_EVERY`] (one transaction) and once more when the server stops. A crash loses at most
//! the views of those few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::AppState;
use crate::error::AppError;

/// How often the counters are written to the database.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Views not yet written: (vendor, China day number) → views.
#[derive(Default)]
pub struct ViewCounter {
    pending: Mutex<HashMap<(i64, i64), u64>>,
}

/// The China day number of a Unix time (days since 1970-01-01 in UTC+8).
fn china_day(unix: i64) -> i64 {
    (unix + 8 * 3600).div_euclid(86_400)
}

fn day_text(day: i64) -> String {
    shian_services::public::listed::day(day * 86_400 - 8 * 3600)
}

impl ViewCounter {
    /// Counts one view of a vendor's page now.
    pub fn count(&self, vendor: i64) {
        let day = china_day(shian_services::accounts::now());
        *self.pending.lock().expect("views lock").entry((vendor, day)).or_default() += 1;
    }

    /// Takes the pending counts, as rows for `Public::add_page_views`.
    fn take(&self) -> Vec<(i64, String, u64)> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("views lock"));
        pending.into_iter().map(|((vendor, day), n)| (vendor, day_text(day), n)).collect()
    }

    /// Puts counts back after a failed write, so they are tried again.
    fn restore(&self, rows: Vec<(i64, String, u64)>) {
        let mut pending = self.pending.lock().expect("views lock");
        for (vendor, day, n) in rows {
            let Some(d) = shian_domain::time::parse_date(&day).and_then(|d| d.and_hms_opt(12, 0, 0)) else { continue };
            *pending.entry((vendor, china_day(d.and_utc().timestamp()))).or_default() += n;
        }
    }
}

/// Writes the pending views to the database now.
pub async fn flush(state: &AppState) -> Result<(), AppError> {
    let rows = state.public.views.take();
    if rows.is_empty() {
        return Ok(());
    }
    let write = rows.clone();
    let result = state.db.run(move |store| Ok(store.add_page_views(&write)?)).await;
    if result.is_err() {
        state.public.views.restore(rows);
    }
    result
}

/// Flushes every [`FLUSH_EVERY`] for as long as the runtime lives.
pub fn start_flusher(state: AppState) {
    let state = Arc::new(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = flush(&state).await {
                tracing::error!(error = %e.msg, "writing page views failed; kept for the next flush");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_china_days() {
        // 2026-11-29 16:30 UTC is 2026-11-30 00:30 in China.
        let t = 1_795_969_800;
        assert_eq!(day_text(china_day(t)), "2026-11-30");
        assert_eq!(day_text(china_day(t - 3600)), "2026-11-29");
    }
}
