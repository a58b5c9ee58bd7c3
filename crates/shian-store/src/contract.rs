//! The storage contract: behaviour every [`Store`] backend must show. A backend's tests call
//! [`run_all`] with a factory of empty stores.

use shian_domain::{Kind, Value, catalogue, region};

use crate::{BatchOutcome, LotFlow, Movement, Row, RunSummary, Store, TestedLot, row};

/// A factory of fresh, empty, migrated stores.
pub type Factory<'a> = &'a dyn Fn() -> Box<dyn Store>;

/// Runs every contract check against stores from `make`; panics on the first violation.
pub fn run_all(make: Factory<'_>) {
    reference_data_is_present(make().as_mut());
    same_rows_twice_change_nothing(make().as_mut());
    a_changed_row_updates_and_keeps_its_previous_version(make().as_mut());
    a_failing_batch_stores_none_of_its_rows(make().as_mut());
    references_are_scanned_as_natural_keys(make().as_mut());
    insert_new_refuses_duplicates(make().as_mut());
    suspended_indexes_come_back(make().as_mut());
    import_runs_are_recorded(make().as_mut());
    trace_queries_follow_lots(make().as_mut());
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn market(code: &str, name: &str) -> Row {
    row(
        Kind::Market,
        &[("code", text(code)), ("name", text(name)), ("market_kind", text("wholesale")), ("region", text("130102"))],
    )
}

fn vendor(s: &mut dyn Store, code: &str, market_code: &str) -> Row {
    let market_id = s.resolve(Kind::Market, &[market_code]).unwrap()[0].1;
    row(
        Kind::Vendor,
        &[
            ("code", text(code)),
            ("market", Value::Int(market_id)),
            ("name", text("张三蔬菜")),
            ("subject_kind", text("person")),
        ],
    )
}

fn reference_data_is_present(s: &mut dyn Store) {
    assert_eq!(s.count(Kind::Region).unwrap() as usize, region::all().len());
    assert_eq!(s.count(Kind::Variety).unwrap() as usize, catalogue::varieties().len());
    assert_eq!(s.resolve(Kind::Variety, &["010101"]).unwrap().len(), 1, "celery is in the catalogue");
}

fn same_rows_twice_change_nothing(s: &mut dyn Store) {
    let rows = vec![market("M1", "新发地"), market("M2", "桥西农贸")];
    assert_eq!(
        s.write_batch(Kind::Market, &rows, None).unwrap(),
        BatchOutcome { inserted: 2, updated: 0, unchanged: 0 }
    );
    assert_eq!(
        s.write_batch(Kind::Market, &rows, None).unwrap(),
        BatchOutcome { inserted: 0, updated: 0, unchanged: 2 }
    );
    assert_eq!(s.count(Kind::Market).unwrap(), 2);
}

fn a_changed_row_updates_and_keeps_its_previous_version(s: &mut dyn Store) {
    s.write_batch(Kind::Market, &[market("M1", "旧名")], None).unwrap();
    let out = s.write_batch(Kind::Market, &[market("M1", "新名")], None).unwrap();
    assert_eq!(out.updated, 1);
    let id = s.find(Kind::Market, &[text("M1")]).unwrap().expect("M1 stored");
    let history = s.history(Kind::Market, id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].previous["name"], "旧名");
    let mut names = Vec::new();
    s.scan(Kind::Market, &mut |r| {
        names.push(r[1].clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(names, vec![text("新名")]);
}

fn a_failing_batch_stores_none_of_its_rows(s: &mut dyn Store) {
    s.write_batch(Kind::Market, &[market("M1", "市场")], None).unwrap();
    let good = vendor(s, "V1", "M1");
    let mut bad = vendor(s, "V2", "M1");
    bad[1] = Value::Int(999_999); // no such market
    assert!(s.write_batch(Kind::Vendor, &[good, bad], None).is_err());
    assert_eq!(s.count(Kind::Vendor).unwrap(), 0, "the good row of a failed batch must not stay");
}

fn references_are_scanned_as_natural_keys(s: &mut dyn Store) {
    s.write_batch(Kind::Market, &[market("M9", "市场")], None).unwrap();
    let v = vendor(s, "V9", "M9");
    s.write_batch(Kind::Vendor, &[v], None).unwrap();
    let mut seen = Vec::new();
    s.scan(Kind::Vendor, &mut |r| {
        seen.push((r[0].clone(), r[1].clone()));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, vec![(text("V9"), text("M9"))]);

    let vendor_id = s.resolve(Kind::Vendor, &["V9"]).unwrap()[0].1;
    let celery = s.resolve(Kind::Variety, &["010101"]).unwrap()[0].1;
    let sale = row(
        Kind::Outbound,
        &[
            ("source", text("SYS")),
            ("ext_id", text("1")),
            ("vendor", Value::Int(vendor_id)),
            ("variety", Value::Int(celery)),
            ("quantity", Value::Real(2.5)),
            ("unit", text("kg")),
            ("sold_at", Value::Int(1_770_000_000)),
            ("buyer_kind", text("vendor")),
            ("buyer", Value::Int(vendor_id)),
        ],
    );
    s.write_batch(Kind::Outbound, &[sale], None).unwrap();
    let def = Kind::Outbound.def();
    let buyer = def.field("buyer").unwrap().0;
    s.scan(Kind::Outbound, &mut |r| {
        assert_eq!(r[buyer], text("V9"), "a polymorphic reference is scanned as its target's key");
        Ok(())
    })
    .unwrap();
}

fn insert_new_refuses_duplicates(s: &mut dyn Store) {
    assert_eq!(s.insert_new(Kind::Market, &mut vec![market("M1", "a")].into_iter()).unwrap(), 1);
    assert!(s.insert_new(Kind::Market, &mut vec![market("M1", "b")].into_iter()).is_err());
    assert_eq!(s.count(Kind::Market).unwrap(), 1);
}

fn suspended_indexes_come_back(s: &mut dyn Store) {
    s.suspend_indexes(Kind::Market).unwrap();
    s.insert_new(Kind::Market, &mut (0..100).map(|i| market(&format!("M{i}"), "市场"))).unwrap();
    s.restore_indexes().unwrap();
    assert_eq!(s.count(Kind::Market).unwrap(), 100);
    assert!(s.find(Kind::Market, &[text("M42")]).unwrap().is_some());
}

fn import_runs_are_recorded(s: &mut dyn Store) {
    let run = s.begin_run(Kind::Market, "markets.csv").unwrap();
    let outcome = s.write_batch(Kind::Market, &[market("M1", "a")], Some(run)).unwrap();
    s.finish_run(run, "finished", RunSummary { rows_read: 1, rejected: 0, outcome }).unwrap();
    s.write_batch(Kind::Market, &[market("M1", "b")], Some(run)).unwrap();
    let id = s.find(Kind::Market, &[text("M1")]).unwrap().unwrap();
    assert_eq!(s.history(Kind::Market, id).unwrap()[0].import_run, Some(run.0));
}

/// Writes one row of a kind and returns its id.
fn put(s: &mut dyn Store, kind: Kind, values: &[(&str, Value)]) -> i64 {
    let r = row(kind, values);
    s.write_batch(kind, std::slice::from_ref(&r), None).unwrap();
    let key: Vec<Value> = kind.def().key_positions().iter().map(|&i| r[i].clone()).collect();
    s.find(kind, &key).unwrap().expect("just written")
}

fn receipt(
    vendor: i64,
    variety: i64,
    ext: &str,
    lot: &str,
    at: i64,
    supplier: (&str, Option<i64>, Option<&str>),
) -> Row {
    let opt = |v: Option<i64>| v.map(Value::Int).unwrap_or(Value::Null);
    row(
        Kind::Inbound,
        &[
            ("source", text("SYS")),
            ("ext_id", text(ext)),
            ("vendor", Value::Int(vendor)),
            ("variety", Value::Int(variety)),
            ("lot_code", text(lot)),
            ("quantity", Value::Real(100.0)),
            ("unit", text("kg")),
            ("received_at", Value::Int(at)),
            ("supplier_kind", text(supplier.0)),
            ("supplier", opt(supplier.1)),
            ("supplier_lot", supplier.2.map(text).unwrap_or(Value::Null)),
        ],
    )
}

fn sale(vendor: i64, variety: i64, ext: &str, lot: Option<&str>, at: i64, buyer: (&str, i64)) -> Row {
    row(
        Kind::Outbound,
        &[
            ("source", text("SYS")),
            ("ext_id", text(ext)),
            ("vendor", Value::Int(vendor)),
            ("variety", Value::Int(variety)),
            ("lot_code", lot.map(text).unwrap_or(Value::Null)),
            ("quantity", Value::Real(40.0)),
            ("unit", text("kg")),
            ("sold_at", Value::Int(at)),
            ("buyer_kind", text(buyer.0)),
            ("buyer", Value::Int(buyer.1)),
        ],
    )
}

fn ext_ids(ms: &[Movement]) -> Vec<&str> {
    ms.iter().map(|m| m.ext_id.as_str()).collect()
}

/// The typed queries of a trace: lots, their sales and receipts, downstream lots, inference
/// candidates, certificates, parties, tests and samples.
fn trace_queries_follow_lots(s: &mut dyn Store) {
    s.write_batch(Kind::Market, &[market("M1", "批发市场")], None).unwrap();
    let (v1, v2) = (vendor(s, "V1", "M1"), vendor(s, "V2", "M1"));
    s.write_batch(Kind::Vendor, &[v1, v2], None).unwrap();
    let ids = s.resolve(Kind::Vendor, &["V1", "V2"]).unwrap();
    let id = |code: &str| ids.iter().find(|(c, _)| c == code).unwrap().1;
    let (v1, v2) = (id("V1"), id("V2"));
    let celery = s.resolve(Kind::Variety, &["010101"]).unwrap()[0].1;
    let producer = put(
        s,
        Kind::Producer,
        &[
            ("code", text("P1")),
            ("name", text("合作社")),
            ("producer_kind", text("cooperative")),
            ("region", text("130102")),
        ],
    );
    let cert = put(
        s,
        Kind::OriginCertificate,
        &[
            ("cert_no", text("C1")),
            ("producer", Value::Int(producer)),
            ("variety", Value::Int(celery)),
            ("quantity", Value::Real(100.0)),
            ("unit", text("kg")),
            ("origin", text("130102")),
            ("issued_on", text("2026-01-01")),
            ("basis", text("self_test")),
        ],
    );
    let school = put(
        s,
        Kind::Buyer,
        &[
            ("code", text("B1")),
            ("buyer_kind", text("canteen")),
            ("canteen_kind", text("school")),
            ("name", text("一中食堂")),
            ("region", text("130102")),
        ],
    );
    let t = 1_770_000_000;
    let mut first = receipt(v1, celery, "IN1", "L1", t, ("producer", Some(producer), None));
    first[Kind::Inbound.def().field("certificate").unwrap().0] = Value::Int(cert);
    let receipts = vec![
        first,
        receipt(v2, celery, "IN2", "L2", t + 3600, ("vendor", Some(v1), Some("L1"))),
        receipt(v2, celery, "IN3", "L3", t + 7200, ("vendor", Some(v1), None)),
    ];
    s.write_batch(Kind::Inbound, &receipts, None).unwrap();
    let sales = vec![
        sale(v1, celery, "OUT1", Some("L1"), t + 1800, ("vendor", v2)),
        sale(v1, celery, "OUT2", None, t + 5400, ("canteen", school)),
    ];
    s.write_batch(Kind::Outbound, &sales, None).unwrap();

    assert_eq!(s.lot_holders("L1").unwrap(), vec![v1]);
    assert_eq!(ext_ids(&s.receipts_of_lot(v1, "L1").unwrap()), ["IN1"]);
    assert!(s.receipts_of_lot(v2, "L1").unwrap().is_empty(), "a lot is a vendor's");
    let sold = s.sales_of_lot(v1, "L1").unwrap();
    assert_eq!((ext_ids(&sold), sold[0].party_kind.as_str(), sold[0].party_id), (vec!["OUT1"], "vendor", Some(v2)));
    assert_eq!(ext_ids(&s.receipts_between(v2, celery, t, t + 7200).unwrap()), ["IN2", "IN3"]);
    assert_eq!(ext_ids(&s.receipts_between(v2, celery, t, t + 3600).unwrap()), ["IN2"]);
    assert_eq!(ext_ids(&s.unlotted_sales(v1, celery, t, t + 86_400).unwrap()), ["OUT2"]);
    assert_eq!(ext_ids(&s.receipts_from_lot(v1, "L1").unwrap()), ["IN2"]);
    assert_eq!(ext_ids(&s.unlotted_receipts_from(v1, celery, t, t + 86_400).unwrap()), ["IN3"]);
    let with_cert = s.receipts_with_certificate(cert).unwrap();
    assert_eq!((ext_ids(&with_cert), with_cert[0].certificate_id), (vec!["IN1"], Some(cert)));
    assert_eq!(ext_ids(&s.receipts_from_producer(producer, t, t + 86_400).unwrap()), ["IN1"]);
    assert!(s.receipts_from_producer(producer, t + 1, t + 86_400).unwrap().is_empty(), "the range is kept");
    assert_eq!(ext_ids(&s.sales_to_buyer(school, t, t + 86_400).unwrap()), ["OUT2"]);
    assert!(s.sales_to_buyer(school, t, t + 5399).unwrap().is_empty(), "the range is kept");
    assert!(s.sales_to_buyer(v2, t, t + 86_400).unwrap().is_empty(), "a vendor is not a downstream buyer");
    let out1 = s.find(Kind::Outbound, &[text("SYS"), text("OUT1")]).unwrap().unwrap();
    assert_eq!(s.movement(Kind::Outbound, out1).unwrap().unwrap().lot_code.as_deref(), Some("L1"));
    assert!(s.movement(Kind::Inbound, 999_999).unwrap().is_none());
    let canteen = s.party(Kind::Buyer, school).unwrap().unwrap();
    assert_eq!((canteen.code.as_str(), canteen.canteen_kind.as_deref()), ("B1", Some("school")));
    assert_eq!(canteen.region.as_deref(), Some("130102"));
    assert_eq!(s.party(Kind::Vendor, v1).unwrap().unwrap().detail.as_deref(), Some("批发市场"));
    assert_eq!(s.certificate(cert).unwrap().unwrap().producer_id, producer);

    put(
        s,
        Kind::Sample,
        &[
            ("sample_no", text("S1")),
            ("subject_kind", text("vendor")),
            ("subject", Value::Int(v2)),
            ("variety", Value::Int(celery)),
            ("lot_code", text("L2")),
            ("sampled_on", text("2026-01-02")),
        ],
    );
    assert_eq!(
        s.tested_lot(Kind::Sample, "S1").unwrap(),
        Some(TestedLot { vendor_id: Some(v2), lot_code: Some("L2".into()) })
    );
    assert_eq!(s.tested_lot(Kind::RapidTest, "none").unwrap(), None);

    let flows = |s: &dyn Store, market: Option<i64>| {
        let mut out = Vec::new();
        s.lot_flows(market, &mut |f| {
            out.push(f.clone());
            Ok(())
        })
        .unwrap();
        out
    };
    let flow = |vendor: i64, lot: &str, sold: f64, sales: u64| LotFlow {
        vendor_id: vendor,
        lot_code: lot.into(),
        unit: "kg".into(),
        received: 100.0,
        sold,
        receipts: 1,
        sales,
    };
    let all = vec![flow(v1, "L1", 40.0, 1), flow(v2, "L2", 0.0, 0), flow(v2, "L3", 0.0, 0)];
    assert_eq!(flows(s, None), all, "only sales naming the lot count");
    let m1 = s.resolve(Kind::Market, &["M1"]).unwrap()[0].1;
    assert_eq!(flows(s, Some(m1)), all);
    assert!(flows(s, Some(m1 + 1000)).is_empty());
}
