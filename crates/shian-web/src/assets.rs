//! Front-end files compiled into the binary: ECharts and the province map from npm (see
//! `build.rs`), and the platform's own stylesheet and script. Served with long cache lifetimes
//! under versioned paths; nothing is loaded from outside the server.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub const ECHARTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/echarts.min.js"));
pub const HEBEI_MAP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hebei.json"));
const APP_CSS: &[u8] = include_bytes!("../assets/app.css");
const APP_JS: &[u8] = include_bytes!("../assets/app.js");

/// Bumped when an asset changes, so browsers fetch the new one.
pub const VERSION: &str = "1";

pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/{version}/{name}", get(asset)).route("/assets/map.json", get(map))
}

async fn asset(Path((_version, name)): Path<(String, String)>) -> Response {
    let (body, mime) = match name.as_str() {
        "echarts.min.js" => (ECHARTS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "trace.js" => (include_bytes!("../assets/trace.js").as_slice(), "text/javascript; charset=utf-8"),
        "import.js" => (include_bytes!("../assets/import.js").as_slice(), "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], body)
        .into_response()
}

/// The province map (built in, or the deployment's own from `--map-file`).
async fn map(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=3600")], state.map.to_vec())
        .into_response()
}
