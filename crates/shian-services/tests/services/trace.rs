//! Backward and forward traces over hand-built chains with known answers: a split, a
//! market-to-market hop, a merge, an inferred link, a sale with no candidate lot, confirmed-only
//! traces and a cycle in bad data; and, over a small simulated province, the property that every
//! vendor reached forward from a lot traces back to it.

use shian_domain::{Kind, Value};
use shian_services::trace::{self, Node, Start, TraceOptions, TraceTree};
use shian_store::sqlite::SqliteStore;
use shian_store::{Store, row};

use crate::support::{store, text};

pub(crate) const T0: i64 = 1_770_000_000;
pub(crate) const HOUR: i64 = 3600;
pub(crate) const DAY: i64 = 86_400;

/// A store with two markets, vendors W (wholesale, M1), R and X (M2), producer P1 with
/// certificate C1, and buyers: supermarket S1, restaurant R1, school canteen K1, enterprise
/// canteen E1.
pub(crate) struct Chain {
    pub(crate) s: SqliteStore,
    pub(crate) celery: i64,
    pub(crate) cabbage: i64,
    next: u32,
}

pub(crate) fn put(s: &mut SqliteStore, kind: Kind, values: &[(&str, Value)]) -> i64 {
    let r = row(kind, values);
    s.write_batch(kind, std::slice::from_ref(&r), None).expect("write");
    let key: Vec<Value> = kind.def().key_positions().iter().map(|&i| r[i].clone()).collect();
    s.find(kind, &key).expect("find").expect("written")
}

impl Chain {
    pub(crate) fn new() -> Chain {
        let mut s = store();
        for (code, kind) in [("M1", "wholesale"), ("M2", "farmers")] {
            let values =
                [("code", text(code)), ("name", text(code)), ("market_kind", text(kind)), ("region", text("130102"))];
            put(&mut s, Kind::Market, &values);
        }
        for (code, market) in [("W", "M1"), ("R", "M2"), ("X", "M2")] {
            let m = s.resolve(Kind::Market, &[market]).unwrap()[0].1;
            let values = [
                ("code", text(code)),
                ("market", Value::Int(m)),
                ("name", text(code)),
                ("subject_kind", text("person")),
            ];
            put(&mut s, Kind::Vendor, &values);
        }
        let values = [
            ("code", text("P1")),
            ("name", text("P1")),
            ("producer_kind", text("cooperative")),
            ("region", text("130102")),
        ];
        let p1 = put(&mut s, Kind::Producer, &values);
        let celery = s.resolve(Kind::Variety, &["010101"]).unwrap()[0].1;
        let cabbage = s.resolve(Kind::Variety, &["010102"]).unwrap()[0].1;
        assert_ne!(celery, cabbage);
        let cert = [
            ("cert_no", text("C1")),
            ("producer", Value::Int(p1)),
            ("variety", Value::Int(celery)),
            ("quantity", Value::Real(100.0)),
            ("unit", text("kg")),
            ("origin", text("130102")),
            ("issued_on", text("2026-02-01")),
            ("basis", text("self_test")),
        ];
        put(&mut s, Kind::OriginCertificate, &cert);
        for (code, kind, canteen) in [
            ("S1", "supermarket", None),
            ("R1", "restaurant", None),
            ("K1", "canteen", Some("school")),
            ("E1", "canteen", Some("enterprise")),
        ] {
            let values = [
                ("code", text(code)),
                ("buyer_kind", text(kind)),
                ("canteen_kind", canteen.map(text).unwrap_or(Value::Null)),
                ("name", text(code)),
                ("region", text("130102")),
            ];
            put(&mut s, Kind::Buyer, &values);
        }
        Chain { s, celery, cabbage, next: 0 }
    }

    pub(crate) fn id(&self, kind: Kind, code: &str) -> i64 {
        self.s.resolve(kind, &[code]).unwrap().first().unwrap_or_else(|| panic!("no {code}")).1
    }

    pub(crate) fn ext(&mut self) -> String {
        self.next += 1;
        format!("E{}", self.next)
    }

    /// `vendor` receives lot `lot` from producer P1 with certificate C1.
    pub(crate) fn receive_from_producer(&mut self, vendor: &str, lot: &str, qty: f64, at: i64) {
        let values = [
            ("supplier_kind", text("producer")),
            ("supplier", Value::Int(self.id(Kind::Producer, "P1"))),
            ("certificate", Value::Int(self.id(Kind::OriginCertificate, "C1"))),
        ];
        self.receipt(vendor, Some(lot), qty, at, self.celery, &values);
    }

    /// `vendor` receives lot `lot` from vendor `seller`, who named its lot `seller_lot` (or none).
    pub(crate) fn receive_from_vendor(
        &mut self,
        vendor: &str,
        lot: &str,
        seller: &str,
        seller_lot: Option<&str>,
        at: i64,
    ) {
        let values = [
            ("supplier_kind", text("vendor")),
            ("supplier", Value::Int(self.id(Kind::Vendor, seller))),
            ("supplier_lot", seller_lot.map(text).unwrap_or(Value::Null)),
        ];
        self.receipt(vendor, Some(lot), 20.0, at, self.celery, &values);
    }

