//! The staff's side of the public codes, for signed-in users within their scope:
//!
//! - `GET /qr/vendor/{id}`: the vendor's code, its public URL, the codes issued and withdrawn,
//!   its page views; `POST /qr/vendor/{id}/reissue` and `/revoke` (roles that may write, CSRF);
//! - `GET /qr/vendor/{id}.svg` and `.png`: the code as an image (a token is issued on first demand);
//! - `GET /qr/lot/{vendor}/{lot}.svg` and `.png`: an item-level code for one of the vendor's lots
//!   (the form on the vendor's code page sends `GET /qr/lot/{vendor}?lot=…&format=…` there);
//! - `GET /qr/market/{id}.pdf` (`?layout=4` for four per page): the posters of the market's vendors;
//! - `GET /credit/vendor/{id}`: the credit evaluation with every deduction and its record.
//!
//! Also the two hooks other pages use: [`actions`] (buttons on the vendor's and market's record
//! pages) and [`views_figure`] (the dashboard's page-view figure).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use shian_domain::access::Scope;
use shian_domain::{Kind, Lang};
use shian_services::accounts::Principal;
use shian_services::credit;
use shian_services::public::poster::{self, Layout};
use shian_services::public::token::{self, Invalid};
use shian_services::public::{listed, lot_path, privacy, public_url, qr, vendor_path};
use shian_store::Store;

use super::public_error;
use crate::AppState;
use crate::auth::{Auth, Ctx};
use crate::error::AppError;
use crate::pages::render;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/qr/vendor/{file}", get(vendor_code))
        .route("/qr/vendor/{id}/reissue", post(reissue))
        .route("/qr/vendor/{id}/revoke", post(revoke))
        .route("/qr/lot/{vendor}", get(lot_form))
        .route("/qr/lot/{vendor}/{file}", get(lot_code))
        .route("/qr/market/{file}", get(market_posters))
        .route("/credit/vendor/{id}", get(credit_page))
        .layer(axum::middleware::from_fn(crate::pages::pages_errors))
}

/// Buttons for a record page: the code and the credit evaluation of a vendor, the posters of a
/// market.
pub fn actions(kind: Kind, id: i64, ctx: &Ctx) -> Vec<(String, String)> {
    match kind {
        Kind::Vendor => vec![
            (format!("/qr/vendor/{id}"), ctx.t("公示码", "Public code").to_string()),
            (format!("/qr/vendor/{id}.png"), ctx.t("下载二维码（PNG）", "QR code (PNG)").to_string()),
            (format!("/credit/vendor/{id}"), ctx.t("信用评价", "Credit evaluation").to_string()),
        ],
        Kind::Market => vec![
            (format!("/qr/market/{id}.pdf"), ctx.t("打印公示码海报（PDF）", "Print QR posters (PDF)").to_string()),
            (format!("/qr/market/{id}.pdf?layout=4"), ctx.t("海报每页4张", "Posters, 4 per page").to_string()),
        ],
        _ => Vec::new(),
    }
}

/// The dashboard's figure: views of the public pages of the vendors in a scope.
pub fn views_figure(store: &dyn Store, scope: &Scope) -> Result<u64, AppError> {
    Ok(store.page_views_in(scope)?)
}

/// `12.svg` → (12, Some("svg")); `12` → (12, None).
fn split_file(file: &str) -> Result<(String, Option<String>), AppError> {
    match file.rsplit_once('.') {
        Some((stem, ext)) => Ok((stem.to_string(), Some(ext.to_ascii_lowercase()))),
        None => Ok((file.to_string(), None)),
    }
}

fn id_of(stem: &str) -> Result<i64, AppError> {
    stem.parse().map_err(|_| AppError::not_found())
}

/// The vendor, if the user may see it (404 otherwise, as for any record outside the scope).
fn vendor_in_scope(store: &dyn Store, user: &Principal, id: i64) -> Result<shian_store::query::Listed, AppError> {
    if !user.may_see(Kind::Vendor) {
        return Err(AppError::not_found());
    }
    store.get(Kind::Vendor, id, &user.scope)?.ok_or_else(AppError::not_found)
}

fn vendor_name(v: &shian_store::query::Listed) -> String {
    let k = Kind::Vendor;
    privacy::display_name(
        listed::text(k, v, "subject_kind").unwrap_or("person"),
        listed::text(k, v, "name").unwrap_or_default(),
    )
}

/// An image of a URL's code.
fn image(url: &str, ext: &str, name: &str) -> Result<Response, AppError> {
    let disposition = format!("inline; filename=\"{name}.{ext}\"");
    match ext {
        "svg" => {
            let svg = qr::svg(url, 240).map_err(public_error)?;
            Ok(([(header::CONTENT_TYPE, "image/svg+xml".to_string()), (header::CONTENT_DISPOSITION, disposition)], svg)
                .into_response())
        }
        "png" => {
            let png = qr::png(url, 10).map_err(public_error)?;
            Ok(([(header::CONTENT_TYPE, "image/png".to_string()), (header::CONTENT_DISPOSITION, disposition)], png)
                .into_response())
        }
        _ => Err(AppError::not_found()),
    }
}

