//! One code, all public (一码公开): what a consumer sees after scanning a vendor's or a lot's QR code,
//! and what a consumer may send back.
//!
//! - [`token`]: the unguessable, revocable tokens in the codes;
//! - [`vendor`]: a vendor's public facts (who, where, what it sells and where that comes from, its
//!   tests and samples in plain language, its credit grade, its ratings);
//! - [`lot`]: a lot's public summary (origin and producer type, certificate, market, dates, tests);
//! - [`feedback`]: complaints (stored as complaint records of the vendor's market) and ratings;
//! - [`qr`] and [`poster`]: the codes as SVG and PNG, and a market's posters as one PDF;
//! - [`privacy`]: what is never shown (people's names, phone and ID numbers) and how it is hidden.
//!
//! Privacy rule: nothing here reads a vendor's `contact`, `phone`, `credit_code` or `agreement_no`
//! into a public view, nor a receipt's `supplier_name`, prices or amounts. A natural person's name
//! is masked (王*); a business's registered name is shown as registered.

pub mod feedback;
pub mod listed;
pub mod lot;
pub mod poster;
pub mod privacy;
pub mod qr;
pub mod token;
pub mod vendor;

use shian_domain::Msg;
use shian_store::StoreError;

use crate::accounts::AccountError;

/// Errors of the public services.
#[derive(Debug, thiserror::Error)]
pub enum PublicError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Input refused, with a message for the person who sent it.
    #[error("{0}")]
    Refused(Msg),
    /// No font with Chinese glyphs was found for the posters.
    #[error("{0}")]
    Font(Msg),
    #[error("{0}")]
    Internal(String),
}

impl PublicError {
    pub fn refused(zh: impl Into<String>, en: impl Into<String>) -> PublicError {
        PublicError::Refused(Msg::new(zh.into(), en.into()))
    }
}

impl From<AccountError> for PublicError {
    fn from(e: AccountError) -> PublicError {
        match e {
            AccountError::Store(e) => PublicError::Store(e),
            AccountError::Refused(m) => PublicError::Refused(m),
        }
    }
}

/// The platform's name as printed on posters and public pages (Chinese, English).
pub const PLATFORM_NAME: (&str, &str) =
    ("食安 · 河北省食用农产品质量安全监管平台", "Shian · Hebei edible agricultural product safety platform");

/// The path of a vendor's public page for a token.
pub fn vendor_path(token: &str) -> String {
    format!("/q/{token}")
}

/// The path of a lot's public page for a token.
pub fn lot_path(token: &str) -> String {
    format!("/q/lot/{token}")
}

/// A public URL: the base (e.g. `https://sa.example.cn`) and a path, with one slash between.
pub fn public_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// Today's date in China (`YYYY-MM-DD`).
pub fn today() -> String {
    listed::day(crate::accounts::now())
}
