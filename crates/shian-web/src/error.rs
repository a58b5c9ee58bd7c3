//! The error policy of the web layer, written once.
//!
//! Handlers return [`AppError`]. Under `/api/` it becomes one JSON shape,
//! `{"error": {"code": "...", "message": "...", "message_en": "..."}}`; on pages, an error page in
//! the reader's language. "Not found" and "outside your scope" look the same to the reader (404),
//! so a scope check never tells whether a record exists. Internal errors are logged once, here, and
//! the reader sees only that something went wrong.

use axum::http::StatusCode;
use shian_domain::Msg;

/// An error a handler returns.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub msg: Msg,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> AppError {
        AppError { status, code, msg: Msg::new(zh.into(), en.into()) }
    }

    pub fn not_found() -> AppError {
        AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "找不到该记录，或不在您的管辖范围内",
            "not found, or outside your scope",
        )
    }

    pub fn forbidden() -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", "您的角色无权进行此操作", "your role may not do this")
    }

    pub fn unauthorized() -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", "请先登录", "please sign in")
    }

    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, "bad_request", zh, en)
    }

    pub fn csrf() -> AppError {
        AppError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "表单已过期，请刷新页面后重试",
            "the form expired: reload the page and try again",
        )
    }

    /// An unexpected failure: logged here, shown to the reader only as an internal error.
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %e, "internal error");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "服务器内部错误", "internal server error")
    }

    /// The JSON body of the API's error shape.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.msg.zh, "message_en": self.msg.en}})
    }
}

impl From<shian_store::StoreError> for AppError {
    fn from(e: shian_store::StoreError) -> AppError {
        match e {
            shian_store::StoreError::Invalid(m) => AppError::bad_request(m.clone(), m),
            e => AppError::internal(e),
        }
    }
}

impl From<shian_services::accounts::AccountError> for AppError {
    fn from(e: shian_services::accounts::AccountError) -> AppError {
        match e {
            shian_services::accounts::AccountError::Refused(msg) => {
                AppError { status: StatusCode::BAD_REQUEST, code: "refused", msg }
            }
            shian_services::accounts::AccountError::Store(e) => e.into(),
        }
    }
}