/// `GET /qr/vendor/{id}` (the page) and `/qr/vendor/{id}.svg|.png` (the image).
async fn vendor_code(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (stem, ext) = split_file(&file)?;
    let id = id_of(&stem)?;
    let base = state.public.base_url(&headers);
    match ext {
        Some(ext) => {
            let actor = user.username.clone();
            let (url, code) = state
                .db
                .run(move |store| {
                    let v = vendor_in_scope(store, &user, id)?;
                    let t = token::token_for(store, id, None, &actor).map_err(public_error)?;
                    Ok((
                        public_url(&base, &vendor_path(&t.token)),
                        listed::text(Kind::Vendor, &v, "code").unwrap_or("qr").to_string(),
                    ))
                })
                .await?;
            image(&url, &ext, &code)
        }
        None => admin_page(state, user, ctx, id, base).await,
    }
}

#[derive(Template)]
#[template(path = "public/qr_admin.html")]
struct AdminPage {
    ctx: Ctx,
    vendor_id: i64,
    market_id: i64,
    name: String,
    url: Option<String>,
    path: String,
    invalid: String,
    may_write: bool,
    views: Vec<(String, u64)>,
    tokens: Vec<(String, String, String, String, String)>,
}

fn when(t: Option<i64>) -> String {
    t.map(shian_domain::time::format_datetime).unwrap_or_default()
}

fn invalid_text(why: Invalid, lang: Lang) -> &'static str {
    let (zh, en) = match why {
        Invalid::Revoked => ("公示码已作废", "the code was withdrawn"),
        Invalid::VendorLeft => {
            ("该经营者已退场：公示页显示为失效", "the vendor has left: its page shows as no longer valid")
        }
        Invalid::AgreementEnded => (
            "入场协议已解除：公示页显示为失效",
            "the entry agreement was terminated: its page shows as no longer valid",
        ),
    };
    if lang == Lang::En { en } else { zh }
}

async fn admin_page(state: AppState, user: Principal, ctx: Ctx, id: i64, base: String) -> Result<Response, AppError> {
    let may_write = user.role.may_write();
    let actor = user.username.clone();
    let lang = ctx.lang;
    let page = state
        .db
        .run(move |store| {
            let v = vendor_in_scope(store, &user, id)?;
            let market_id = listed::text(Kind::Vendor, &v, "market")
                .map(|c| store.find(Kind::Market, &[shian_domain::Value::Text(c.to_string())]))
                .transpose()?
                .flatten()
                .unwrap_or(0);
            let invalid = token::vendor_validity(store, id).map_err(public_error)?;
            let live = match invalid {
                None => Some(token::token_for(store, id, None, &actor).map_err(public_error)?),
                Some(_) => None,
            };
            let tokens = store
                .public_tokens_of(id)?
                .into_iter()
                .map(|t| {
                    (
                        when(Some(t.issued_at)),
                        t.issued_by,
                        t.lot_code.unwrap_or_default(),
                        when(t.revoked_at),
                        t.reason.unwrap_or_default(),
                    )
                })
                .collect();
            let path = live.as_ref().map(|t| vendor_path(&t.token)).unwrap_or_default();
            Ok(AdminPage {
                vendor_id: id,
                market_id,
                name: vendor_name(&v),
                url: live.map(|t| public_url(&base, &vendor_path(&t.token))),
                path,
                invalid: invalid.map(|w| invalid_text(w, lang)).unwrap_or_default().to_string(),
                may_write,
                views: store.page_views_of(id, 14)?,
                tokens,
                ctx,
            })
        })
        .await?;
    render(&page)
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Checks a write from a staff page and returns the vendor's live token (to forget its pages).
async fn staff_write(
    state: &AppState,
    user: &Principal,
    ctx: &Ctx,
    csrf: &str,
    id: i64,
) -> Result<Option<String>, AppError> {
    ctx.check_csrf(csrf)?;
    if !user.role.may_write() {
        return Err(AppError::forbidden());
    }
    let u = user.clone();
    state
        .db
        .run(move |store| {
            vendor_in_scope(store, &u, id)?;
            Ok(store.live_public_token(id, None)?.map(|t| t.token))
        })
        .await
}

/// `POST /qr/vendor/{id}/reissue`: the old code stops working, a new one is issued.
async fn reissue(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let old = staff_write(&state, &user, &ctx, &form.csrf, id).await?;
    let actor = user.username.clone();
    state.db.run(move |store| token::reissue(store, id, None, &actor).map(|_| ()).map_err(public_error)).await?;
    if let Some(t) = old {
        state.public.cache.forget(&t);
    }
    Ok(Redirect::to(&format!("/qr/vendor/{id}")).into_response())
}

/// `POST /qr/vendor/{id}/revoke`: the code stops working; a new one is issued on next demand.
async fn revoke(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let old = staff_write(&state, &user, &ctx, &form.csrf, id).await?;
    let actor = user.username.clone();
    state
        .db
        .run(move |store| token::revoke(store, id, None, &actor, "withdrawn").map(|_| ()).map_err(public_error))
        .await?;
    if let Some(t) = old {
        state.public.cache.forget(&t);
    }
    Ok(Redirect::to(&format!("/record/vendor/{id}")).into_response())
}

/// The lot code form's query.
#[derive(Debug, Deserialize)]
struct LotQuery {
    #[serde(default)]
    lot: String,
    #[serde(default)]
    format: String,
}

/// `GET /qr/lot/{vendor}?lot=…&format=png|svg`: the form's answer, sent on to the image.
async fn lot_form(Path(vendor): Path<i64>, Query(q): Query<LotQuery>) -> Result<Response, AppError> {
    let lot = q.lot.trim();
    if lot.is_empty() || !lot.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) {
        return Err(AppError::bad_request("请填写批次追溯码", "enter a lot's trace code"));
    }
    let ext = if q.format == "svg" { "svg" } else { "png" };
    Ok(Redirect::to(&format!("/qr/lot/{vendor}/{lot}.{ext}")).into_response())
}

