//! Abuse resistance without outside services.
//!
//! - [`Limits`]: fixed-window counters in memory, per client address and per vendor, for what the
//!   public sends (complaints, ratings). Over the limit the answer is 429 with `Retry-After`.
//! - [`Shed`]: load shedding of the public pages. A request is answered 429 at once, before any
//!   work, when [`MAX_IN_FLIGHT`] public requests are already being handled. Pages are rendered
//!   from the database [`MAX_RENDERS`] at a time; at most [`MAX_RENDER_QUEUE`] requests wait for a
//!   render slot, at most [`RENDER_WAIT`]: when pages must be rendered faster than the database
//!   allows (a cold cache after a restart, say), the excess is refused at once instead of
//!   waiting in a queue that only grows. Cached pages cost microseconds and are not limited
//!   beyond that: the server answers them at its full rate.
//! - A probe that should wake every [`LAG_PROBE`] measures how late it wakes: the time ready work
//!   waits for a CPU inside the server, which every request also waits. It is not a reason to
//!   refuse (another process, an import, makes it grow too, and a lone reader must not be turned
//!   away for that); it is logged when it passes [`LAG_WARN`] and the benchmark reports it.
//!
//! The client is the connection's peer address: behind a reverse proxy every client would share
//! the proxy's, so a deployment behind one must set the limits at the proxy (the platform does not
//! trust `X-Forwarded-For`, which anyone can forge).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::PublicState;

/// Public page requests handled at once before new ones are turned away.
pub const MAX_IN_FLIGHT: usize = 512;
/// Pages rendered from the database at once (the rest of the in-flight requests wait for one).
pub const MAX_RENDERS: usize = 4;
/// Requests that may wait for a render slot; more are turned away at once.
pub const MAX_RENDER_QUEUE: usize = 32;
/// How long a request waits for a render slot before it is turned away.
pub const RENDER_WAIT: Duration = Duration::from_secs(2);
/// How often the saturation probe wakes.
pub const LAG_PROBE: Duration = Duration::from_millis(10);
/// The probe's lateness beyond which a warning is logged (at most once a minute).
pub const LAG_WARN: Duration = Duration::from_millis(100);

/// A limit: so many events per window.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub max: u32,
    pub window: Duration,
}

/// Complaints from one client address.
pub const COMPLAINTS_PER_CLIENT: Rule = Rule { max: 5, window: Duration::from_secs(3600) };
/// Complaints about one vendor, from everyone.
pub const COMPLAINTS_PER_VENDOR: Rule = Rule { max: 30, window: Duration::from_secs(3600) };
/// Ratings from one client address (one per vendor per day is kept by the database).
pub const RATINGS_PER_CLIENT: Rule = Rule { max: 30, window: Duration::from_secs(3600) };
/// Ratings of one vendor, from everyone.
pub const RATINGS_PER_VENDOR: Rule = Rule { max: 200, window: Duration::from_secs(3600) };

/// Counters beyond which expired windows are swept.
const SWEEP_AT: usize = 50_000;

/// Fixed-window counters by key.
#[derive(Default)]
pub struct Limits {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limits {
    /// Counts an event under `key`; `Err(seconds to wait)` when the rule is exceeded (the event is
    /// then not counted).
    pub fn hit(&self, key: &str, rule: Rule) -> Result<(), u64> {
        let now = Instant::now();
        let mut w = self.windows.lock().expect("limits lock");
        if w.len() >= SWEEP_AT {
            w.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(86_400));
        }
        let (start, n) = w.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= rule.window {
            *start = now;
            *n = 0;
        }
        if *n >= rule.max {
            return Err(rule.window.saturating_sub(now.duration_since(*start)).as_secs().max(1));
        }
        *n += 1;
        Ok(())
    }

    /// Checks several rules; counts in all of them only if none is exceeded.
    pub fn hit_all(&self, rules: &[(&str, Rule)]) -> Result<(), u64> {
        for (key, rule) in rules {
            if let Some(wait) = self.would_exceed(key, *rule) {
                return Err(wait);
            }
        }
        for (key, rule) in rules {
            self.hit(key, *rule)?;
        }
        Ok(())
    }

    fn would_exceed(&self, key: &str, rule: Rule) -> Option<u64> {
        let w = self.windows.lock().expect("limits lock");
        let (start, n) = w.get(key)?;
        let age = start.elapsed();
        (age < rule.window && *n >= rule.max).then(|| rule.window.saturating_sub(age).as_secs().max(1))
    }
}

