//! Storage of Shian's records.
//!
//! Everything above this crate talks to a [`Store`], never to a database. The backend is chosen
//! once, from the database URL ([`open`]): `sqlite://PATH` (or a bare path) is the embedded
//! default; `postgres://…` is reserved for the PostgreSQL backend. SQL is derived from the record
//! kinds of `shian_domain::kind` ([`sql`]), so a new backend writes only what its dialect changes.
//! [`contract`] is the behaviour every backend must show; each backend's tests run it.

pub mod accounts;
pub mod catalogue;
pub mod contract;
pub mod public;
pub mod query;
pub mod sql;
pub mod sqlite;
pub mod supervision;

use shian_domain::{Kind, Value};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH (PostgreSQL support is not built yet)")]
    UnsupportedUrl(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a batch write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for BatchOutcome {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// Identifies one run of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunId(pub i64);

/// Totals recorded when an import run ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub rows_read: u64,
    pub rejected: u64,
    pub outcome: BatchOutcome,
}

/// A replaced version of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// When it was replaced (Unix seconds).
    pub replaced_at: i64,
    pub import_run: Option<i64>,
    /// The replaced row as JSON, keyed by field name, references as stored ids.
    pub previous: serde_json::Value,
}

/// A row as stored: one value per field of the kind, in the kind's field order, references
/// resolved to ids.
pub type Row = Vec<Value>;

/// A row of `kind` with the named fields set and every other field null.
///
/// # Panics
/// If `kind` has no field of one of the names: a programming error.
pub fn row(kind: Kind, values: &[(&str, Value)]) -> Row {
    let def = kind.def();
    let mut row = vec![Value::Null; def.fields.len()];
    for (name, v) in values {
        let (i, _) = def.field(name).unwrap_or_else(|| panic!("{} has no field {name}", def.name));
        row[i] = v.clone();
    }
    row
}

/// An order record as a trace sees it: a receipt (inbound, 进货) or a sale (outbound, 销货), with
/// references as ids. `party_*` is the supplier of a receipt or the buyer of a sale.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    pub id: i64,
    pub source: String,
    pub ext_id: String,
    pub vendor_id: i64,
    pub variety_id: i64,
    pub lot_code: Option<String>,
    pub quantity: f64,
    pub unit: String,
    /// When received or sold (Unix seconds).
    pub at: i64,
    /// `supplier_kind` of a receipt, `buyer_kind` of a sale.
    pub party_kind: String,
    pub party_id: Option<i64>,
    pub party_name: Option<String>,
    /// The upstream lot code a receipt arrived with; always `None` for a sale.
    pub supplier_lot: Option<String>,
    /// The origin certificate of a receipt; always `None` for a sale.
    pub certificate_id: Option<i64>,
    /// The animal quarantine certificate number (动物检疫合格证明) a receipt came with.
    pub quarantine_no: Option<String>,
}

/// An order record borrowed from the database while it is scanned (building the trace index):
/// the fields of a [`Movement`] without copying its text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MovementRef<'a> {
    pub id: i64,
    pub source: &'a str,
    pub ext_id: &'a str,
    pub vendor_id: i64,
    pub variety_id: i64,
    pub lot_code: Option<&'a str>,
    pub quantity: f64,
    pub unit: &'a str,
    pub at: i64,
    pub party_kind: &'a str,
    pub party_id: Option<i64>,
    pub party_name: Option<&'a str>,
    pub supplier_lot: Option<&'a str>,
    pub certificate_id: Option<i64>,
    pub quarantine_no: Option<&'a str>,
}

impl Movement {
    /// The record borrowed.
    pub fn borrowed(&self) -> MovementRef<'_> {
        MovementRef {
            id: self.id,
            source: &self.source,
            ext_id: &self.ext_id,
            vendor_id: self.vendor_id,
            variety_id: self.variety_id,
            lot_code: self.lot_code.as_deref(),
            quantity: self.quantity,
            unit: &self.unit,
            at: self.at,
            party_kind: &self.party_kind,
            party_id: self.party_id,
            party_name: self.party_name.as_deref(),
            supplier_lot: self.supplier_lot.as_deref(),
            certificate_id: self.certificate_id,
            quarantine_no: self.quarantine_no.as_deref(),
        }
    }
}

