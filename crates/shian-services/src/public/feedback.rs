//! What the public sends back from a vendor's page: complaints and ratings.
//!
//! A complaint becomes a complaint record (投诉举报) of the vendor's market, channel `qr` (扫码投诉),
//! status `received`, so it appears in the market's records and in its operator's work like any
//! other complaint. Text is plain: trimmed, control characters removed, anything that looks like
//! HTML refused, lengths limited in characters. The optional contact is kept inside the record
//! (staff need it to reply) and never shown on a public page.
//!
//! A rating is 1–5 stars, at most one per client (a hash of its address and the day, not the
//! address itself) per vendor per China day; only the count and the average are ever shown.
//! Rate limits per client and per vendor are the web layer's job (they need no database).
//!
//! A stored complaint also opens a risk-ledger entry (风险台账, level general) through
//! `supervision::ledger::open_manual`, which tells the market's people in their inbox: the market
//! operator, its staff and its assigned officials.

use sha2::{Digest, Sha256};
use shian_domain::{Kind, Value};
use shian_store::{Store, row};

use super::token::random_token;
use super::{PublicError, listed, today};
use crate::accounts;
use crate::supervision::SupervisionError;
use crate::supervision::ledger::{ManualEntry, open_manual};
use crate::supervision::rules::Level;

/// Longest complaint text, in characters.
pub const MAX_WHAT: usize = 500;
/// Longest "when" text.
pub const MAX_WHEN: usize = 40;
/// Longest contact.
pub const MAX_CONTACT: usize = 60;
/// The audit log's actor for what the public sends.
pub const PUBLIC_ACTOR: &str = "public";

/// A complaint as the form sends it.
#[derive(Debug, Clone, Default)]
pub struct ComplaintForm {
    pub what: String,
    pub when: String,
    pub contact: String,
    /// A variety code among the vendor's listings, or empty.
    pub variety: String,
}

/// Plain text of at most `max` characters: trimmed, control characters (but line breaks) removed,
/// HTML refused.
pub fn plain_text(raw: &str, max: usize, what_zh: &str, what_en: &str) -> Result<String, PublicError> {
    let text: String =
        raw.trim().chars().filter(|c| !c.is_control() || *c == '\n').collect::<String>().replace("\n\n\n", "\n\n");
    if looks_like_html(&text) {
        return Err(PublicError::refused(
            format!("{what_zh}不能包含 HTML 或网页代码，请只填写文字"),
            format!("{what_en} must be plain text, without HTML"),
        ));
    }
    let n = text.chars().count();
    if n > max {
        return Err(PublicError::refused(
            format!("{what_zh}最多{max}个字，现为{n}个字"),
            format!("{what_en} takes at most {max} characters ({n} given)"),
        ));
    }
    Ok(text)
}

fn looks_like_html(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2).any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
        || s.to_ascii_lowercase().contains("javascript:")
        || s.contains("&#")
}

