//! Reading records for people: lists with filters and keyset pagination, single records, and the
//! aggregates a dashboard shows, always inside a [`Scope`].
//!
//! The scope is part of the SQL, not a filter applied afterwards, so that a county regulator's
//! query never reads another county's rows into memory and a page of 50 is a page of 50. The SQL
//! is written here once for every backend; values from users are always bound, and the only
//! values written into the text are ids (integers) and region codes checked to be digits.

use shian_domain::access::Scope;
use shian_domain::field::FieldType;
use shian_domain::{Kind, KindDef, Value};

use crate::Result;
use crate::sql::q;

/// A condition on a list.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// A field equals a value (for a reference: the referenced record's natural key, as text).
    Eq(&'static str, Value),
    /// A field is at least a value.
    From(&'static str, Value),
    /// A field is at most a value.
    To(&'static str, Value),
    /// The natural key starts with, or the name contains, the text.
    Search(String),
    /// The record's market (directly or through its vendor) lies in a region: a code prefix.
    InRegion(String),
    /// A reference field holds the record with this id.
    RefId(&'static str, i64),
    /// A polymorphic reference (e.g. an outbound sale's buyer) holds the record of this kind
    /// (the choice code, e.g. `vendor`) with this id.
    PolyRefId(&'static str, &'static str, i64),
}

/// A page request.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    pub scope: &'a Scope,
    pub filters: Vec<Filter>,
    /// Keyset pagination: records with an id below this one (lists run newest first).
    pub before: Option<i64>,
    pub limit: usize,
}

/// A record read for display: its id, its values in the kind's field order (references as the
/// referenced natural keys), and beside each reference the referenced record's name if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: i64,
    pub values: Vec<Value>,
    pub labels: Vec<Option<String>>,
}

/// Counts per market and month (`YYYY-MM`, China time) of one kind: all, and failed where the
/// kind has a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketMonth {
    pub market: i64,
    pub month: String,
    pub count: u64,
    pub failed: u64,
}

/// Where a variety comes from and how much moves, within a scope: receipts per origin region
/// (from the certificates that came with them) and per month, per unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VarietyFlows {
    /// (origin region code or empty when no certificate, unit, receipts, quantity)
    pub sources: Vec<(String, String, u64, f64)>,
    /// (month `YYYY-MM`, unit, receipts, quantity)
    pub months: Vec<(String, String, u64, f64)>,
}

/// What the web and API layers read.
pub trait Queries {
    fn list(&self, kind: Kind, query: &ListQuery) -> Result<Vec<Listed>>;
    /// One record by id, `None` when it does not exist or lies outside the scope.
    fn get(&self, kind: Kind, id: i64, scope: &Scope) -> Result<Option<Listed>>;
    /// Records of a kind in the scope (exact; for small kinds and dashboards).
    fn count_in(&self, kind: Kind, scope: &Scope, filters: &[Filter]) -> Result<u64>;
    /// Per market and month counts of a market-bound kind (rapid tests, samples, inbound,
    /// outbound, complaints, inspections, cases), for the dashboard's trends and map.
    fn market_months(&self, kind: Kind) -> Result<Vec<MarketMonth>>;
    /// The routine records (market id, period code, period start) of the scope's markets whose
    /// period starts within `from..=to` (`YYYY-MM-DD`).
    fn routine_periods(&self, scope: &Scope, from: &str, to: &str) -> Result<Vec<(i64, String, String)>>;
    /// A variety's receipts in the scope's markets by origin and by month.
    fn variety_flows(&self, variety: i64, scope: &Scope) -> Result<VarietyFlows>;
    /// Per market, the distinct origin certificates that came with goods it received.
    fn certificates_by_market(&self) -> Result<Vec<(i64, u64)>>;
}

