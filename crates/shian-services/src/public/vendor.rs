//! A vendor's public facts, in the reader's language: who and where, licence and entry agreement,
//! its public commitment, what it sells and where that comes from, its latest rapid tests and
//! official samples in plain words, its credit grade and its ratings.
//!
//! Everything is read from the records; nothing personal is copied in (see [`super::privacy`]).

use std::collections::BTreeMap;

use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Value, region};
use shian_store::Store;
use shian_store::public::RatingSummary;
use shian_store::query::{Filter, ListQuery, Listed};

use super::listed::{self, choice, day, label, text};
use super::{PublicError, privacy};
use crate::credit::{self, Grade};

/// Rapid tests and samples shown.
const LATEST_TESTS: usize = 8;
const LATEST_SAMPLES: usize = 5;
/// Receipts read for the origins and certificate coverage.
const ORIGIN_RECEIPTS: usize = 200;
/// Origin regions shown.
const TOP_ORIGINS: usize = 5;

/// The standard commitment shown when a vendor has none recorded (市场销售者食品安全承诺).
pub const STANDARD_COMMITMENT: (&str, &str) = (
    "本经营者承诺：严格落实进货查验和记录制度，销售的食用农产品来源可追溯、附承诺达标合格证或其他产品质量合格凭证；\
     不销售农药兽药残留超标、使用禁用药物、腐败变质或来源不明的食用农产品；配合市场开展快速检测和监督抽检，\
     发现问题立即停止销售并报告；诚信经营，明码标价，接受社会监督。",
    "The vendor undertakes to check and record every receipt, to sell only traceable goods that come with \
     an origin certificate or other proof of quality, never to sell goods with residues above the limits, \
     banned substances, spoiled goods or goods of unknown origin, to take part in the market's rapid tests \
     and official sampling, to stop selling and report at once when a problem is found, to trade honestly \
     with clear prices and to accept public supervision.",
);

/// One test or sample in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLine {
    pub date: String,
    pub variety: String,
    /// The item tested (for a sample: the failed items, or how many items were tested).
    pub item: String,
    /// `None`: no result yet (a sample whose items are not reported).
    pub passed: Option<bool>,
}

impl TestLine {
    /// A rapid test (a listed `Kind::RapidTest` row) as a line.
    pub(super) fn rapid_test(r: &Listed) -> TestLine {
        let k = Kind::RapidTest;
        TestLine {
            date: listed::int(k, r, "tested_at").map(day).unwrap_or_default(),
            variety: label(k, r, "variety").unwrap_or_default().to_string(),
            item: text(k, r, "item").unwrap_or_default().to_string(),
            passed: Some(text(k, r, "verdict") != Some("fail")),
        }
    }
}

/// A variety the vendor sells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The variety's code (for the complaint form's choice).
    pub code: String,
    pub name: String,
    /// The usual origin's full name.
    pub origin: Option<String>,
}

/// Where the goods of the latest receipts came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginShare {
    pub place: String,
    pub percent: u32,
}

/// A vendor's public page, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorPublic {
    pub vendor_id: i64,
    pub name: String,
    pub subject: String,
    pub market: String,
    pub market_kind: String,
    pub place: String,
    pub market_address: Option<String>,
    pub stall: Option<String>,
    pub licence: String,
    pub agreement: String,
    pub agreement_in_force: bool,
    pub commitment: String,
    /// `false`: the standard text is shown because the vendor has none recorded.
    pub commitment_recorded: bool,
    pub commitment_signed_on: Option<String>,
    pub varieties: Vec<Listing>,
    pub origins: Vec<OriginShare>,
    pub receipts: u64,
    pub certified_percent: Option<u32>,
    /// The dates of the receipts the origins come from (`from – to`).
    pub origin_window: String,
    pub rapid_tests: Vec<TestLine>,
    pub samples: Vec<TestLine>,
    pub grade: Grade,
    pub score: u32,
    pub ratings: RatingSummary,
}

/// A region's full name: `山东省潍坊市寿光市`.
pub fn place_name(code: &str) -> String {
    let mut parts = Vec::new();
    let mut next = region::by_code(code);
    while let Some(r) = next {
        // Skip repeated names (municipalities) and the placeholders of counties directly under a
        // province ("海南省-自治区直辖县级行政区划").
        if parts.first() != Some(&r.name) && !r.name.contains("直辖县级行政区划") {
            parts.insert(0, r.name);
        }
        next = r.parent.and_then(region::by_code);
    }
    if parts.is_empty() { code.to_string() } else { parts.concat() }
}