    pub(crate) fn receipt(
        &mut self,
        vendor: &str,
        lot: Option<&str>,
        qty: f64,
        at: i64,
        variety: i64,
        more: &[(&str, Value)],
    ) {
        let mut values = vec![
            ("source", text("T")),
            ("ext_id", text(&self.ext())),
            ("vendor", Value::Int(self.id(Kind::Vendor, vendor))),
            ("variety", Value::Int(variety)),
            ("lot_code", lot.map(text).unwrap_or(Value::Null)),
            ("quantity", Value::Real(qty)),
            ("unit", text("kg")),
            ("received_at", Value::Int(at)),
        ];
        values.extend(more.iter().cloned());
        put(&mut self.s, Kind::Inbound, &values);
    }

    /// A sale of celery by `vendor` from `lot` (or none) to a buyer (`vendor`/`canteen`/… with a
    /// code, or `consumer`); returns its ext_id.
    pub(crate) fn sale(
        &mut self,
        vendor: &str,
        lot: Option<&str>,
        qty: f64,
        at: i64,
        buyer: (&str, Option<&str>),
    ) -> String {
        let ext = self.ext();
        let buyer_id = buyer.1.map(|code| {
            let kind = if buyer.0 == "vendor" { Kind::Vendor } else { Kind::Buyer };
            Value::Int(self.id(kind, code))
        });
        let values = [
            ("source", text("T")),
            ("ext_id", text(&ext)),
            ("vendor", Value::Int(self.id(Kind::Vendor, vendor))),
            ("variety", Value::Int(self.celery)),
            ("lot_code", lot.map(text).unwrap_or(Value::Null)),
            ("quantity", Value::Real(qty)),
            ("unit", text("kg")),
            ("sold_at", Value::Int(at)),
            ("buyer_kind", text(buyer.0)),
            ("buyer", buyer_id.unwrap_or(Value::Null)),
        ];
        put(&mut self.s, Kind::Outbound, &values);
        ext
    }

    /// The backward trace through the database, checked to be the same as through a trace index.
    pub(crate) fn back(&self, start: Start, opts: TraceOptions) -> TraceTree {
        let tree = trace::backward(&self.s, &start, &opts).expect("backward trace");
        same_through_index(&self.s, &tree, |data| trace::backward_in(data, &start, &opts));
        tree
    }

    /// The forward trace through the database, checked to be the same as through a trace index.
    pub(crate) fn forward(&self, start: Start, opts: TraceOptions) -> TraceTree {
        let tree = trace::forward(&self.s, &start, &opts).expect("forward trace");
        same_through_index(&self.s, &tree, |data| trace::forward_in(data, &start, &opts));
        tree
    }
}

/// Asserts that `run` through a trace index built now gives `tree` (every node, link, quantity
/// and total).
pub(crate) fn same_through_index(
    s: &dyn Store,
    tree: &TraceTree,
    run: impl Fn(&dyn trace::TraceData) -> Result<TraceTree, trace::TraceError>,
) {
    let index = trace::TraceIndex::build(s).expect("trace index");
    let indexed = index.on(s).expect("version").expect("the index is fresh");
    let again = run(&indexed).expect("trace through the index");
    let (a, b) = (serde_json::to_value(tree).unwrap(), serde_json::to_value(&again).unwrap());
    assert_eq!(a, b, "the trace index gives another tree than the database");
}

pub(crate) fn sale_start(ext: &str) -> Start {
    Start::Sale { source: "T".into(), ext_id: ext.into() }
}

fn confirmed() -> TraceOptions {
    TraceOptions { confirmed_only: true, ..TraceOptions::default() }
}

/// Every node below the roots as `kind:code[/lot][?]` (`?` when its link is inferred), sorted.
fn below(tree: &TraceTree) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Node> = tree.roots.iter().flat_map(|r| &r.children).collect();
    while let Some(n) = stack.pop() {
        stack.extend(&n.children);
        let code = n.party.code.clone().unwrap_or_else(|| n.party.kind.clone());
        let lot = n.lot.as_ref().map(|l| format!("/{l}")).unwrap_or_default();
        let inferred = if n.link.as_ref().is_some_and(|l| l.inferred) { "?" } else { "" };
        out.push(format!("{}:{code}{lot}{inferred}", n.party.kind));
    }
    out.sort();
    out
}

#[test]
fn a_lot_split_to_three_buyers_reaches_each_and_each_traces_back_to_the_producer() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    let sales = [
        c.sale("W", Some("L1"), 30.0, T0 + HOUR, ("supermarket", Some("S1"))),
        c.sale("W", Some("L1"), 30.0, T0 + HOUR, ("restaurant", Some("R1"))),
        c.sale("W", Some("L1"), 40.0, T0 + HOUR, ("canteen", Some("E1"))),
    ];
    let fwd = c.forward(Start::Lot("L1".into()), TraceOptions::default());
    assert_eq!(below(&fwd), ["canteen:E1", "restaurant:R1", "supermarket:S1"]);
    let kg: f64 = fwd.totals.iter().map(|t| t.quantity_kg).sum();
    assert!((kg - 100.0).abs() < 1e-9, "quantities are conserved: {:?}", fwd.totals);
    for ext in &sales {
        let back = c.back(sale_start(ext), TraceOptions::default());
        assert_eq!(back.roots[0].lot.as_deref(), Some("L1"));
        assert_eq!(below(&back), ["producer:P1"]);
        assert_eq!(back.roots[0].children[0].certificate.as_deref(), Some("C1"));
    }
}

