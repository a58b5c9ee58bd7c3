//! The JSON API under `/api/v1/` (being written).

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
