//! Who is asking: the session cookie (browsers) or a bearer token (machine clients), the
//! reader's language, and the CSRF check on forms.
//!
//! Session cookies are `HttpOnly; SameSite=Strict; Path=/`, get a new random id at every login,
//! and end after 30 idle minutes or 12 hours (see `shian_services::accounts`). A form that writes
//! carries the session's CSRF token, compared in constant time.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use shian_domain::Lang;
use shian_services::accounts::{self, Principal};

use crate::AppState;
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "shian_session";
pub const LANG_COOKIE: &str = "shian_lang";

/// A cookie's value from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(value: &str) -> String {
    format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The request's context: its language, and the signed-in user if there is one.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<Principal>,
    pub csrf: String,
    /// The path and query of the request (for the language toggle and the login redirect).
    pub path: String,
    pub via_token: bool,
}

impl Ctx {
    /// Text in the reader's language.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    /// The signed-in user, or 401.
    pub fn require(&self) -> Result<&Principal, AppError> {
        self.user.as_ref().ok_or_else(AppError::unauthorized)
    }

    /// Checks a form's CSRF token against the session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        if self.via_token || (!self.csrf.is_empty() && constant_time_eq(token.as_bytes(), self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(AppError::csrf())
        }
    }

    /// The current path with `lang` toggled, for the language switch.
    pub fn other_lang_href(&self) -> String {
        let to = if self.is_en() { "zh" } else { "en" };
        format!("/lang/{to}?back={}", urlencode(&self.path))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Percent-encodes a path for a query parameter.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a redirect target stays on this site.
pub fn safe_back(back: &str) -> &str {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') { back } else { "/" }
}

impl<S> FromRequestParts<S> for Ctx
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Ctx, AppError> {
        if let Some(ctx) = parts.extensions.get::<Ctx>() {
            return Ok(ctx.clone());
        }
        let state = AppState::from_ref(state);
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let cookie_lang = cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse);
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let session = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string);
        let db = Arc::clone(&state.db);
        let ctx = db
            .run(move |store| {
                if let Some(token) = bearer {
                    let user = accounts::token_principal(store, &token)?;
                    if user.is_none() {
                        return Err(AppError::unauthorized());
                    }
                    let lang = cookie_lang.unwrap_or_default();
                    return Ok(Ctx { lang, user, csrf: String::new(), path, via_token: true });
                }
                let active = match session {
                    Some(c) => accounts::session(store, &c)?,
                    None => None,
                };
                let lang = cookie_lang.or(active.as_ref().and_then(|a| a.lang)).unwrap_or_default();
                Ok(match active {
                    Some(a) => Ctx { lang, user: Some(a.principal), csrf: a.csrf, path, via_token: false },
                    None => Ctx { lang, user: None, csrf: String::new(), path, via_token: false },
                })
            })
            .await?;
        parts.extensions.insert(ctx.clone());
        Ok(ctx)
    }
}

/// A signed-in user (401 otherwise).
pub struct Auth(pub Principal, pub Ctx);

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Auth, AppError> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let user = ctx.require()?.clone();
        Ok(Auth(user, ctx))
    }
}
