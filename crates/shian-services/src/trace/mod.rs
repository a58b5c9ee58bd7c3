//! Traceability (追溯): backward from a lot, a sale, a rapid test, a sample or a downstream buyer's
//! receipts in a date range to the origin certificates and producers; forward from a lot, an origin
//! certificate, a sale, a test, a sample, a producer and date range, or a vendor + variety + date
//! range to every recipient, with totals per kind of recipient and per region.
//!
//! **Lots.** A lot is a vendor's lot code (批次追溯码): every receipt (inbound) names the lot it
//! creates or extends, every sale (outbound) may name the lot it draws from. When one vendor sells
//! to another, the buyer's receipt names the seller's lot as `supplier_lot` and starts a lot of its
//! own, so a trace hops from vendor to vendor, market to market.
//!
//! **Inference.** Where a sale (or a receipt from a vendor) names no lot, the candidate lots are
//! the seller's receipts of the same variety received within the window (default 3 days) before
//! it, oldest first (first-in, first-out). Every candidate is kept — a recall must not miss one —
//! and each such link carries `inferred: true` and its basis. The rule is symmetric: forward from
//! a lot received at `r` reaches the unnamed sales and receipts at `t` with `r ≤ t ≤ r + window`,
//! and backward from them reaches exactly those lots. `confirmed_only` drops inferred links.
//!
//! **Bounds.** Each lot is expanded once per trace (a merge or a cycle in bad data shows the lot
//! again, marked `seen_before`, without its subtree); `max_depth` and `max_nodes` stop runaway
//! traces and set `truncated`.

use std::collections::{BTreeMap, VecDeque};

use hashbrown::{HashMap, HashSet};

use serde::Serialize;
use shian_domain::unit::Unit;
use shian_domain::{Kind, Lang, Value, time};
use shian_store::{Movement, Store, StoreError};

pub mod data;
pub mod index;

pub use data::{Stored, TraceData};
pub use index::{Indexed, TraceIndex};

/// Errors of a trace.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("nothing to trace from {0:?}: no lot code, certificate, sale, test or sample has this key")]
    NotFound(String),
    #[error("{0:?} names no lot to trace")]
    NoLot(String),
    #[error("no {en} has the code {code:?}")]
    Unknown { zh: &'static str, en: &'static str, code: String },
    #[error("a producer, or a vendor and variety, with dates starts a forward trace (shian trace forward)")]
    BackwardFromRange,
    #[error("a buyer's receipts start a backward trace (shian trace back)")]
    ForwardFromBuyer,
}

impl TraceError {
    /// The message for a person, in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        match (self, lang) {
            (TraceError::NotFound(r), Lang::Zh) => {
                format!("找不到“{r}”：不是已知的批次追溯码、合格证、销货记录、快检或抽样单")
            }
            (TraceError::NoLot(r), Lang::Zh) => format!("“{r}”未记录批次追溯码，无法追溯"),
            (TraceError::Unknown { zh, code, .. }, Lang::Zh) => format!("找不到{zh}“{code}”"),
            (TraceError::BackwardFromRange, Lang::Zh) => {
                "生产者或销售者+品种加日期范围只能正向追踪（shian trace forward）".to_string()
            }
            (TraceError::ForwardFromBuyer, Lang::Zh) => "下游单位的进货只能逆向追溯（shian trace back）".to_string(),
            (TraceError::Store(e), Lang::Zh) => format!("数据库错误：{e}"),
            (e, Lang::En) => e.to_string(),
        }
    }
}

/// Where a trace starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A lot code (追溯码), at every vendor holding it.
    Lot(String),
    /// An origin certificate number (合格证编号).
    Certificate(String),
    /// A sale by its natural key.
    Sale { source: String, ext_id: String },
    /// A rapid test number (检测编号).
    Test(String),
    /// An official sample number (抽样单编号).
    Sample(String),
    /// A producer's goods received in a date range, by vendors directly from it or carrying its
    /// certificates (forward only).
    Producer { code: String, range: DateRange },
    /// A vendor's lots of a variety received in a date range (forward only).
    VendorVariety { vendor: String, variety: String, range: DateRange },
    /// A downstream buyer's (supermarket store, restaurant, canteen, …) receipts: the sales to it
    /// in a date range (backward only).
    Buyer { code: String, range: DateRange },
}

/// Calendar days in China time, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

impl DateRange {
    /// The range from two dates (`YYYY-MM-DD` and the forms `time::parse_date` reads); `None` if
    /// one does not parse or `from` is after `to`.
    pub fn parse(from: &str, to: &str) -> Option<DateRange> {
        let (from, to) = (time::parse_date(from)?, time::parse_date(to)?);
        (from <= to).then_some(DateRange { from, to })
    }

    /// The first and last Unix second of the range.
    pub fn seconds(&self) -> (i64, i64) {
        let midnight = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).and_then(time::from_local).unwrap_or_default();
        (midnight(self.from), midnight(self.to) + 86_399)
    }
}

