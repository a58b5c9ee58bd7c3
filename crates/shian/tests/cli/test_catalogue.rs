//! `shian test`: the catalogue as stored, an administrator's change with its history, results.

use crate::support::*;

#[test]
fn the_catalogue_is_listed_changed_with_history_and_results_filtered() {
    let db = Db::copy_of_fixture();
    let items = db.run(&["test", "items"]);
    items.ok();
    assert!(items.stdout.contains("毒死蜱") && items.stdout.contains("GB 2763-2021"), "{}", items.stdout);
    let changed = db.run(&["test", "set-limit", "chlorpyrifos", "010101", "--limit", "0.1"]);
    changed.ok();
    assert!(changed.stdout.contains("原版本已保留"), "{}", changed.stdout);
    let store = shian_store::open(&db.url()).unwrap();
    let item = store.test_items().unwrap().into_iter().find(|i| i.code == "chlorpyrifos").unwrap();
    assert_eq!(item.limit_mg_kg, 0.1);
    assert_eq!(store.test_item_history(item.id).unwrap()[0].previous["limit_mg_kg"], 0.05);
    let bad = db.run(&["test", "set-limit", "chlorpyrifos", "010101", "--limit=-1"]);
    bad.code(1);
    assert!(bad.stderr.contains("不小于 0"), "{}", bad.stderr);
    let failed = db.run(&["test", "results", "--failed", "--json", "--limit", "50"]);
    failed.ok();
    let rows: serde_json::Value = serde_json::from_str(&failed.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty(), "the fixture has failed results");
    assert!(rows.iter().all(|r| r["verdict"] == "fail"));
}
