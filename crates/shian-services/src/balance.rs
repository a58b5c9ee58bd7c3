//! Mass balance (物料平衡) per lot: what a vendor sold from a lot may not exceed what it received
//! into it. Quantities are compared in kilograms when every unit of the lot is a mass (斤, 公斤,
//! 克, 吨); a lot recorded in one other unit (pieces, cases) is compared in that unit; a lot mixing
//! a mass with pieces or cases cannot be compared and is counted apart.
//!
//! Only sales that name the lot count: an inferred link (a sale naming no lot) is a guess, not a
//! record, and is left out. A violation is a data-quality signal — a sale recorded against the
//! wrong lot, a receipt not recorded, a unit mistyped — listed per vendor and per market.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use shian_domain::unit::{self, Unit};
use shian_domain::{Kind, Lang};
use shian_store::{LotFlow, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no market has the code {0:?}")]
    UnknownMarket(String),
}

impl BalanceError {
    /// The message for a person, in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        match (self, lang) {
            (BalanceError::UnknownMarket(c), Lang::Zh) => format!("找不到市场编码“{c}”"),
            (BalanceError::Store(e), Lang::Zh) => format!("数据库错误：{e}"),
            (e, Lang::En) => e.to_string(),
        }
    }
}

/// Which lots to check.
#[derive(Debug, Clone, Default)]
pub struct BalanceOptions {
    /// A market code: only its vendors' lots.
    pub market: Option<String>,
    /// Sales may exceed receipts by this fraction before it is a violation (0 by default; a
    /// rounding margin of a millionth is always allowed).
    pub tolerance: f64,
}

/// A lot that sold more than it received.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub vendor_id: i64,
    pub vendor_code: String,
    pub vendor_name: String,
    /// The vendor's market name.
    pub market: String,
    pub lot_code: String,
    /// Received and sold in `unit` (`kg` when every unit of the lot is a mass).
    pub received: f64,
    pub sold: f64,
    pub excess: f64,
    pub unit: String,
    pub receipts: u64,
    pub sales: u64,
}

/// Violations of one vendor.
#[derive(Debug, Clone, Serialize)]
pub struct VendorBalance {
    pub vendor_id: i64,
    pub vendor_code: String,
    pub vendor_name: String,
    pub market: String,
    pub violations: usize,
    /// Kilograms sold beyond receipts over its mass lots.
    pub excess_kg: f64,
}

/// Violations in one market.
#[derive(Debug, Clone, Serialize)]
pub struct MarketBalance {
    pub market: String,
    pub vendors: usize,
    pub violations: usize,
    pub excess_kg: f64,
}

/// The mass balance of every lot with a sale naming it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BalanceReport {
    /// Lots with at least one sale naming them.
    pub lots_checked: u64,
    /// Lots whose units cannot be compared (a mass with pieces or cases).
    pub unconvertible: u64,
    /// Largest excess first (kilogram lots before the others).
    pub violations: Vec<Violation>,
    /// Most violations first.
    pub per_vendor: Vec<VendorBalance>,
    /// Most violations first.
    pub per_market: Vec<MarketBalance>,
}

/// Received and sold of one lot, in a common unit; `None` when its units cannot be compared.
fn compare(flows: &[LotFlow]) -> Option<(f64, f64, String)> {
    let units: Option<Vec<Unit>> = flows.iter().map(|f| Unit::parse(&f.unit)).collect();
    if let Some(units) = units.filter(|us| us.iter().all(|u| u.kg_factor().is_some())) {
        let kg = |q: f64, u: Unit| unit::convert(q, u, Unit::Kg).unwrap_or(0.0);
        let received = flows.iter().zip(&units).map(|(f, u)| kg(f.received, *u)).sum();
        let sold = flows.iter().zip(&units).map(|(f, u)| kg(f.sold, *u)).sum();
        return Some((received, sold, "kg".into()));
    }
    let first = &flows[0];
    let same = |f: &LotFlow| {
        f.unit == first.unit || (Unit::parse(&f.unit).is_some() && Unit::parse(&f.unit) == Unit::parse(&first.unit))
    };
    if flows.iter().all(same) {
        let unit = Unit::parse(&first.unit).map(|u| u.code().to_string()).unwrap_or_else(|| first.unit.clone());
        return Some((flows.iter().map(|f| f.received).sum(), flows.iter().map(|f| f.sold).sum(), unit));
    }
    None
}

