//! The API's error response: the application's one JSON shape, always JSON under `/api/`, with
//! the refused parameters or fields listed when there are any.
//!
//! ```json
//! {"error": {"code": "bad_request", "message": "…", "message_en": "…",
//!            "fields": [{"field": "limit", "message": "…", "message_en": "…"}]}}
//! ```

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shian_domain::Msg;

use crate::error::AppError;

/// A parameter or field that was refused, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    /// The query parameter or the body field, by its English name.
    pub field: String,
    pub reason: Msg,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> FieldProblem {
        FieldProblem { field: field.into(), reason: Msg::new(zh.into(), en.into()) }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({"field": self.field, "message": self.reason.zh, "message_en": self.reason.en})
    }
}

/// An [`AppError`] answered as JSON, with the problems of single fields when there are any.
#[derive(Debug)]
pub struct ApiError {
    pub error: AppError,
    pub fields: Vec<FieldProblem>,
}

impl ApiError {
    /// 400: the request's parameters or fields were refused; the message names each one.
    pub fn invalid(fields: Vec<FieldProblem>) -> ApiError {
        let zh: Vec<String> = fields.iter().map(|p| format!("{}：{}", p.field, p.reason.zh)).collect();
        let en: Vec<String> = fields.iter().map(|p| format!("{}: {}", p.field, p.reason.en)).collect();
        let error = AppError::bad_request(
            format!("请求有误（{}）", zh.join("；")),
            format!("invalid request ({})", en.join("; ")),
        );
        ApiError { error, fields }
    }

    /// The response body.
    pub fn json(&self) -> serde_json::Value {
        let mut body = self.error.json();
        if !self.fields.is_empty() {
            body["error"]["fields"] = self.fields.iter().map(FieldProblem::json).collect();
        }
        body
    }

    pub fn status(&self) -> StatusCode {
        self.error.status
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        ApiError { error, fields: Vec::new() }
    }
}

impl From<shian_store::StoreError> for ApiError {
    fn from(e: shian_store::StoreError) -> ApiError {
        AppError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.json())).into_response()
    }
}
