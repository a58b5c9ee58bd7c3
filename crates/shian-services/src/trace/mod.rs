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

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

pub use compact_str::CompactString;
use serde::Serialize;
use shian_domain::unit::Unit;
use shian_domain::{Kind, Lang, Value, time};
use shian_store::{Movement, MovementRef, Store, StoreError};

pub mod data;
pub mod index;

pub use data::{Downstream, Place, Stored, TraceData, Visit, VisitReceipt};
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
        Start::detect_in(&Stored::new(store), reference)
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
    /// Shared by every node of the trace showing the same party.
    pub party: Arc<PartyRef>,
    pub lot: Option<CompactString>,
    /// The origin certificate (合格证编号) the goods came with.
    pub certificate: Option<CompactString>,
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
///
/// Laid out in this order (`repr(C)`): what a trace reads of every party (the numbers, the id,
/// whether a school canteen) comes first, beside the shared count, and the party is 176 bytes,
/// so that the shared allocation is 192 bytes, a size the allocator hands out on cache-line
/// boundaries: a party not in the processor's cache costs one cache line. (A trace compares
/// kinds and groups regions by their numbers; their text is read only to show them.)
#[derive(Debug, Clone, Serialize)]
#[repr(C)]
pub struct PartyRef {
    /// The trace index's number for `region`, from 1 in the order of the codes (a forward
    /// trace's totals group and sort regions by it rather than by the text); `None` from readers
    /// that do not number regions.
    #[serde(skip)]
    pub(crate) region_no: Option<NonZeroU32>,
    /// The trace index's number for `kind`, as `region_no` is for `region`.
    #[serde(skip)]
    pub(crate) kind_no: Option<NonZeroU32>,
    pub id: Option<i64>,
    /// A school or kindergarten canteen (学校、幼儿园食堂).
    pub school: bool,
    /// `vendor`, `producer`, `certificate`, a buyer kind (`supermarket`, `restaurant`, `canteen`,
    /// `processor`, `buyer`) or `consumer` / `other`.
    pub kind: CompactString,
    /// The region code of the vendor's market, the producer or the buyer.
    pub region: Option<CompactString>,
    pub code: Option<CompactString>,
    pub name: Option<CompactString>,
    /// A vendor's market, a producer's region, a buyer's kind.
    pub detail: Option<CompactString>,
    pub canteen_kind: Option<CompactString>,
}

const _: () = assert!(size_of::<PartyRef>() == 176, "a party is 176 bytes: 192 with its shared counts");

impl PartyRef {
    /// A vendor, producer or buyer found by id; its `kind` is `vendor`, `producer` or the buyer's
    /// kind (`canteen`, …; `buyer` if none).
    pub fn of(table: Kind, id: i64, p: shian_store::Party) -> PartyRef {
        let kind = match table {
            Kind::Vendor => "vendor",
            Kind::Producer => "producer",
            _ => p.detail.as_deref().unwrap_or("buyer"),
        };
        let text = |s: Option<&str>| s.map(CompactString::new);
        PartyRef {
            kind: CompactString::new(kind),
            id: Some(id),
            code: text(Some(&p.code)),
            name: text(Some(&p.name)),
            school: matches!(p.canteen_kind.as_deref(), Some("school" | "kindergarten")),
            detail: text(p.detail.as_deref()),
            canteen_kind: text(p.canteen_kind.as_deref()),
            region: text(p.region.as_deref()),
            region_no: None,
            kind_no: None,
        }
    }

    /// A party known only by what a record says of it (not found by id, or of no kind with a
    /// table: consumers, others).
    pub fn named(kind: &str, id: Option<i64>, name: Option<&str>) -> PartyRef {
        PartyRef {
            kind: CompactString::new(kind),
            id,
            code: None,
            name: name.map(CompactString::new),
            detail: None,
            canteen_kind: None,
            school: false,
            region: None,
            region_no: None,
            kind_no: None,
        }
    }
}

/// A receipt or sale linking two nodes.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// `inbound` or `outbound`.
    pub record: &'static str,
    /// The receipt's or sale's id (its record page: `/record/{record}/{id}`).
    pub id: i64,
    pub source: CompactString,
    pub ext_id: CompactString,
    pub quantity: f64,
    pub unit: CompactString,
    /// Unix seconds, and the same in China time.
    pub at: i64,
    pub time: ChinaTime,
    pub inferred: bool,
    /// Shared by the links one inference made (a lot's inferred sales).
    pub basis: Option<Arc<Basis>>,
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
    pub kind: CompactString,
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
    pub region: CompactString,
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
    backward_in(&Stored::new(store), start, opts)
}

/// [`backward`] reading through `store` (the database or the trace index).
pub fn backward_in(store: &dyn TraceData, start: &Start, opts: &TraceOptions) -> Result<TraceTree, TraceError> {
    let mut w = Walk::new(store, *opts);
    let roots = match start {
        Start::Sale { source, ext_id } => {
            let sale = w.find_sale(source, ext_id)?;
            let mut roots = Vec::with_capacity(1);
            w.back_sale(&sale.borrowed(), &mut roots)?;
            roots
        }
        Start::Producer { .. } | Start::VendorVariety { .. } => return Err(TraceError::BackwardFromRange),
        Start::Buyer { code, range } => {
            let buyer = w.code_id(Kind::Buyer, code, "下游单位", "buyer")?;
            let (from, to) = range.seconds();
            let mut roots = Vec::new();
            for sale in store.sales_to_buyer(buyer, from, to)? {
                w.back_sale(&sale.borrowed(), &mut roots)?;
            }
            roots
        }
        other => {
            let (lot, holders) = w.start_lots(other)?;
            let mut roots = Vec::with_capacity(holders.len());
            for (vendor, at) in holders {
                w.back_lot(vendor, &lot, at, None, 0, &mut roots)?;
            }
            roots
        }
    };
    Ok(w.finish(Direction::Backward, start, roots))
}

