//! The risk ledger and the inbox in the JSON API:
//!
//! - `GET /api/v1/ledger`: entries in the caller's scope, newest first, with the board's filters
//!   (`state`, `level`, `source`, `market`, `region`, `overdue`, `q`) and keyset pages (`before`);
//! - `GET /api/v1/ledger/{id}`: an entry with what is due, its failed items, its timeline, the
//!   recall scope and the origins;
//! - `POST /api/v1/ledger/{id}/actions`: record an action (JSON; evidence files go through the page);
//! - `GET /api/v1/inbox`, `POST /api/v1/inbox/{id}/ack`: the caller's notices and their
//!   acknowledgement.
//!
//! The scope rules are the pages' ([`crate::pages::ledger`]): an entry outside the caller's scope
//! is 404, like one that does not exist. Writes from a browser session carry the CSRF header.

mod doc;

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use shian_domain::Lang;
use shian_services::accounts::Principal;
use shian_services::supervision::ledger::{self, EntryView};
use shian_services::supervision::now;
use shian_services::supervision::rules::Due;
use shian_store::supervision::{FailedItem, Notification, RiskEntry};

use super::CSRF_HEADER;
use super::error::{ApiError, FieldProblem};
use super::item::iso_china;
use super::params::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::AppState;
use crate::auth::{Auth, Ctx};
use crate::error::AppError;
use crate::pages::inbox::{MAX_UNREAD, acknowledge};
use crate::pages::ledger::{
    BoardQuery, act_request, board, record, sees_ledger, service_error, timeline, user_names, visible_entry,
};

pub use doc::{operation, schemas};

type Answer = Result<Json<Value>, ApiError>;

/// The ledger list's parameters.
const LEDGER_PARAMS: [&str; 9] = ["state", "level", "source", "market", "region", "overdue", "q", "before", "limit"];
/// The inbox's parameters.
const INBOX_PARAMS: [&str; 3] = ["unread", "limit", "before"];

fn query_problem(e: QueryRejection) -> ApiError {
    ApiError::invalid(vec![FieldProblem::new("query", "查询字符串格式有误", format!("malformed query string: {e}"))])
}

/// Refuses parameters the endpoint does not know, so a typo never widens a list.
fn known(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<FieldProblem> = params
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| FieldProblem::new(k.clone(), "未知参数", "unknown parameter"))
        .collect();
    if unknown.is_empty() { Ok(()) } else { Err(ApiError::invalid(unknown)) }
}

fn limit(params: &HashMap<String, String>, min: usize) -> Result<usize, ApiError> {
    let Some(v) = params.get("limit") else { return Ok(DEFAULT_LIMIT) };
    v.parse::<usize>().ok().filter(|n| (min..=MAX_LIMIT).contains(n)).ok_or_else(|| {
        ApiError::invalid(vec![FieldProblem::new(
            "limit",
            format!("应为 {min}–{MAX_LIMIT} 的整数"),
            format!("must be a whole number from {min} to {MAX_LIMIT}"),
        )])
    })
}

fn due_json(d: &Due) -> Value {
    json!({"what": d.what.zh, "what_en": d.what.en, "by": d.by.map(iso_china), "overdue": d.overdue})
}

/// An entry as JSON: the service's line in the caller's language, with where it is and what is due.
fn entry_json(e: &RiskEntry, due: &[Due], lang: Lang, at: i64) -> Value {
    let mut v = serde_json::to_value(ledger::line(e, lang, at)).unwrap_or_else(|_| json!({}));
    v["market_name"] = json!(e.market_name);
    v["region"] = json!(e.region);
    v["opened_at"] = json!(iso_china(e.opened_at));
    v["deadline_at"] = json!(iso_china(e.deadline));
    v["due"] = due.iter().map(due_json).collect();
    v["href"] = json!(format!("/ledger/{}", e.id));
    v
}

/// `GET /api/v1/ledger`: `{"items": [...], "next_before": id | null}`.
pub async fn list(
    State(state): State<AppState>,
    auth: Result<Auth, AppError>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    let Auth(user, ctx) = auth?;
    if !sees_ledger(&user) {
        return Err(AppError::forbidden().into());
    }
    let Query(params) = query.map_err(query_problem)?;
    known(&params, &LEDGER_PARAMS)?;
    let q = BoardQuery::parse(&params, limit(&params, 1)?)?;
    let (scope, at) = (user.scope.clone(), now());
    let found = state.db.run(move |store| board(store, &scope, &q, at)).await?;
    let items: Vec<Value> = found.rows.iter().map(|(e, d)| entry_json(e, d, ctx.lang, at)).collect();
    Ok(Json(json!({"items": items, "next_before": found.next_before, "stopped": found.stopped})))
}

fn item_json(i: &FailedItem) -> Value {
    json!({
        "item": i.item, "value": i.value, "unit": i.unit, "limit": i.limit, "method": i.method, "result": i.result,
    })
}

fn detail_json(v: &EntryView, users: &HashMap<i64, String>, lang: Lang, at: i64) -> Value {
    let mut entry = entry_json(&v.entry, &v.due, lang, at);
    entry["detail"] = json!(v.entry.detail);
    entry["retest_due"] = json!(v.entry.retest_due.map(iso_china));
    entry["closed_at"] = json!(v.entry.closed_at.map(iso_china));
    entry["trace_status"] = json!(v.entry.trace_status);
    let event = |e: &crate::pages::ledger::Event| {
        json!({
            "at": iso_china(e.at), "kind": e.kind, "what": e.what, "detail": e.detail,
            "who": e.who, "status": e.status, "href": e.href,
        })
    };
    let events: Vec<Value> = timeline(v, users, lang).iter().map(event).collect();
    json!({
        "entry": entry,
        "items": v.items.iter().map(item_json).collect::<Vec<_>>(),
        "timeline": events,
        "recall": v.recall,
        "origins": v.origins,
    })
}