#[test]
fn a_market_to_market_hop_is_followed_both_ways_and_school_canteens_are_flagged() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.sale("W", Some("L1"), 20.0, T0 + HOUR, ("vendor", Some("R")));
    c.receive_from_vendor("R", "L2", "W", Some("L1"), T0 + 2 * HOUR);
    c.sale("R", Some("L2"), 1.0, T0 + 3 * HOUR, ("consumer", None));
    c.sale("R", Some("L2"), 2.0, T0 + 3 * HOUR, ("consumer", None));
    let school = c.sale("R", Some("L2"), 10.0, T0 + 4 * HOUR, ("canteen", Some("K1")));

    let fwd = c.forward(Start::Certificate("C1".into()), confirmed());
    assert_eq!(below(&fwd), ["canteen:K1", "consumer:consumer", "vendor:R/L2", "vendor:W/L1"]);
    let canteens = fwd.totals.iter().find(|t| t.kind == "canteen").expect("canteen total");
    assert_eq!((canteens.recipients, canteens.school_canteens), (1, 1));
    let consumers = fwd.totals.iter().find(|t| t.kind == "consumer").expect("consumer total");
    assert_eq!((consumers.records, consumers.quantity_kg), (2, 3.0), "consumers are aggregated");

    let back = c.back(sale_start(&school), confirmed());
    assert_eq!(below(&back), ["producer:P1", "vendor:W/L1"]);
    let hop = &back.roots[0].children[0];
    assert_eq!((hop.link.as_ref().unwrap().record, hop.link.as_ref().unwrap().quantity), ("inbound", 20.0));
}

#[test]
fn a_buyer_a_record_names_as_another_kind_is_shown_and_counted_as_the_record_says() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    // K1 is a school canteen; the sale names it a restaurant. Consumers have no party of their
    // own: their kind is the record's.
    c.sale("W", Some("L1"), 10.0, T0 + HOUR, ("restaurant", Some("K1")));
    c.sale("W", Some("L1"), 5.0, T0 + HOUR, ("canteen", Some("K1")));
    c.sale("W", Some("L1"), 1.0, T0 + HOUR, ("consumer", None));
    // Through the database and (checked to be the same) through the index.
    let fwd = c.forward(Start::Lot("L1".into()), confirmed());
    assert_eq!(below(&fwd), ["canteen:K1", "consumer:consumer", "restaurant:K1"]);
    let totals: Vec<_> = fwd.totals.iter().map(|t| (t.kind.as_str(), t.recipients, t.records)).collect();
    assert_eq!(totals, [("canteen", 1, 1), ("consumer", 1, 1), ("restaurant", 1, 1)]);
}

#[test]
fn long_lot_codes_and_a_code_held_by_two_vendors_are_found_through_the_index() {
    use trace::TraceData;
    // Codes longer than a holding row keeps (16 bytes) are compared in the string arena; a code
    // at two vendors starts one tree per vendor.
    let (long, longer) = ("LONG-LOT-CODE-2026-0001", "LONGER-LOT-CODE-2026-00000002");
    let mut c = Chain::new();
    c.receive_from_producer("W", long, 100.0, T0);
    c.receive_from_producer("X", long, 50.0, T0);
    c.sale("W", Some(long), 20.0, T0 + HOUR, ("vendor", Some("R")));
    c.receive_from_vendor("R", longer, "W", Some(long), T0 + 2 * HOUR);
    c.sale("R", Some(longer), 5.0, T0 + 3 * HOUR, ("canteen", Some("K1")));
    c.sale("X", Some(long), 7.0, T0 + 3 * HOUR, ("restaurant", Some("R1")));

    let fwd = c.forward(Start::Lot(long.into()), confirmed());
    let roots: Vec<_> = fwd.roots.iter().map(|r| r.party.code.as_deref().unwrap_or_default()).collect();
    assert_eq!(roots, ["W", "X"], "one tree per vendor holding the code");
    assert_eq!(below(&fwd), ["canteen:K1", "restaurant:R1", format!("vendor:R/{longer}").as_str()]);
    let back = c.back(Start::Lot(longer.into()), confirmed());
    assert_eq!(below(&back), ["producer:P1", format!("vendor:W/{long}").as_str()]);
    let index = trace::TraceIndex::build(&c.s).unwrap();
    let indexed = index.on(&c.s).unwrap().expect("fresh");
    assert_eq!(indexed.lot_holders(long).unwrap().len(), 2);
    assert!(indexed.lot_holders("LONG-LOT-CODE-2026-0002").unwrap().is_empty(), "a code differing in its last byte");
    assert!(indexed.lot_holders("LONG-LOT-CODE-2026-000").unwrap().is_empty(), "a prefix of a code");

    // The place the index hands out for a lot is taken only for that lot: another lot's place,
    // or one out of range, reads the lot by its code. (A fresh reader each time: a reader
    // remembers the last lot it read.)
    let places = indexed.lot_places(long).unwrap();
    let (w, x) = (places[0], places[1]);
    let sold = |vendor: i64, at: trace::Place| {
        let mut sales = Vec::new();
        index
            .on(&c.s)
            .unwrap()
            .unwrap()
            .each_sale_of_lot(vendor, long, at, &mut |s| {
                sales.push((s.id, s.quantity));
                Ok(())
            })
            .unwrap();
        sales
    };
    assert_eq!(sold(w.0, w.1).len(), 1);
    for at in [None, x.1, Some(u32::MAX - 1)] {
        assert_eq!(sold(w.0, at), sold(w.0, w.1), "W's sales of {long} with the place {at:?}");
    }
    let down = |at: trace::Place| {
        let mut out = Vec::new();
        index.on(&c.s).unwrap().unwrap().downstream_of_lot(w.0, long, at, &mut out).unwrap();
        out
    };
    assert_eq!(down(x.1), down(w.1));
    assert_eq!(down(w.1)[0].lot_code.as_deref(), Some(longer));

    // The longest code kept in the row (16 bytes) and one a byte longer that begins with it.
    let (kept, arena) = ("L2026-0000000001", "L2026-00000000012");
    c.receive_from_producer("W", kept, 10.0, T0);
    c.receive_from_producer("X", arena, 10.0, T0);
    c.sale("W", Some(kept), 1.0, T0 + HOUR, ("canteen", Some("K1")));
    c.sale("X", Some(arena), 2.0, T0 + HOUR, ("restaurant", Some("R1")));
    for (code, bought) in [(kept, "canteen:K1"), (arena, "restaurant:R1")] {
        assert_eq!(below(&c.forward(Start::Lot(code.into()), confirmed())), [bought], "{code}");
    }
}