/// Traces forward from `start` to every recipient, across vendor-to-vendor hops.
pub fn forward(store: &dyn Store, start: &Start, opts: &TraceOptions) -> Result<TraceTree, TraceError> {
    forward_in(&Stored::new(store), start, opts)
}

/// [`forward`] reading through `store` (the database or the trace index).
pub fn forward_in(store: &dyn TraceData, start: &Start, opts: &TraceOptions) -> Result<TraceTree, TraceError> {
    let mut w = Walk::new(store, *opts);
    let roots = match start {
        Start::Sale { source, ext_id } => w.forward_sale(source, ext_id)?,
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
                w.forward_lot(vendor, lot.as_deref(), None, Some(receipts), None, 0, &mut roots)?;
            }
            roots
        }
        other => {
            let (lot, holders) = w.start_lots(other)?;
            let mut roots = Vec::with_capacity(holders.len());
            for (vendor, at) in holders {
                w.forward_lot(vendor, Some(&lot), at, None, None, 0, &mut roots)?;
            }
            roots
        }
    };
    let mut tree = w.finish(Direction::Forward, start, roots);
    recount(&mut tree);
    Ok(tree)
}

/// The state of one trace: the store, the bounds and what was expanded (in `scratch`).
struct Walk<'a> {
    store: &'a dyn TraceData,
    opts: TraceOptions,
    scratch: Lent,
    nodes: usize,
    truncated: bool,
    /// The last party kind the reader was asked the number of, and its number (a lot's sales
    /// mostly name one kind).
    last_kind: (CompactString, Option<NonZeroU32>),
}

/// What a trace's walk and its totals fill and empty again, kept per thread for the next trace:
/// a trace then allocates little beyond its tree. (Once a large trace's rows are in the
/// processor's cache, its allocations are much of its time: each comes from one of the
/// allocator's free lists, cold when other work ran in between.)
#[derive(Default)]
struct Scratch {
    /// The lots expanded.
    seen: HashSet<(i64, CompactString)>,
    /// The parties known by their kind only (consumers, …), one per kind, shared by their nodes
    /// (and by the next traces' with the same kind number: such a party is its kind and nothing
    /// else).
    anonymous: Vec<Arc<PartyRef>>,
    /// Emptied lists of downstream receipts, for the next lots (no list allocated per lot).
    spare: Vec<Vec<Downstream>>,
    /// Forward totals: (kind's group, id) of the recipients with an id already counted.
    counted: HashSet<(usize, i64)>,
    kinds: Groups,
    regions: Groups,
    /// Forward totals: the region groups whose text is still to be read, each with a party of
    /// the region (read after the walk over the tree, all at once).
    unnamed_regions: Vec<(usize, Arc<PartyRef>)>,
}

/// Room a scratch keeps between traces at most, in entries per set or list (a very large
/// trace's are not kept: a thread's scratch stays within a few hundred KiB).
const SCRATCH_ROOM: usize = 1 << 10;

impl Scratch {
    /// Empties what a trace filled (what [`Groups::sorted`] or the walk did not already).
    fn clear(&mut self) {
        fn bounded<T>(set: &mut HashSet<T>) {
            if set.capacity() > SCRATCH_ROOM {
                *set = HashSet::new();
            }
            set.clear();
        }
        bounded(&mut self.seen);
        bounded(&mut self.counted);
        self.spare.truncate(8);
        self.spare.retain(|l| l.capacity() <= SCRATCH_ROOM);
        self.spare.iter_mut().for_each(Vec::clear);
        // Kinds come from the records: bad data could name many.
        self.anonymous.truncate(16);
        self.kinds.clear();
        self.regions.clear();
        self.unnamed_regions.clear();
    }
}

thread_local! {
    /// This thread's scratch, between two traces.
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// This thread's scratch, lent to one trace (or part of one) and given back, emptied, when
/// dropped; a trace in a trace (none does) would get a new one.
struct Lent(Scratch);

impl Lent {
    fn take() -> Lent {
        Lent(SCRATCH.with_borrow_mut(std::mem::take))
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.0.clear();
        let scratch = std::mem::take(&mut self.0);
        // During a thread's teardown the scratch goes with it.
        let _ = SCRATCH.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = scratch;
            }
        });
    }
}

impl Deref for Lent {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.0
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut Scratch {
        &mut self.0
    }
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
        let mut scratch = Lent::take();
        // Room for the lots of most traces without growing (a thread's first trace).
        scratch.seen.reserve(32);
        Walk { store, opts, scratch, nodes: 0, truncated: false, last_kind: Default::default() }
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

