//! The public pages and forms: `/q/{token}`, `/q/lot/{token}`, and the complaint and rating forms
//! of a vendor's page.
//!
//! A page is served from [`super::cache`] when it can be; otherwise it is rendered from the
//! records in one of a few render slots. An unknown token is 404 and a revoked or invalid one 410,
//! both as the page "此二维码已失效", never another vendor's page.
//!
//! The forms carry the time their page was rendered and a signature over it and the token (a
//! form older than two hours or not made by this server is refused), a hidden field that people
//! leave empty and robots fill in, and are counted against the limits of [`super::limit`].

use std::net::SocketAddr;

use askama::Template;
use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shian_domain::Lang;
use shian_services::accounts;
use shian_services::public::feedback::{self, ComplaintForm};
use shian_services::public::lot::{LotPublic, lot_public};
use shian_services::public::token::{Invalid, Resolved, Subject, is_token_shaped, resolve};
use shian_services::public::vendor::{VendorPublic, vendor_public};
use shian_services::public::{lot_path, vendor_path};
use shian_store::Store;

use super::cache::{Lookup, Page};
use super::limit::{self, too_many};
use super::{L, lang, public_error};
use crate::AppState;
use crate::error::AppError;

/// How long a rendered form may be sent back.
const FORM_MAX_AGE: i64 = 2 * 3600;

/// `?lang=`.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

#[derive(Template)]
#[template(path = "public/vendor.html")]
struct VendorTemplate {
    l: L,
    v: VendorPublic,
    token: String,
    ts: i64,
    sig: String,
    grade_meaning: &'static str,
    rating_avg: String,
    ratings_count: u64,
    other_lang: String,
    lang_query: &'static str,
}

#[derive(Template)]
#[template(path = "public/lot.html")]
struct LotTemplate {
    l: L,
    p: LotPublic,
    other_lang: String,
}

#[derive(Template)]
#[template(path = "public/gone.html")]
struct GoneTemplate {
    l: L,
    reason: String,
}

#[derive(Template)]
#[template(path = "public/done.html")]
struct DoneTemplate {
    l: L,
    title: String,
    message: String,
    ok: bool,
    number: Option<String>,
    back: String,
}

/// `GET /q/{token}`.
pub async fn vendor(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    serve(&state, token, lang(q.lang.as_deref(), &headers)).await
}

/// `GET /q/lot/{token}`.
pub async fn lot(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    serve(&state, token, lang(q.lang.as_deref(), &headers)).await
}

/// A token's page: from the cache, or rendered in a render slot (429 when none frees up in time).
async fn serve(state: &AppState, token: String, lang: Lang) -> Response {
    let cache = &state.public.cache;
    let epoch = cache.epoch(state);
    match cache.lookup(&token, lang, epoch) {
        Lookup::Fresh(page) => respond(state, page),
        Lookup::Stale(page) => match state.public.shed.try_render_slot() {
            Some(_slot) => match render_and_keep(state, &token, lang, epoch).await {
                Ok(fresh) => respond(state, fresh),
                Err(_) => respond(state, page),
            },
            None => {
                refresh_later(state, &token, lang, epoch);
                respond(state, page)
            }
        },
        Lookup::Missing => {
            if !is_token_shaped(&token) {
                return respond(state, gone(lang, None));
            }
            let Some(_slot) = state.public.shed.render_slot().await else { return too_many(2) };
            if let Lookup::Fresh(page) = cache.lookup(&token, lang, epoch) {
                return respond(state, page);
            }
            match render_and_keep(state, &token, lang, epoch).await {
                Ok(page) => respond(state, page),
                Err(e) => e.into_response(),
            }
        }
    }
}

/// Renders a page and keeps it (unless the token is unknown).
async fn render_and_keep(state: &AppState, token: &str, lang: Lang, epoch: u64) -> Result<Page, AppError> {
    let page = render(state, token.to_string(), lang).await?;
    if page.status != StatusCode::NOT_FOUND {
        state.public.cache.put(token, lang, epoch, page.clone());
    }
    Ok(page)
}

/// Renders a stale page again in the background, once at a time per page.
fn refresh_later(state: &AppState, token: &str, lang: Lang, epoch: u64) {
    if !state.public.cache.start_refresh(token, lang) {
        return;
    }
    let (state, token) = (state.clone(), token.to_string());
    tokio::spawn(async move {
        if let Some(_slot) = state.public.shed.render_slot().await {
            let _ = render_and_keep(&state, &token, lang, epoch).await;
        }
        state.public.cache.end_refresh(&token, lang);
    });
}

/// Renders a token's page from the records.
async fn render(state: &AppState, token: String, lang: Lang) -> Result<Page, AppError> {
    let public = std::sync::Arc::clone(&state.public);
    state
        .db
        .run(move |store| {
            let resolved = resolve(store, &token).map_err(public_error)?;
            let page = match resolved {
                Resolved::Live(Subject::Vendor(id)) => {
                    let ts = accounts::now();
                    let sig = public.sign(&token, ts);
                    vendor_page(store, id, &token, lang, ts, sig)?
                }
                Resolved::Live(Subject::Lot { vendor, lot }) => lot_page(store, vendor, &lot, &token, lang)?,
                Resolved::Invalid(why) => gone(lang, Some(why)),
                Resolved::Unknown => gone(lang, None),
            };
            Ok(page)
        })
        .await
}

