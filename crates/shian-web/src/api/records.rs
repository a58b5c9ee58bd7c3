//! The record endpoints: a page of a kind, one record, and a write.
//!
//! Every read goes through the store's scoped queries with the caller's scope, so a list holds
//! only rows within it and a record outside it is not found.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value as JsonValue, json};
use shian_store::query::ListQuery;

use super::error::{ApiError, FieldProblem};
use super::item::item_json;
use super::params::ListParams;
use super::{CSRF_HEADER, visible_kind, write};
use crate::AppState;
use crate::auth::Auth;
use crate::error::AppError;

type Answer = Result<Json<JsonValue>, ApiError>;

/// `GET /api/v1/{kind}`: `{"items": [...], "next_before": id | null}`, newest first.
pub async fn list(
    State(state): State<AppState>,
    auth: Result<Auth, AppError>,
    Path(kind): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let Auth(user, _) = auth?;
    let kind = visible_kind(&user, &kind)?;
    let Query(pairs) = query.map_err(|e| {
        ApiError::invalid(vec![FieldProblem::new(
            "query",
            "查询字符串格式有误",
            format!("malformed query string: {e}"),
        )])
    })?;
    let params = ListParams::parse(kind, &pairs)?;
    let limit = params.limit;
    let rows = state
        .db
        .run(move |store| {
            let page =
                ListQuery { scope: &user.scope, filters: params.filters, before: params.before, limit: limit + 1 };
            Ok(store.list(kind, &page)?)
        })
        .await?;
    let next_before = (rows.len() > limit).then(|| rows[limit - 1].id);
    let items: Vec<JsonValue> = rows.iter().take(limit).map(|r| item_json(kind.def(), r)).collect();
    Ok(Json(json!({"items": items, "next_before": next_before})))
}

/// `GET /api/v1/{kind}/{id}`: the record, or 404 when it is missing or outside the scope.
pub async fn get_one(
    State(state): State<AppState>,
    auth: Result<Auth, AppError>,
    Path((kind, id)): Path<(String, String)>,
) -> Answer {
    let Auth(user, _) = auth?;
    let kind = visible_kind(&user, &kind)?;
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    let found = state.db.run(move |store| Ok(store.get(kind, id, &user.scope)?)).await?;
    let listed = found.ok_or_else(AppError::not_found)?;
    Ok(Json(item_json(kind.def(), &listed)))
}

/// `POST /api/v1/{kind}`: creates (201) or updates (200) one record by its natural key.
pub async fn write(
    State(state): State<AppState>,
    auth: Result<Auth, AppError>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Result<Json<JsonValue>, JsonRejection>,
) -> Result<(StatusCode, Json<JsonValue>), ApiError> {
    let Auth(user, ctx) = auth?;
    let kind = visible_kind(&user, &kind)?;
    if !user.role.may_write() {
        return Err(AppError::forbidden().into());
    }
    if !kind.def().importable {
        return Err(not_writable().into());
    }
    ctx.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or(""))?;
    let body = match body {
        Ok(Json(JsonValue::Object(map))) => map,
        Ok(_) => return Err(body_problem("应为 JSON 对象", "must be a JSON object")),
        Err(e) => return Err(body_problem("不是有效的 JSON", &format!("not valid JSON: {}", e.body_text()))),
    };
    let client = if ctx.via_token { "api:token" } else { "api:session" };
    let written = state.db.run(move |store| Ok(write::upsert(store, &user, kind, &body, client))).await??;
    state.summary.invalidate();
    let status = if written.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(written.item)))
}

fn body_problem(zh: &str, en: &str) -> ApiError {
    ApiError::invalid(vec![FieldProblem::new("body", zh, en)])
}

/// 405: reference data that is not written through the API.
fn not_writable() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "not_writable",
        "该类记录是参考数据，不能通过接口写入",
        "this kind is reference data and cannot be written",
    )
}