    /// The lot code a lot code, test or sample stands for, and the (vendor, where the reader
    /// found the lot) holding it (the code is borrowed from the start where it is there: a
    /// trace allocates little beyond its tree).
    fn start_lots<'s>(&mut self, start: &'s Start) -> Result<StartLots<'s>, TraceError> {
        let (vendor, code) = match start {
            Start::Lot(code) => (None, Cow::Borrowed(code.as_str())),
            Start::Test(no) | Start::Sample(no) => {
                let kind = if matches!(start, Start::Test(_)) { Kind::RapidTest } else { Kind::Sample };
                let tested = self.store.tested_lot(kind, no)?.ok_or_else(|| TraceError::NotFound(no.clone()))?;
                let code = tested.lot_code.ok_or_else(|| TraceError::NoLot(no.clone()))?;
                (tested.vendor_id, Cow::Owned(code))
            }
            _ => unreachable!("sales, certificates and ranges start elsewhere"),
        };
        let holders = match vendor {
            Some(v) => vec![(v, None)],
            None => self.store.lot_places(&code)?,
        };
        if holders.is_empty() {
            return Err(TraceError::NotFound(code.into_owned()));
        }
        Ok((code, holders))
    }

    /// Counts a node and says whether to expand the lot `key` at `depth`.
    fn enter(&mut self, key: Option<(i64, &str)>, depth: usize) -> Enter {
        if self.nodes >= self.opts.max_nodes || depth > self.opts.max_depth {
            self.truncated = true;
            return Enter::Stop;
        }
        self.nodes += 1;
        match key {
            Some((vendor, lot)) if !self.scratch.seen.insert((vendor, CompactString::new(lot))) => Enter::SeenBefore,
            _ => Enter::Yes,
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

    /// Who a party of `party_kind` (a supplier or buyer kind) with this id and name is; a party
    /// found by id is shared by every node showing it.
    fn party_ref(
        &mut self,
        party_kind: &str,
        id: Option<i64>,
        name: Option<&str>,
    ) -> Result<Arc<PartyRef>, TraceError> {
        let table = party_table(party_kind);
        let kind_no = self.kind_no(party_kind);
        let unknown = || Arc::new(PartyRef { kind_no, ..PartyRef::named(party_kind, id, name) });
        // By the numbers where the reader numbered both (the kind's text is in another cache
        // line of the party than what a trace reads).
        let of_kind = |p: &PartyRef| match (p.kind_no, kind_no) {
            (Some(a), Some(b)) => a == b,
            _ => p.kind == party_kind,
        };
        if (id, name) == (None, None) {
            // Kept from an earlier trace, if its reader numbered the kind the same way.
            let anonymous = &mut self.scratch.anonymous;
            return Ok(match anonymous.iter_mut().find(|p| p.kind == party_kind) {
                Some(p) if p.kind_no == kind_no => p.clone(),
                Some(p) => {
                    *p = unknown();
                    p.clone()
                }
                None => {
                    anonymous.push(unknown());
                    anonymous[anonymous.len() - 1].clone()
                }
            });
        }
        let (Some(table), Some(id)) = (table, id) else { return Ok(unknown()) };
        Ok(match self.store.party(table, id)? {
            Some(p) if of_kind(&p) => p,
            // A record naming the party as another kind than its own (a canteen bought as a
            // restaurant): shown as the record says.
            Some(p) => Arc::new(PartyRef { kind: CompactString::new(party_kind), kind_no, ..(*p).clone() }),
            None => unknown(),
        })
    }

    /// The reader's number for a party kind.
    fn kind_no(&mut self, kind: &str) -> Option<NonZeroU32> {
        if self.last_kind.0 != kind {
            self.last_kind = (CompactString::new(kind), self.store.kind_no(kind));
        }
        self.last_kind.1
    }

    fn node(&mut self, party: Arc<PartyRef>, lot: Option<&str>, via: Option<Via<'_>>) -> Node {
        Node {
            party,
            lot: lot.map(CompactString::new),
            certificate: None,
            link: via.map(Via::link),
            records: 1,
            seen_before: false,
            candidate_lots: Vec::new(),
            children: Vec::new(),
        }
    }

    /// A vendor's node, added to `out` (a node is made where it stays: nodes are large to move).
    fn vendor_node<'o>(
        &mut self,
        vendor: i64,
        lot: Option<&str>,
        via: Option<Via<'_>>,
        out: &'o mut Vec<Node>,
    ) -> Result<&'o mut Node, TraceError> {
        // `party_ref("vendor", …)`, without its checks: a party of the vendor table is a vendor.
        let party = match self.store.party(Kind::Vendor, vendor)? {
            Some(p) => p,
            None => Arc::new(PartyRef::named("vendor", Some(vendor), None)),
        };
        out.push(self.node(party, lot, via));
        Ok(out.last_mut().expect("a node was just added"))
    }
}

/// A start's lot code and the (vendor, where the reader found the lot) holding it.
type StartLots<'s> = (Cow<'s, str>, Vec<(i64, Place)>);

/// The table of a record's party of `kind` (a supplier or buyer kind); none for consumers and
/// others.
fn party_table(kind: &str) -> Option<Kind> {
    match kind {
        "vendor" => Some(Kind::Vendor),
        "producer" => Some(Kind::Producer),
        "supermarket" | "restaurant" | "canteen" | "processor" | "buyer" => Some(Kind::Buyer),
        _ => None,
    }
}

/// The receipt or sale a node's link is made from, where the node is kept (a link is large to
/// move through the recursion).
#[derive(Clone, Copy)]
struct Via<'m> {
    m: &'m MovementRef<'m>,
    record: &'static str,
    basis: Option<&'m Arc<Basis>>,
}

impl<'m> Via<'m> {
    fn of(m: &'m MovementRef<'m>, record: &'static str, basis: Option<&'m Arc<Basis>>) -> Via<'m> {
        Via { m, record, basis }
    }

    fn link(self) -> Link {
        link(self.m, self.record, self.basis.cloned())
    }
}

