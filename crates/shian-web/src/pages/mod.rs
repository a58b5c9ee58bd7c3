//! Server-rendered pages: login, the dashboard, archives of every record kind, trace, import, the
//! audit log, and supervision: the inbox, the risk ledger and the test results. Templates live in
//! `templates/` (askama, auto-escaped, checked at compile time).
//!
//! Every page reads through the signed-in user's scope; a record outside it is "not found".

pub mod catalogue;
pub mod dashboard;
pub mod import;
pub mod inbox;
pub mod ledger;
pub mod profile;
pub mod records;
pub mod routine;
pub mod sampling;
pub mod session;
pub mod trace;
pub mod view;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;
use crate::auth::{Ctx, LANG_COOKIE, cookie, urlencode};
use crate::error::AppError;

/// Marks a response made from an [`AppError`], so pages can show it as a page.
#[derive(Clone)]
pub struct ErrorMark(pub std::sync::Arc<AppError>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.json())).into_response();
        response.extensions_mut().insert(ErrorMark(std::sync::Arc::new(self)));
        response
    }
}

impl Clone for AppError {
    fn clone(&self) -> AppError {
        AppError { status: self.status, code: self.code, msg: self.msg.clone() }
    }
}

/// Renders a template into a response.
pub fn render(t: &impl Template) -> Result<Response, AppError> {
    Ok(Html(t.render().map_err(AppError::internal)?).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/subjects", get(|| async { Redirect::to("/records/market") }))
        .route("/supervision", get(|| async { Redirect::to("/records/rapid_test") }))
        .route("/records/{kind}", get(records::list))
        .route("/record/{kind}/{id}", get(records::record))
        .route("/find/{kind}/{key}", get(records::find))
        .route("/trace", get(trace::page))
        .route("/trace/export", get(trace::export))
        .route("/audit", get(records::audit))
        .route("/routine", get(routine::page))
        .route("/catalogue", get(catalogue::list))
        .route("/catalogue/{id}", get(catalogue::item).post(catalogue::update))
        .route("/sampling", get(sampling::page))
        .merge(ledger::routes())
        .merge(inbox::routes())
        .merge(session::routes())
        .layer(axum::middleware::from_fn(pages_errors))
}

/// The upload routes, which take large bodies.
pub fn upload_routes() -> Router<AppState> {
    import::routes().merge(ledger::upload_routes()).layer(axum::middleware::from_fn(pages_errors))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: Ctx,
    status: u16,
    message: String,
}

/// Turns errors on pages into pages: 401 into the login page, others into an error page in the
/// reader's language.
pub async fn pages_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let lang = cookie(req.headers(), LANG_COOKIE).and_then(shian_domain::Lang::parse).unwrap_or_default();
    let response = next.run(req).await;
    let Some(ErrorMark(err)) = response.extensions().get::<ErrorMark>().cloned() else { return response };
    if err.status == StatusCode::UNAUTHORIZED {
        return Redirect::to(&format!("/login?next={}", urlencode(&path))).into_response();
    }
    let ctx = Ctx { lang, user: None, csrf: String::new(), path, via_token: false };
    let page = ErrorPage { status: err.status.as_u16(), message: err.msg.get(lang).to_string(), ctx };
    match page.render() {
        Ok(html) => (err.status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(_) => response,
    }
}