/// How a kind's rows reach a market, for scoping.
enum Path {
    /// Reference data everyone sees.
    Public,
    /// The row is a market.
    Market,
    /// The row has `market_id`.
    MarketId,
    /// The row has `vendor_id`.
    VendorId,
    /// The row has its own `region` column (producers, buyers) or `origin` (certificates).
    OwnRegion(&'static str),
    /// Samples: by market, or by their subject when it is a buyer or producer.
    Sample,
    /// Sample items: through their sample.
    SampleItem,
}

fn path(kind: Kind) -> Path {
    match kind {
        Kind::Region | Kind::Variety => Path::Public,
        Kind::Market => Path::Market,
        Kind::MarketStaff
        | Kind::Vendor
        | Kind::RapidTest
        | Kind::Inspection
        | Kind::RoutineRecord
        | Kind::Complaint
        | Kind::Case => Path::MarketId,
        Kind::VendorVariety | Kind::Inbound | Kind::Outbound => Path::VendorId,
        Kind::Producer | Kind::Buyer => Path::OwnRegion("region"),
        Kind::OriginCertificate | Kind::QuarantineCertificate => Path::OwnRegion("origin"),
        Kind::Sample => Path::Sample,
        Kind::SampleItem => Path::SampleItem,
    }
}

fn digits(s: &str) -> &str {
    assert!(s.bytes().all(|b| b.is_ascii_digit()), "region codes in SQL are digits only");
    s
}

fn markets_in(prefix: &str) -> String {
    format!("SELECT id FROM markets WHERE region LIKE '{}%'", digits(prefix))
}

fn vendors_in_markets(markets: &str) -> String {
    format!("SELECT id FROM vendors WHERE market_id IN ({markets})")
}

fn enterprise_buyers(e: i64) -> String {
    format!("SELECT id FROM buyers WHERE id = {e} OR chain_id = {e}")
}

/// The SQL condition (on alias `a`) that keeps a kind's rows inside a scope.
pub fn scope_condition(kind: Kind, scope: &Scope, a: &str) -> String {
    let markets = match scope {
        Scope::All => return "1 = 1".into(),
        Scope::Region(code) => markets_in(Scope::region_prefix(code)),
        Scope::Market(m) => format!("SELECT {m}"),
        Scope::Enterprise(_) => "SELECT NULL WHERE 0".into(),
    };
    match (path(kind), scope) {
        (Path::Public, _) => "1 = 1".into(),
        (Path::Market, _) => format!("{a}.id IN ({markets})"),
        (Path::MarketId, _) => format!("{a}.market_id IN ({markets})"),
        (Path::VendorId, Scope::Enterprise(e)) if kind == Kind::Outbound => {
            format!("{a}.buyer_kind <> 'vendor' AND {a}.buyer_id IN ({})", enterprise_buyers(*e))
        }
        (Path::VendorId, _) => format!("{a}.vendor_id IN ({})", vendors_in_markets(&markets)),
        (Path::OwnRegion(col), Scope::Region(code)) => {
            format!("{a}.{} LIKE '{}%'", q(col), digits(Scope::region_prefix(code)))
        }
        (Path::OwnRegion(_), Scope::Enterprise(e)) if kind == Kind::Buyer => {
            format!("{a}.id IN ({})", enterprise_buyers(*e))
        }
        (Path::OwnRegion(_), _) => "0 = 1".into(),
        (Path::Sample, Scope::Region(code)) => {
            let p = digits(Scope::region_prefix(code));
            format!(
                "({a}.market_id IN ({markets}) OR ({a}.subject_kind = 'buyer' AND {a}.subject_id IN \
                 (SELECT id FROM buyers WHERE region LIKE '{p}%')) OR ({a}.subject_kind = 'producer' AND \
                 {a}.subject_id IN (SELECT id FROM producers WHERE region LIKE '{p}%')))"
            )
        }
        (Path::Sample, Scope::Enterprise(e)) => {
            format!("({a}.subject_kind = 'buyer' AND {a}.subject_id IN ({}))", enterprise_buyers(*e))
        }
        (Path::Sample, _) => format!("{a}.market_id IN ({markets})"),
        (Path::SampleItem, _) => {
            format!("{a}.sample_id IN (SELECT s.id FROM samples s WHERE {})", scope_condition(Kind::Sample, scope, "s"))
        }
    }
}

/// `SELECT t.id, <fields with references as natural keys>, <names of referenced records>` and
/// its joins, for the list and get queries.
pub fn select_listed(def: &KindDef) -> (String, String) {
    let mut select = vec!["t.\"id\"".to_string()];
    let mut names = Vec::new();
    let mut joins = Vec::new();
    for (i, field) in def.fields.iter().enumerate() {
        let col = format!("t.{}", q(&field.column()));
        let mut join = |target: Kind, cond: Option<String>, n: usize| {
            let tdef = target.def();
            let alias = format!("r{n}");
            let extra = cond.map(|c| format!(" AND {c}")).unwrap_or_default();
            joins.push(format!("LEFT JOIN {} {alias} ON {alias}.\"id\" = {col}{extra}", q(tdef.table)));
            let key = format!("{alias}.{}", q(&tdef.single_key().expect("single key").column()));
            let name = tdef.field("name").map(|_| format!("{alias}.\"name\""));
            (key, name)
        };
        match field.ty {
            FieldType::Ref(target) => {
                let (key, name) = join(target, None, i);
                select.push(key);
                names.push(name.unwrap_or_else(|| "NULL".into()));
            }
            FieldType::PolyRef { kind_field } => {
                let FieldType::Enum(choices) = def.field(kind_field).expect("kind field").1.ty else {
                    unreachable!("a polymorphic reference's kind field is an enum")
                };
                let (mut keys, mut labels) = (Vec::new(), Vec::new());
                for (j, choice) in choices.iter().enumerate() {
                    if let Some(target) = choice.target {
                        let cond = format!("t.{} = '{}'", q(kind_field), choice.code);
                        let (key, name) = join(target, Some(cond.clone()), i * 100 + j);
                        keys.push(format!("WHEN {cond} THEN {key}"));
                        labels.push(format!("WHEN {cond} THEN {}", name.unwrap_or_else(|| "NULL".into())));
                    }
                }
                select.push(format!("CASE {} END", keys.join(" ")));
                names.push(format!("CASE {} END", labels.join(" ")));
            }
            _ => {
                select.push(col);
                names.push("NULL".into());
            }
        }
    }
    select.extend(names);
    (select.join(", "), joins.join(" "))
}

/// The column a filter on `field` compares (the referenced key for references).
pub fn filter_column(def: &KindDef, field: &str) -> Option<String> {
    let (i, f) = def.field(field)?;
    Some(match f.ty {
        FieldType::Ref(target) => {
            format!("r{i}.{}", q(&target.def().single_key().expect("single key").column()))
        }
        FieldType::PolyRef { .. } => return None,
        _ => format!("t.{}", q(&f.column())),
    })
}

/// The text a search matches: the natural key (prefix) and the name (substring) where there is
/// one. Returns the condition and how many times the search text is bound.
pub fn search_condition(def: &KindDef) -> (String, usize) {
    let key = filter_column(def, def.key[0]).expect("key column");
    match def.field("name") {
        Some(_) => (format!("({key} LIKE ? || '%' OR t.\"name\" LIKE '%' || ? || '%')"), 2),
        None => (format!("{key} LIKE ? || '%'"), 1),
    }
}

/// The market a row of a market-bound kind belongs to, as an SQL expression on alias `t`.
pub fn market_of(kind: Kind) -> Option<&'static str> {
    match path(kind) {
        Path::MarketId | Path::Sample => Some("t.market_id"),
        Path::VendorId => Some("(SELECT v.market_id FROM vendors v WHERE v.id = t.vendor_id)"),
        _ => None,
    }
}

/// The time column that orders a kind's records in time, for trends and date filters.
pub fn time_field(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Inbound => "received_at",
        Kind::Outbound => "sold_at",
        Kind::RapidTest => "tested_at",
        Kind::Sample => "sampled_on",
        Kind::Inspection => "inspected_on",
        Kind::Complaint => "received_at",
        Kind::Case => "opened_on",
        Kind::RoutineRecord => "period_start",
        Kind::OriginCertificate | Kind::QuarantineCertificate => "issued_on",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_scope_condition_for_every_scope() {
        for kind in Kind::ALL {
            for scope in [Scope::All, Scope::Region("130102".into()), Scope::Market(3), Scope::Enterprise(9)] {
                let cond = scope_condition(kind, &scope, "t");
                assert!(!cond.is_empty());
            }
        }
        let c = scope_condition(Kind::Outbound, &Scope::Region("130100".into()), "t");
        assert!(c.contains("LIKE '1301%'"), "{c}");
    }

    #[test]
    #[should_panic(expected = "digits only")]
    fn region_codes_that_are_not_digits_never_reach_sql() {
        scope_condition(Kind::Market, &Scope::Region("13' OR 1=1 --".into()), "t");
    }
}
