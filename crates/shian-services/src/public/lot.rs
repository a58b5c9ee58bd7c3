//! A lot's public summary, behind an item-level QR code (premium meat and vegetables): where the
//! goods came from (region and type of producer), whether an origin certificate came with them,
//! the markets they passed through with dates, and the tests and samples of the lot on the way.
//!
//! Without personal or commercial secrets: no prices or amounts, no supplier names as typed on a
//! receipt, no names of individual farmers or of upstream vendors (only their markets); a
//! producer's name is shown only when it is an organisation (enterprise, cooperative, family farm).

use shian_domain::access::Scope;
use shian_domain::{Kind, Lang};
use shian_store::query::{Filter, ListQuery};
use shian_store::{Movement, Store};

use super::listed::{choice, day, label, text};
use super::vendor::{TestLine, place_name};
use super::{PublicError, privacy};

/// How many vendor-to-vendor hops are followed upstream.
const MAX_HOPS: usize = 4;

/// Where part of the lot came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotOrigin {
    pub place: String,
    pub producer_type: String,
    /// Only for organisations.
    pub producer_name: Option<String>,
    pub certified: bool,
    /// The certificate's basis (自检合格, 委托检测合格, …).
    pub basis: Option<String>,
    pub date: String,
}

/// One market the lot passed through, upstream first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub market: String,
    pub received: String,
}

/// A lot's public page, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct LotPublic {
    pub lot_code: String,
    pub variety: String,
    pub vendor: String,
    pub market: String,
    pub stall: Option<String>,
    pub received: String,
    pub origins: Vec<LotOrigin>,
    pub hops: Vec<Hop>,
    pub tests: Vec<TestLine>,
}

impl LotPublic {
    /// Whether every known origin came with a certificate.
    pub fn certified(&self) -> bool {
        !self.origins.is_empty() && self.origins.iter().all(|o| o.certified)
    }
}

/// Reads a lot's public summary; `None` when the vendor has no receipt of the lot.
pub fn lot_public(store: &dyn Store, vendor: i64, lot: &str, lang: Lang) -> Result<Option<LotPublic>, PublicError> {
    let receipts = store.receipts_of_lot(vendor, lot)?;
    let Some(first) = receipts.first() else { return Ok(None) };
    let Some(v) = store.get(Kind::Vendor, vendor, &Scope::All)? else { return Ok(None) };
    let k = Kind::Vendor;
    let variety = store
        .get(Kind::Variety, first.variety_id, &Scope::All)?
        .and_then(|r| text(Kind::Variety, &r, "name").map(str::to_string))
        .unwrap_or_default();
    let mut walk = Walk { lang, origins: Vec::new(), hops: Vec::new(), tests: Vec::new() };
    walk.lot(store, vendor, lot, &receipts, 0)?;
    walk.hops.reverse();
    Ok(Some(LotPublic {
        lot_code: lot.to_string(),
        variety,
        vendor: privacy::display_name(
            text(k, &v, "subject_kind").unwrap_or("person"),
            text(k, &v, "name").unwrap_or_default(),
        ),
        market: label(k, &v, "market").unwrap_or_default().to_string(),
        stall: text(k, &v, "stall").map(str::to_string),
        received: day(first.at),
        origins: walk.origins,
        hops: walk.hops,
        tests: walk.tests,
    }))
}

struct Walk {
    lang: Lang,
    origins: Vec<LotOrigin>,
    hops: Vec<Hop>,
    tests: Vec<TestLine>,
}

impl Walk {
    fn lot(
        &mut self,
        store: &dyn Store,
        vendor: i64,
        lot: &str,
        receipts: &[Movement],
        depth: usize,
    ) -> Result<(), PublicError> {
        self.tests.extend(tests_of(store, vendor, lot, self.lang)?);
        for r in receipts {
            match (r.certificate_id, r.party_kind.as_str(), r.party_id, r.supplier_lot.as_deref()) {
                (Some(cert), _, _, _) => self.certificate(store, cert, r.at)?,
                (None, "producer", Some(p), _) => self.producer(store, p, false, None, r.at)?,
                (None, "vendor", Some(up), Some(up_lot)) if depth < MAX_HOPS => {
                    self.upstream(store, up, up_lot, depth)?;
                }
                _ => self.unknown(r.at),
            }
        }
        Ok(())
    }