fn t(lang: Lang, zh: impl Into<String>, en: impl Into<String>) -> String {
    if lang == Lang::En { en.into() } else { zh.into() }
}

fn list(store: &dyn Store, kind: Kind, filters: Vec<Filter>, limit: usize) -> Result<Vec<Listed>, PublicError> {
    Ok(store.list(kind, &ListQuery { scope: &Scope::All, filters, before: None, limit })?)
}

/// Reads a vendor's public facts; `None` if there is no such vendor.
pub fn vendor_public(
    store: &dyn Store,
    vendor: i64,
    lang: Lang,
    as_of: i64,
) -> Result<Option<VendorPublic>, PublicError> {
    let k = Kind::Vendor;
    let Some(v) = store.get(k, vendor, &Scope::All)? else { return Ok(None) };
    let market = match text(k, &v, "market") {
        Some(code) => store.find(Kind::Market, &[Value::Text(code.to_string())])?,
        None => None,
    };
    let market = match market {
        Some(id) => store.get(Kind::Market, id, &Scope::All)?,
        None => None,
    };
    let subject_kind = text(k, &v, "subject_kind").unwrap_or("person");
    let (commitment, commitment_recorded, commitment_signed_on) = commitment(store, vendor, lang)?;
    let (origins, receipts, certified_percent, origin_window) = origins(store, vendor, lang)?;
    let credit = credit::evaluate(store, vendor, as_of)?;
    let m = Kind::Market;
    Ok(Some(VendorPublic {
        vendor_id: vendor,
        name: privacy::display_name(subject_kind, text(k, &v, "name").unwrap_or_default()),
        subject: subject_label(subject_kind, lang),
        market: market.as_ref().and_then(|r| text(m, r, "name")).unwrap_or_default().to_string(),
        market_kind: market
            .as_ref()
            .and_then(|r| text(m, r, "market_kind"))
            .map(|c| choice(m, "market_kind", c, lang))
            .unwrap_or_default(),
        place: market.as_ref().and_then(|r| text(m, r, "region")).map(place_name).unwrap_or_default(),
        market_address: market.as_ref().and_then(|r| text(m, r, "address")).map(str::to_string),
        stall: text(k, &v, "stall").map(str::to_string),
        licence: licence(subject_kind, text(k, &v, "credit_code"), lang),
        agreement: agreement(&v, lang),
        agreement_in_force: text(k, &v, "agreement_status") == Some("in_force"),
        commitment,
        commitment_recorded,
        commitment_signed_on,
        varieties: varieties(store, vendor)?,
        origins,
        receipts,
        certified_percent,
        origin_window,
        rapid_tests: rapid_tests(store, vendor)?,
        samples: samples(store, vendor, lang)?,
        grade: credit.grade,
        score: credit.score,
        ratings: store.rating_summary(vendor)?,
    }))
}

fn subject_label(kind: &str, lang: Lang) -> String {
    match kind {
        "person" => t(lang, "个人经营者（自然人）", "individual (natural person)"),
        other => choice(Kind::Vendor, "subject_kind", other, lang),
    }
}

/// Registration, without printing an ID number: a natural person's is never shown; a business's
/// code is shown masked.
fn licence(subject_kind: &str, code: Option<&str>, lang: Lang) -> String {
    match (subject_kind, code) {
        ("person", Some(_)) => {
            t(lang, "身份已登记核验（信息不公开）", "identity registered and checked (not published)")
        }
        (_, Some(c)) => t(
            lang,
            format!("营业执照已登记（统一社会信用代码 {}）", privacy::mask_code(c)),
            format!("business licence registered (credit code {})", privacy::mask_code(c)),
        ),
        _ => t(lang, "未登记", "not registered"),
    }
}

fn agreement(v: &Listed, lang: Lang) -> String {
    let k = Kind::Vendor;
    let status = text(k, v, "agreement_status").map(|s| choice(k, "agreement_status", s, lang));
    let range = match (text(k, v, "agreement_start"), text(k, v, "agreement_end")) {
        (Some(a), Some(b)) => t(lang, format!("（{a} 至 {b}）"), format!(" ({a} to {b})")),
        (None, Some(b)) => t(lang, format!("（至 {b}）"), format!(" (until {b})")),
        _ => String::new(),
    };
    match status {
        Some(s) => format!("{s}{range}"),
        None => t(lang, "无入场协议记录", "no entry agreement recorded"),
    }
}

