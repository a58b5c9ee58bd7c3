//! The ledger's forms: record an action (multipart, with an optional evidence file), verify and
//! close, and open an entry by hand (`/ledger/new`) from a complaint, an inspection finding, a
//! case or nothing but a description. Every form carries the session's CSRF token; every write is
//! done and audited by the service, within the writer's scope.

use askama::Template;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Multipart, Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shian_domain::Kind;
use shian_domain::access::Scope;
use shian_services::accounts::Principal;
use shian_services::supervision::ledger::{self, ActRequest, EvidenceFile, ManualEntry};
use shian_services::supervision::rules::{Action, Level};
use shian_services::supervision::snapshot;
use shian_store::Store;

use super::{MAX_EVIDENCE_BYTES, may_act, require_ledger, service_error, source_label, visible_entry};
use crate::AppState;
use crate::auth::{Auth, Ctx};
use crate::error::AppError;
use crate::pages::render;

/// The largest text field of a form (a note of 2,000 characters fits).
const MAX_TEXT_BYTES: usize = 8 * 1024;

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::not_found())
}

/// The user may write in the entry's scope: 404 when it is not visible, 403 when the role only reads.
fn check_writer(store: &dyn Store, user: &Principal, id: i64) -> Result<(), AppError> {
    let entry = visible_entry(store, user, id)?;
    if may_act(user, &entry) { Ok(()) } else { Err(AppError::forbidden()) }
}

fn too_large() -> AppError {
    let mib = MAX_EVIDENCE_BYTES >> 20;
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("证据文件超过 {mib} MiB 的上限"),
        format!("the evidence file is larger than {mib} MiB"),
    )
}

fn upload_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    AppError::bad_request(format!("表单读取失败：{e}"), format!("the form could not be read: {e}"))
}

/// A field's bytes; `over()` when there are more than `max`.
async fn read_bytes(field: &mut Field<'_>, max: usize, over: fn() -> AppError) -> Result<Vec<u8>, AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(upload_error)? {
        buf.extend_from_slice(&chunk);
        if buf.len() > max {
            return Err(over());
        }
    }
    Ok(buf)
}

fn too_long() -> AppError {
    AppError::bad_request("表单字段过长", "a form field is too long")
}

async fn read_text(field: &mut Field<'_>) -> Result<String, AppError> {
    String::from_utf8(read_bytes(field, MAX_TEXT_BYTES, too_long).await?)
        .map_err(|_| AppError::bad_request("表单字段不是 UTF-8 文本", "a form field is not UTF-8 text"))
}

/// The action form's fields.
#[derive(Debug, Default)]
struct ActForm {
    csrf: String,
    action: String,
    method: String,
    result: String,
    note: String,
    evidence: Option<EvidenceFile>,
}

/// The file's own name, without folders or control characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars().filter(|c| !c.is_control()).take(120).collect::<String>().trim().to_string()
}

async fn read_act_form(mut multipart: Multipart) -> Result<ActForm, AppError> {
    let mut form = ActForm::default();
    while let Some(mut field) = multipart.next_field().await.map_err(upload_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "csrf" => form.csrf = read_text(&mut field).await?,
            "action" => form.action = read_text(&mut field).await?,
            "method" => form.method = read_text(&mut field).await?,
            "result" => form.result = read_text(&mut field).await?,
            "note" => form.note = read_text(&mut field).await?,
            "evidence" if form.evidence.is_none() => {
                let file_name = clean_name(field.file_name().unwrap_or_default());
                let data = read_bytes(&mut field, MAX_EVIDENCE_BYTES, too_large).await?;
                if !file_name.is_empty() && !data.is_empty() {
                    let content_type = ledger::content_type(&file_name).to_string();
                    form.evidence = Some(EvidenceFile { file_name, content_type, data });
                }
            }
            _ => {}
        }
    }
    Ok(form)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// An action request from its parts (form or JSON); an unknown action is refused.
pub fn act_request(action: &str, note: &str, method: &str, result: &str) -> Result<ActRequest, AppError> {
    let a = Action::parse(action.trim()).ok_or_else(|| {
        AppError::bad_request(format!("处置措施“{action}”无效"), format!("unknown action {action:?}"))
    })?;
    Ok(ActRequest {
        action: a,
        note: non_empty(note),
        method: non_empty(method),
        result: non_empty(result),
        evidence: None,
    })
}

/// Records an action on entry `id` for `user` (in scope, may write); returns the action's id.
pub fn record(store: &mut dyn Store, user: &Principal, id: i64, req: &ActRequest) -> Result<i64, AppError> {
    check_writer(store, user, id)?;
    ledger::act(store, id, req, &user.username, MAX_EVIDENCE_BYTES).map_err(service_error)
}

/// `POST /ledger/{id}/act`
pub async fn act(
    AxState(state): AxState<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let id = parse_id(&id)?;
    let multipart = multipart.map_err(|e| {
        AppError::bad_request(format!("请通过处置表单提交（{e}）"), format!("submit through the action form ({e})"))
    })?;
    let form = read_act_form(multipart).await?;
    ctx.check_csrf(&form.csrf)?;
    let mut req = act_request(&form.action, &form.note, &form.method, &form.result)?;
    req.evidence = form.evidence;
    state.db.run(move |store| record(store, &user, id, &req)).await?;
    state.summary.invalidate();
    Ok(Redirect::to(&format!("/ledger/{id}#timeline")).into_response())
}

/// The close form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CloseForm {
    csrf: String,
    note: String,
}

fn form_error(e: FormRejection) -> AppError {
    AppError::bad_request(format!("表单格式有误：{e}"), format!("malformed form: {e}"))
}