/// A pseudonymous client id for one day: not reversible to the address without trying them all,
/// and different every day, so clients cannot be followed across days.
pub fn client_hash(client: &str, day: &str) -> String {
    let digest = Sha256::digest(format!("shian-public|{day}|{client}").as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Stores a complaint about a vendor; returns its number (`QR` + date + 6 characters).
pub fn file_complaint(
    store: &mut dyn Store,
    vendor: i64,
    form: &ComplaintForm,
    client: &str,
) -> Result<String, PublicError> {
    let what = plain_text(&form.what, MAX_WHAT, "投诉内容", "the complaint")?;
    if what.chars().count() < 5 {
        return Err(PublicError::refused(
            "请用至少5个字说明情况",
            "please describe what happened in at least 5 characters",
        ));
    }
    let when = plain_text(&form.when, MAX_WHEN, "发生时间", "the time")?;
    let contact = plain_text(&form.contact, MAX_CONTACT, "联系方式", "the contact")?;
    let (market, variety) = market_and_variety(store, vendor, &form.variety)?;
    let number = complaint_no();
    let mut content = what;
    if !when.is_empty() {
        content += &format!("\n【发生时间】{when}");
    }
    if !contact.is_empty() {
        content += &format!("\n【联系方式（不公开）】{contact}");
    }
    let record = row(
        Kind::Complaint,
        &[
            ("complaint_no", Value::Text(number.clone())),
            ("channel", Value::Text("qr".into())),
            ("received_at", Value::Int(accounts::now())),
            ("market", market.map(Value::Int).unwrap_or(Value::Null)),
            ("vendor", Value::Int(vendor)),
            ("variety", variety.map(Value::Int).unwrap_or(Value::Null)),
            ("content", Value::Text(content)),
            ("status", Value::Text("received".into())),
        ],
    );
    store.write_batch(Kind::Complaint, &[record], None)?;
    let client = client_hash(client, &today());
    accounts::audit(
        store,
        PUBLIC_ACTOR,
        "public.complaint",
        Some("complaint"),
        Some(&number),
        None,
        None,
        Some(&client),
    )?;
    Ok(number)
}

/// Opens a risk-ledger entry for a stored complaint, which puts a notice in the inbox of the
/// market's people; returns the entry's id.
pub fn notify_market(store: &mut dyn Store, complaint_no: &str, summary: &str) -> Result<i64, PublicError> {
    let title: String = summary.chars().take(40).collect();
    let entry = ManualEntry {
        source: "complaint".into(),
        reference: Some(complaint_no.to_string()),
        market: None,
        vendor: None,
        lot_code: None,
        level: Level::General,
        title: format!("扫码投诉：{title}"),
        detail: Some(summary.to_string()),
    };
    open_manual(store, &entry, PUBLIC_ACTOR).map_err(|e| match e {
        SupervisionError::Store(e) => PublicError::Store(e),
        SupervisionError::Refused(m) => PublicError::Refused(m),
        other => PublicError::Internal(other.to_string()),
    })
}

/// `QR20261129` + 6 random characters, upper case.
fn complaint_no() -> String {
    let day: String = today().chars().filter(char::is_ascii_digit).collect();
    format!("QR{day}{}", random_token()[..6].to_ascii_uppercase())
}

/// The vendor's market, and the variety if it is one of the vendor's listings.
fn market_and_variety(
    store: &dyn Store,
    vendor: i64,
    variety: &str,
) -> Result<(Option<i64>, Option<i64>), PublicError> {
    let scope = shian_domain::access::Scope::All;
    let v = store
        .get(Kind::Vendor, vendor, &scope)?
        .ok_or_else(|| PublicError::refused("找不到该经营者", "no such vendor"))?;
    let market = match listed::text(Kind::Vendor, &v, "market") {
        Some(code) => store.find(Kind::Market, &[Value::Text(code.to_string())])?,
        None => None,
    };
    if variety.is_empty() {
        return Ok((market, None));
    }
    let Some(variety_id) = store.find(Kind::Variety, &[Value::Text(variety.to_string())])? else {
        return Ok((market, None));
    };
    let listed = store.find(Kind::VendorVariety, &[Value::Int(vendor), Value::Int(variety_id)])?;
    Ok((market, listed.map(|_| variety_id)))
}

/// Stores a rating of 1–5; `false` when this client already rated the vendor today.
pub fn rate(store: &mut dyn Store, vendor: i64, stars: u8, client: &str) -> Result<bool, PublicError> {
    if !(1..=5).contains(&stars) {
        return Err(PublicError::refused("评分须为1至5星", "a rating is 1 to 5 stars"));
    }
    let day = today();
    let hash = client_hash(client, &day);
    let rating =
        shian_store::public::NewRating { vendor_id: vendor, day: &day, client_hash: &hash, stars, at: accounts::now() };
    Ok(store.add_rating(&rating)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_refused_and_plain_text_kept() {
        assert!(plain_text("<script>alert(1)</script>", 100, "x", "x").is_err());
        assert!(plain_text("<b>粗体</b>", 100, "x", "x").is_err());
        assert!(plain_text("点击 javascript:alert(1)", 100, "x", "x").is_err());
        assert_eq!(
            plain_text("  价格 < 5 元，但\u{0}不新鲜  ", 100, "x", "x").expect("plain"),
            "价格 < 5 元，但不新鲜"
        );
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(plain_text(&"菜".repeat(MAX_WHAT), MAX_WHAT, "x", "x").is_ok());
        assert!(plain_text(&"菜".repeat(MAX_WHAT + 1), MAX_WHAT, "x", "x").is_err());
    }

    #[test]
    fn client_hashes_change_with_the_day_and_hide_the_address() {
        let a = client_hash("10.0.0.1", "2026-11-29");
        assert_ne!(a, client_hash("10.0.0.1", "2026-11-30"));
        assert!(!a.contains("10.0.0.1"));
        assert_eq!(a.len(), 24);
    }
}
