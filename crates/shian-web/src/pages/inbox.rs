//! 消息: the signed-in user's inbox (站内通知) — unread notices first, then the latest read ones,
//! newest first in each — each linking to its ledger entry; acknowledging one marks it read (the
//! service audits who read which notice when).
//!
//! The notices are the user's own, whatever their scope; the entry they link to is still checked
//! against the scope when it is opened.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use shian_domain::{Lang, time};
use shian_services::accounts::Principal;
use shian_services::supervision::inbox;
use shian_store::Store;
use shian_store::supervision::Notification;

use super::ledger::service_error;
use super::render;
use crate::AppState;
use crate::auth::{Auth, Ctx, safe_back};
use crate::error::AppError;

/// The most unread notices shown (and counted exactly).
pub const MAX_UNREAD: usize = 500;
/// Read notices shown unless more are asked for, and the most ever shown.
const READ_SHOWN: usize = 50;
const READ_MAX: usize = 1_000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/inbox", get(page)).route("/inbox/{id}/ack", post(ack))
}

/// A notice as a row of the page.
pub struct NoticeRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub when: String,
    pub href: Option<String>,
    pub read: Option<String>,
}

fn row(n: &Notification, lang: Lang) -> NoticeRow {
    let zh = lang == Lang::Zh;
    NoticeRow {
        id: n.id,
        title: if zh { n.title.clone() } else { n.title_en.clone() },
        body: if zh { n.body.clone() } else { n.body_en.clone() },
        when: time::format_datetime(n.created_ms / 1000),
        href: n.entry_id.map(|e| format!("/ledger/{e}")),
        read: n.read_at.map(time::format_datetime),
    }
}

/// The user's unread notices (up to [`MAX_UNREAD`]) and up to `read` of the latest read ones.
pub fn notices(
    store: &dyn Store,
    user: &Principal,
    read: usize,
) -> Result<(Vec<Notification>, Vec<Notification>), AppError> {
    let (_, unread) = inbox::inbox(store, &user.username, true, MAX_UNREAD).map_err(service_error)?;
    if read == 0 {
        return Ok((unread, Vec::new()));
    }
    let (_, latest) = inbox::inbox(store, &user.username, false, read + unread.len()).map_err(service_error)?;
    let read_ones = latest.into_iter().filter(|n| n.read_at.is_some()).take(read).collect();
    Ok((unread, read_ones))
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    ctx: Ctx,
    unread: Vec<NoticeRow>,
    read: Vec<NoticeRow>,
    more: Option<String>,
}

/// `/inbox?read=N`
pub async fn page(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let shown = params.get("read").and_then(|r| r.parse::<usize>().ok()).unwrap_or(READ_SHOWN).min(READ_MAX);
    let (unread, read) = state.db.run(move |store| notices(store, &user, shown)).await?;
    let more = (read.len() == shown && shown < READ_MAX).then(|| format!("/inbox?read={}", shown * 2));
    let lang = ctx.lang;
    render(&InboxPage {
        unread: unread.iter().map(|n| row(n, lang)).collect(),
        read: read.iter().map(|n| row(n, lang)).collect(),
        more,
        ctx,
    })
}

/// The acknowledge form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AckForm {
    csrf: String,
    back: String,
}

/// Marks notice `id` of `user` read: `true` if it was unread, `false` if read already; 404 when
/// it is not theirs.
pub fn acknowledge(store: &mut dyn Store, user: &Principal, id: i64) -> Result<bool, AppError> {
    if inbox::acknowledge(store, &user.username, id, &user.username).map_err(service_error)? {
        return Ok(true);
    }
    let (_, all) = inbox::inbox(store, &user.username, false, READ_MAX).map_err(service_error)?;
    if all.iter().any(|n| n.id == id) { Ok(false) } else { Err(AppError::not_found()) }
}

/// `POST /inbox/{id}/ack`: marks the notice read and returns to `back` (the inbox by default).
pub async fn ack(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<String>,
    form: Result<Form<AckForm>, FormRejection>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    let Form(form) =
        form.map_err(|e| AppError::bad_request(format!("表单格式有误：{e}"), format!("malformed form: {e}")))?;
    ctx.check_csrf(&form.csrf)?;
    state.db.run(move |store| acknowledge(store, &user, id)).await?;
    let back = if form.back.is_empty() { "/inbox" } else { safe_back(&form.back) };
    Ok(Redirect::to(back).into_response())
}
