//! The server's trace index: built in the background at start, used by every trace while the
//! database still stands where it was built, dropped and rebuilt (in the background, at most once
//! per [`REBUILD_EVERY`]) after a write to what it holds. Until a fresh one exists, traces read the
//! database: the same answers, slower. `SHIAN_TRACE_INDEX=off` turns it off (the index of a
//! province holds about a gigabyte).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use shian_services::trace::TraceIndex;

use crate::db::Db;

/// The shortest time between two builds (imports write in batches; each batch makes the index
/// stale, and a province's index takes tens of seconds to build).
pub const REBUILD_EVERY: Duration = Duration::from_secs(30);

/// The current index, if any, and whether one is being built.
pub struct TraceIndexes {
    enabled: bool,
    current: RwLock<Option<Arc<TraceIndex>>>,
    building: AtomicBool,
    last_build: Mutex<Option<Instant>>,
}

impl TraceIndexes {
    /// Enabled unless `SHIAN_TRACE_INDEX` is `off`.
    pub fn from_env() -> TraceIndexes {
        TraceIndexes::new(std::env::var("SHIAN_TRACE_INDEX").map_or(true, |v| v != "off"))
    }

    pub fn new(enabled: bool) -> TraceIndexes {
        TraceIndexes {
            enabled,
            current: RwLock::new(None),
            building: AtomicBool::new(false),
            last_build: Mutex::new(None),
        }
    }

    /// The index to try (it may be stale: check with `TraceIndex::on`).
    pub fn current(&self) -> Option<Arc<TraceIndex>> {
        self.current.read().expect("trace index lock").clone()
    }

    /// The index `seen` was found stale: drop it (so two provinces' worth of index are never held)
    /// and build a new one.
    pub fn stale(self: &Arc<Self>, seen: &Arc<TraceIndex>, db: &Arc<Db>) {
        {
            let mut current = self.current.write().expect("trace index lock");
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, seen)) {
                *current = None;
            }
        }
        self.build(db);
    }

    /// Starts building an index in the background, unless disabled, one is being built, or the
    /// last build started less than [`REBUILD_EVERY`] ago.
    pub fn build(self: &Arc<Self>, db: &Arc<Db>) {
        if !self.enabled {
            return;
        }
        {
            let mut last = self.last_build.lock().expect("trace index lock");
            if last.is_some_and(|t| t.elapsed() < REBUILD_EVERY) || self.building.swap(true, Ordering::SeqCst) {
                return;
            }
            *last = Some(Instant::now());
        }
        let (me, db) = (Arc::clone(self), Arc::clone(db));
        std::thread::spawn(move || {
            let started = Instant::now();
            match db.with(|store| TraceIndex::build(store)) {
                Ok(Ok(index)) => {
                    let size = index.size();
                    *me.current.write().expect("trace index lock") = Some(Arc::new(index));
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        receipts = size.receipts,
                        sales = size.sales,
                        mib = size.bytes / (1 << 20),
                        "trace index ready"
                    );
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "trace index not built; traces read the database"),
                Err(e) => tracing::warn!(error = %e.msg, "trace index not built; traces read the database"),
            }
            me.building.store(false, Ordering::SeqCst);
        });
    }
}
