//! One code, all public (一码公开): the pages behind the QR codes, without login, and the staff's
//! QR codes, posters and credit pages.
//!
//! - [`pages`]: `/q/{token}` (a vendor) and `/q/lot/{token}` (a lot), the complaint and rating forms;
//! - [`cache`]: the rendered pages kept in memory, so a page view costs microseconds, not queries;
//! - [`views`]: page views counted in memory per vendor and day, flushed to `page_views` every
//!   few seconds by a background task;
//! - [`limit`]: rate limits per client and per vendor for what the public sends, and load shedding
//!   (429 at once) when too many public requests are in flight;
//! - [`staff`]: `/qr/…` (SVG, PNG, the market's posters as PDF, reissue and revoke) and
//!   `/credit/vendor/{id}` for signed-in users within their scope.
//!
//! The public pages are small (inline CSS, no script, well under 20 KB), in Simplified Chinese with
//! an English switch (`?lang=en`), and show nothing personal (see `shian_services::public::privacy`).

pub mod cache;
pub mod limit;
pub mod pages;
pub mod staff;
pub mod views;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use shian_domain::Lang;

use crate::AppState;
use crate::auth::{LANG_COOKIE, cookie};

/// The largest body the public forms accept.
pub const MAX_FORM_BYTES: usize = 8 * 1024;

/// What the public pages keep between requests.
pub struct PublicState {
    /// The base of the printed links (`SHIAN_PUBLIC_URL`, else the listen address).
    base_url: RwLock<Option<String>>,
    pub cache: cache::PageCache,
    pub views: views::ViewCounter,
    pub limits: limit::Limits,
    pub shed: limit::Shed,
    /// Signs the forms' timestamps (a fresh key per process).
    form_key: String,
}

impl PublicState {
    /// `base_url`: the configured public URL, if any.
    pub fn new(base_url: Option<String>) -> PublicState {
        PublicState {
            base_url: RwLock::new(base_url.filter(|b| !b.trim().is_empty())),
            cache: cache::PageCache::default(),
            views: views::ViewCounter::default(),
            limits: limit::Limits::default(),
            shed: limit::Shed::default(),
            form_key: shian_services::accounts::random_hex(16),
        }
    }

    /// Sets the public base URL (a server option).
    pub fn set_base_url(&self, url: String) {
        if !url.trim().is_empty() {
            *self.base_url.write().expect("base url lock") = Some(url);
        }
    }

    /// Sets the public base URL when none was configured (the server's listen address).
    pub fn default_base_url(&self, listen: SocketAddr) {
        let mut b = self.base_url.write().expect("base url lock");
        if b.is_none() {
            *b = Some(format!("http://{listen}"));
        }
    }

    /// The base of public links: configured, else the listen address, else the request's host.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(b) = self.base_url.read().expect("base url lock").clone() {
            return b.trim_end_matches('/').to_string();
        }
        let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
        format!("http://{host}")
    }

    /// A form's signature over the token and the time it was rendered: 96 bits of a SHA-256, written
    /// in letters only (a–p for the hex digits), so no run of digits on a public page ever looks like
    /// a phone or ID number.
    pub fn sign(&self, token: &str, ts: i64) -> String {
        let full = shian_services::accounts::secret_hash(&format!("{}|{token}|{ts}", self.form_key));
        full.bytes().take(24).map(|b| (b'a' + (b as char).to_digit(16).unwrap_or(0) as u8) as char).collect()
    }
}

/// The reader's language on a public page: `?lang=`, else the language cookie, else Chinese.
pub fn lang(query: Option<&str>, headers: &HeaderMap) -> Lang {
    query.and_then(Lang::parse).or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::parse)).unwrap_or_default()
}

/// Text in a language, for templates.
#[derive(Debug, Clone, Copy)]
pub struct L(pub Lang);

impl L {
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        if self.0 == Lang::En { en } else { zh }
    }

    pub fn is_en(&self) -> bool {
        self.0 == Lang::En
    }

    /// The platform's name.
    pub fn platform(&self) -> &'static str {
        let (zh, en) = shian_services::public::PLATFORM_NAME;
        self.t(zh, en)
    }
}

/// The public routes (no login), behind the load shedder.
pub fn routes(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/q/{token}", get(pages::vendor))
        .route("/q/lot/{token}", get(pages::lot))
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&state.public), limit::shed));
    let forms = Router::new()
        .route("/q/{token}/complaint", post(pages::complaint))
        .route("/q/{token}/rating", post(pages::rating))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES));
    pages.merge(forms).merge(staff::routes())
}

/// A public service's error as the web layer's.
pub(crate) fn public_error(e: shian_services::public::PublicError) -> crate::error::AppError {
    use axum::http::StatusCode;
    use shian_services::public::PublicError;
    match e {
        PublicError::Store(e) => e.into(),
        PublicError::Refused(msg) => crate::error::AppError { status: StatusCode::BAD_REQUEST, code: "refused", msg },
        PublicError::Font(msg) => crate::error::AppError { status: StatusCode::SERVICE_UNAVAILABLE, code: "font", msg },
        PublicError::Internal(m) => crate::error::AppError::internal(m),
    }
}

/// Starts the background tasks: the load shedder's saturation probe, and the writer of the page
/// views to the database every few seconds.
pub fn start(state: AppState) {
    limit::start_probe(Arc::clone(&state.public));
    views::start_flusher(state);
}
