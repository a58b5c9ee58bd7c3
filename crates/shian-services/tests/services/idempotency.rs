//! Importing is idempotent: the same file twice changes nothing; a changed value updates the record
//! and keeps the previous version in its history.

use shian_domain::{Kind, Value};
use shian_store::{BatchOutcome, Store};

use crate::support::*;

const VENDORS: &str = "\
code,market,stall,name,subject_kind,phone,agreement_start
V1,M1,A-01,张三蔬菜,person,13803111234,2024-01-01
V2,M1,A-02,李四水果,individual_business,,2024-01-01
V3,M2,,王五粮油,enterprise,0311-86881234,
";

const RAPID: &str = "\
test_no,market,vendor,variety,item,method,value,result,tested_at
R1,M1,V1,010101,有机磷和氨基甲酸酯类农药,enzyme_inhibition,62.5,,2026-03-02 08:00
R2,M2,V3,0301,克伦特罗,colloidal_gold,,negative,2026-03-02 08:20
";

#[test]
fn the_same_file_twice_adds_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let vendors = write_file(dir.path(), "vendors.csv", VENDORS);
    let listing = write_file(dir.path(), "listing.csv", "vendor,variety,since\nV1,010101,2024-01-01\nV1,010601,\n");
    let rapid = write_file(dir.path(), "rapid.csv", RAPID);
    let files = [(Kind::Vendor, &vendors, 3), (Kind::VendorVariety, &listing, 2), (Kind::RapidTest, &rapid, 2)];

    for (kind, path, n) in files {
        let first = import_clean(&mut store, kind, path);
        assert_eq!(first.outcome, BatchOutcome { inserted: n, updated: 0, unchanged: 0 }, "{kind:?}");
    }
    let before: Vec<_> = files.iter().map(|(k, ..)| rows(&store, *k)).collect();

    for (kind, path, n) in files {
        let second = import_clean(&mut store, kind, path);
        assert_eq!(second.outcome, BatchOutcome { inserted: 0, updated: 0, unchanged: n }, "{kind:?}");
        assert_eq!(store.count(kind).unwrap(), n);
    }

    let after: Vec<_> = files.iter().map(|(k, ..)| rows(&store, *k)).collect();
    assert_eq!(before, after);
    let id = store.resolve(Kind::Vendor, &["V1"]).unwrap()[0].1;
    assert!(store.history(Kind::Vendor, id).unwrap().is_empty(), "nothing was replaced");
}

#[test]
fn a_changed_value_updates_the_record_and_keeps_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let first = write_file(dir.path(), "vendors.csv", VENDORS);
    import_clean(&mut store, Kind::Vendor, &first);
    let changed = VENDORS.replace("李四水果,individual_business,,", "李四水果,individual_business,13911112222,");
    let second = write_file(dir.path(), "vendors-2.csv", changed);

    let report = import_clean(&mut store, Kind::Vendor, &second);

    assert_eq!(report.outcome, BatchOutcome { inserted: 0, updated: 1, unchanged: 2 });
    assert_eq!(store.count(Kind::Vendor).unwrap(), 3);
    assert_eq!(value(&store, Kind::Vendor, "V2", "phone"), text("13911112222"));
    let id = store.resolve(Kind::Vendor, &["V2"]).unwrap()[0].1;
    let history = store.history(Kind::Vendor, id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].import_run, Some(report.run.0), "the version is tied to the run that replaced it");
    assert_eq!(history[0].previous["phone"], serde_json::Value::Null, "the old value was empty");
    assert_eq!(history[0].previous["name"], "李四水果");
    assert_eq!(history[0].previous["agreement_start"], "2024-01-01");
    let v1 = store.resolve(Kind::Vendor, &["V1"]).unwrap()[0].1;
    assert!(store.history(Kind::Vendor, v1).unwrap().is_empty(), "unchanged records keep no history");

    // Going back to the first file is a change too, and the history grows oldest first.
    let back = import_clean(&mut store, Kind::Vendor, &first);
    assert_eq!(back.outcome.updated, 1);
    let history = store.history(Kind::Vendor, id).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].previous["phone"], "13911112222");
    assert_eq!(value(&store, Kind::Vendor, "V2", "phone"), Value::Null);
}

#[test]
fn a_changed_reference_is_recorded_with_the_old_target() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    import_clean(&mut store, Kind::Vendor, &write_file(dir.path(), "vendors.csv", VENDORS));
    let moved = write_file(dir.path(), "moved.csv", VENDORS.replace("V1,M1,", "V1,M2,"));

    let report = import_clean(&mut store, Kind::Vendor, &moved);

    assert_eq!(report.outcome.updated, 1);
    assert_eq!(value(&store, Kind::Vendor, "V1", "market"), text("M2"));
    let id = store.resolve(Kind::Vendor, &["V1"]).unwrap()[0].1;
    let m1 = store.resolve(Kind::Market, &["M1"]).unwrap()[0].1;
    assert_eq!(store.history(Kind::Vendor, id).unwrap()[0].previous["market"], m1);
}

#[test]
fn spelling_a_value_differently_is_not_a_change() {
    // 自然人 and person, 2024/1/1 and 2024-01-01, 138-0311-1234 and 13803111234 are the same values.
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    import_clean(&mut store, Kind::Vendor, &write_file(dir.path(), "vendors.csv", VENDORS));
    let respelled = "销售者编码,市场编码,摊位号,销售者名称,主体类型,联系电话,协议开始日期\n\
                     V1,M1,A-01,张三蔬菜,自然人,138-0311-1234,2024/1/1\n";

    let report = import_clean(&mut store, Kind::Vendor, &write_file(dir.path(), "again.csv", respelled));

    assert_eq!(report.outcome, BatchOutcome { inserted: 0, updated: 0, unchanged: 1 });
}