fn commitment(store: &dyn Store, vendor: i64, lang: Lang) -> Result<(String, bool, Option<String>), PublicError> {
    Ok(match store.commitment(vendor)? {
        Some(c) => (c.text, true, c.signed_on),
        None => (t(lang, STANDARD_COMMITMENT.0, STANDARD_COMMITMENT.1), false, None),
    })
}

fn varieties(store: &dyn Store, vendor: i64) -> Result<Vec<Listing>, PublicError> {
    let k = Kind::VendorVariety;
    Ok(list(store, k, vec![Filter::RefId("vendor", vendor)], 50)?
        .iter()
        .map(|r| Listing {
            code: text(k, r, "variety").unwrap_or_default().to_string(),
            name: label(k, r, "variety").unwrap_or_default().to_string(),
            origin: text(k, r, "usual_origin").map(place_name),
        })
        .collect())
}

type Origins = (Vec<OriginShare>, u64, Option<u32>, String);

fn origins(store: &dyn Store, vendor: i64, lang: Lang) -> Result<Origins, PublicError> {
    let receipts = store.receipt_origins(vendor, ORIGIN_RECEIPTS)?;
    let n = receipts.len() as u64;
    if n == 0 {
        return Ok((Vec::new(), 0, None, String::new()));
    }
    let mut by_place: BTreeMap<String, u64> = BTreeMap::new();
    for r in &receipts {
        let place = match &r.origin {
            Some(code) => place_name(code),
            None => t(lang, "产地未记录", "origin not recorded"),
        };
        *by_place.entry(place).or_default() += 1;
    }
    let mut shares: Vec<(String, u64)> = by_place.into_iter().collect();
    shares.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top = shares
        .into_iter()
        .take(TOP_ORIGINS)
        .map(|(place, c)| OriginShare { place, percent: ((c * 100) as f64 / n as f64).round() as u32 })
        .collect();
    let certified = receipts.iter().filter(|r| r.certified).count() as u64;
    let percent = ((certified * 100) as f64 / n as f64).round() as u32;
    let window = match (receipts.last(), receipts.first()) {
        (Some(old), Some(new)) => format!("{} – {}", day(old.received_at), day(new.received_at)),
        _ => String::new(),
    };
    Ok((top, n, Some(percent), window))
}

fn rapid_tests(store: &dyn Store, vendor: i64) -> Result<Vec<TestLine>, PublicError> {
    let tests = list(store, Kind::RapidTest, vec![Filter::RefId("vendor", vendor)], LATEST_TESTS)?;
    Ok(tests.iter().map(TestLine::rapid_test).collect())
}

fn samples(store: &dyn Store, vendor: i64, lang: Lang) -> Result<Vec<TestLine>, PublicError> {
    let k = Kind::Sample;
    let mut out = Vec::new();
    for s in list(store, k, vec![Filter::PolyRefId("subject", "vendor", vendor)], LATEST_SAMPLES)? {
        let items = list(store, Kind::SampleItem, vec![Filter::RefId("sample", s.id)], 100)?;
        let failed: Vec<&str> = items
            .iter()
            .filter(|i| text(Kind::SampleItem, i, "verdict") == Some("fail"))
            .filter_map(|i| text(Kind::SampleItem, i, "item"))
            .collect();
        let (item, passed) = match (items.is_empty(), failed.is_empty()) {
            (true, _) => (t(lang, "结果待出", "awaiting results"), None),
            (false, true) => {
                (t(lang, format!("检验{}项", items.len()), format!("{} items tested", items.len())), Some(true))
            }
            (false, false) => (failed.join("、"), Some(false)),
        };
        out.push(TestLine {
            date: text(k, &s, "sampled_on").unwrap_or_default().to_string(),
            variety: label(k, &s, "variety").unwrap_or_default().to_string(),
            item,
            passed,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_named_from_the_province_down() {
        assert_eq!(place_name("130102"), "河北省石家庄市长安区");
        assert_eq!(place_name("130100"), "河北省石家庄市");
        assert_eq!(place_name("999999"), "999999");
        assert_eq!(place_name("469007"), "海南省东方市");
    }
}
