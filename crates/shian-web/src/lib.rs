//! Shian's web platform: the HTTP server behind `shian serve`.
//!
//! - [`pages`]: server-rendered pages (askama templates, auto-escaped), Simplified Chinese first
//!   with an English toggle;
//! - [`api`]: the JSON API under `/api/v1/` with its OpenAPI document at `/api/openapi.json`;
//! - [`ops`]: health, readiness, Prometheus metrics, request logging;
//! - [`auth`]: sessions, API tokens, language, CSRF;
//! - [`assets`]: the front-end files (ECharts from npm, the map) compiled into the binary;
//! - [`public`]: one code, all public (一码公开): the pages behind the QR codes, without login, and
//!   the staff's codes, posters and credit pages.
//!
//! Every handler asks the services for data inside the caller's scope; nothing here talks SQL.

pub mod api;
pub mod assets;
pub mod auth;
pub mod db;
pub mod error;
pub mod ops;
pub mod pages;
pub mod public;
pub mod summary;
pub mod trace_index;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

pub use db::Db;

/// The largest upload accepted (an import file), and the largest body elsewhere.
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What `shian serve` is given.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Database URL (`sqlite://PATH`).
    pub db: String,
    pub listen: SocketAddr,
    /// A GeoJSON map of the province to use instead of the built-in one (a government deployment
    /// uses its approved standard map).
    pub map_file: Option<PathBuf>,
    /// The base of the links printed in QR codes (`SHIAN_PUBLIC_URL`); default the listen address.
    pub public_url: Option<String>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Db>,
    pub summary: Arc<summary::Summaries>,
    pub metrics: Arc<ops::Metrics>,
    /// The province map's GeoJSON.
    pub map: Arc<Vec<u8>>,
    /// The public pages' cache, counters and limits.
    pub public: Arc<public::PublicState>,
    /// The in-memory trace index (built in the background; traces read the database until then).
    pub trace: Arc<trace_index::TraceIndexes>,
}

impl AppState {
    /// Opens the database and prepares the state; the map file, if given, is read now.
    pub fn open(db: &str, map_file: Option<&std::path::Path>) -> anyhow::Result<AppState> {
        let map = match map_file {
            Some(p) => std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read map file {}: {e}", p.display()))?,
            None => assets::HEBEI_MAP.to_vec(),
        };
        Ok(AppState {
            db: Db::open(db)?,
            summary: Arc::new(summary::Summaries::default()),
            metrics: Arc::new(ops::Metrics::default()),
            map: Arc::new(map),
            public: Arc::new(public::PublicState::new(std::env::var("SHIAN_PUBLIC_URL").ok())),
            trace: Arc::new(trace_index::TraceIndexes::from_env()),
        })
    }
}

/// The whole application's router.
pub fn app(state: AppState) -> Router {
    let uploads = pages::upload_routes().layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES));
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .merge(uploads)
        .merge(ops::routes())
        .merge(assets::routes())
        .merge(public::routes(&state))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::observe))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    summary::warm(state.clone());
    state.trace.build(&state.db);
    state.public.default_base_url(listener.local_addr()?);
    public::start(state.clone());
    // Failed results → ledger entries and notices every 200 ms, their delivery, escalation (issue 5).
    let _supervision = state.db.run(|s| Ok(shian_services::supervision::background::Background::start(s))).await;
    axum::serve(listener, app(state.clone()).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    public::views::flush(&state).await.map_err(|e| anyhow::anyhow!("writing page views: {}", e.msg))?;
    Ok(())
}

/// Runs the server until Ctrl-C or SIGTERM: binds, prints the URL, serves.
pub fn run(opts: ServeOptions, on_ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    ops::init_logging();
    let state = AppState::open(&opts.db, opts.map_file.as_deref())?;
    if let Some(url) = opts.public_url {
        state.public.set_base_url(url);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.listen))?;
        on_ready(listener.local_addr()?);
        serve(listener, state, ops::shutdown_signal()).await
    })
}