/// A link made from a receipt or sale.
fn link(m: &MovementRef<'_>, record: &'static str, basis: Option<Arc<Basis>>) -> Link {
    Link {
        record,
        id: m.id,
        source: CompactString::new(m.source),
        ext_id: CompactString::new(m.ext_id),
        quantity: m.quantity,
        unit: CompactString::new(m.unit),
        at: m.at,
        time: ChinaTime(m.at),
        inferred: basis.is_some(),
        basis,
        quarantine: m.quarantine_no.map(String::from),
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
    /// The tree back from a sale (added to `out`).
    fn back_sale(&mut self, sale: &MovementRef<'_>, out: &mut Vec<Node>) -> Result<(), TraceError> {
        let via = Via::of(sale, "outbound", None);
        if let Some(lot) = sale.lot_code {
            return self.back_lot(sale.vendor_id, lot, None, Some(via), 0, out);
        }
        let root = self.vendor_node(sale.vendor_id, None, Some(via), out)?;
        if let Enter::Yes = self.enter(None, 0) {
            self.back_candidates(sale, sale.vendor_id, 1, &mut root.children)?;
        }
        Ok(())
    }

    /// The lots a lot-less movement of `seller`'s goods may have come from, oldest first (added to
    /// `out`); how many.
    fn back_candidates(
        &mut self,
        m: &MovementRef<'_>,
        seller: i64,
        depth: usize,
        out: &mut Vec<Node>,
    ) -> Result<usize, TraceError> {
        if self.opts.confirmed_only {
            return Ok(0);
        }
        let candidates = self.store.receipts_between(seller, m.variety_id, m.at - self.opts.window(), m.at)?;
        // `m` is the seller's own sale, or a buyer's receipt from the seller.
        let record = if m.vendor_id == seller { "outbound" } else { "inbound" };
        for (i, c) in candidates.iter().enumerate() {
            let basis = Arc::new(fifo_basis(self.opts.window_days, i + 1, candidates.len()));
            let via = Via::of(m, record, Some(&basis));
            match &c.lot_code {
                Some(lot) => self.back_lot(seller, lot, None, Some(via), depth, out)?,
                None => self.back_group(seller, std::slice::from_ref(c), via, depth, out)?,
            }
        }
        Ok(candidates.len())
    }

    /// A vendor's lot (`at`: where the reader found it) and the receipts that filled it (added to
    /// `out`).
    fn back_lot(
        &mut self,
        vendor: i64,
        lot: &str,
        at: Place,
        via: Option<Via<'_>>,
        depth: usize,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        let node = self.vendor_node(vendor, Some(lot), via, out)?;
        match self.enter(Some((vendor, lot)), depth) {
            Enter::Yes => {}
            other => {
                node.seen_before = matches!(other, Enter::SeenBefore);
                return Ok(());
            }
        }
        let store = self.store;
        node.children.reserve(store.receipt_nodes(vendor, lot, at));
        store.each_receipt_of_lot(vendor, lot, at, &mut |r, supplier| {
            self.back_receipt(r, supplier, depth + 1, &mut node.children)
        })
    }

    /// A node for receipts that are not a lot (received without a lot code), added to `out`.
    fn back_group(
        &mut self,
        vendor: i64,
        receipts: &[Movement],
        via: Via<'_>,
        depth: usize,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        let node = self.vendor_node(vendor, None, Some(via), out)?;
        if let Enter::Yes = self.enter(None, depth) {
            for r in receipts {
                self.back_receipt(&r.borrowed(), None, depth + 1, &mut node.children)?;
            }
        }
        Ok(())
    }

    /// Where one receipt came from (added to `out`): a producer (with its certificate), a
    /// vendor's lot (named, `supplier` where the reader found it, or inferred), or another party.
    fn back_receipt(
        &mut self,
        r: &MovementRef<'_>,
        supplier: Place,
        depth: usize,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        let via = Via::of(r, "inbound", None);
        if let ("vendor", Some(seller)) = (r.party_kind, r.party_id) {
            if let Some(lot) = r.supplier_lot {
                return self.back_lot(seller, lot, supplier, Some(via), depth, out);
            }
            if self.back_candidates(r, seller, depth, out)? > 0 {
                return Ok(());
            }
        }
        if let Enter::Stop = self.enter(None, depth) {
            return Ok(());
        }
        let cert = match r.certificate_id {
            Some(id) => self.store.certificate(id)?,
            None => None,
        };
        let producer = r.party_id.or(cert.as_ref().map(|c| c.producer_id));
        let kind = if r.party_kind == "producer" || (r.party_id.is_none() && cert.is_some()) {
            "producer"
        } else {
            r.party_kind
        };
        let party = self.party_ref(kind, producer, r.party_name)?;
        let mut node = self.node(party, None, Some(via));
        node.certificate = cert.map(|c| CompactString::new(&c.cert_no));
        out.push(node);
        Ok(())
    }
}

/// Which sales a forward trace of a lot reads.
enum Sales<'r> {
    /// A vendor's sales naming the lot (found by the reader at `at`).
    OfLot { vendor: i64, lot: &'r str, at: Place },
    /// A vendor's sales of a variety in `[from, to]` naming no lot, those `covered` by the lot.
    Unnamed { vendor: i64, variety: i64, from: i64, to: i64, covered: &'r dyn Fn(i64) -> bool },
}

/// The consumer (and other anonymous) sales of one lot, folded as they are met into one node per
/// kind and certainty, so a lot sold to a thousand shoppers shows one line (the first sale's,
/// with the quantity of all in its unit, the earliest time and the number of sales). The first
/// two are kept in place, without a list allocated (a lot's anonymous buyers are mostly one or
/// two kinds).
#[derive(Default)]
struct Folded {
    first: arrayvec::ArrayVec<Node, 2>,
    more: Vec<Node>,
}

impl Folded {
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        self.first.iter_mut().chain(self.more.iter_mut())
    }

    fn push(&mut self, node: Node) {
        if let Err(full) = self.first.try_push(node) {
            self.more.push(full.element());
        }
    }

    /// Moves the folded nodes to the end of `out`, by kind, confirmed before inferred (by
    /// reference: the nodes kept in place make this large to move).
    fn append_to(&mut self, out: &mut Vec<Node>) {
        fn key(n: &Node) -> (&str, bool) {
            (n.party.kind.as_str(), n.link.as_ref().is_some_and(|l| l.inferred))
        }
        let start = out.len();
        out.extend(self.first.drain(..));
        out.append(&mut self.more);
        if out.len() - start > 1 {
            out[start..].sort_by(|a, b| key(a).cmp(&key(b)));
        }
    }
}

/// The receipts of buyer vendors waiting for the sales they pair with: each buyer's in time order,
/// taken in turn by its sales. Sorted where they were read (a trace makes no other list per lot);
/// a receipt taken leaves its buyer behind, with the id [`TAKEN`].
struct Waiting(Vec<Downstream>);

/// The id of a receipt a sale took (record ids are positive).
const TAKEN: i64 = i64::MIN;

impl Waiting {
    fn new(mut downstream: Vec<Downstream>) -> Waiting {
        // Stable: a buyer's receipts stay in time order.
        downstream.sort_by_key(|d| d.vendor_id);
        Waiting(downstream)
    }

    /// The buyer's earliest receipt not taken yet.
    fn take(&mut self, buyer: i64) -> Option<Downstream> {
        let at = self.0.partition_point(|d| d.vendor_id < buyer);
        let d = self.0[at..].iter_mut().take_while(|d| d.vendor_id == buyer).find(|d| d.id != TAKEN)?;
        Some(std::mem::replace(d, Downstream { id: TAKEN, vendor_id: buyer, lot_code: None, at: None }))
    }

    /// The receipts no sale took, by buyer, each buyer's in time order (the list is left empty,
    /// to be used again).
    fn rest(&mut self) -> impl Iterator<Item = Downstream> + '_ {
        self.0.drain(..).filter(|d| d.id != TAKEN)
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
        root.certificate = Some(CompactString::new(&cert.cert_no));
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
            let first = receipts.first().cloned();
            let first = first.as_ref().map(Movement::borrowed);
            let via = first.as_ref().map(|r| Via::of(r, "inbound", None));
            self.forward_lot(vendor, lot.as_deref(), None, Some(receipts), via, 1, &mut root.children)?;
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
    /// the buyer is a vendor, the lot its receipt of the sale started, traced on (one root).
    fn forward_sale(&mut self, source: &str, ext_id: &str) -> Result<Vec<Node>, TraceError> {
        let sale = self.find_sale(source, ext_id)?;
        let (seller, w) = (sale.vendor_id, self.opts.window());
        let mut roots = Vec::with_capacity(1);
        let root = self.vendor_node(seller, sale.lot_code.as_deref(), None, &mut roots)?;
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
        let sale = sale.borrowed();
        let via = Via::of(&sale, "outbound", None);
        match received {
            Some(r) => self.forward_receipt(Downstream::of(&r), via, 1, &mut root.children)?,
            None => self.recipient(&sale, via, 1, &mut root.children)?,
        }
        Ok(roots)
    }

    /// A vendor's lot (or, with no code, the `receipts` naming none) and everything sold from it,
    /// added to `out`; `at` is where the reader found the lot, `receipts` the lot's receipts if
    /// the caller has read them.
    #[expect(
        clippy::too_many_arguments,
        reason = "the lot, what the caller already read of it, and where its node goes"
    )]
    fn forward_lot(
        &mut self,
        vendor: i64,
        lot: Option<&str>,
        at: Place,
        receipts: Option<Vec<Movement>>,
        via: Option<Via<'_>>,
        depth: usize,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        let node = self.vendor_node(vendor, lot, via, out)?;
        match self.enter(lot.map(|l| (vendor, l)), depth) {
            Enter::Yes => {}
            other => {
                node.seen_before = matches!(other, Enter::SeenBefore);
                return Ok(());
            }
        }
        let mut folded = Folded::default();
        if let Some(lot) = lot {
            let mut downstream = self.spare_list();
            self.store.downstream_of_lot(vendor, lot, at, &mut downstream)?;
            let sales = Sales::OfLot { vendor, lot, at };
            self.forward_sales(sales, downstream, None, depth + 1, &mut folded, &mut node.children)?;
        }
        if !self.opts.confirmed_only {
            let receipts = match (receipts, lot) {
                (Some(receipts), _) => receipts,
                (None, Some(lot)) => self.store.receipts_of_lot(vendor, lot)?,
                (None, None) => Vec::new(),
            };
            if !receipts.is_empty() {
                self.forward_inferred(vendor, &receipts, depth + 1, &mut folded, &mut node.children)?;
            }
        }
        folded.append_to(&mut node.children);
        Ok(())
    }

    /// Sales and the buyers' receipts they became (added to `out`), paired per buyer vendor in
    /// time order, with anonymous sales folded into `folded`; `basis` marks them inferred.
    fn forward_sales(
        &mut self,
        sales: Sales<'_>,
        downstream: Vec<Downstream>,
        basis: Option<&Arc<Basis>>,
        depth: usize,
        folded: &mut Folded,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        let mut waiting = Waiting::new(downstream);
        let store = self.store;
        let room = match sales {
            Sales::OfLot { vendor, lot, at } => store.sale_nodes(vendor, lot, at),
            Sales::Unnamed { .. } => 0,
        };
        out.reserve(room);
        let mut each = |s: &MovementRef<'_>| -> Result<(), TraceError> {
            let received = match (s.party_kind, s.party_id) {
                ("vendor", Some(b)) => waiting.take(b),
                _ => None,
            };
            match received {
                Some(r) => self.forward_receipt(r, Via::of(s, "outbound", basis), depth, out),
                None if s.party_id.is_none() && s.party_kind != "producer" => self.fold(s, basis, depth, folded),
                None => self.recipient(s, Via::of(s, "outbound", basis), depth, out),
            }
        };
        match sales {
            Sales::OfLot { vendor, lot, at } => store.each_sale_of_lot(vendor, lot, at, &mut each)?,
            Sales::Unnamed { vendor, variety, from, to, covered } => {
                store.each_unlotted_sale(vendor, variety, from, to, &mut |s| {
                    if covered(s.at) { each(s) } else { Ok(()) }
                })?
            }
        }
        for d in waiting.rest() {
            let receipt = self.receipt(d.id)?;
            let receipt = receipt.borrowed();
            self.forward_receipt(d, Via::of(&receipt, "inbound", basis), depth, out)?;
        }
        self.scratch.spare.push(waiting.0);
        Ok(())
    }

    /// Folds an anonymous sale into its kind's node (the first such sale makes it).
    fn fold(
        &mut self,
        s: &MovementRef<'_>,
        basis: Option<&Arc<Basis>>,
        depth: usize,
        folded: &mut Folded,
    ) -> Result<(), TraceError> {
        let inferred = basis.is_some();
        let same =
            |n: &&mut Node| n.party.kind == s.party_kind && n.link.as_ref().is_some_and(|l| l.inferred == inferred);
        let Some(node) = folded.iter_mut().find(same) else {
            folded.push(self.leaf(s, Via::of(s, "outbound", basis), depth)?);
            return Ok(());
        };
        self.enter(None, depth);
        node.records += 1;
        if let Some(l) = node.link.as_mut() {
            // The same unit needs no conversion (nor is it parsed: a unit Shian does not know is
            // summed as it is, where a conversion would have dropped it).
            l.quantity +=
                if s.unit == l.unit { s.quantity } else { convert(s.quantity, s.unit, &l.unit).unwrap_or(0.0) };
            l.at = l.at.min(s.at);
            l.time = ChinaTime(l.at);
        }
        Ok(())
    }

    /// The lot a buyer vendor's receipt started, added to `out`.
    fn forward_receipt(
        &mut self,
        r: Downstream,
        via: Via<'_>,
        depth: usize,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        match &r.lot_code {
            Some(lot) => self.forward_lot(r.vendor_id, Some(lot), r.at, None, Some(via), depth, out),
            None => {
                let receipt = self.receipt(r.id)?;
                self.forward_lot(r.vendor_id, None, None, Some(vec![receipt]), Some(via), depth, out)
            }
        }
    }

    /// A receipt by id (one a read of the trace named).
    fn receipt(&self, id: i64) -> Result<Movement, TraceError> {
        self.store.movement(Kind::Inbound, id)?.ok_or_else(|| TraceError::NotFound(format!("inbound #{id}")))
    }

    /// A buyer that is not a vendor with a recorded receipt: a leaf, added to `out`.
    fn recipient(
        &mut self,
        s: &MovementRef<'_>,
        via: Via<'_>,
        depth: usize,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        out.push(self.leaf(s, via, depth)?);
        Ok(())
    }

    /// The node of a sale's buyer as a leaf (a recipient, or the first of its kind's folded
    /// sales), counted.
    fn leaf(&mut self, s: &MovementRef<'_>, via: Via<'_>, depth: usize) -> Result<Node, TraceError> {
        self.enter(None, depth);
        let party = self.party_ref(s.party_kind, s.party_id, s.party_name)?;
        Ok(self.node(party, None, Some(via)))
    }

    /// An empty list for a lot's downstream receipts (one a finished lot gave back, if any).
    fn spare_list(&mut self) -> Vec<Downstream> {
        self.scratch.spare.pop().unwrap_or_default()
    }

    /// Sales and vendor receipts naming no lot within the window after one of the lot's receipts.
    fn forward_inferred(
        &mut self,
        vendor: i64,
        receipts: &[Movement],
        depth: usize,
        folded: &mut Folded,
        out: &mut Vec<Node>,
    ) -> Result<(), TraceError> {
        let w = self.opts.window();
        let from = receipts.iter().map(|r| r.at).min().unwrap_or_default();
        let to = receipts.iter().map(|r| r.at).max().unwrap_or_default() + w;
        let variety = receipts[0].variety_id;
        let covered = |t: i64| receipts.iter().any(|r| r.at <= t && t <= r.at + w);
        let downstream = self.store.unlotted_receipts_from(vendor, variety, from, to)?;
        let mut unnamed = self.spare_list();
        unnamed.extend(downstream.iter().filter(|r| covered(r.at)).map(Downstream::of));
        let basis = Basis {
            zh: format!("未注明批次；该批次进货后 {} 天内同品种销货，按先进先出推断", self.opts.window_days),
            en: format!(
                "no lot named; a sale of the variety within {} days after this lot was received (first in first out)",
                self.opts.window_days
            ),
        };
        let sales = Sales::Unnamed { vendor, variety, from, to, covered: &covered };
        self.forward_sales(sales, unnamed, Some(&Arc::new(basis)), depth, folded, out)
    }
}