impl MovementRef<'_> {
    /// The record with its text copied.
    pub fn to_movement(&self) -> Movement {
        Movement {
            id: self.id,
            source: self.source.into(),
            ext_id: self.ext_id.into(),
            vendor_id: self.vendor_id,
            variety_id: self.variety_id,
            lot_code: self.lot_code.map(String::from),
            quantity: self.quantity,
            unit: self.unit.into(),
            at: self.at,
            party_kind: self.party_kind.into(),
            party_id: self.party_id,
            party_name: self.party_name.map(String::from),
            supplier_lot: self.supplier_lot.map(String::from),
            certificate_id: self.certificate_id,
            quarantine_no: self.quarantine_no.map(String::from),
        }
    }
}

/// Where the order records stand: it changes whenever a receipt or sale is added, changed or
/// removed, or a vendor, market, producer, buyer or origin certificate is changed or removed (a
/// new order record raises a maximum id; updates and deletes raise `changes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MovementsVersion {
    pub inbound_max: i64,
    pub outbound_max: i64,
    pub changes: i64,
}

/// The code and name of a vendor, producer or buyer, for showing it in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub code: String,
    pub name: String,
    /// The vendor's market name; the producer's region code; the buyer's kind (`canteen`, …).
    pub detail: Option<String>,
    /// The buyer's canteen kind (`school`, `kindergarten`, …).
    pub canteen_kind: Option<String>,
    /// The region code (GB/T 2260) of the vendor's market, the producer or the buyer.
    pub region: Option<String>,
}

/// An origin certificate (承诺达标合格证) as a trace shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    pub cert_no: String,
    pub producer_id: i64,
    pub issued_on: String,
    pub quantity: f64,
    pub unit: String,
}

/// The lot a rapid test or a sample was taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestedLot {
    /// The vendor tested or sampled (`None` for a sample taken at a buyer or producer).
    pub vendor_id: Option<i64>,
    pub lot_code: Option<String>,
}

/// What one vendor's lot received and sold in one unit: the sums of its receipts (`inbound` with
/// the lot code) and of the sales naming it (`outbound.lot_code`), for a mass balance.
#[derive(Debug, Clone, PartialEq)]
pub struct LotFlow {
    pub vendor_id: i64,
    pub lot_code: String,
    pub unit: String,
    pub received: f64,
    pub sold: f64,
    pub receipts: u64,
    pub sales: u64,
}