impl std::fmt::Display for DateRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.from.format("%Y-%m-%d"), self.to.format("%Y-%m-%d"))
    }
}

impl Start {
    /// Recognises a reference: `SOURCE,EXT_ID` is a sale; otherwise the first of lot code,
    /// certificate, test and sample that exists.
    pub fn detect(store: &dyn Store, reference: &str) -> Result<Start, TraceError> {
        Start::detect_in(&Stored(store), reference)
    }

    /// [`Start::detect`] reading through `store` (the database or the trace index).
    pub fn detect_in(store: &dyn TraceData, reference: &str) -> Result<Start, TraceError> {
        let r = reference.trim();
        if let Some((source, ext_id)) = r.split_once(',') {
            return Ok(Start::Sale { source: source.trim().into(), ext_id: ext_id.trim().into() });
        }
        if !store.lot_holders(r)?.is_empty() {
            return Ok(Start::Lot(r.into()));
        }
        // A Shian trace code typed from a label: dashes, lower case, O for 0 …
        if let Some(code) = shian_domain::tracecode::normalize(r).filter(|c| c != r)
            && !store.lot_holders(&code)?.is_empty()
        {
            return Ok(Start::Lot(code));
        }
        for (kind, start) in [
            (Kind::OriginCertificate, Start::Certificate(r.into())),
            (Kind::RapidTest, Start::Test(r.into())),
            (Kind::Sample, Start::Sample(r.into())),
        ] {
            if !store.resolve(kind, &[r])?.is_empty() {
                return Ok(start);
            }
        }
        Err(TraceError::NotFound(r.into()))
    }

    /// The reference as a person wrote it.
    pub fn describe(&self) -> String {
        match self {
            Start::Lot(s) | Start::Certificate(s) | Start::Test(s) | Start::Sample(s) => s.clone(),
            Start::Sale { source, ext_id } => format!("{source},{ext_id}"),
            Start::Producer { code, range } | Start::Buyer { code, range } => format!("{code} {range}"),
            Start::VendorVariety { vendor, variety, range } => format!("{vendor} {variety} {range}"),
        }
    }
}

/// How far and how loosely to trace.
#[derive(Debug, Clone, Copy)]
pub struct TraceOptions {
    /// Days before a lot-less sale in which the seller's receipts are candidate lots.
    pub window_days: u32,
    /// Leave out inferred links.
    pub confirmed_only: bool,
    /// Hops from the start beyond which a trace stops (and says it was truncated).
    pub max_depth: usize,
    /// Nodes beyond which a trace stops (and says it was truncated).
    pub max_nodes: usize,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions { window_days: 3, confirmed_only: false, max_depth: 32, max_nodes: 20_000 }
    }
}

impl TraceOptions {
    fn window(&self) -> i64 {
        i64::from(self.window_days) * 86_400
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Backward,
    Forward,
}

/// The answer of a trace: one tree per starting lot.
#[derive(Debug, Clone, Serialize)]
pub struct TraceTree {
    pub direction: Direction,
    pub start: String,
    pub roots: Vec<Node>,
    /// Forward only: recipients per kind.
    pub totals: Vec<Total>,
    /// Forward only: recipients per region (the recipient's region; consumers count in the
    /// region of the vendor selling to them).
    pub regions: Vec<RegionTotal>,
    pub nodes: usize,
    /// A bound (depth or nodes) stopped the trace before it was complete.
    pub truncated: bool,
}

/// A lot at a vendor, or a party at the end of a path (producer, buyer, consumers).
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub party: PartyRef,
    pub lot: Option<String>,
    /// The origin certificate (合格证编号) the goods came with.
    pub certificate: Option<String>,
    /// The record linking this node to its parent (absent at a root that is a lot).
    pub link: Option<Link>,
    /// Sales aggregated into this node (consumers: one node per lot).
    pub records: usize,
    /// This lot was already expanded elsewhere in the trace (a merge, or a cycle in bad data).
    pub seen_before: bool,
    /// At the root of a forward trace from a sale naming no lot: the seller's lots it may have
    /// been drawn from (inferred, first in first out within the window), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidate_lots: Vec<String>,
    pub children: Vec<Node>,
}

/// Who a node is.
#[derive(Debug, Clone, Serialize)]
pub struct PartyRef {
    /// `vendor`, `producer`, `certificate`, a buyer kind (`supermarket`, `restaurant`, `canteen`,
    /// `processor`, `buyer`) or `consumer` / `other`.
    pub kind: String,
    pub id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
    /// A vendor's market, a producer's region, a buyer's kind.
    pub detail: Option<String>,
    pub canteen_kind: Option<String>,
    /// A school or kindergarten canteen (学校、幼儿园食堂).
    pub school: bool,
    /// The region code of the vendor's market, the producer or the buyer.
    pub region: Option<String>,
}

