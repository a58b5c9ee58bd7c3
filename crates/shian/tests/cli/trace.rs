//! `shian trace back | forward`: on the small province, a vendor-to-vendor hop both ways, JSON
//! output, inferred links shown and left out, and an unknown reference refused.

use shian_store::sqlite::SqliteStore;

use crate::support::*;

/// A query's first row, as text columns, on the fixture province.
fn first(sql: &str) -> Vec<String> {
    let store = SqliteStore::open(fixture().path.to_str().unwrap()).unwrap();
    store
        .connection()
        .query_row(sql, [], |r| (0..r.as_ref().column_count()).map(|i| r.get::<_, String>(i)).collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn a_hop_between_vendors_is_traced_back_and_forward() {
    let hop = first(
        "SELECT lot_code, supplier_lot FROM inbound WHERE supplier_kind = 'vendor' AND supplier_lot IS NOT NULL
         ORDER BY id LIMIT 1",
    );
    let (lot, upstream) = (&hop[0], &hop[1]);
    let back = fixture().run(&["trace", "back", lot]);
    back.ok();
    assert!(back.stdout.contains("逆向追溯"), "{}", back.stdout);
    assert!(back.stdout.contains(&format!("批次 {upstream}")), "{}", back.stdout);
    assert!(back.stdout.contains("生产者") && back.stdout.contains("合格证"), "{}", back.stdout);

    let fwd = fixture().run_en(&["trace", "forward", "--lot", upstream, "--json"]);
    fwd.ok();
    let tree: serde_json::Value = serde_json::from_str(&fwd.stdout).expect("JSON");
    let children = tree["roots"][0]["children"].as_array().expect("children");
    assert!(children.iter().any(|c| c["lot"] == lot.as_str()), "{lot} is among the recipients of {upstream}");
    assert_eq!(tree["direction"], "forward");
}

#[test]
fn an_inferred_link_is_marked_and_confirmed_only_leaves_it_out() {
    let sale = first(
        "SELECT o.source || ',' || o.ext_id FROM outbound o WHERE o.lot_code IS NULL AND EXISTS (
           SELECT 1 FROM inbound i WHERE i.vendor_id = o.vendor_id AND i.variety_id = o.variety_id
           AND i.received_at BETWEEN o.sold_at - 259200 AND o.sold_at) ORDER BY o.id LIMIT 1",
    );
    let all = fixture().run(&["trace", "back", "--sale", &sale[0]]);
    all.ok();
    assert!(all.stdout.contains("（推断："), "{}", all.stdout);
    let confirmed = fixture().run(&["trace", "back", &sale[0], "--confirmed-only"]);
    confirmed.ok();
    assert!(!confirmed.stdout.contains("推断") && !confirmed.stdout.contains("生产者"), "{}", confirmed.stdout);
}

#[test]
fn an_unknown_reference_is_refused_in_chinese() {
    let out = fixture().run(&["trace", "forward", "NO-SUCH-THING"]);
    out.code(1);
    assert!(out.stderr.contains("找不到“NO-SUCH-THING”"), "{}", out.stderr);
}

#[test]
fn the_simulated_province_keeps_mass_balance_on_every_lot() {
    let out = fixture().run(&["trace", "balance", "--json"]);
    out.ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(report["lots_checked"].as_u64().unwrap() > 1_000, "{report}");
    assert_eq!(report["violations"].as_array().map(Vec::len), Some(0), "{report}");
}
