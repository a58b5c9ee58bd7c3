//! Sign in, sign out, and the language switch.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use shian_domain::Lang;
use shian_services::accounts;

use super::render;
use crate::AppState;
use crate::auth::{Ctx, LANG_COOKIE, SESSION_COOKIE, clear_session_cookie, cookie, safe_back, session_cookie};
use crate::error::AppError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/lang/{lang}", get(switch_lang))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    error: Option<String>,
    next: String,
    username: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn login_page(ctx: Ctx, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
    if ctx.user.is_some() {
        return Ok(Redirect::to(safe_back(&q.next)).into_response());
    }
    render(&LoginPage { ctx, error: None, next: q.next, username: String::new() })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    ctx: Ctx,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let (username, password) = (form.username.trim().to_string(), form.password);
    let client = addr.ip().to_string();
    let name = username.clone();
    let outcome = state.db.run(move |store| Ok(accounts::login(store, &name, &password, &client))).await?;
    match outcome {
        Ok(session) => {
            let target = safe_back(&form.next).to_string();
            let target = if target.starts_with("/login") { "/".to_string() } else { target };
            Ok(([(header::SET_COOKIE, session_cookie(&session.cookie))], Redirect::to(&target)).into_response())
        }
        Err(e) => {
            let error = Some(e.message(ctx.lang));
            let page = LoginPage { ctx, error, next: form.next, username };
            let mut response = render(&page)?;
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            Ok(response)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ctx: Ctx,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    if let (Some(user), Some(c)) = (ctx.user.clone(), cookie(&headers, SESSION_COOKIE).map(str::to_string)) {
        ctx.check_csrf(&form.csrf)?;
        state.db.run(move |store| Ok(accounts::logout(store, &c, &user.username)?)).await?;
    }
    Ok(([(header::SET_COOKIE, clear_session_cookie())], Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
pub struct BackQuery {
    #[serde(default)]
    back: String,
}

/// Remembers the language in a cookie (and in the session, for the next sign-in elsewhere).
async fn switch_lang(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(lang): Path<String>,
    Query(q): Query<BackQuery>,
) -> Result<Response, AppError> {
    let lang = Lang::parse(&lang).ok_or_else(AppError::not_found)?;
    let code = if lang == Lang::En { "en" } else { "zh" };
    if let Some(c) = cookie(&headers, SESSION_COOKIE).map(str::to_string) {
        state.db.run(move |store| Ok(accounts::set_session_lang(store, &c, lang)?)).await?;
    }
    let set = format!("{LANG_COOKIE}={code}; SameSite=Lax; Path=/; Max-Age=31536000");
    Ok(([(header::SET_COOKIE, set)], Redirect::to(safe_back(&q.back))).into_response())
}