fn convert(qty: f64, from: &str, to: &str) -> Option<f64> {
    shian_domain::unit::convert(qty, Unit::parse(from)?, Unit::parse(to)?)
}

/// Kilograms of links, with the last unit's conversion remembered (a trace's links are mostly in
/// one or two units).
#[derive(Default)]
struct Kilograms<'a> {
    last: Option<(&'a str, Option<f64>)>,
}

impl<'a> Kilograms<'a> {
    fn of(&mut self, l: &'a Link) -> f64 {
        let per_unit = match self.last {
            Some((unit, per_unit)) if unit == l.unit => per_unit,
            _ => {
                let per_unit = Unit::parse(&l.unit).and_then(Unit::kg_factor);
                self.last = Some((&l.unit, per_unit));
                per_unit
            }
        };
        per_unit.map_or(0.0, |k| l.quantity * k)
    }
}

/// Sets a forward trace's totals per kind of recipient and per region (over every non-root
/// node), in one pass over the tree.
pub fn recount(tree: &mut TraceTree) {
    let mut scratch = Lent::take();
    let Scratch { counted, kinds, regions, unnamed_regions, .. } = &mut *scratch;
    let mut tally = Tally { counted, kinds, regions, unnamed_regions, kilograms: Kilograms::default() };
    for root in &tree.roots {
        for child in &root.children {
            tally.add(child, root);
        }
    }
    // The texts of the regions met by number: each in a cache line of its party that the walk
    // over the tree did not read, so read here in one loop, where they wait for memory together.
    for (g, p) in tally.unnamed_regions.drain(..) {
        tally.regions.total(g).kind = p.region.clone().unwrap_or_default();
    }
    tree.totals = tally.kinds.sorted();
    tree.regions = tally
        .regions
        .sorted()
        .into_iter()
        .map(|t| RegionTotal {
            region: t.kind,
            recipients: t.recipients,
            records: t.records,
            quantity_kg: t.quantity_kg,
            inferred_records: t.inferred_records,
            school_canteens: t.school_canteens,
        })
        .collect();
}