#[test]
fn a_merged_lot_traces_back_to_both_sources() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.receive_from_producer("X", "LX", 50.0, T0);
    c.receive_from_vendor("R", "M", "W", Some("L1"), T0 + HOUR);
    c.receive_from_vendor("R", "M", "X", Some("LX"), T0 + HOUR);
    let back = c.back(Start::Lot("M".into()), confirmed());
    assert_eq!(below(&back), ["producer:P1", "producer:P1", "vendor:W/L1", "vendor:X/LX"]);
}

#[test]
fn a_sale_naming_no_lot_is_linked_to_candidate_lots_as_inferred() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    let sale = c.sale("W", None, 10.0, T0 + DAY, ("restaurant", Some("R1")));

    let back = c.back(sale_start(&sale), TraceOptions::default());
    assert_eq!(below(&back), ["producer:P1", "vendor:W/L1?"]);
    let basis = back.roots[0].children[0].link.as_ref().unwrap().basis.as_ref().expect("a basis");
    assert!(basis.zh.contains("先进先出"), "{}", basis.zh);

    let fwd = c.forward(Start::Lot("L1".into()), TraceOptions::default());
    assert_eq!(below(&fwd), ["restaurant:R1?"]);
}

#[test]
fn confirmed_only_leaves_out_the_inferred_link() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    let sale = c.sale("W", None, 10.0, T0 + DAY, ("restaurant", Some("R1")));
    assert!(below(&c.back(sale_start(&sale), confirmed())).is_empty());
    assert!(below(&c.forward(Start::Lot("L1".into()), confirmed())).is_empty());
}

#[test]
fn a_sale_with_no_lot_and_no_candidate_gets_no_invented_link() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    let late = c.sale("W", None, 10.0, T0 + 10 * DAY, ("restaurant", Some("R1")));
    let before = c.sale("W", None, 10.0, T0 - HOUR, ("supermarket", Some("S1")));
    let (cabbage, w) = (c.cabbage, "W");
    c.receipt(w, Some("CB"), 5.0, T0 + 9 * DAY, cabbage, &[("supplier_kind", text("other"))]);
    for ext in [&late, &before] {
        assert!(below(&c.back(sale_start(ext), TraceOptions::default())).is_empty(), "sale {ext}");
    }
    assert!(below(&c.forward(Start::Lot("L1".into()), TraceOptions::default())).is_empty());
}

#[test]
fn a_receipt_from_a_vendor_naming_no_lot_is_inferred_across_the_hop() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.sale("W", None, 20.0, T0 + HOUR, ("vendor", Some("R")));
    c.receive_from_vendor("R", "L2", "W", None, T0 + 2 * HOUR);
    c.sale("R", Some("L2"), 5.0, T0 + 3 * HOUR, ("canteen", Some("K1")));
    let fwd = c.forward(Start::Lot("L1".into()), TraceOptions::default());
    assert_eq!(below(&fwd), ["canteen:K1", "vendor:R/L2?"]);
    let back = c.back(Start::Lot("L2".into()), TraceOptions::default());
    assert_eq!(below(&back), ["producer:P1", "vendor:W/L1?"]);
    assert!(below(&c.forward(Start::Lot("L1".into()), confirmed())).is_empty());
}

#[test]
fn a_cycle_in_bad_data_ends() {
    let mut c = Chain::new();
    c.receive_from_vendor("W", "A", "R", Some("B"), T0);
    c.receive_from_vendor("R", "B", "W", Some("A"), T0 + HOUR);
    c.sale("W", Some("A"), 1.0, T0 + 2 * HOUR, ("vendor", Some("R")));
    c.sale("R", Some("B"), 1.0, T0 + 3 * HOUR, ("vendor", Some("W")));
    let back = c.back(Start::Lot("A".into()), TraceOptions::default());
    assert_eq!(below(&back), ["vendor:R/B", "vendor:W/A"]);
    assert!(back.roots[0].children[0].children[0].seen_before);
    let fwd = c.forward(Start::Lot("A".into()), TraceOptions::default());
    assert!(fwd.nodes < 10, "{} nodes", fwd.nodes);
    assert!(below(&fwd).contains(&"vendor:R/B".to_string()));
}