/// A receipt or sale linking two nodes.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// `inbound` or `outbound`.
    pub record: &'static str,
    pub source: String,
    pub ext_id: String,
    pub quantity: f64,
    pub unit: String,
    /// Unix seconds, and the same in China time.
    pub at: i64,
    pub time: ChinaTime,
    pub inferred: bool,
    pub basis: Option<Basis>,
    /// The animal quarantine certificate (动物检疫合格证明) a receipt came with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
}

/// A moment shown in China time, `YYYY-MM-DD HH:MM:SS`: formatted when displayed or serialized
/// (as a string), not when a trace is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChinaTime(pub i64);

impl std::fmt::Display for ChinaTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&time::format_datetime(self.0))
    }
}

impl Serialize for ChinaTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why an inferred link was inferred, in both languages.
#[derive(Debug, Clone, Serialize)]
pub struct Basis {
    pub zh: String,
    pub en: String,
}

impl Basis {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// Recipients of one kind in a forward trace.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Total {
    pub kind: String,
    /// Distinct recipients (consumers: sales).
    pub recipients: usize,
    /// Sales or receipts reaching them.
    pub records: usize,
    /// Their mass in kilograms (records in pieces or cases are left out).
    pub quantity_kg: f64,
    pub inferred_records: usize,
    pub school_canteens: usize,
}

/// Recipients in one region (GB/T 2260 code; empty when unknown) in a forward trace.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegionTotal {
    pub region: String,
    /// Distinct recipients (consumers: sales).
    pub recipients: usize,
    /// Sales or receipts reaching them.
    pub records: usize,
    /// Their mass in kilograms (records in pieces or cases are left out).
    pub quantity_kg: f64,
    pub inferred_records: usize,
    pub school_canteens: usize,
}

/// Traces back from `start` to the origin certificates and producers.
pub fn backward(store: &dyn Store, start: &Start, opts: &TraceOptions) -> Result<TraceTree, TraceError> {
    backward_in(&Stored(store), start, opts)
}

/// [`backward`] reading through `store` (the database or the trace index).
pub fn backward_in(store: &dyn TraceData, start: &Start, opts: &TraceOptions) -> Result<TraceTree, TraceError> {
    let mut w = Walk::new(store, *opts);
    let roots = match start {
        Start::Sale { source, ext_id } => {
            let sale = w.find_sale(source, ext_id)?;
            vec![w.back_sale(&sale)?]
        }
        Start::Producer { .. } | Start::VendorVariety { .. } => return Err(TraceError::BackwardFromRange),
        Start::Buyer { code, range } => {
            let buyer = w.code_id(Kind::Buyer, code, "下游单位", "buyer")?;
            let (from, to) = range.seconds();
            let mut roots = Vec::new();
            for sale in store.sales_to_buyer(buyer, from, to)? {
                roots.push(w.back_sale(&sale)?);
            }
            roots
        }
        other => {
            let lots = w.start_lots(other)?;
            let mut roots = Vec::new();
            for (vendor, lot) in lots {
                roots.push(w.back_lot(vendor, &lot, None, 0)?);
            }
            roots
        }
    };
    Ok(w.finish(Direction::Backward, start, roots))
}

/// Traces forward from `start` to every recipient, across vendor-to-vendor hops.
pub fn forward(store: &dyn Store, start: &Start, opts: &TraceOptions) -> Result<TraceTree, TraceError> {
    forward_in(&Stored(store), start, opts)
}

/// [`forward`] reading through `store` (the database or the trace index).
pub fn forward_in(store: &dyn TraceData, start: &Start, opts: &TraceOptions) -> Result<TraceTree, TraceError> {
    let mut w = Walk::new(store, *opts);
    let roots = match start {
        Start::Sale { source, ext_id } => vec![w.forward_sale(source, ext_id)?],
        Start::Buyer { .. } => return Err(TraceError::ForwardFromBuyer),
        Start::Certificate(no) => vec![w.forward_certificate(no)?],
        Start::Producer { code, range } => vec![w.forward_producer(code, range)?],
        Start::VendorVariety { vendor, variety, range } => {
            let vendor = w.code_id(Kind::Vendor, vendor, "销售者", "vendor")?;
            let variety = w.code_id(Kind::Variety, variety, "品种", "variety")?;
            let (from, to) = range.seconds();
            let receipts = store.receipts_between(vendor, variety, from, to)?;
            let mut roots = Vec::new();
            for ((vendor, lot), receipts) in w.lots_of(receipts)? {
                roots.push(w.forward_lot(vendor, lot.as_deref(), receipts, None, 0)?);
            }
            roots
        }
        other => {
            let mut roots = Vec::new();
            for (vendor, lot) in w.start_lots(other)? {
                let receipts = store.receipts_of_lot(vendor, &lot)?;
                roots.push(w.forward_lot(vendor, Some(&lot), receipts, None, 0)?);
            }
            roots
        }
    };
    let mut tree = w.finish(Direction::Forward, start, roots);
    tree.totals = totals(&tree.roots);
    tree.regions = region_totals(&tree.roots);
    Ok(tree)
}

