//! Operations: health and readiness, Prometheus metrics, structured request logs, shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// Upper bounds (seconds) of the request-latency histogram.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Request counters, read by `/metrics`.
#[derive(Default)]
pub struct Metrics {
    requests: [AtomicU64; 5],
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    fn record(&self, status: StatusCode, secs: f64) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.requests[class].fetch_add(1, Ordering::Relaxed);
        let bucket = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of the counters.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP shian_http_requests_total HTTP requests answered, by status class.\n\
             # TYPE shian_http_requests_total counter\n",
        );
        for (i, n) in self.requests.iter().enumerate() {
            out += &format!("shian_http_requests_total{{class=\"{}xx\"}} {}\n", i + 1, n.load(Ordering::Relaxed));
        }
        out += "# HELP shian_http_request_duration_seconds Time to answer a request.\n\
                # TYPE shian_http_request_duration_seconds histogram\n";
        let mut cumulative = 0;
        for (i, n) in self.latency.iter().enumerate() {
            cumulative += n.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map(|b| b.to_string()).unwrap_or_else(|| "+Inf".into());
            out += &format!("shian_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}\n");
        }
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        out += &format!("shian_http_request_duration_seconds_sum {sum}\n");
        out += &format!("shian_http_request_duration_seconds_count {cumulative}\n");
        out
    }
}

/// Logs every request as one structured line and counts it.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let response = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    state.metrics.record(response.status(), secs);
    tracing::info!(target: "shian::http", %method, %path, status = response.status().as_u16(), ms = secs * 1e3);
    response
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(health)).route("/readyz", get(ready)).route("/metrics", get(metrics))
}

/// Alive: the process answers.
async fn health() -> &'static str {
    "ok"
}

/// Ready: the database answers and the dashboard figures are computed.
async fn ready(State(state): State<AppState>) -> Response {
    let db_ok = state.db.run(|store| Ok(store.count(shian_domain::Kind::Market).is_ok())).await.unwrap_or(false);
    if db_ok && state.summary.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting").into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

/// JSON log lines on stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