/// Checks sold ≤ received for every lot (of a market's vendors, if asked).
pub fn mass_balance(store: &dyn Store, opts: &BalanceOptions) -> Result<BalanceReport, BalanceError> {
    let market = match &opts.market {
        Some(code) => {
            let found = store.resolve(Kind::Market, &[code.as_str()])?;
            Some(found.first().map(|(_, id)| *id).ok_or_else(|| BalanceError::UnknownMarket(code.clone()))?)
        }
        None => None,
    };
    let mut report = BalanceReport::default();
    let mut raw: Vec<(i64, String, f64, f64, String, u64, u64)> = Vec::new();
    let mut lot: Vec<LotFlow> = Vec::new();
    let mut check = |lot: &mut Vec<LotFlow>, report: &mut BalanceReport| {
        if lot.iter().any(|f| f.sales > 0) {
            report.lots_checked += 1;
            match compare(lot) {
                Some((received, sold, unit)) => {
                    if sold > received * (1.0 + opts.tolerance.max(0.0) + 1e-6) + 1e-9 {
                        let receipts = lot.iter().map(|f| f.receipts).sum();
                        let sales = lot.iter().map(|f| f.sales).sum();
                        raw.push((lot[0].vendor_id, lot[0].lot_code.clone(), received, sold, unit, receipts, sales));
                    }
                }
                None => report.unconvertible += 1,
            }
        }
        lot.clear();
    };
    store.lot_flows(market, &mut |f| {
        if lot.first().is_some_and(|l| l.vendor_id != f.vendor_id || l.lot_code != f.lot_code) {
            check(&mut lot, &mut report);
        }
        lot.push(f.clone());
        Ok(())
    })?;
    check(&mut lot, &mut report);

    let mut vendors: HashMap<i64, (String, String, String)> = HashMap::new();
    for (vendor, lot_code, received, sold, unit, receipts, sales) in raw {
        if let std::collections::hash_map::Entry::Vacant(e) = vendors.entry(vendor) {
            let p = store.party(Kind::Vendor, vendor)?;
            e.insert(match p {
                Some(p) => (p.code, p.name, p.detail.unwrap_or_default()),
                None => (vendor.to_string(), String::new(), String::new()),
            });
        }
        let (code, name, market) = vendors[&vendor].clone();
        report.violations.push(Violation {
            vendor_id: vendor,
            vendor_code: code,
            vendor_name: name,
            market,
            lot_code,
            received,
            sold,
            excess: sold - received,
            unit,
            receipts,
            sales,
        });
    }
    report.violations.sort_by(|a, b| {
        (b.unit == "kg").cmp(&(a.unit == "kg")).then(b.excess.total_cmp(&a.excess)).then(a.lot_code.cmp(&b.lot_code))
    });

    let mut per_vendor: BTreeMap<i64, VendorBalance> = BTreeMap::new();
    for v in &report.violations {
        let e = per_vendor.entry(v.vendor_id).or_insert_with(|| VendorBalance {
            vendor_id: v.vendor_id,
            vendor_code: v.vendor_code.clone(),
            vendor_name: v.vendor_name.clone(),
            market: v.market.clone(),
            violations: 0,
            excess_kg: 0.0,
        });
        e.violations += 1;
        e.excess_kg += if v.unit == "kg" { v.excess } else { 0.0 };
    }
    let mut per_market: BTreeMap<String, MarketBalance> = BTreeMap::new();
    for v in per_vendor.values() {
        let e = per_market.entry(v.market.clone()).or_insert_with(|| MarketBalance {
            market: v.market.clone(),
            vendors: 0,
            violations: 0,
            excess_kg: 0.0,
        });
        e.vendors += 1;
        e.violations += v.violations;
        e.excess_kg += v.excess_kg;
    }
    report.per_vendor = per_vendor.into_values().collect();
    report.per_vendor.sort_by(|a, b| b.violations.cmp(&a.violations).then(b.excess_kg.total_cmp(&a.excess_kg)));
    report.per_market = per_market.into_values().collect();
    report.per_market.sort_by(|a, b| b.violations.cmp(&a.violations).then(b.excess_kg.total_cmp(&a.excess_kg)));
    Ok(report)
}