#[test]
fn a_long_chain_stops_at_the_depth_bound() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L0", 100.0, T0);
    for i in 1..10 {
        let (me, seller) = if i % 2 == 1 { ("R", "W") } else { ("W", "R") };
        c.receive_from_vendor(me, &format!("L{i}"), seller, Some(&format!("L{}", i - 1)), T0 + i * HOUR);
    }
    let opts = TraceOptions { max_depth: 3, ..TraceOptions::default() };
    let back = c.back(Start::Lot("L9".into()), opts);
    assert!(back.truncated);
    assert!(!c.back(Start::Lot("L9".into()), TraceOptions::default()).truncated);
}

/// Every (vendor, lot) node below the roots, with whether it was reached by an inferred link
/// somewhere on its path.
fn vendor_lots(tree: &TraceTree) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<&Node> = tree.roots.iter().flat_map(|r| &r.children).collect();
    while let Some(n) = stack.pop() {
        stack.extend(&n.children);
        if let (Some(id), Some(lot)) = (n.party.id.filter(|_| n.party.kind == "vendor"), &n.lot) {
            out.push((id, lot.to_string()));
        }
    }
    out
}

fn contains_lot(tree: &TraceTree, vendor: i64, lot: &str) -> bool {
    let mut stack: Vec<&Node> = tree.roots.iter().collect();
    while let Some(n) = stack.pop() {
        if n.party.kind == "vendor" && n.party.id == Some(vendor) && n.lot.as_deref() == Some(lot) {
            return true;
        }
        stack.extend(&n.children);
    }
    false
}

#[test]
fn over_a_simulated_province_every_vendor_reached_forward_traces_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store();
    let plan = shian_sim::Plan::tiny(6_000);
    shian_sim::generate(&mut s, &plan, 7, &dir.path().join("t.truth.json"), &|_: &str, _, _| {}).expect("simulate");
    let starts: Vec<(i64, String)> = s
        .connection()
        .prepare("SELECT vendor_id, lot_code FROM inbound WHERE supplier_kind = 'producer' ORDER BY id LIMIT 40")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let index = trace::TraceIndex::build(&s).expect("trace index");
    let indexed = index.on(&s).unwrap().expect("fresh");
    let mut hops = 0;
    for opts in [TraceOptions::default(), confirmed()] {
        for (vendor, lot) in &starts {
            let fwd = trace::forward(&s, &Start::Lot(lot.clone()), &opts).unwrap();
            assert!(!fwd.truncated, "forward from {lot} was cut short");
            let again = trace::forward_in(&indexed, &Start::Lot(lot.clone()), &opts).unwrap();
            assert_eq!(serde_json::to_value(&fwd).unwrap(), serde_json::to_value(&again).unwrap());
            for (to_vendor, to_lot) in vendor_lots(&fwd) {
                hops += 1;
                let back = trace::backward(&s, &Start::Lot(to_lot.clone()), &opts).unwrap();
                let again = trace::backward_in(&indexed, &Start::Lot(to_lot.clone()), &opts).unwrap();
                assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&again).unwrap());
                assert!(
                    contains_lot(&back, *vendor, lot),
                    "{to_lot} at vendor {to_vendor} was reached forward from {lot} but does not trace back to it \
                     (confirmed only: {})",
                    opts.confirmed_only
                );
            }
        }
    }
    assert!(hops > 10, "the province should have vendor-to-vendor hops to check, found {hops}");
}

/// `T0` (2026-02-02 10:40 China time) as a calendar range `days` long starting `offset` days later.
fn days(offset: i64, days: i64) -> trace::DateRange {
    let day = |n: i64| shian_domain::time::format_datetime(T0 + n * DAY)[..10].to_string();
    trace::DateRange::parse(&day(offset), &day(offset + days - 1)).expect("a range")
}

#[test]
fn a_date_range_covers_whole_china_days() {
    let r = days(0, 1);
    assert_eq!(r.to_string(), "2026-02-02..2026-02-02");
    let (from, to) = r.seconds();
    assert_eq!((from, to), (1_769_961_600, 1_769_961_600 + DAY - 1), "midnight to midnight, UTC+8");
    assert!(from <= T0 && T0 <= to);
    assert!(trace::DateRange::parse("2026-02-03", "2026-02-02").is_none(), "from after to");
}