/// A forward trace's totals as they are summed.
struct Tally<'s, 't> {
    /// (kind's group, id): the recipients with an id already counted. A party's region is its
    /// own, so the first node of a (kind, id) is the first in its kind's and its region's group.
    counted: &'s mut HashSet<(usize, i64)>,
    kinds: &'s mut Groups,
    regions: &'s mut Groups,
    unnamed_regions: &'s mut Vec<(usize, Arc<PartyRef>)>,
    kilograms: Kilograms<'t>,
}

impl<'t> Tally<'_, 't> {
    /// Adds `n` (whose parent is `parent`) and its subtree (as deep as the walk went).
    fn add(&mut self, n: &'t Node, parent: &'t Node) {
        if let Some(l) = &n.link {
            let kg = self.kilograms.of(l);
            // The recipient's region, or for consumers and other anonymous buyers the region of
            // the vendor who sold to them.
            let anonymous = n.party.id.is_none();
            let region = match self.region(&n.party).or_else(|| anonymous.then(|| self.region(&parent.party))?) {
                Some(g) => g,
                None => self.regions.of(&NO_REGION, None),
            };
            let kind = self.kinds.of(&n.party.kind, n.party.kind_no.map(NonZeroU32::get));
            let first = n.party.id.map(|id| self.counted.insert((kind, id)));
            for (groups, g) in [(&mut *self.kinds, kind), (&mut *self.regions, region)] {
                let t = groups.total(g);
                t.records += n.records;
                t.quantity_kg += kg;
                t.inferred_records += if l.inferred { n.records } else { 0 };
                match first {
                    Some(true) => {
                        t.recipients += 1;
                        t.school_canteens += usize::from(n.party.school);
                    }
                    Some(false) => {}
                    None => t.recipients += n.records,
                }
            }
        }
        for child in &n.children {
            self.add(child, n);
        }
    }

    /// The group of a party's region, if it has one: by its number where the reader numbered it
    /// (the text, in another cache line of the party than what a trace reads, is then read after
    /// the walk, for a new group only).
    fn region(&mut self, p: &Arc<PartyRef>) -> Option<usize> {
        match p.region_no {
            Some(no) => {
                let (g, new) = self.regions.numbered_new(no.get());
                if new {
                    self.unnamed_regions.push((g, p.clone()));
                }
                Some(g)
            }
            None => p.region.as_ref().map(|r| self.regions.of(r, None)),
        }
    }
}