fn html(status: StatusCode, t: &impl Template, vendor: Option<i64>) -> Result<Page, AppError> {
    Ok(Page { status, body: t.render().map_err(AppError::internal)?.into(), vendor })
}

fn other_lang(path: String, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{path}?lang=en"),
        Lang::En => format!("{path}?lang=zh"),
    }
}

fn vendor_page(store: &dyn Store, id: i64, token: &str, lang: Lang, ts: i64, sig: String) -> Result<Page, AppError> {
    let Some(v) = vendor_public(store, id, lang, ts).map_err(public_error)? else { return Ok(gone(lang, None)) };
    let r = v.ratings;
    let rating_avg = if r.count > 0 { format!("{:.1}", r.sum as f64 / r.count as f64) } else { String::new() };
    let t = VendorTemplate {
        l: L(lang),
        token: token.to_string(),
        ts,
        sig,
        grade_meaning: v.grade.meaning(lang),
        rating_avg,
        ratings_count: r.count,
        other_lang: other_lang(vendor_path(token), lang),
        lang_query: if lang == Lang::En { "?lang=en" } else { "" },
        v,
    };
    html(StatusCode::OK, &t, Some(id))
}

fn lot_page(store: &dyn Store, vendor: i64, lot: &str, token: &str, lang: Lang) -> Result<Page, AppError> {
    let Some(p) = lot_public(store, vendor, lot, lang).map_err(public_error)? else { return Ok(gone(lang, None)) };
    html(StatusCode::OK, &LotTemplate { l: L(lang), p, other_lang: other_lang(lot_path(token), lang) }, None)
}

/// The "no longer valid" page: 410 with the reason for a known token, 404 for an unknown one.
fn gone(lang: Lang, why: Option<Invalid>) -> Page {
    let l = L(lang);
    let (status, reason) = match why {
        Some(Invalid::Revoked) => (
            StatusCode::GONE,
            l.t("该二维码已被收回或已重新发放。", "This code was withdrawn or replaced by a new one."),
        ),
        Some(Invalid::VendorLeft) => (StatusCode::GONE, l.t("该经营者已退出市场。", "The vendor has left the market.")),
        Some(Invalid::AgreementEnded) => {
            (StatusCode::GONE, l.t("该经营者的入场协议已解除。", "The vendor's entry agreement was terminated."))
        }
        None => (StatusCode::NOT_FOUND, l.t("未找到该二维码对应的信息。", "Nothing is known under this code.")),
    };
    let t = GoneTemplate { l, reason: reason.to_string() };
    let body = t.render().unwrap_or_else(|_| "此二维码已失效 / This code is no longer valid".into());
    Page { status, body: body.into(), vendor: None }
}