/// The load shedder's state.
pub struct Shed {
    in_flight: Arc<Semaphore>,
    renders: Arc<Semaphore>,
    /// Requests waiting for a render slot.
    waiting: AtomicUsize,
    /// The probe's latest lateness, in microseconds (a moving average).
    lag_micros: AtomicU64,
    /// Requests refused by the limits above.
    pub shed_count: AtomicU64,
}

impl Default for Shed {
    fn default() -> Shed {
        Shed {
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            renders: Arc::new(Semaphore::new(MAX_RENDERS)),
            waiting: AtomicUsize::new(0),
            lag_micros: AtomicU64::new(0),
            shed_count: AtomicU64::new(0),
        }
    }
}

impl Shed {
    /// The saturation probe's current lateness.
    pub fn lag(&self) -> Duration {
        Duration::from_micros(self.lag_micros.load(Ordering::Relaxed))
    }

    /// Records one probe's lateness (a moving average over a few probes); returns the average.
    fn record_lag(&self, lag: Duration) -> Duration {
        let new = lag.as_micros().min(u64::MAX as u128) as u64;
        let old = self.lag_micros.load(Ordering::Relaxed);
        let avg = (old * 3 + new) / 4;
        self.lag_micros.store(avg, Ordering::Relaxed);
        Duration::from_micros(avg)
    }

    /// A render slot if one is free now.
    pub fn try_render_slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.renders).try_acquire_owned().ok()
    }

    /// A render slot, waiting at most [`RENDER_WAIT`] behind at most [`MAX_RENDER_QUEUE`] others;
    /// `None` means too busy.
    pub async fn render_slot(&self) -> Option<OwnedSemaphorePermit> {
        if let Some(slot) = self.try_render_slot() {
            return Some(slot);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_RENDER_QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.shed_count.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let slot = tokio::time::timeout(RENDER_WAIT, Arc::clone(&self.renders).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let slot = slot.ok().and_then(Result::ok);
        if slot.is_none() {
            self.shed_count.fetch_add(1, Ordering::Relaxed);
        }
        slot
    }
}

/// Runs the saturation probe for as long as the runtime lives.
pub fn start_probe(public: Arc<PublicState>) {
    tokio::spawn(async move {
        let mut warned: Option<Instant> = None;
        loop {
            let started = Instant::now();
            tokio::time::sleep(LAG_PROBE).await;
            let lag = public.shed.record_lag(started.elapsed().saturating_sub(LAG_PROBE));
            if lag > LAG_WARN && warned.is_none_or(|w| w.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(lag_ms = lag.as_millis() as u64, "the server is saturated: requests wait for a CPU");
                warned = Some(Instant::now());
            }
        }
    });
}

/// 429 with `Retry-After`, in both languages (plain text: it must be cheap).
pub fn too_many(retry_after: u64) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
        "访问过于频繁，请稍后再试。Too many requests: please try again later.\n",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The load-shedding middleware of the public pages.
pub async fn shed(State(public): State<Arc<PublicState>>, req: Request, next: Next) -> Response {
    let Ok(_permit) = Arc::clone(&public.shed.in_flight).try_acquire_owned() else {
        public.shed.shed_count.fetch_add(1, Ordering::Relaxed);
        return too_many(1);
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_maximum_then_refuses() {
        let l = Limits::default();
        let rule = Rule { max: 2, window: Duration::from_secs(60) };
        assert!(l.hit("a", rule).is_ok());
        assert!(l.hit("a", rule).is_ok());
        assert!(l.hit("a", rule).is_err());
        assert!(l.hit("b", rule).is_ok(), "keys are counted apart");
    }

    #[test]
    fn several_rules_count_only_when_all_allow() {
        let l = Limits::default();
        let tight = Rule { max: 1, window: Duration::from_secs(60) };
        let loose = Rule { max: 10, window: Duration::from_secs(60) };
        assert!(l.hit_all(&[("c:1", tight), ("v:9", loose)]).is_ok());
        assert!(l.hit_all(&[("c:1", tight), ("v:9", loose)]).is_err());
        assert!(l.hit_all(&[("c:2", tight), ("v:9", loose)]).is_ok());
    }
}