#[test]
fn forward_from_a_producer_and_dates_reaches_the_lots_received_in_the_range() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.receive_from_producer("X", "LX", 50.0, T0 + 5 * DAY);
    // A receipt from another supplier that carries P1's certificate counts too.
    let cert = Value::Int(c.id(Kind::OriginCertificate, "C1"));
    let celery = c.celery;
    c.receipt("R", Some("LR"), 7.0, T0 + HOUR, celery, &[("supplier_kind", text("other")), ("certificate", cert)]);
    c.sale("W", Some("L1"), 30.0, T0 + HOUR, ("supermarket", Some("S1")));
    c.sale("X", Some("LX"), 10.0, T0 + 5 * DAY + HOUR, ("restaurant", Some("R1")));
    c.sale("R", Some("LR"), 7.0, T0 + 2 * HOUR, ("canteen", Some("K1")));

    let start = |range| Start::Producer { code: "P1".into(), range };
    let fwd = c.forward(start(days(0, 2)), confirmed());
    assert_eq!(fwd.roots.len(), 1);
    assert_eq!((fwd.roots[0].party.kind.as_str(), fwd.roots[0].party.code.as_deref()), ("producer", Some("P1")));
    assert_eq!(below(&fwd), ["canteen:K1", "supermarket:S1", "vendor:R/LR", "vendor:W/L1"]);
    assert_eq!(below(&c.forward(start(days(5, 1)), confirmed())), ["restaurant:R1", "vendor:X/LX"]);
    assert!(below(&c.forward(start(days(10, 3)), confirmed())).is_empty(), "nothing received then");

    let unknown = trace::forward(&c.s, &Start::Producer { code: "NOPE".into(), range: days(0, 1) }, &confirmed());
    assert!(matches!(unknown, Err(trace::TraceError::Unknown { .. })), "{unknown:?}");
    let back = trace::backward(&c.s, &start(days(0, 1)), &confirmed());
    assert!(matches!(back, Err(trace::TraceError::BackwardFromRange)), "{back:?}");
}

#[test]
fn forward_from_a_vendor_and_variety_and_dates_keeps_that_vendors_lots_of_the_variety() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.receive_from_producer("W", "L2", 100.0, T0 + 3 * DAY);
    c.receive_from_producer("X", "LX", 100.0, T0);
    let cabbage = c.cabbage;
    c.receipt("W", Some("CB"), 5.0, T0, cabbage, &[("supplier_kind", text("other"))]);
    c.sale("W", Some("L1"), 30.0, T0 + HOUR, ("supermarket", Some("S1")));
    c.sale("W", Some("L2"), 30.0, T0 + 3 * DAY + HOUR, ("restaurant", Some("R1")));
    c.sale("X", Some("LX"), 30.0, T0 + HOUR, ("canteen", Some("E1")));

    let start = |range| Start::VendorVariety { vendor: "W".into(), variety: "010101".into(), range };
    let fwd = c.forward(start(days(0, 1)), confirmed());
    let roots: Vec<_> = fwd.roots.iter().map(|r| r.lot.clone().unwrap_or_default()).collect();
    assert_eq!(roots, ["L1"], "only W's celery received on the day, not its cabbage nor X's celery");
    assert_eq!(below(&fwd), ["supermarket:S1"]);
    let both = c.forward(start(days(0, 4)), confirmed());
    assert_eq!(both.roots.len(), 2);
    assert_eq!(below(&both), ["restaurant:R1", "supermarket:S1"]);
    let bad = trace::forward(
        &c.s,
        &Start::VendorVariety { vendor: "W".into(), variety: "999999".into(), range: days(0, 1) },
        &confirmed(),
    );
    assert!(matches!(bad, Err(trace::TraceError::Unknown { en: "variety", .. })), "{bad:?}");
}

#[test]
fn forward_from_a_sale_follows_the_buyer_vendors_lot_or_ends_at_the_buyer() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    let first = c.sale("W", Some("L1"), 20.0, T0 + HOUR, ("vendor", Some("R")));
    let second = c.sale("W", Some("L1"), 20.0, T0 + 2 * HOUR, ("vendor", Some("R")));
    c.receive_from_vendor("R", "L2", "W", Some("L1"), T0 + 90 * 60);
    c.receive_from_vendor("R", "L3", "W", Some("L1"), T0 + 3 * HOUR);
    c.sale("R", Some("L2"), 5.0, T0 + 4 * HOUR, ("canteen", Some("K1")));
    c.sale("R", Some("L3"), 5.0, T0 + 4 * HOUR, ("restaurant", Some("R1")));
    let leaf = c.sale("W", Some("L1"), 10.0, T0 + HOUR, ("supermarket", Some("S1")));

    let fwd = c.forward(sale_start(&first), confirmed());
    assert_eq!(fwd.roots[0].lot.as_deref(), Some("L1"));
    assert_eq!(below(&fwd), ["canteen:K1", "vendor:R/L2"], "the first sale to R became R's first receipt");
    assert_eq!(below(&c.forward(sale_start(&second), confirmed())), ["restaurant:R1", "vendor:R/L3"]);
    let to_s1 = c.forward(sale_start(&leaf), confirmed());
    assert_eq!(below(&to_s1), ["supermarket:S1"]);
    assert_eq!(to_s1.totals.len(), 1);
    assert_eq!((to_s1.totals[0].kind.as_str(), to_s1.totals[0].quantity_kg), ("supermarket", 10.0));
}

#[test]
fn forward_from_a_sale_naming_no_lot_lists_the_candidate_lots() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.receive_from_producer("W", "L0", 100.0, T0 - 10 * DAY);
    let sale = c.sale("W", None, 10.0, T0 + DAY, ("restaurant", Some("R1")));
    let fwd = c.forward(sale_start(&sale), TraceOptions::default());
    assert_eq!(fwd.roots[0].lot, None);
    assert_eq!(fwd.roots[0].candidate_lots, ["L1"], "L0 is outside the window");
    assert_eq!(below(&fwd), ["restaurant:R1"]);
    assert!(c.forward(sale_start(&sale), confirmed()).roots[0].candidate_lots.is_empty());
}