/// A page as a response; a view of a vendor's page is counted.
fn respond(state: &AppState, page: Page) -> Response {
    if let (StatusCode::OK, Some(v)) = (page.status, page.vendor) {
        state.public.views.count(v);
    }
    let cache = if page.status == StatusCode::OK { "public, max-age=60" } else { "no-store" };
    let mut r = Response::new(Body::from(page.body));
    *r.status_mut() = page.status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static(cache));
    h.insert(header::VARY, header::HeaderValue::from_static("Cookie"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    r
}

/// The complaint form.
#[derive(Debug, Default, Deserialize)]
pub struct ComplaintBody {
    #[serde(default)]
    what: String,
    #[serde(default)]
    when: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    variety: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    ts: i64,
    #[serde(default)]
    sig: String,
}

/// The rating form.
#[derive(Debug, Default, Deserialize)]
pub struct RatingBody {
    #[serde(default)]
    stars: u8,
    #[serde(default)]
    ts: i64,
    #[serde(default)]
    sig: String,
}

/// The answer to a form: a small page with a status.
fn done(status: StatusCode, lang: Lang, token: &str, message: &str, number: Option<String>) -> Response {
    let l = L(lang);
    let ok = status.is_success();
    let title = if ok { l.t("提交成功", "Sent") } else { l.t("未能提交", "Not sent") };
    let back = match lang {
        Lang::Zh => vendor_path(token),
        Lang::En => format!("{}?lang=en", vendor_path(token)),
    };
    let t = DoneTemplate { l, title: title.into(), message: message.into(), ok, number, back };
    let body = t.render().unwrap_or_else(|_| message.to_string());
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}

/// A refusal as a form answer.
fn refused(lang: Lang, token: &str, e: AppError) -> Response {
    done(e.status, lang, token, e.msg.get(lang), None)
}

/// Checks the form's signature and age.
fn check_form(state: &AppState, token: &str, ts: i64, sig: &str) -> Result<(), AppError> {
    let age = accounts::now() - ts;
    if (-60..=FORM_MAX_AGE).contains(&age) && sig == state.public.sign(token, ts) {
        return Ok(());
    }
    Err(AppError::bad_request(
        "表单已过期，请重新打开经营者公示页后再提交",
        "the form expired: open the vendor's page again and resend",
    ))
}

/// The live vendor of a token, or the gone page's status and reason.
async fn live_vendor(state: &AppState, token: &str) -> Result<i64, AppError> {
    let token = token.to_string();
    let resolved = state.db.run(move |store| resolve(store, &token).map_err(public_error)).await?;
    match resolved {
        Resolved::Live(Subject::Vendor(id)) => Ok(id),
        _ => Err(AppError::new(StatusCode::GONE, "gone", "此二维码已失效", "this code is no longer valid")),
    }
}

/// The limits of one kind of public form.
struct Gate {
    what: &'static str,
    per_client: limit::Rule,
    per_vendor: limit::Rule,
}

/// What every public form passes before it is stored: the client's rate, the form's signature and
/// age, a live vendor behind the token, and the vendor's rate. The vendor, or the answer to send.
async fn admit(
    state: &AppState,
    gate: &Gate,
    lang: Lang,
    token: &str,
    client: &str,
    ts: i64,
    sig: &str,
) -> Result<i64, Response> {
    let what = gate.what;
    state.public.limits.hit(&format!("{what}/client/{client}"), gate.per_client).map_err(too_many)?;
    check_form(state, token, ts, sig).map_err(|e| refused(lang, token, e))?;
    let vendor = live_vendor(state, token).await.map_err(|e| refused(lang, token, e))?;
    state.public.limits.hit(&format!("{what}/vendor/{vendor}"), gate.per_vendor).map_err(too_many)?;
    Ok(vendor)
}

/// `POST /q/{token}/complaint`.
pub async fn complaint(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    form: Result<Form<ComplaintBody>, FormRejection>,
) -> Response {
    let lang = lang(q.lang.as_deref(), &headers);
    let l = L(lang);
    let body = match form {
        Ok(Form(body)) => body,
        Err(e) => {
            return done(
                e.status(),
                lang,
                &token,
                l.t("表单无法读取或内容过长", "the form cannot be read or is too long"),
                None,
            );
        }
    };
    if !body.website.is_empty() {
        // Filled in by a robot: answer as if accepted, store nothing.
        return done(StatusCode::OK, lang, &token, l.t("已收到", "Received"), None);
    }
    let client = addr.ip().to_string();
    let gate =
        Gate { what: "complaint", per_client: limit::COMPLAINTS_PER_CLIENT, per_vendor: limit::COMPLAINTS_PER_VENDOR };
    let vendor = match admit(&state, &gate, lang, &token, &client, body.ts, &body.sig).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let form = ComplaintForm { what: body.what, when: body.when, contact: body.contact, variety: body.variety };
    let stored = state
        .db
        .run(move |store| {
            let number = feedback::file_complaint(store, vendor, &form, &client).map_err(public_error)?;
            if let Err(e) = feedback::notify_market(store, &number, form.what.trim()) {
                tracing::error!(complaint = %number, error = %e, "the complaint is stored but its inbox notice failed");
            }
            Ok(number)
        })
        .await;
    match stored {
        Ok(number) => {
            state.summary.invalidate();
            let msg = l.t(
                "您的投诉已提交，已转交所在市场和监管部门。",
                "Your complaint was sent to the market and the regulator.",
            );
            done(StatusCode::CREATED, lang, &token, msg, Some(number))
        }
        Err(e) => refused(lang, &token, e),
    }
}

/// `POST /q/{token}/rating`.
pub async fn rating(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    form: Result<Form<RatingBody>, FormRejection>,
) -> Response {
    let lang = lang(q.lang.as_deref(), &headers);
    let l = L(lang);
    let body = match form {
        Ok(Form(body)) => body,
        Err(e) => return done(e.status(), lang, &token, l.t("请选择1至5星", "choose 1 to 5 stars"), None),
    };
    let client = addr.ip().to_string();
    let gate = Gate { what: "rating", per_client: limit::RATINGS_PER_CLIENT, per_vendor: limit::RATINGS_PER_VENDOR };
    let vendor = match admit(&state, &gate, lang, &token, &client, body.ts, &body.sig).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let stars = body.stars;
    let stored = state.db.run(move |store| feedback::rate(store, vendor, stars, &client).map_err(public_error)).await;
    match stored {
        Ok(true) => {
            state.public.cache.forget(&token);
            done(StatusCode::CREATED, lang, &token, l.t("感谢您的评价！", "Thank you for your rating!"), None)
        }
        Ok(false) => done(
            StatusCode::CONFLICT,
            lang,
            &token,
            l.t(
                "您今天已评价过该经营者，明天可再次评价。",
                "You already rated this vendor today; you can rate again tomorrow.",
            ),
            None,
        ),
        Err(e) => refused(lang, &token, e),
    }
}