/// The state of one trace: the store, the bounds, what was expanded and a cache of parties.
struct Walk<'a> {
    store: &'a dyn TraceData,
    opts: TraceOptions,
    seen: HashSet<(i64, String)>,
    nodes: usize,
    truncated: bool,
    parties: HashMap<(Kind, i64), Option<shian_store::Party>>,
}

/// Receipts per (vendor, lot code or none).
type Lots = BTreeMap<(i64, Option<String>), Vec<Movement>>;

/// Whether a node's subtree is to be expanded.
enum Enter {
    Yes,
    SeenBefore,
    Stop,
}

impl<'a> Walk<'a> {
    fn new(store: &'a dyn TraceData, opts: TraceOptions) -> Self {
        Walk { store, opts, seen: HashSet::default(), nodes: 0, truncated: false, parties: HashMap::default() }
    }

    fn finish(self, direction: Direction, start: &Start, roots: Vec<Node>) -> TraceTree {
        TraceTree {
            direction,
            start: start.describe(),
            roots,
            totals: Vec::new(),
            regions: Vec::new(),
            nodes: self.nodes,
            truncated: self.truncated,
        }
    }

    /// The (vendor, lot code) pairs a lot code, test or sample stands for.
    fn start_lots(&mut self, start: &Start) -> Result<Vec<(i64, String)>, TraceError> {
        let (vendor, code) = match start {
            Start::Lot(code) => (None, code.clone()),
            Start::Test(no) | Start::Sample(no) => {
                let kind = if matches!(start, Start::Test(_)) { Kind::RapidTest } else { Kind::Sample };
                let tested = self.store.tested_lot(kind, no)?.ok_or_else(|| TraceError::NotFound(no.clone()))?;
                let code = tested.lot_code.ok_or_else(|| TraceError::NoLot(no.clone()))?;
                (tested.vendor_id, code)
            }
            _ => unreachable!("sales, certificates and ranges start elsewhere"),
        };
        let holders = match vendor {
            Some(v) => vec![v],
            None => self.store.lot_holders(&code)?,
        };
        if holders.is_empty() {
            return Err(TraceError::NotFound(code));
        }
        Ok(holders.into_iter().map(|v| (v, code.clone())).collect())
    }

    /// Counts a node and says whether to expand the lot `key` at `depth`.
    fn enter(&mut self, key: Option<(i64, String)>, depth: usize) -> Enter {
        if self.nodes >= self.opts.max_nodes || depth > self.opts.max_depth {
            self.truncated = true;
            return Enter::Stop;
        }
        self.nodes += 1;
        match key {
            Some(k) if self.seen.contains(&k) => Enter::SeenBefore,
            Some(k) => {
                self.seen.insert(k);
                Enter::Yes
            }
            None => Enter::Yes,
        }
    }

    /// The id of a vendor, producer, buyer or variety by its code.
    fn code_id(&self, kind: Kind, code: &str, zh: &'static str, en: &'static str) -> Result<i64, TraceError> {
        let found = self.store.resolve(kind, &[code.trim()])?;
        found.first().map(|(_, id)| *id).ok_or_else(|| TraceError::Unknown { zh, en, code: code.trim().into() })
    }

    fn find_sale(&self, source: &str, ext_id: &str) -> Result<Movement, TraceError> {
        let key = [Value::Text(source.into()), Value::Text(ext_id.into())];
        let reference = format!("{source},{ext_id}");
        let id = self.store.find(Kind::Outbound, &key)?.ok_or_else(|| TraceError::NotFound(reference.clone()))?;
        self.store.movement(Kind::Outbound, id)?.ok_or(TraceError::NotFound(reference))
    }

    fn party(&mut self, kind: Kind, id: i64) -> Result<Option<shian_store::Party>, TraceError> {
        if let Some(p) = self.parties.get(&(kind, id)) {
            return Ok(p.clone());
        }
        let p = self.store.party(kind, id)?;
        self.parties.insert((kind, id), p.clone());
        Ok(p)
    }

    /// Who a party of `party_kind` (a supplier or buyer kind) with this id and name is.
    fn party_ref(&mut self, party_kind: &str, id: Option<i64>, name: Option<&str>) -> Result<PartyRef, TraceError> {
        let table = match party_kind {
            "vendor" => Some(Kind::Vendor),
            "producer" => Some(Kind::Producer),
            "supermarket" | "restaurant" | "canteen" | "processor" | "buyer" => Some(Kind::Buyer),
            _ => None,
        };
        let found = match (table, id) {
            (Some(k), Some(id)) => self.party(k, id)?,
            _ => None,
        };
        let canteen_kind = found.as_ref().and_then(|p| p.canteen_kind.clone());
        let school = matches!(canteen_kind.as_deref(), Some("school" | "kindergarten"));
        Ok(PartyRef {
            kind: party_kind.to_string(),
            id,
            code: found.as_ref().map(|p| p.code.clone()),
            name: found.as_ref().map(|p| p.name.clone()).or_else(|| name.map(String::from)),
            region: found.as_ref().and_then(|p| p.region.clone()),
            detail: found.and_then(|p| p.detail),
            canteen_kind,
            school,
        })
    }