/// The region of recipients whose region is not known.
static NO_REGION: CompactString = CompactString::const_new("");

impl Total {
    /// Adds `other`'s figures to these.
    fn add(&mut self, other: &Total) {
        self.recipients += other.recipients;
        self.records += other.records;
        self.quantity_kg += other.quantity_kg;
        self.inferred_records += other.inferred_records;
        self.school_canteens += other.school_canteens;
    }
}

/// Totals grouped by a key (kept in `Total::kind`): found by the key's number where the reader
/// numbered it (the trace index numbers regions in the order of their codes), else by its text.
/// Emptied by [`Groups::sorted`], to be used again.
#[derive(Default)]
struct Groups {
    /// Group + 1 by key number (0: no group yet).
    numbered: Vec<u32>,
    at: HashMap<CompactString, usize>,
    /// Each group's number ([`UNNUMBERED`] if none) and its totals.
    list: Vec<(u32, Total)>,
    /// The last group found by its text.
    last: Option<usize>,
}

/// The number of a group found by its text.
const UNNUMBERED: u32 = u32::MAX;

impl Groups {
    /// The group of `key`, whose number is `no` if it has one (nodes come in runs of one kind
    /// and one region: the last group found by text is tried first). A key met both with and
    /// without its number gets two groups, which [`Groups::sorted`] adds together.
    fn of(&mut self, key: &CompactString, no: Option<u32>) -> usize {
        if let Some(no) = no {
            return self.numbered(no, || key);
        }
        if let Some(g) = self.last
            && self.list[g].1.kind == *key
        {
            return g;
        }
        let g = match self.at.get(key.as_str()) {
            Some(&g) => g,
            None => {
                self.list.push((UNNUMBERED, Total { kind: key.clone(), ..Total::default() }));
                self.at.insert(key.clone(), self.list.len() - 1);
                self.list.len() - 1
            }
        };
        self.last = Some(g);
        g
    }