/// `POST /ledger/{id}/close`
pub async fn close(
    AxState(state): AxState<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<String>,
    form: Result<Form<CloseForm>, FormRejection>,
) -> Result<Response, AppError> {
    let id = parse_id(&id)?;
    let Form(form) = form.map_err(form_error)?;
    ctx.check_csrf(&form.csrf)?;
    let req = ActRequest::new(Action::Close, non_empty(&form.note));
    state.db.run(move |store| record(store, &user, id, &req)).await?;
    state.summary.invalidate();
    Ok(Redirect::to(&format!("/ledger/{id}#timeline")).into_response())
}

/// The sources an entry can be opened from by hand.
const MANUAL: [&str; 4] = ["complaint", "inspection", "case", "manual"];

#[derive(Template)]
#[template(path = "ledger_new.html")]
struct NewPage {
    ctx: Ctx,
    sources: Vec<(&'static str, String)>,
    levels: Vec<(&'static str, String)>,
}

fn writer(user: &Principal) -> Result<(), AppError> {
    require_ledger(user)?;
    if user.role.may_write() { Ok(()) } else { Err(AppError::forbidden()) }
}

/// `GET /ledger/new`
pub async fn new_form(Auth(user, ctx): Auth) -> Result<Response, AppError> {
    writer(&user)?;
    let lang = ctx.lang;
    let sources = MANUAL.iter().map(|s| (*s, source_label(s, lang))).collect();
    let levels = Level::ALL.iter().map(|l| (l.code(), l.label().get(lang).to_string())).collect();
    render(&NewPage { ctx, sources, levels })
}

/// The manual entry form (and the API's body).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct OpenForm {
    pub csrf: String,
    pub source: String,
    pub reference: String,
    pub market: String,
    pub vendor: String,
    pub lot_code: String,
    pub level: String,
    pub title: String,
    pub detail: String,
}

/// A record named by natural key that must lie within the scope; the same refusal for "missing"
/// and "elsewhere", so the form never tells whether a record exists.
fn in_scope(store: &dyn Store, kind: Kind, code: &str, scope: &Scope) -> Result<(), AppError> {
    let id = store.resolve(kind, &[code])?.into_iter().next().map(|(_, id)| id);
    let visible = match id {
        Some(id) => store.get(kind, id, scope)?.is_some(),
        None => false,
    };
    let def = kind.def();
    if visible {
        Ok(())
    } else {
        Err(AppError::bad_request(
            format!("找不到{}“{code}”，或不在您的管辖范围内", def.zh),
            format!("no {} {code:?} within your scope", def.en),
        ))
    }
}

/// The code of the user's own market (market-bound roles).
fn own_market(store: &dyn Store, scope: &Scope) -> Result<Option<String>, AppError> {
    let Scope::Market(m) = scope else { return Ok(None) };
    let Some(row) = store.get(Kind::Market, *m, scope)? else { return Ok(None) };
    let i = Kind::Market.def().field("code").map(|(i, _)| i);
    Ok(i.and_then(|i| row.values[i].as_text().map(str::to_string)))
}

/// Checks every record the form names against the user's scope and fills in the user's own
/// market when nothing else places the entry; a regional user must name where it is.
fn placed(store: &dyn Store, user: &Principal, f: &OpenForm) -> Result<ManualEntry, AppError> {
    let source = MANUAL.iter().find(|s| **s == f.source.trim()).ok_or_else(|| {
        AppError::bad_request(format!("来源“{}”无效", f.source), format!("invalid source {:?}", f.source))
    })?;
    let level = Level::parse(f.level.trim()).ok_or_else(|| {
        AppError::bad_request(format!("风险等级“{}”无效", f.level), format!("invalid level {:?}", f.level))
    })?;
    let (reference, mut market, vendor) = (non_empty(&f.reference), non_empty(&f.market), non_empty(&f.vendor));
    if let (Some(kind), Some(r)) = (snapshot::source_kind(source), &reference) {
        in_scope(store, kind, r, &user.scope)?;
    }
    for (kind, code) in [(Kind::Market, &market), (Kind::Vendor, &vendor)] {
        if let Some(code) = code {
            in_scope(store, kind, code, &user.scope)?;
        }
    }
    let unplaced = market.is_none() && vendor.is_none() && (reference.is_none() || *source == "manual");
    if unplaced && user.scope != Scope::All {
        market = own_market(store, &user.scope)?;
        if market.is_none() {
            return Err(AppError::bad_request("请填写市场编码或销售者编码", "name the market or the vendor"));
        }
    }
    Ok(ManualEntry {
        source: source.to_string(),
        reference: if *source == "manual" { None } else { reference },
        market,
        vendor,
        lot_code: non_empty(&f.lot_code),
        level,
        title: f.title.trim().to_string(),
        detail: non_empty(&f.detail),
    })
}

/// Opens an entry from the form for `user`; returns its id.
pub fn open_entry(store: &mut dyn Store, user: &Principal, f: &OpenForm) -> Result<i64, AppError> {
    writer(user)?;
    let req = placed(store, user, f)?;
    ledger::open_manual(store, &req, &user.username).map_err(service_error)
}

/// `POST /ledger/new`
pub async fn open(
    AxState(state): AxState<AppState>,
    Auth(user, ctx): Auth,
    form: Result<Form<OpenForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Form(form) = form.map_err(form_error)?;
    ctx.check_csrf(&form.csrf)?;
    let id = state.db.run(move |store| open_entry(store, &user, &form)).await?;
    state.summary.invalidate();
    Ok(Redirect::to(&format!("/ledger/{id}")).into_response())
}