/// `GET /qr/lot/{vendor}/{lot}.svg|.png`: an item-level code for a lot the vendor received.
async fn lot_code(
    State(state): State<AppState>,
    Auth(user, _ctx): Auth,
    Path((vendor, file)): Path<(i64, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (lot, ext) = split_file(&file)?;
    let ext = ext.ok_or_else(AppError::not_found)?;
    let base = state.public.base_url(&headers);
    let actor = user.username.clone();
    let l = lot.clone();
    let url = state
        .db
        .run(move |store| {
            vendor_in_scope(store, &user, vendor)?;
            if store.receipts_of_lot(vendor, &l)?.is_empty() {
                return Err(AppError::not_found());
            }
            let t = token::token_for(store, vendor, Some(&l), &actor).map_err(public_error)?;
            Ok(public_url(&base, &lot_path(&t.token)))
        })
        .await?;
    image(&url, &ext, &lot)
}

/// `GET /qr/market/{id}.pdf`: the posters of the market's vendors, in one PDF.
async fn market_posters(
    State(state): State<AppState>,
    Auth(user, _ctx): Auth,
    Path(file): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (stem, ext) = split_file(&file)?;
    if ext.as_deref() != Some("pdf") || !user.may_see(Kind::Vendor) {
        return Err(AppError::not_found());
    }
    let id = id_of(&stem)?;
    let layout = if params.get("layout").map(String::as_str) == Some("4") { Layout::Four } else { Layout::One };
    let base = state.public.base_url(&headers);
    let (pdf, code) = state
        .db
        .run(move |store| {
            let m = store.get(Kind::Market, id, &user.scope)?.ok_or_else(AppError::not_found)?;
            let code = listed::text(Kind::Market, &m, "code").unwrap_or("market").to_string();
            let name = listed::text(Kind::Market, &m, "name").unwrap_or_default().to_string();
            let (items, _skipped) = poster::market_items(store, id, &base, &user.username).map_err(public_error)?;
            let pdf = poster::render(&items, layout, &format!("公示码海报 · {name}")).map_err(public_error)?;
            Ok((pdf, code))
        })
        .await?;
    let disposition = format!("attachment; filename=\"posters-{code}.pdf\"");
    Ok(([(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, disposition)], pdf)
        .into_response())
}

struct DeductionRow {
    points: String,
    reason: String,
    key: String,
    href: Option<String>,
    date: String,
}

#[derive(Template)]
#[template(path = "public/credit.html")]
struct CreditPage {
    ctx: Ctx,
    vendor_id: i64,
    name: String,
    grade: &'static str,
    meaning: &'static str,
    score: u32,
    as_of: String,
    capped: Option<String>,
    rows: Vec<DeductionRow>,
}

/// `GET /credit/vendor/{id}`.
async fn credit_page(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (name, c) = state
        .db
        .run(move |store| {
            let v = vendor_in_scope(store, &user, id)?;
            Ok((vendor_name(&v), credit::evaluate(store, id, shian_services::accounts::now())?))
        })
        .await?;
    let lang = ctx.lang;
    let rows = c
        .deductions
        .iter()
        .map(|d| DeductionRow {
            points: format!("{}", d.points),
            reason: d.reason.get(lang).to_string(),
            key: d.record_key.clone(),
            href: match (d.kind, d.record_id) {
                (Some(k), Some(rid)) => Some(format!("/record/{}/{rid}", k.name())),
                _ => None,
            },
            date: d.date.clone(),
        })
        .collect();
    render(&CreditPage {
        vendor_id: id,
        name,
        grade: c.grade.letter(),
        meaning: c.grade.meaning(lang),
        score: c.score,
        as_of: shian_domain::time::format_datetime(c.as_of),
        capped: c.capped.map(|m| m.get(lang).to_string()),
        rows,
        ctx,
    })
}