    /// The group of the key numbered `no`; `key` gives its text, asked for only when the group
    /// is new.
    fn numbered<'k>(&mut self, no: u32, key: impl FnOnce() -> &'k CompactString) -> usize {
        let (g, new) = self.numbered_new(no);
        if new {
            self.list[g].1.kind = key().clone();
        }
        g
    }

    /// The group of the key numbered `no`, and whether it is new (its text then still empty: the
    /// caller sets it before [`Groups::sorted`]).
    fn numbered_new(&mut self, no: u32) -> (usize, bool) {
        let no = no as usize;
        if let Some(&g) = self.numbered.get(no)
            && g != 0
        {
            return (g as usize - 1, false);
        }
        if self.numbered.len() <= no {
            // Room for the numbers of a province's regions without growing again soon.
            self.numbered.resize((no + 1).max(self.numbered.len() * 2).max(64), 0);
        }
        self.list.push((no as u32, Total::default()));
        self.numbered[no] = self.list.len() as u32;
        (self.list.len() - 1, true)
    }

    fn total(&mut self, g: usize) -> &mut Total {
        &mut self.list[g].1
    }

    /// The totals, by key (a key's groups added together); the groups are left empty.
    fn sorted(&mut self) -> Vec<Total> {
        if self.list.iter().all(|g| g.0 != UNNUMBERED) {
            // Numbers are in the order of the keys, one per key.
            self.list.sort_unstable_by_key(|g| g.0);
        } else {
            self.list.sort_unstable_by(|a, b| a.1.kind.cmp(&b.1.kind));
        }
        self.forget_numbers();
        let mut out: Vec<Total> = Vec::with_capacity(self.list.len());
        for (_, t) in self.list.drain(..) {
            match out.last_mut() {
                Some(last) if last.kind == t.kind => last.add(&t),
                _ => out.push(t),
            }
        }
        self.clear();
        out
    }

    /// Forgets every group.
    fn clear(&mut self) {
        self.forget_numbers();
        self.list.clear();
        if self.at.capacity() > SCRATCH_ROOM {
            self.at = HashMap::new();
        }
        self.at.clear();
        self.last = None;
    }

    /// Empties the number table where the groups set it (the rest of it is empty already).
    fn forget_numbers(&mut self) {
        for &(no, _) in &self.list {
            if let Some(g) = self.numbered.get_mut(no as usize) {
                *g = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &str) -> Node {
        let party = Arc::new(PartyRef::named(kind, None, None));
        Node {
            party,
            lot: None,
            certificate: None,
            link: None,
            records: 1,
            seen_before: false,
            candidate_lots: Vec::new(),
            children: Vec::new(),
        }
    }

    #[test]
    fn folded_nodes_past_the_first_two_are_kept_and_all_come_last_by_kind() {
        let mut folded = Folded::default();
        for kind in ["other", "consumer", "buyer", "anonymous"] {
            folded.push(node(kind));
        }
        assert_eq!(folded.iter_mut().count(), 4);
        let mut out = vec![node("vendor")];
        folded.append_to(&mut out);
        let kinds: Vec<&str> = out.iter().map(|n| n.party.kind.as_str()).collect();
        assert_eq!(kinds, ["vendor", "anonymous", "buyer", "consumer", "other"]);
    }

    #[test]
    fn waiting_receipts_are_taken_per_buyer_in_time_order() {
        let d = |id: i64, vendor_id: i64| Downstream { id, vendor_id, lot_code: None, at: None };
        // Buyer 7's receipts 1 and 3 (in time order), buyer 5's receipt 2.
        let mut waiting = Waiting::new(vec![d(1, 7), d(2, 5), d(3, 7)]);
        assert_eq!(waiting.take(7).map(|d| d.id), Some(1));
        assert_eq!(waiting.take(6), None);
        assert_eq!(waiting.take(7).map(|d| d.id), Some(3));
        assert_eq!(waiting.take(7), None, "each receipt is taken once");
        assert_eq!(waiting.rest().map(|d| d.id).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn groups_tell_keys_apart_and_come_out_sorted() {
        // Keys of 15 and 16 bytes, a prefix, a key with a trailing NUL, the empty key, many keys.
        let keys: Vec<CompactString> =
            ["supermarket0001", "supermarket00012", "super", "super\0", "", "long key of many bytes"]
                .into_iter()
                .map(CompactString::new)
                .chain((0..30).map(|i| compact_str::format_compact!("33{i:04}")))
                .collect();
        let mut groups = Groups::default();
        let first: Vec<usize> = keys.iter().map(|k| groups.of(k, None)).collect();
        assert_eq!(first, (0..keys.len()).collect::<Vec<_>>(), "every key its own group");
        // Again, in another order (so the last group is not the one asked for).
        for (i, k) in keys.iter().enumerate().rev() {
            assert_eq!(groups.of(k, None), i, "{k:?}");
            groups.total(i).records += 1;
        }
        assert_eq!(groups.of(&keys[0], None), 0);
        assert_eq!(groups.of(&keys[1], None), 1);
        let sorted = groups.sorted();
        assert_eq!(sorted.len(), keys.len());
        assert!(sorted.windows(2).all(|w| w[0].kind < w[1].kind) && sorted.iter().all(|t| t.records == 1));
    }

    #[test]
    fn numbered_groups_are_found_by_number_and_added_to_the_same_text() {
        let (a, b) = (CompactString::new("330102"), CompactString::new("110101"));
        let mut groups = Groups::default();
        // Numbers far apart (the list of numbers grows), a number met again, and the same text
        // met once without its number.
        let ga = groups.of(&a, Some(200));
        let gb = groups.of(&b, Some(3));
        assert_ne!(ga, gb);
        assert_eq!(groups.of(&a, Some(200)), ga);
        assert_eq!(groups.of(&b, Some(3)), gb);
        let text_a = groups.of(&a, None);
        for (g, n) in [(ga, 2), (gb, 5), (text_a, 7)] {
            groups.total(g).records += n;
            groups.total(g).recipients += 1;
        }
        let sorted = groups.sorted();
        let got: Vec<(&str, usize, usize)> =
            sorted.iter().map(|t| (t.kind.as_str(), t.records, t.recipients)).collect();
        assert_eq!(got, [("110101", 5, 1), ("330102", 9, 2)]);

        // Numbered only: in the order of the numbers (which the index gives in the keys' order).
        let mut groups = Groups::default();
        groups.of(&a, Some(200));
        groups.of(&b, Some(3));
        let keys: Vec<CompactString> = groups.sorted().into_iter().map(|t| t.kind).collect();
        assert_eq!(keys, [b, a]);
    }

    #[test]
    fn groups_used_again_start_empty() {
        // A trace's groups are kept for the next trace: nothing of the first may remain.
        let (a, b) = (CompactString::new("330102"), CompactString::new("110101"));
        let mut groups = Groups::default();
        let g = groups.of(&a, Some(7));
        groups.total(g).records += 1;
        let g = groups.of(&b, None);
        groups.total(g).records += 1;
        assert_eq!(groups.sorted().len(), 2);
        // Number 7 and text `b` now stand for nothing: new groups, with new keys and totals.
        let g = groups.of(&b, Some(7));
        groups.total(g).records += 5;
        assert_eq!(groups.of(&a, None), 1, "a text seen by the last use is a new group");
        let got: Vec<(CompactString, usize)> = groups.sorted().into_iter().map(|t| (t.kind, t.records)).collect();
        assert_eq!(got, [(b.clone(), 5), (a.clone(), 0)]);
        // A scratch emptied without its totals being taken (a trace that failed) starts empty too.
        groups.of(&a, Some(3));
        groups.clear();
        assert_eq!(groups.of(&b, Some(3)), 0);
        assert_eq!(groups.sorted().into_iter().map(|t| t.kind).collect::<Vec<_>>(), [b]);
    }
}