/// `GET /api/v1/ledger/{id}`
pub async fn get_one(State(state): State<AppState>, auth: Result<Auth, AppError>, Path(id): Path<String>) -> Answer {
    let Auth(user, ctx) = auth?;
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    let at = now();
    let (view, users) = state
        .db
        .run(move |store| {
            visible_entry(store, &user, id)?;
            let users = user_names(store)?;
            Ok((ledger::view(store, id, at).map_err(service_error)?, users))
        })
        .await?;
    Ok(Json(detail_json(&view, &users, ctx.lang, at)))
}

/// The body of `POST /api/v1/ledger/{id}/actions`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionBody {
    pub action: String,
    pub note: String,
    pub method: String,
    pub result: String,
}

fn check_csrf(ctx: &Ctx, headers: &HeaderMap) -> Result<(), AppError> {
    ctx.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or(""))
}

/// `POST /api/v1/ledger/{id}/actions`: 201 `{"id": action id, "entry": the entry}`.
pub async fn act(
    State(state): State<AppState>,
    auth: Result<Auth, AppError>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Auth(user, ctx) = auth?;
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    check_csrf(&ctx, &headers)?;
    let Json(body) = body.map_err(|e| {
        ApiError::invalid(vec![FieldProblem::new("body", "请求体有误", format!("invalid body: {}", e.body_text()))])
    })?;
    let req = act_request(&body.action, &body.note, &body.method, &body.result)?;
    let at = now();
    let (action, entry, due) = state
        .db
        .run(move |store| {
            let action = record(store, &user, id, &req)?;
            let entry = store.entry(id)?.ok_or_else(AppError::not_found)?;
            let due = shian_services::supervision::rules::due_items(&entry, &store.actions(id)?, at);
            Ok((action, entry, due))
        })
        .await?;
    state.summary.invalidate();
    Ok((StatusCode::CREATED, Json(json!({"id": action, "entry": entry_json(&entry, &due, ctx.lang, at)}))))
}

fn notice_json(n: &Notification) -> Value {
    json!({
        "id": n.id, "entry_id": n.entry_id, "reason": n.reason,
        "title": n.title, "title_en": n.title_en, "body": n.body, "body_en": n.body_en,
        "created_at": iso_china(n.created_ms / 1000), "read_at": n.read_at.map(iso_china),
        "href": n.entry_id.map(|e| format!("/ledger/{e}")),
    })
}

fn flag(v: Option<&String>) -> Result<bool, ApiError> {
    match v.map(String::as_str) {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(_) => Err(ApiError::invalid(vec![FieldProblem::new("unread", "应为 true 或 false", "true or false")])),
    }
}

fn before(params: &HashMap<String, String>) -> Result<Option<i64>, ApiError> {
    let Some(b) = params.get("before") else { return Ok(None) };
    b.parse().map(Some).map_err(|_| ApiError::invalid(vec![FieldProblem::new("before", "应为整数", "a whole number")]))
}

/// The caller's notices (unread only or all), newest first, below `before`, and the unread count.
fn inbox_page(
    store: &dyn shian_store::Store,
    user: &Principal,
    unread_only: bool,
    before: Option<i64>,
    limit: usize,
) -> Result<(Vec<Notification>, usize), AppError> {
    use shian_services::supervision::inbox::inbox;
    let (_, unread) = inbox(store, &user.username, true, MAX_UNREAD).map_err(service_error)?;
    let count = unread.len();
    let all = if unread_only { unread } else { inbox(store, &user.username, false, 1_000).map_err(service_error)?.1 };
    let page = all.into_iter().filter(|n| before.is_none_or(|b| n.id < b)).take(limit + 1).collect();
    Ok((page, count))
}

/// `GET /api/v1/inbox`: `{"items": [...], "unread": n, "unread_capped": bool, "next_before": id | null}`.
pub async fn inbox(
    State(state): State<AppState>,
    auth: Result<Auth, AppError>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    let Auth(user, _) = auth?;
    let Query(params) = query.map_err(query_problem)?;
    known(&params, &INBOX_PARAMS)?;
    let (unread_only, limit, before) = (flag(params.get("unread"))?, limit(&params, 0)?, before(&params)?);
    let (mut page, unread) = state.db.run(move |store| inbox_page(store, &user, unread_only, before, limit)).await?;
    let next_before = (page.len() > limit && limit > 0).then(|| page[limit - 1].id);
    page.truncate(limit);
    Ok(Json(json!({
        "items": page.iter().map(notice_json).collect::<Vec<_>>(),
        "unread": unread,
        "unread_capped": unread >= MAX_UNREAD,
        "next_before": next_before,
    })))
}

/// `POST /api/v1/inbox/{id}/ack`: `{"id": id, "acknowledged": true | false (read already)}`.
pub async fn ack(
    State(state): State<AppState>,
    auth: Result<Auth, AppError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let Auth(user, ctx) = auth?;
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    check_csrf(&ctx, &headers)?;
    let done = state.db.run(move |store| acknowledge(store, &user, id)).await?;
    Ok(Json(json!({"id": id, "acknowledged": done})))
}
