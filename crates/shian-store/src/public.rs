//! Storage of what the public pages need beyond the records (一码公开): the tokens behind the QR
//! codes, vendors' public commitments, consumers' ratings and page views, and the one query over
//! a vendor's receipts that says where its goods come from.
//!
//! Tokens are stored as they are (they are not secrets: anyone holding the poster reads them); a
//! revoked token is kept with when and why, so its page can say it is no longer valid.

use shian_domain::access::Scope;

use crate::Result;

/// A QR code's token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicToken {
    pub id: i64,
    pub token: String,
    pub vendor_id: i64,
    /// `None`: the vendor's code; `Some`: an item-level code of the vendor's lot.
    pub lot_code: Option<String>,
    pub issued_at: i64,
    pub issued_by: String,
    pub revoked_at: Option<i64>,
    pub reason: Option<String>,
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewPublicToken<'a> {
    pub token: &'a str,
    pub vendor_id: i64,
    pub lot_code: Option<&'a str>,
    pub issued_at: i64,
    pub issued_by: &'a str,
}

/// A vendor's public commitment (主体承诺).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commitment {
    pub text: String,
    /// When the vendor signed it (`YYYY-MM-DD`).
    pub signed_on: Option<String>,
    pub recorded_at: i64,
}

/// A consumer's rating to store.
#[derive(Debug, Clone)]
pub struct NewRating<'a> {
    pub vendor_id: i64,
    /// China date, `YYYY-MM-DD`.
    pub day: &'a str,
    pub client_hash: &'a str,
    pub stars: u8,
    pub at: i64,
}

/// The ratings of a vendor, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatingSummary {
    pub count: u64,
    /// The sum of the stars (the average is `sum / count`).
    pub sum: u64,
}

/// Where one receipt of a vendor came from, as far as the records say: the origin certificate's
/// region, else the producer's region; for goods bought from another vendor, the same one hop up
/// (the upstream lot's first receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptOrigin {
    pub inbound_id: i64,
    pub received_at: i64,
    /// `producer`, `vendor`, `buyer` or `other` (the receipt's `supplier_kind`).
    pub supplier_kind: String,
    /// Region code (GB/T 2260) of the origin, when known.
    pub origin: Option<String>,
    /// Whether an origin certificate (承诺达标合格证) covers the goods, on the receipt itself or on
    /// the upstream lot's receipt.
    pub certified: bool,
}

/// What the public pages need from a backend.
pub trait Public {
    /// Stores a new token; fails if the vendor (or lot) already has a live one.
    fn insert_public_token(&mut self, token: &NewPublicToken) -> Result<i64>;
    /// A token by its text, live or revoked.
    fn public_token(&self, token: &str) -> Result<Option<PublicToken>>;
    /// The live token of a vendor (`lot` `None`) or of one of its lots.
    fn live_public_token(&self, vendor: i64, lot: Option<&str>) -> Result<Option<PublicToken>>;
    /// Every token of a vendor (its own and its lots'), newest first.
    fn public_tokens_of(&self, vendor: i64) -> Result<Vec<PublicToken>>;
    /// Revokes the live token of a vendor or lot; returns how many were revoked (0 or 1).
    fn revoke_public_token(&mut self, vendor: i64, lot: Option<&str>, at: i64, reason: &str) -> Result<usize>;
    /// Active vendors (of one market, or all) whose entry agreement was not terminated and that
    /// have no live token of their own.
    fn vendors_without_token(&self, market: Option<i64>) -> Result<Vec<i64>>;

    fn commitment(&self, vendor: i64) -> Result<Option<Commitment>>;
    fn set_commitment(&mut self, vendor: i64, commitment: &Commitment) -> Result<()>;

    /// Stores a rating; `false` when this client already rated this vendor that day.
    fn add_rating(&mut self, rating: &NewRating) -> Result<bool>;
    fn rating_summary(&self, vendor: i64) -> Result<RatingSummary>;

    /// Adds views: (vendor, China date, views).
    fn add_page_views(&mut self, views: &[(i64, String, u64)]) -> Result<()>;
    /// Views of the public pages of the vendors inside a scope, all days.
    fn page_views_in(&self, scope: &Scope) -> Result<u64>;
    /// A vendor's views per day, newest first.
    fn page_views_of(&self, vendor: i64, days: usize) -> Result<Vec<(String, u64)>>;

    /// Where the vendor's latest `limit` receipts came from, newest first.
    fn receipt_origins(&self, vendor: i64, limit: usize) -> Result<Vec<ReceiptOrigin>>;
}
