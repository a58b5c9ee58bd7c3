//! 数据导入: upload CSV / XLSX files.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