#[test]
fn backward_from_a_buyers_receipts_in_a_range_reaches_each_origin() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.sale("W", Some("L1"), 20.0, T0 + HOUR, ("vendor", Some("R")));
    c.receive_from_vendor("R", "L2", "W", Some("L1"), T0 + 2 * HOUR);
    c.receive_from_producer("X", "LX", 50.0, T0);
    c.sale("R", Some("L2"), 5.0, T0 + 3 * HOUR, ("canteen", Some("K1")));
    c.sale("X", Some("LX"), 5.0, T0 + 4 * HOUR, ("canteen", Some("K1")));
    c.sale("X", Some("LX"), 5.0, T0 + 3 * DAY, ("canteen", Some("K1")));
    c.sale("X", Some("LX"), 5.0, T0 + 4 * HOUR, ("canteen", Some("E1")));

    let start = |range| Start::Buyer { code: "K1".into(), range };
    let back = c.back(start(days(0, 1)), confirmed());
    let roots: Vec<_> = back.roots.iter().map(|r| r.lot.clone().unwrap_or_default()).collect();
    assert_eq!(roots, ["L2", "LX"], "K1's two sales on the day, oldest first");
    assert_eq!(below(&back), ["producer:P1", "producer:P1", "vendor:W/L1"]);
    assert_eq!(c.back(start(days(0, 4)), confirmed()).roots.len(), 3);
    assert!(c.back(start(days(5, 1)), confirmed()).roots.is_empty());
    let fwd = trace::forward(&c.s, &start(days(0, 1)), &confirmed());
    assert!(matches!(fwd, Err(trace::TraceError::ForwardFromBuyer)), "{fwd:?}");
}

#[test]
fn totals_per_region_follow_the_recipients_regions() {
    let mut c = Chain::new();
    let buyer =
        [("code", text("Z1")), ("buyer_kind", text("supermarket")), ("name", text("Z1")), ("region", text("110101"))];
    put(&mut c.s, Kind::Buyer, &buyer);
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.sale("W", Some("L1"), 30.0, T0 + HOUR, ("supermarket", Some("S1")));
    c.sale("W", Some("L1"), 20.0, T0 + HOUR, ("canteen", Some("K1")));
    c.sale("W", Some("L1"), 40.0, T0 + HOUR, ("supermarket", Some("Z1")));
    c.sale("W", Some("L1"), 4.0, T0 + HOUR, ("consumer", None));
    let fwd = c.forward(Start::Lot("L1".into()), confirmed());
    let regions: Vec<_> = fwd
        .regions
        .iter()
        .map(|r| (r.region.as_str(), r.recipients, r.records, r.quantity_kg, r.school_canteens))
        .collect();
    // Markets, and so consumers buying at W, are in 130102 like S1 and K1; Z1 is in 110101.
    assert_eq!(regions, [("110101", 1, 1, 40.0, 0), ("130102", 3, 3, 54.0, 1)]);
    let json = serde_json::to_value(&fwd).unwrap();
    assert_eq!(json["regions"][0]["region"], "110101");
}

#[test]
fn a_receipt_with_an_animal_quarantine_certificate_shows_it_backward_and_in_fsma_204() {
    let mut c = Chain::new();
    let pork = c.s.resolve(Kind::Variety, &["030101"]).map(|v| v.first().map(|(_, id)| *id)).ok().flatten();
    let variety = pork.unwrap_or(c.celery);
    let values = [
        ("cert_no", text("Q1")),
        ("quarantine_kind", text("product")),
        ("producer", Value::Int(c.id(Kind::Producer, "P1"))),
        ("variety", Value::Int(variety)),
        ("quantity", Value::Real(100.0)),
        ("unit", text("kg")),
        ("origin", text("130102")),
        ("issued_on", text("2026-02-01")),
    ];
    let q1 = put(&mut c.s, Kind::QuarantineCertificate, &values);
    let more = [
        ("supplier_kind", text("producer")),
        ("supplier", Value::Int(c.id(Kind::Producer, "P1"))),
        ("quarantine", Value::Int(q1)),
    ];
    c.receipt("W", Some("LQ"), 100.0, T0, variety, &more);
    let back = c.back(Start::Lot("LQ".into()), TraceOptions::default());
    let link = back.roots[0].children[0].link.as_ref().expect("the receipt");
    assert_eq!(link.quarantine.as_deref(), Some("Q1"));
    let rows = shian_services::trace_export::fsma204_rows(&c.s, &back, shian_domain::Lang::Zh).expect("rows");
    assert!(
        rows.iter().any(|r| r.document_number == "Q1"),
        "the receipt's reference document is the quarantine certificate"
    );
}

