//! 追溯: search by trace code, certificate or sample; backward and forward trace as a graph.

use axum::response::Response;

use crate::error::AppError;

pub async fn page() -> Result<Response, AppError> {
    Err(AppError::not_found())
}

pub async fn export() -> Result<Response, AppError> {
    Err(AppError::not_found())
}