    fn node(&mut self, party: PartyRef, lot: Option<&str>, link: Option<Link>) -> Node {
        Node {
            party,
            lot: lot.map(String::from),
            certificate: None,
            link,
            records: 1,
            seen_before: false,
            candidate_lots: Vec::new(),
            children: Vec::new(),
        }
    }

    fn vendor_node(&mut self, vendor: i64, lot: Option<&str>, link: Option<Link>) -> Result<Node, TraceError> {
        let party = self.party_ref("vendor", Some(vendor), None)?;
        Ok(self.node(party, lot, link))
    }
}

/// A link made from a receipt or sale.
fn link(m: &Movement, record: &'static str, basis: Option<Basis>) -> Link {
    let text = (m.source.clone(), m.ext_id.clone(), m.unit.clone(), m.quarantine_no.clone());
    link_from(record, basis, text, m.quantity, m.at)
}

/// A link from a record's text (source, external id, unit, quarantine certificate; copied or
/// moved out of the record) and its quantity and time.
fn link_from(
    record: &'static str,
    basis: Option<Basis>,
    (source, ext_id, unit, quarantine): (String, String, String, Option<String>),
    quantity: f64,
    at: i64,
) -> Link {
    Link {
        record,
        source,
        ext_id,
        quantity,
        unit,
        at,
        time: ChinaTime(at),
        inferred: basis.is_some(),
        basis,
        quarantine,
    }
}

fn fifo_basis(window_days: u32, rank: usize, of: usize) -> Basis {
    Basis {
        zh: format!("未注明批次；按同一销售者 {window_days} 天内同品种进货先进先出推断（候选 {rank}/{of}）"),
        en: format!(
            "no lot named; same vendor's receipts of the variety within {window_days} days, first in first out \
             (candidate {rank} of {of})"
        ),
    }
}

/// Backward: from a lot to the receipts that filled it, and on to their suppliers.
impl Walk<'_> {
    fn back_sale(&mut self, sale: &Movement) -> Result<Node, TraceError> {
        let via = link(sale, "outbound", None);
        if let Some(lot) = &sale.lot_code {
            return self.back_lot(sale.vendor_id, lot, Some(via), 0);
        }
        let mut root = self.vendor_node(sale.vendor_id, None, Some(via))?;
        if let Enter::Yes = self.enter(None, 0) {
            root.children = self.back_candidates(sale, sale.vendor_id, 1)?;
        }
        Ok(root)
    }

    /// The lots a lot-less movement of `seller`'s goods may have come from, oldest first.
    fn back_candidates(&mut self, m: &Movement, seller: i64, depth: usize) -> Result<Vec<Node>, TraceError> {
        if self.opts.confirmed_only {
            return Ok(Vec::new());
        }
        let candidates = self.store.receipts_between(seller, m.variety_id, m.at - self.opts.window(), m.at)?;
        // `m` is the seller's own sale, or a buyer's receipt from the seller.
        let record = if m.vendor_id == seller { "outbound" } else { "inbound" };
        let mut out = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            let via = link(m, record, Some(fifo_basis(self.opts.window_days, i + 1, candidates.len())));
            out.push(match &c.lot_code {
                Some(lot) => self.back_lot(seller, lot, Some(via), depth)?,
                None => self.back_group(seller, None, std::slice::from_ref(c), Some(via), depth)?,
            });
        }
        Ok(out)
    }

    fn back_lot(&mut self, vendor: i64, lot: &str, via: Option<Link>, depth: usize) -> Result<Node, TraceError> {
        match self.enter(Some((vendor, lot.to_string())), depth) {
            Enter::Yes => {}
            other => {
                let mut node = self.vendor_node(vendor, Some(lot), via)?;
                node.seen_before = matches!(other, Enter::SeenBefore);
                return Ok(node);
            }
        }
        let receipts = self.store.receipts_of_lot(vendor, lot)?;
        let mut node = self.vendor_node(vendor, Some(lot), via)?;
        node.children = self.back_receipts(&receipts, depth + 1)?;
        Ok(node)
    }

    /// A node for receipts that are not a lot (received without a lot code).
    fn back_group(
        &mut self,
        vendor: i64,
        lot: Option<&str>,
        receipts: &[Movement],
        via: Option<Link>,
        depth: usize,
    ) -> Result<Node, TraceError> {
        let mut node = self.vendor_node(vendor, lot, via)?;
        if let Enter::Yes = self.enter(None, depth) {
            node.children = self.back_receipts(receipts, depth + 1)?;
        }
        Ok(node)
    }

    fn back_receipts(&mut self, receipts: &[Movement], depth: usize) -> Result<Vec<Node>, TraceError> {
        let mut out = Vec::new();
        for r in receipts {
            out.extend(self.back_receipt(r, depth)?);
        }
        Ok(out)
    }

    /// Where one receipt came from: a producer (with its certificate), a vendor's lot (named or
    /// inferred), or another party.
    fn back_receipt(&mut self, r: &Movement, depth: usize) -> Result<Vec<Node>, TraceError> {
        let via = link(r, "inbound", None);
        if let ("vendor", Some(seller)) = (r.party_kind.as_str(), r.party_id) {
            if let Some(lot) = &r.supplier_lot {
                return Ok(vec![self.back_lot(seller, lot, Some(via), depth)?]);
            }
            let inferred = self.back_candidates(r, seller, depth)?;
            if !inferred.is_empty() {
                return Ok(inferred);
            }
        }
        if let Enter::Stop = self.enter(None, depth) {
            return Ok(Vec::new());
        }
        let cert = match r.certificate_id {
            Some(id) => self.store.certificate(id)?,
            None => None,
        };
        let producer = r.party_id.or(cert.as_ref().map(|c| c.producer_id));
        let kind = if r.party_kind == "producer" || (r.party_id.is_none() && cert.is_some()) {
            "producer"
        } else {
            r.party_kind.as_str()
        };
        let party = self.party_ref(kind, producer, r.party_name.as_deref())?;
        let mut node = self.node(party, None, Some(via));
        node.certificate = cert.map(|c| c.cert_no);
        Ok(vec![node])
    }
}