#[test]
fn a_receipt_without_a_lot_code_gets_a_printable_trace_code_found_again_as_printed() {
    let mut c = Chain::new();
    let dir = tempfile::tempdir().unwrap();
    let csv = "source,ext_id,vendor,variety,quantity,unit,received_at,supplier_kind,supplier\n\
               MKT,R1,W,010101,50,kg,2026-11-29 06:30,producer,P1\n";
    let path = crate::support::write_file(dir.path(), "in.csv", csv);
    crate::support::import_clean(&mut c.s, Kind::Inbound, &path);
    let lot: String =
        c.s.connection().query_row("SELECT lot_code FROM inbound WHERE ext_id = 'R1'", [], |r| r.get(0)).unwrap();
    assert_eq!(
        lot,
        shian_domain::tracecode::for_receipt("MKT", "R1", chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap())
    );
    // Re-importing the same file changes nothing: the code is derived from the receipt.
    let again = crate::support::import_clean(&mut c.s, Kind::Inbound, &path);
    assert_eq!(again.outcome.unchanged, 1, "{again:?}");
    // The code as printed on a label, typed with a lower-case letter, finds the lot.
    let typed = shian_domain::tracecode::printed(&lot).to_lowercase();
    assert_eq!(Start::detect(&c.s, &typed).unwrap(), Start::Lot(lot));
}

#[test]
fn repacking_within_a_vendor_links_the_new_lot_to_the_old_both_ways() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "BULK", 100.0, T0);
    // W repacks 40 kg of its bulk lot into a branded lot: a receipt from itself naming the old lot.
    let more = [
        ("supplier_kind", text("vendor")),
        ("supplier", Value::Int(c.id(Kind::Vendor, "W"))),
        ("supplier_lot", text("BULK")),
    ];
    let celery = c.celery;
    c.receipt("W", Some("PACK1"), 40.0, T0 + HOUR, celery, &more);
    c.sale("W", Some("PACK1"), 10.0, T0 + 2 * HOUR, ("canteen", Some("K1")));
    let fwd = c.forward(Start::Lot("BULK".into()), confirmed());
    assert!(
        below(&fwd).iter().any(|n| n.contains("K1")),
        "forward from the bulk lot reaches the canteen: {:?}",
        below(&fwd)
    );
    let back = c.back(Start::Lot("PACK1".into()), confirmed());
    let w = c.id(Kind::Vendor, "W");
    assert!(contains_lot(&back, w, "BULK"), "the branded lot traces back to the bulk lot");
    assert!(below(&back).iter().any(|n| n.contains("P1")), "and on to the producer: {:?}", below(&back));
}

#[test]
fn the_trace_index_keeps_odd_ids_and_quantities_and_is_refused_after_any_write() {
    let mut c = Chain::new();
    c.receive_from_producer("W", "L1", 100.0, T0);
    let w = c.id(Kind::Vendor, "W");
    // External ids with leading zeros, no digits, more digits than the packed form holds, and
    // Chinese text; the longest id written out packed (40 bytes) and one byte more; a quantity
    // that is not a whole number of thousandths.
    let (longest, too_long) = (format!("{}0123456789", "A".repeat(30)), format!("{}0123456789", "A".repeat(31)));
    let exts = [("OUT000001", 1.5), ("销货-0042", 0.3333), ("NODIGITS", 2.0), ("X123456789012345678", 3.25)];
    let exts = exts.into_iter().chain([(longest.as_str(), 4.0), (too_long.as_str(), 5.0)]);
    for (ext, qty) in exts {
        let values = [
            ("source", text("T")),
            ("ext_id", text(ext)),
            ("vendor", Value::Int(w)),
            ("variety", Value::Int(c.celery)),
            ("lot_code", text("L1")),
            ("quantity", Value::Real(qty)),
            ("unit", text("斤")),
            ("sold_at", Value::Int(T0 + HOUR)),
            ("buyer_kind", text("other")),
            ("buyer_name", text("张三个体户")),
        ];
        put(&mut c.s, Kind::Outbound, &values);
    }
    c.sale("W", None, 5.0, T0 + 2 * HOUR, ("supermarket", Some("S1")));
    let fwd = c.forward(Start::Lot("L1".into()), TraceOptions::default());
    assert_eq!(fwd.totals.iter().map(|t| t.records).sum::<usize>(), 7);
    c.back(sale_start("E2"), TraceOptions::default());
    for ext in [&longest, &too_long] {
        let sale = c.forward(sale_start(ext), TraceOptions::default());
        assert_eq!(sale.roots[0].children[0].link.as_ref().unwrap().ext_id, ext.as_str());
    }

    let index = trace::TraceIndex::build(&c.s).unwrap();
    assert!(index.on(&c.s).unwrap().is_some());
    assert_eq!(index.size().sales, 7);
    // A new sale, a changed receipt, a renamed vendor: each makes the index stale.
    c.sale("W", Some("L1"), 1.0, T0 + 3 * HOUR, ("consumer", None));
    assert!(index.on(&c.s).unwrap().is_none(), "a new sale");
    let index = trace::TraceIndex::build(&c.s).unwrap();
    c.s.connection().execute("UPDATE inbound SET quantity = 99 WHERE lot_code = 'L1'", []).unwrap();
    assert!(index.on(&c.s).unwrap().is_none(), "a changed receipt");
    let index = trace::TraceIndex::build(&c.s).unwrap();
    c.s.connection().execute("UPDATE vendors SET name = 'W2' WHERE code = 'W'", []).unwrap();
    assert!(index.on(&c.s).unwrap().is_none(), "a renamed vendor");
    let index = trace::TraceIndex::build(&c.s).unwrap();
    c.s.connection().execute("UPDATE markets SET name = 'M9' WHERE code = 'M1'", []).unwrap();
    assert!(index.on(&c.s).unwrap().is_none(), "a renamed market");
}