/// The storage contract. Rows are in the field order of the kind's definition.
pub trait Store:
    accounts::Accounts + catalogue::Catalogue + public::Public + query::Queries + supervision::Supervision + Send
{
    /// Name of the backend (`sqlite`).
    fn backend(&self) -> &'static str;

    /// Number of records of a kind.
    fn count(&self, kind: Kind) -> Result<u64>;

    /// Ids of the records of `kind` (a kind with a single-column key) whose keys are given;
    /// unknown keys are absent from the answer.
    fn resolve(&self, kind: Kind, keys: &[&str]) -> Result<Vec<(String, i64)>>;

    /// Id of the record with this natural key (references given as ids).
    fn find(&self, kind: Kind, key: &[Value]) -> Result<Option<i64>>;

    /// Inserts new records and updates changed ones, keeping the replaced versions in the history;
    /// all or nothing.
    fn write_batch(&mut self, kind: Kind, rows: &[Row], run: Option<RunId>) -> Result<BatchOutcome>;

    /// Inserts records known to be new, as fast as the backend can (the simulator's path); all or
    /// nothing per call. A duplicate key is an error.
    fn insert_new(&mut self, kind: Kind, rows: &mut dyn Iterator<Item = Row>) -> Result<u64>;

    /// Drops the secondary indexes of a kind's table before a large load into it.
    fn suspend_indexes(&mut self, kind: Kind) -> Result<()>;

    /// Rebuilds every suspended index.
    fn restore_indexes(&mut self) -> Result<()>;

    /// Visits every record of a kind in id order, with references written as the referenced
    /// records' natural keys (so the rows can be exported and imported elsewhere).
    fn scan(&self, kind: Kind, visit: &mut dyn FnMut(&[Value]) -> Result<()>) -> Result<()>;

    /// Previous versions of a record, oldest first.
    fn history(&self, kind: Kind, id: i64) -> Result<Vec<HistoryEntry>>;

    /// Records the start of an import run.
    fn begin_run(&mut self, kind: Kind, file: &str) -> Result<RunId>;

    /// Records the end of an import run.
    fn finish_run(&mut self, run: RunId, status: &str, summary: RunSummary) -> Result<()>;

    /// Trades durability for speed while a new database is filled (`true`), and back (`false`).
    /// A crash while it is on may leave the database unusable: only for data that can be made
    /// again, such as a simulated province.
    fn bulk_load(&mut self, on: bool) -> Result<()>;

    /// Compacts and analyses the database after a large load.
    fn optimize(&mut self) -> Result<()>;

    /// Vendors holding a lot code: those with a receipt or a sale naming it.
    fn lot_holders(&self, lot_code: &str) -> Result<Vec<i64>>;

    /// A vendor's receipts of a lot, oldest first.
    fn receipts_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>>;

    /// A vendor's sales naming a lot, oldest first.
    fn sales_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>>;

    /// A vendor's receipts of a variety received in `[from, to]`, oldest first (inference candidates).
    fn receipts_between(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>>;

    /// A vendor's sales of a variety in `[from, to]` that name no lot, oldest first.
    fn unlotted_sales(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>>;

    /// Receipts (at any vendor) that arrived from vendor `supplier` with its lot `supplier_lot`.
    fn receipts_from_lot(&self, supplier: i64, supplier_lot: &str) -> Result<Vec<Movement>>;

    /// Receipts (at any vendor) from vendor `supplier` of a variety in `[from, to]` naming no
    /// supplier lot, oldest first.
    fn unlotted_receipts_from(&self, supplier: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>>;

    /// Receipts carrying an origin certificate.
    fn receipts_with_certificate(&self, certificate: i64) -> Result<Vec<Movement>>;

    /// Receipts in `[from, to]` supplied by producer `producer` or carrying one of its origin
    /// certificates, oldest first (a forward trace from a producer and a date range).
    fn receipts_from_producer(&self, producer: i64, from: i64, to: i64) -> Result<Vec<Movement>>;

    /// Sales in `[from, to]` to the downstream buyer `buyer` (a `Kind::Buyer` id: a supermarket,
    /// restaurant, canteen, …), oldest first (a backward trace from a buyer's receipts).
    fn sales_to_buyer(&self, buyer: i64, from: i64, to: i64) -> Result<Vec<Movement>>;

    /// One receipt (`Kind::Inbound`) or sale (`Kind::Outbound`) by id.
    fn movement(&self, kind: Kind, id: i64) -> Result<Option<Movement>>;

    /// The code and name of a vendor, producer or buyer by id.
    fn party(&self, kind: Kind, id: i64) -> Result<Option<Party>>;

    /// An origin certificate by id.
    fn certificate(&self, id: i64) -> Result<Option<Certificate>>;

    /// The lot of a rapid test (`Kind::RapidTest`, by test_no) or a sample (`Kind::Sample`, by
    /// sample_no).
    fn tested_lot(&self, kind: Kind, key: &str) -> Result<Option<TestedLot>>;

    /// Visits every receipt (`Kind::Inbound`) or sale (`Kind::Outbound`) in id order.
    fn scan_movements(&self, kind: Kind, visit: &mut dyn FnMut(&MovementRef<'_>) -> Result<()>) -> Result<()>;

    /// Visits every vendor, producer or buyer (`kind`) with its id, as [`Store::party`] reads it.
    fn scan_parties(&self, kind: Kind, visit: &mut dyn FnMut(i64, Party) -> Result<()>) -> Result<()>;

    /// Visits every origin certificate with its id.
    fn scan_certificates(&self, visit: &mut dyn FnMut(i64, Certificate) -> Result<()>) -> Result<()>;

    /// Where the order records and the parties a trace shows stand now (compare two to know
    /// whether anything changed between).
    fn movements_version(&self) -> Result<MovementsVersion>;

    /// Visits the received and sold quantities of every lot, one [`LotFlow`] per vendor, lot code
    /// and unit, ordered by vendor, lot code and unit; only sales naming the lot count. `market`
    /// (an id) keeps the lots of that market's vendors.
    fn lot_flows(&self, market: Option<i64>, visit: &mut dyn FnMut(&LotFlow) -> Result<()>) -> Result<()>;
}

/// Opens the store named by a database URL, creating and migrating it if needed.
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Box::new(sqlite::SqliteStore::open(path)?));
    }
    if url.contains("://") {
        return Err(StoreError::UnsupportedUrl(url.to_string()));
    }
    Ok(Box::new(sqlite::SqliteStore::open(url)?))
}
