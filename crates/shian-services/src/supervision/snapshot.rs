//! The trace snapshots a ledger entry keeps: the **recall scope** (every recipient a forward trace
//! from the failed lot reaches: vendors of other markets, supermarkets, restaurants, canteens with
//! school canteens flagged, consumers per lot) and the **origins** (the producers and certificates a
//! backward trace reaches). They are stored as JSON with the entry, so the entry shows what was
//! known when it was opened even if the order records change later.

use serde::{Deserialize, Serialize};
use shian_domain::Kind;
use shian_store::supervision::RiskEntry;
use shian_store::{Store, StoreError};

use crate::trace::{self, CompactString, Node, Start, TraceError, TraceOptions, TraceTree};

/// One recipient of the failed goods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    /// `vendor`, `supermarket`, `restaurant`, `canteen`, `processor`, `consumer`, …
    pub kind: String,
    pub code: Option<String>,
    pub name: Option<String>,
    /// A vendor's market name; a buyer's kind.
    pub detail: Option<String>,
    /// GB/T 2260 code of the recipient (consumers: of the vendor who sold to them).
    pub region: Option<String>,
    pub quantity: f64,
    pub unit: String,
    /// Sales folded into this line (consumers of one lot).
    pub records: usize,
    /// A school or kindergarten canteen.
    pub school: bool,
    /// Reached through a link inferred by first-in first-out, not a named lot.
    pub inferred: bool,
    /// Hops from the failed lot (a direct buyer is 1).
    pub depth: usize,
    /// The lot the goods came from.
    pub from_lot: Option<String>,
    /// The lot a vendor recipient started with them.
    pub lot: Option<String>,
}

/// The recall scope (召回范围) of an entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecallScope {
    pub recipients: Vec<Recipient>,
    pub school_canteens: usize,
    /// A bound of the trace stopped it: the list may be incomplete.
    pub truncated: bool,
}

/// Where the failed goods came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// `producer`, or the supplier kind when it is not a producer (`other`, …).
    pub kind: String,
    pub code: Option<String>,
    pub name: Option<String>,
    pub region: Option<String>,
    /// The origin certificate (承诺达标合格证) the goods came with.
    pub certificate: Option<String>,
    /// The vendor and lot the goods entered the markets through.
    pub via_vendor: Option<String>,
    pub via_lot: Option<String>,
    pub inferred: bool,
}

/// The backward trace's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origins {
    pub origins: Vec<Origin>,
    pub truncated: bool,
}

/// The recipients of a forward trace, in tree order.
pub fn recall_scope(tree: &TraceTree) -> RecallScope {
    let mut out = RecallScope { truncated: tree.truncated, ..RecallScope::default() };
    for root in &tree.roots {
        collect_recipients(root, 1, &mut out.recipients);
    }
    out.school_canteens = out.recipients.iter().filter(|r| r.school).count();
    out
}

fn collect_recipients(parent: &Node, depth: usize, out: &mut Vec<Recipient>) {
    for n in &parent.children {
        let Some(l) = &n.link else { continue };
        let p = &n.party;
        out.push(Recipient {
            kind: p.kind.to_string(),
            code: owned(&p.code),
            name: owned(&p.name),
            detail: owned(&p.detail),
            region: owned(&p.region).or_else(|| owned(&parent.party.region)),
            quantity: l.quantity,
            unit: l.unit.to_string(),
            records: n.records,
            school: p.school,
            inferred: l.inferred,
            depth,
            from_lot: owned(&parent.lot),
            lot: owned(&n.lot),
        });
        collect_recipients(n, depth + 1, out);
    }
}

/// The origins of a backward trace: its leaves that are not vendors' lots.
pub fn origins(tree: &TraceTree) -> Origins {
    let mut out = Origins { truncated: tree.truncated, ..Origins::default() };
    for root in &tree.roots {
        collect_origins(root, root, false, &mut out.origins);
    }
    out
}

fn collect_origins(n: &Node, via: &Node, inferred: bool, out: &mut Vec<Origin>) {
    let inferred = inferred || n.link.as_ref().is_some_and(|l| l.inferred);
    if n.party.kind != "vendor" {
        out.push(Origin {
            kind: n.party.kind.to_string(),
            code: owned(&n.party.code),
            name: owned(&n.party.name),
            region: owned(&n.party.region),
            certificate: owned(&n.certificate),
            via_vendor: owned(&via.party.code),
            via_lot: owned(&via.lot),
            inferred,
        });
        return;
    }
    for c in &n.children {
        collect_origins(c, n, inferred, out);
    }
}

/// The trace snapshots of an entry, as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `done`, `no_lot` (the failed result names no lot) or `failed` (the trace could not run;
    /// the reason is kept in place of the recall scope).
    pub status: &'static str,
    pub recall: Option<String>,
    pub origins: Option<String>,
}

/// Traces forward and backward from an entry's failed result. A database error is returned (the
/// entry stays waiting and is traced again later); any other failure is the snapshot's answer.
pub fn snapshot(store: &dyn Store, entry: &RiskEntry) -> Result<Snapshot, StoreError> {
    let none = |status| Snapshot { status, recall: None, origins: None };
    let Some(start) = start_of(entry) else { return Ok(none("no_lot")) };
    let opts = TraceOptions::default();
    let traced = trace::forward(store, &start, &opts).and_then(|f| Ok((f, trace::backward(store, &start, &opts)?)));
    match traced {
        Ok((f, b)) => Ok(Snapshot {
            status: "done",
            recall: serde_json::to_string(&recall_scope(&f)).ok(),
            origins: serde_json::to_string(&origins(&b)).ok(),
        }),
        Err(TraceError::Store(e)) => Err(e),
        Err(TraceError::NoLot(_)) => Ok(none("no_lot")),
        Err(e) => Ok(Snapshot {
            status: "failed",
            recall: Some(serde_json::json!({ "error": e.to_string() }).to_string()),
            origins: None,
        }),
    }
}

/// Where an entry's traces start: its rapid test or sample (so the tested vendor's lot is used),
/// else its lot code.
fn start_of(entry: &RiskEntry) -> Option<Start> {
    match (entry.source_kind.as_str(), &entry.source_key, &entry.lot_code) {
        ("rapid_test", Some(k), _) => Some(Start::Test(k.clone())),
        ("sample", Some(k), _) => Some(Start::Sample(k.clone())),
        (_, _, Some(lot)) => Some(Start::Lot(lot.clone())),
        _ => None,
    }
}

/// The recall scope stored with an entry, if it was attached.
pub fn stored_recall(entry: &RiskEntry) -> Option<RecallScope> {
    entry.recall.as_deref().and_then(|j| serde_json::from_str(j).ok())
}

/// The origins stored with an entry, if they were attached.
pub fn stored_origins(entry: &RiskEntry) -> Option<Origins> {
    entry.origins.as_deref().and_then(|j| serde_json::from_str(j).ok())
}

/// The kind a ledger source names, for its natural key.
pub fn source_kind(code: &str) -> Option<Kind> {
    match code {
        "rapid_test" => Some(Kind::RapidTest),
        "sample" => Some(Kind::Sample),
        "complaint" => Some(Kind::Complaint),
        "inspection" => Some(Kind::Inspection),
        "case" => Some(Kind::Case),
        _ => None,
    }
}

/// A trace's short text as an owned string.
fn owned(s: &Option<CompactString>) -> Option<String> {
    s.as_deref().map(String::from)
}