/// Forward: from a lot to its sales and to the lots its buyers started.
impl Walk<'_> {
    fn forward_certificate(&mut self, cert_no: &str) -> Result<Node, TraceError> {
        let id = self.store.resolve(Kind::OriginCertificate, &[cert_no])?.first().map(|(_, id)| *id);
        let id = id.ok_or_else(|| TraceError::NotFound(cert_no.into()))?;
        let cert = self.store.certificate(id)?.ok_or_else(|| TraceError::NotFound(cert_no.into()))?;
        let party = self.party_ref("producer", Some(cert.producer_id), None)?;
        let mut root = self.node(party, None, None);
        root.certificate = Some(cert.cert_no);
        let receipts = self.store.receipts_with_certificate(id)?;
        self.forward_from_origin(root, receipts)
    }

    /// A producer's goods received in a date range: one child per lot they went into.
    fn forward_producer(&mut self, code: &str, range: &DateRange) -> Result<Node, TraceError> {
        let id = self.code_id(Kind::Producer, code, "生产者", "producer")?;
        let party = self.party_ref("producer", Some(id), None)?;
        let root = self.node(party, None, None);
        let (from, to) = range.seconds();
        let receipts = self.store.receipts_from_producer(id, from, to)?;
        self.forward_from_origin(root, receipts)
    }

    /// Under an origin `root`, the lots that `receipts` went into, each traced forward.
    fn forward_from_origin(&mut self, mut root: Node, receipts: Vec<Movement>) -> Result<Node, TraceError> {
        self.enter(None, 0);
        for ((vendor, lot), receipts) in self.lots_of(receipts)? {
            let via = receipts.first().map(|r| link(r, "inbound", None));
            root.children.push(self.forward_lot(vendor, lot.as_deref(), receipts, via, 1)?);
        }
        Ok(root)
    }

    /// Receipts grouped per (vendor, lot): a lot with all its receipts, receipts naming no lot
    /// together per vendor.
    fn lots_of(&self, receipts: Vec<Movement>) -> Result<Lots, TraceError> {
        let mut lots = Lots::new();
        for r in receipts {
            let key = (r.vendor_id, r.lot_code.clone());
            match &r.lot_code {
                Some(code) if !lots.contains_key(&key) => {
                    lots.insert(key, self.store.receipts_of_lot(r.vendor_id, code)?);
                }
                Some(_) => {}
                None => lots.entry(key).or_default().push(r),
            }
        }
        Ok(lots)
    }

    /// A sale: the seller's lot it names (or the candidate lots), and the buyer it reached — if
    /// the buyer is a vendor, the lot its receipt of the sale started, traced on.
    fn forward_sale(&mut self, source: &str, ext_id: &str) -> Result<Node, TraceError> {
        let sale = self.find_sale(source, ext_id)?;
        let (seller, w) = (sale.vendor_id, self.opts.window());
        let mut root = self.vendor_node(seller, sale.lot_code.as_deref(), None)?;
        self.enter(None, 0);
        if sale.lot_code.is_none() && !self.opts.confirmed_only {
            for r in self.store.receipts_between(seller, sale.variety_id, sale.at - w, sale.at)? {
                if let Some(lot) = r.lot_code.filter(|l| !root.candidate_lots.contains(l)) {
                    root.candidate_lots.push(lot);
                }
            }
        }
        let received = match (sale.party_kind.as_str(), sale.party_id) {
            ("vendor", Some(buyer)) => match &sale.lot_code {
                // The buyer's receipts of the lot pair with the seller's sales of it to the buyer
                // in time order, as in a forward trace from the lot.
                Some(lot) => {
                    let sales = self.store.sales_of_lot(seller, lot)?;
                    let rank = sales.iter().filter(|s| s.party_id == Some(buyer)).position(|s| s.id == sale.id);
                    let receipts = self.store.receipts_from_lot(seller, lot)?;
                    rank.and_then(|k| receipts.into_iter().filter(|r| r.vendor_id == buyer).nth(k))
                }
                None => {
                    let receipts = self.store.unlotted_receipts_from(seller, sale.variety_id, sale.at, sale.at + w)?;
                    receipts.into_iter().find(|r| r.vendor_id == buyer)
                }
            },
            _ => None,
        };
        let via = link(&sale, "outbound", None);
        let child = match received {
            Some(r) => self.forward_receipt(r, via, 1)?,
            None => self.recipient(&sale, via, 1)?,
        };
        root.children.push(child);
        Ok(root)
    }

    fn forward_lot(
        &mut self,
        vendor: i64,
        lot: Option<&str>,
        receipts: Vec<Movement>,
        via: Option<Link>,
        depth: usize,
    ) -> Result<Node, TraceError> {
        let mut node = self.vendor_node(vendor, lot, via)?;
        match self.enter(lot.map(|l| (vendor, l.to_string())), depth) {
            Enter::Yes => {}
            other => {
                node.seen_before = matches!(other, Enter::SeenBefore);
                return Ok(node);
            }
        }
        if let Some(code) = lot {
            let sales = self.store.sales_of_lot(vendor, code)?;
            let downstream = self.store.receipts_from_lot(vendor, code)?;
            node.children = self.forward_sales(sales, downstream, None, depth + 1)?;
        }
        if !self.opts.confirmed_only && !receipts.is_empty() {
            let inferred = self.forward_inferred(vendor, &receipts, depth + 1)?;
            node.children.extend(inferred);
        }
        aggregate_consumers(&mut node.children);
        Ok(node)
    }

    /// Sales and the buyers' receipts they became, paired per buyer vendor in time order;
    /// `basis` marks them inferred.
    fn forward_sales(
        &mut self,
        sales: Vec<Movement>,
        downstream: Vec<Movement>,
        basis: Option<&Basis>,
        depth: usize,
    ) -> Result<Vec<Node>, TraceError> {
        let mut at_buyer: BTreeMap<i64, VecDeque<Movement>> = BTreeMap::new();
        for r in downstream {
            at_buyer.entry(r.vendor_id).or_default().push_back(r);
        }
        let mut out = Vec::with_capacity(sales.len());
        for s in sales {
            let received = match (s.party_kind.as_str(), s.party_id) {
                ("vendor", Some(b)) => at_buyer.get_mut(&b).and_then(|q| q.pop_front()),
                _ => None,
            };
            out.push(match received {
                Some(r) => self.forward_receipt(r, link(&s, "outbound", basis.cloned()), depth)?,
                None => self.recipient_of(s, basis.cloned(), depth)?,
            });
        }
        for r in at_buyer.into_values().flatten() {
            let via = link(&r, "inbound", basis.cloned());
            out.push(self.forward_receipt(r, via, depth)?);
        }
        Ok(out)
    }

    /// The lot a buyer vendor's receipt started.
    fn forward_receipt(&mut self, r: Movement, via: Link, depth: usize) -> Result<Node, TraceError> {
        match r.lot_code.clone() {
            Some(code) => {
                let receipts = self.store.receipts_of_lot(r.vendor_id, &code)?;
                self.forward_lot(r.vendor_id, Some(&code), receipts, Some(via), depth)
            }
            None => self.forward_lot(r.vendor_id, None, vec![r.clone()], Some(via), depth),
        }
    }

    /// A buyer that is not a vendor with a recorded receipt: a leaf.
    fn recipient(&mut self, s: &Movement, via: Link, depth: usize) -> Result<Node, TraceError> {
        self.enter(None, depth);
        let party = self.party_ref(&s.party_kind, s.party_id, s.party_name.as_deref())?;
        Ok(self.node(party, None, Some(via)))
    }

    /// [`Walk::recipient`] of a sale no longer needed: its text moves into the link.
    fn recipient_of(&mut self, s: Movement, basis: Option<Basis>, depth: usize) -> Result<Node, TraceError> {
        self.enter(None, depth);
        let party = self.party_ref(&s.party_kind, s.party_id, s.party_name.as_deref())?;
        let text = (s.source, s.ext_id, s.unit, s.quarantine_no);
        let via = link_from("outbound", basis, text, s.quantity, s.at);
        Ok(self.node(party, None, Some(via)))
    }

    /// Sales and vendor receipts naming no lot within the window after one of the lot's receipts.
    fn forward_inferred(&mut self, vendor: i64, receipts: &[Movement], depth: usize) -> Result<Vec<Node>, TraceError> {
        let w = self.opts.window();
        let from = receipts.iter().map(|r| r.at).min().unwrap_or_default();
        let to = receipts.iter().map(|r| r.at).max().unwrap_or_default() + w;
        let variety = receipts[0].variety_id;
        let covered = |t: i64| receipts.iter().any(|r| r.at <= t && t <= r.at + w);
        let mut sales = self.store.unlotted_sales(vendor, variety, from, to)?;
        sales.retain(|s| covered(s.at));
        let mut downstream = self.store.unlotted_receipts_from(vendor, variety, from, to)?;
        downstream.retain(|r| covered(r.at));
        let basis = Basis {
            zh: format!("未注明批次；该批次进货后 {} 天内同品种销货，按先进先出推断", self.opts.window_days),
            en: format!(
                "no lot named; a sale of the variety within {} days after this lot was received (first in first out)",
                self.opts.window_days
            ),
        };
        self.forward_sales(sales, downstream, Some(&basis), depth)
    }
}

