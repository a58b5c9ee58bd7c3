//! Mass balance per lot over hand-built lots: a lot received in kilograms and oversold in 斤, a
//! balanced lot across units, a lot whose units cannot be compared, and sales naming no lot left
//! out.

use shian_domain::{Kind, Value};
use shian_services::balance::{BalanceError, BalanceOptions, mass_balance};

use crate::support::text;
use crate::trace::{Chain, HOUR, T0, put};

/// A sale by `vendor` of celery from `lot` (or none) in `unit` to consumers.
fn sale(c: &mut Chain, ext: &str, vendor: &str, lot: Option<&str>, qty: f64, unit: &str) {
    let values = [
        ("source", text("T")),
        ("ext_id", text(ext)),
        ("vendor", Value::Int(c.id(Kind::Vendor, vendor))),
        ("variety", Value::Int(c.celery)),
        ("lot_code", lot.map(text).unwrap_or(Value::Null)),
        ("quantity", Value::Real(qty)),
        ("unit", text(unit)),
        ("sold_at", Value::Int(T0 + HOUR)),
        ("buyer_kind", text("consumer")),
    ];
    put(&mut c.s, Kind::Outbound, &values);
}

fn chain() -> Chain {
    let mut c = Chain::new();
    // W (market M1): 10 kg received, 25 斤 = 12.5 kg sold from the lot in two sales.
    c.receive_from_producer("W", "OVER", 10.0, T0);
    sale(&mut c, "S1", "W", Some("OVER"), 15.0, "jin");
    sale(&mut c, "S2", "W", Some("OVER"), 10.0, "斤");
    // A sale naming no lot is an inference, not a record: 100 kg more leaves the balance alone.
    sale(&mut c, "S3", "W", None, 100.0, "kg");
    // X (market M2): 50 kg received, 90 斤 = 45 kg sold — balanced.
    c.receive_from_producer("X", "OK", 50.0, T0);
    sale(&mut c, "S4", "X", Some("OK"), 90.0, "jin");
    // X: received by weight, sold in pieces — not comparable.
    c.receive_from_producer("X", "MIXED", 5.0, T0);
    sale(&mut c, "S5", "X", Some("MIXED"), 40.0, "piece");
    // R (market M2): a lot received only, never sold from, is not checked.
    c.receive_from_producer("R", "UNSOLD", 5.0, T0);
    c
}

#[test]
fn a_lot_oversold_in_jin_against_kilograms_is_a_violation_per_vendor_and_market() {
    let c = chain();
    let r = mass_balance(&c.s, &BalanceOptions::default()).unwrap();
    assert_eq!((r.lots_checked, r.unconvertible), (3, 1));
    assert_eq!(r.violations.len(), 1, "{:#?}", r.violations);
    let v = &r.violations[0];
    assert_eq!((v.vendor_code.as_str(), v.lot_code.as_str(), v.unit.as_str()), ("W", "OVER", "kg"));
    assert!((v.received - 10.0).abs() < 1e-9 && (v.sold - 12.5).abs() < 1e-9, "{v:?}");
    assert!((v.excess - 2.5).abs() < 1e-9);
    assert_eq!((v.receipts, v.sales, v.market.as_str()), (1, 2, "M1"));
    assert_eq!(r.per_vendor.len(), 1);
    assert_eq!((r.per_vendor[0].vendor_code.as_str(), r.per_vendor[0].violations), ("W", 1));
    assert_eq!(r.per_market.len(), 1);
    assert_eq!((r.per_market[0].market.as_str(), r.per_market[0].vendors), ("M1", 1));
    assert!((r.per_market[0].excess_kg - 2.5).abs() < 1e-9);
}

#[test]
fn a_market_filter_keeps_its_vendors_lots() {
    let c = chain();
    let only = |m: &str| mass_balance(&c.s, &BalanceOptions { market: Some(m.into()), ..Default::default() });
    let m2 = only("M2").unwrap();
    assert_eq!((m2.lots_checked, m2.violations.len(), m2.unconvertible), (2, 0, 1));
    assert_eq!(only("M1").unwrap().violations.len(), 1);
    assert!(matches!(only("NOPE"), Err(BalanceError::UnknownMarket(_))));
}

#[test]
fn a_tolerance_forgives_a_small_excess() {
    let c = chain();
    let opts = BalanceOptions { tolerance: 0.3, ..Default::default() };
    assert!(mass_balance(&c.s, &opts).unwrap().violations.is_empty());
}
