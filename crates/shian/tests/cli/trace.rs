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

#[test]
fn new_starting_points_with_dates_trace_a_producer_forward_and_a_buyer_back() {
    // A producer's first receipt day: its goods that day reach recipients, totalled by region.
    let p = first(
        "SELECT p.code, date(i.received_at + 28800, 'unixepoch') FROM inbound i JOIN producers p ON p.id = i.supplier_id
         WHERE i.supplier_kind = 'producer' AND EXISTS (SELECT 1 FROM outbound o WHERE o.vendor_id = i.vendor_id
         AND o.lot_code = i.lot_code) ORDER BY i.id LIMIT 1",
    );
    let fwd = fixture().run(&["trace", "forward", "--producer", &p[0], "--from", &p[1], "--to", &p[1]]);
    fwd.ok();
    assert!(fwd.stdout.contains("正向追踪") && fwd.stdout.contains(&format!("生产者 {}", p[0])), "{}", fwd.stdout);
    assert!(fwd.stdout.contains("合计（按去向类型）") && fwd.stdout.contains("合计（按去向地区）"), "{}", fwd.stdout);
    let json = fixture().run(&["trace", "forward", "--producer", &p[0], "--from", &p[1], "--to", &p[1], "--json"]);
    json.ok();
    let tree: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert!(!tree["roots"][0]["children"].as_array().unwrap().is_empty(), "{tree}");
    assert!(!tree["regions"].as_array().unwrap().is_empty(), "{tree}");

    // A canteen's purchases on one day, back to their origin.
    let b = first(
        "SELECT b.code, date(o.sold_at + 28800, 'unixepoch'), CAST(COUNT(*) AS TEXT) FROM outbound o JOIN buyers b ON b.id = o.buyer_id
         WHERE o.buyer_kind = 'canteen'
         GROUP BY b.code, date(o.sold_at + 28800, 'unixepoch') ORDER BY MIN(o.id) LIMIT 1",
    );
    let back = fixture().run_en(&["trace", "back", "--buyer", &b[0], "--from", &b[1], "--to", &b[1], "--json"]);
    back.ok();
    let tree: serde_json::Value = serde_json::from_str(&back.stdout).expect("JSON");
    assert_eq!(tree["direction"], "backward");
    let roots = tree["roots"].as_array().unwrap();
    assert_eq!(roots.len().to_string(), b[2], "one root per sale to the canteen that day: {tree}");
    assert!(roots.iter().all(|r| r["link"]["record"] == "outbound"), "{tree}");

    let wrong = fixture().run(&["trace", "forward", "--buyer", &b[0], "--from", &b[1], "--to", &b[1]]);
    wrong.code(1);
    assert!(wrong.stderr.contains("只能逆向追溯"), "{}", wrong.stderr);
    let bad_date = fixture().run_en(&["trace", "forward", "--producer", &p[0], "--from", "2026-13-01", "--to", &p[1]]);
    bad_date.code(1);
    assert!(bad_date.stderr.contains("date range"), "{}", bad_date.stderr);
}
