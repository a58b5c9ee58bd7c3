//! The storage contract: behaviour every [`Store`] backend must show. A backend's tests call
//! [`run_all`] with a factory of empty stores.

use shian_domain::{Kind, Value, catalogue, region};

use crate::{BatchOutcome, Row, RunSummary, Store, row};

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
