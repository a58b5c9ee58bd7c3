//! The tokens behind the QR codes: unguessable, revocable, reissuable.
//!
//! A token is 128 bits from the operating system's random source, written in lowercase RFC 4648
//! base32 without padding (26 characters of `a–z2–7`): shorter than hex, so the QR code is smaller
//! and easier to scan on a worn poster, and it never contains the long runs of digits that look
//! like phone or ID numbers to the privacy checks. The simulator's `vendors.qr_token` comes from a
//! seeded generator, so it is guessable and is never used here.
//!
//! A vendor has at most one live token of its own, and one per lot it publishes. Reissuing revokes
//! the old token (its page then says it is no longer valid) and issues a new one; a vendor that
//! has left its market or whose entry agreement was terminated shows as invalid whatever its token.
//! An agreement that has merely run out (到期, not renewed yet) keeps the page, which says so: the
//! public still sees who sells there and how the goods tested.

use rand::TryRngCore;
use rand::rngs::OsRng;
use shian_domain::access::Scope;
use shian_domain::{Kind, Value};
use shian_store::Store;
use shian_store::public::{NewPublicToken, PublicToken};

use super::PublicError;
use super::listed;
use crate::accounts;

/// Length of a token in characters.
pub const TOKEN_LEN: usize = 26;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A fresh token: 16 random bytes from the operating system, base32.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    OsRng.try_fill_bytes(&mut bytes).expect("the operating system's random source works");
    base32(&bytes)
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Whether a text could be a token at all (checked before any database lookup).
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == TOKEN_LEN && s.bytes().all(|b| BASE32.contains(&b))
}

/// What a token's code is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Vendor(i64),
    Lot { vendor: i64, lot: String },
}

/// Why a vendor's page is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// The token was revoked (a new code was issued, or staff withdrew it).
    Revoked,
    /// The vendor has left the market.
    VendorLeft,
    /// The vendor's entry agreement has expired or was terminated.
    AgreementEnded,
}

/// What a token leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Live(Subject),
    Invalid(Invalid),
    Unknown,
}

/// Resolves a token to the vendor or lot it shows, or why it no longer shows one.
pub fn resolve(store: &dyn Store, token: &str) -> Result<Resolved, PublicError> {
    if !is_token_shaped(token) {
        return Ok(Resolved::Unknown);
    }
    let Some(t) = store.public_token(token)? else { return Ok(Resolved::Unknown) };
    if t.revoked_at.is_some() {
        return Ok(Resolved::Invalid(Invalid::Revoked));
    }
    Ok(match t.lot_code {
        Some(lot) => Resolved::Live(Subject::Lot { vendor: t.vendor_id, lot }),
        None => match vendor_validity(store, t.vendor_id)? {
            Some(why) => Resolved::Invalid(why),
            None => Resolved::Live(Subject::Vendor(t.vendor_id)),
        },
    })
}

/// Why a vendor may not show a public page today, if it may not.
pub fn vendor_validity(store: &dyn Store, vendor: i64) -> Result<Option<Invalid>, PublicError> {
    let k = Kind::Vendor;
    let Some(v) = store.get(k, vendor, &Scope::All)? else { return Ok(Some(Invalid::VendorLeft)) };
    if listed::text(k, &v, "status").is_some_and(|s| s != "active") {
        return Ok(Some(Invalid::VendorLeft));
    }
    let terminated = listed::text(k, &v, "agreement_status").is_some_and(|s| s == "terminated");
    Ok(terminated.then_some(Invalid::AgreementEnded))
}

/// The live token of a vendor (`lot` `None`) or of one of its lots, issued now if there is none.
pub fn token_for(
    store: &mut dyn Store,
    vendor: i64,
    lot: Option<&str>,
    actor: &str,
) -> Result<PublicToken, PublicError> {
    if let Some(t) = store.live_public_token(vendor, lot)? {
        return Ok(t);
    }
    issue(store, vendor, lot, actor)
}

fn issue(store: &mut dyn Store, vendor: i64, lot: Option<&str>, actor: &str) -> Result<PublicToken, PublicError> {
    let token = random_token();
    let new = NewPublicToken {
        token: &token,
        vendor_id: vendor,
        lot_code: lot,
        issued_at: accounts::now(),
        issued_by: actor,
    };
    store.insert_public_token(&new)?;
    audit(store, actor, "qr.issue", vendor, lot, None)?;
    store.public_token(&token)?.ok_or_else(|| PublicError::Internal("an issued token cannot be read back".into()))
}

/// Revokes the live token of a vendor or lot (`reason` is kept and audited); `false` if there was
/// none.
pub fn revoke(
    store: &mut dyn Store,
    vendor: i64,
    lot: Option<&str>,
    actor: &str,
    reason: &str,
) -> Result<bool, PublicError> {
    let n = store.revoke_public_token(vendor, lot, accounts::now(), reason)?;
    if n > 0 {
        audit(store, actor, "qr.revoke", vendor, lot, Some(reason))?;
    }
    Ok(n > 0)
}

/// Revokes the live token (if any) and issues a new one.
pub fn reissue(store: &mut dyn Store, vendor: i64, lot: Option<&str>, actor: &str) -> Result<PublicToken, PublicError> {
    revoke(store, vendor, lot, actor, "reissued")?;
    issue(store, vendor, lot, actor)
}

/// Issues a token to every active vendor whose agreement was not terminated and that has none (of
/// one market, or of all); returns how many were issued.
pub fn issue_missing(store: &mut dyn Store, market: Option<i64>, actor: &str) -> Result<u64, PublicError> {
    let vendors = store.vendors_without_token(market)?;
    for &v in &vendors {
        issue(store, v, None, actor)?;
    }
    Ok(vendors.len() as u64)
}

fn audit(
    store: &mut dyn Store,
    actor: &str,
    action: &str,
    vendor: i64,
    lot: Option<&str>,
    reason: Option<&str>,
) -> Result<(), PublicError> {
    let code = store
        .get(Kind::Vendor, vendor, &Scope::All)?
        .and_then(|v| listed::text(Kind::Vendor, &v, "code").map(str::to_string));
    let key = match lot {
        Some(l) => format!("{},{l}", code.unwrap_or_default()),
        None => code.unwrap_or_default(),
    };
    accounts::audit(store, actor, action, Some("vendor"), Some(&key), None, reason, None)?;
    Ok(())
}

/// The id of a vendor by its code.
pub fn vendor_id(store: &dyn Store, code: &str) -> Result<Option<i64>, PublicError> {
    Ok(store.find(Kind::Vendor, &[Value::Text(code.to_string())])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_26_base32_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(is_token_shaped(&a) && is_token_shaped(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn base32_follows_rfc_4648() {
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(base32(b"f"), "my");
    }

    #[test]
    fn only_token_shaped_text_is_looked_up() {
        assert!(!is_token_shaped("../../etc/passwd"));
        assert!(!is_token_shaped("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
        assert!(!is_token_shaped("abc"));
    }
}