/// Folds the consumer (and other anonymous) sales among `nodes` into one node per kind and
/// certainty, so a lot sold to a thousand shoppers shows one line.
fn aggregate_consumers(nodes: &mut Vec<Node>) {
    let mut kept = Vec::with_capacity(nodes.len());
    let mut folded: BTreeMap<(String, bool), Node> = BTreeMap::new();
    for n in nodes.drain(..) {
        let anonymous = n.party.id.is_none() && n.children.is_empty() && n.party.kind != "producer";
        let Some(l) = n.link.as_ref().filter(|_| anonymous) else {
            kept.push(n);
            continue;
        };
        match folded.entry((n.party.kind.clone(), l.inferred)) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(n);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let agg = e.get_mut();
                agg.records += 1;
                if let (Some(a), Some(b)) = (agg.link.as_mut(), n.link.as_ref()) {
                    a.quantity += convert(b.quantity, &b.unit, &a.unit).unwrap_or(0.0);
                    a.at = a.at.min(b.at);
                    a.time = ChinaTime(a.at);
                }
            }
        }
    }
    kept.extend(folded.into_values());
    *nodes = kept;
}

fn convert(qty: f64, from: &str, to: &str) -> Option<f64> {
    shian_domain::unit::convert(qty, Unit::parse(from)?, Unit::parse(to)?)
}