    fn upstream(&mut self, store: &dyn Store, vendor: i64, lot: &str, depth: usize) -> Result<(), PublicError> {
        let receipts = store.receipts_of_lot(vendor, lot)?;
        let market = store
            .get(Kind::Vendor, vendor, &Scope::All)?
            .and_then(|v| label(Kind::Vendor, &v, "market").map(str::to_string))
            .unwrap_or_default();
        let received = receipts.first().map(|r| day(r.at)).unwrap_or_default();
        if !self.hops.iter().any(|h| h.market == market && h.received == received) {
            self.hops.push(Hop { market, received });
        }
        self.lot(store, vendor, lot, &receipts, depth + 1)
    }

    fn certificate(&mut self, store: &dyn Store, id: i64, at: i64) -> Result<(), PublicError> {
        let k = Kind::OriginCertificate;
        let Some(c) = store.get(k, id, &Scope::All)? else { return Ok(()) };
        let basis = text(k, &c, "basis").map(|b| choice(k, "basis", b, self.lang));
        let producer = text(k, &c, "producer")
            .map(|code| store.find(Kind::Producer, &[shian_domain::Value::Text(code.to_string())]))
            .transpose()?
            .flatten();
        match producer {
            Some(p) => self.producer(store, p, true, basis, at),
            None => Ok(()),
        }
    }

    fn producer(
        &mut self,
        store: &dyn Store,
        id: i64,
        certified: bool,
        basis: Option<String>,
        at: i64,
    ) -> Result<(), PublicError> {
        let k = Kind::Producer;
        let Some(p) = store.get(k, id, &Scope::All)? else { return Ok(()) };
        let kind = text(k, &p, "producer_kind").unwrap_or("individual");
        let origin = LotOrigin {
            place: text(k, &p, "region").map(place_name).unwrap_or_default(),
            producer_type: choice(k, "producer_kind", kind, self.lang),
            producer_name: (kind != "individual").then(|| text(k, &p, "name").unwrap_or_default().to_string()),
            certified,
            basis,
            date: day(at),
        };
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
        Ok(())
    }

    fn unknown(&mut self, at: i64) {
        let (zh, en) = ("来源未记录", "source not recorded");
        self.origins.push(LotOrigin {
            place: if self.lang == Lang::En { en.into() } else { zh.into() },
            producer_type: String::new(),
            producer_name: None,
            certified: false,
            basis: None,
            date: day(at),
        });
    }
}

/// The rapid tests and samples of a vendor's lot.
fn tests_of(store: &dyn Store, vendor: i64, lot: &str, lang: Lang) -> Result<Vec<TestLine>, PublicError> {
    let lot_filter = Filter::Eq("lot_code", shian_domain::Value::Text(lot.to_string()));
    let q = |filters| ListQuery { scope: &Scope::All, filters, before: None, limit: 20 };
    let tests = store.list(Kind::RapidTest, &q(vec![Filter::RefId("vendor", vendor), lot_filter.clone()]))?;
    let mut out: Vec<TestLine> = tests.iter().map(TestLine::rapid_test).collect();
    let s = Kind::Sample;
    for sample in store.list(s, &q(vec![Filter::PolyRefId("subject", "vendor", vendor), lot_filter.clone()]))? {
        let items = store.list(Kind::SampleItem, &q(vec![Filter::RefId("sample", sample.id)]))?;
        let failed = items.iter().any(|i| text(Kind::SampleItem, i, "verdict") == Some("fail"));
        let word = if lang == Lang::En { "official sample" } else { "监督抽检" };
        out.push(TestLine {
            date: text(s, &sample, "sampled_on").unwrap_or_default().to_string(),
            variety: label(s, &sample, "variety").unwrap_or_default().to_string(),
            item: word.to_string(),
            passed: (!items.is_empty()).then_some(!failed),
        });
    }
    Ok(out)
}