fn kilograms(l: &Link) -> f64 {
    convert(l.quantity, &l.unit, "kg").unwrap_or(0.0)
}

/// Recipients per kind over every non-root node of a forward trace.
pub fn totals(roots: &[Node]) -> Vec<Total> {
    tally(roots, |n, _| &n.party.kind)
}

/// Recipients per region over every non-root node of a forward trace: the recipient's region, or
/// for consumers and other anonymous buyers the region of the vendor who sold to them.
pub fn region_totals(roots: &[Node]) -> Vec<RegionTotal> {
    let by_region = tally(roots, |n, parent| match (&n.party.region, n.party.id) {
        (Some(r), _) => r,
        (None, None) => parent.and_then(|p| p.party.region.as_deref()).unwrap_or_default(),
        (None, Some(_)) => "",
    });
    by_region
        .into_iter()
        .map(|t| RegionTotal {
            region: t.kind,
            recipients: t.recipients,
            records: t.records,
            quantity_kg: t.quantity_kg,
            inferred_records: t.inferred_records,
            school_canteens: t.school_canteens,
        })
        .collect()
}

/// Totals of every non-root node, grouped by `key(node, parent)` (kept in `Total::kind`); a
/// recipient with an id counts once per kind of party within its group.
fn tally<'a>(roots: &'a [Node], key: impl Fn(&'a Node, Option<&'a Node>) -> &'a str) -> Vec<Total> {
    // Per group: its total and the (kind, id) recipients already counted.
    type Group<'a> = (Total, HashSet<(&'a str, i64)>);
    let mut groups: BTreeMap<&'a str, Group<'a>> = BTreeMap::new();
    let mut stack: Vec<(&Node, &Node)> = roots.iter().flat_map(|r| r.children.iter().map(move |c| (c, r))).collect();
    while let Some((n, parent)) = stack.pop() {
        stack.extend(n.children.iter().map(|c| (c, n)));
        let Some(l) = &n.link else { continue };
        let k = key(n, Some(parent));
        let (t, ids) = groups.entry(k).or_default();
        t.records += n.records;
        t.quantity_kg += kilograms(l);
        t.inferred_records += if l.inferred { n.records } else { 0 };
        match n.party.id {
            Some(id) if ids.insert((&n.party.kind, id)) => {
                t.recipients += 1;
                t.school_canteens += usize::from(n.party.school);
            }
            Some(_) => {}
            None => t.recipients += n.records,
        }
    }
    groups.into_iter().map(|(k, (t, _))| Total { kind: k.to_string(), ..t }).collect()
}
