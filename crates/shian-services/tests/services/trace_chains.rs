//! Property tests over random chains: a producer's lot is sold on in random shares to consumers,
//! canteens, supermarkets and other vendors, who start lots of their own and sell on again. Every
//! recipient found forward from the first lot traces back to it, no recipient is invented, and
//! the quantities the forward trace shows reaching end buyers add up to exactly what was sold to
//! them (quantity is conserved through every hop).

use proptest::prelude::*;
use shian_domain::{Kind, Value};
use shian_services::trace::{Node, Start, TraceOptions};
use shian_store::Store;

use crate::support::text;
use crate::trace::{Chain, DAY, HOUR, T0, put};

/// Where one sale goes.
#[derive(Debug, Clone)]
enum To {
    /// An end buyer: consumer or one of the chain's buyers (S1, R1, K1, E1).
    End(usize),
    /// Another vendor (index into the extra vendors), who starts a new lot.
    Vendor(usize),
}

fn op() -> impl Strategy<Value = (usize, To, f64)> {
    let to = prop_oneof![(0usize..5).prop_map(To::End), (0usize..6).prop_map(To::Vendor)];
    (0usize..50, to, 0.05f64..0.6)
}

const END_BUYERS: [(&str, Option<&str>); 5] = [
    ("consumer", None),
    ("supermarket", Some("S1")),
    ("restaurant", Some("R1")),
    ("canteen", Some("K1")),
    ("canteen", Some("E1")),
];

/// The sum over the tree of quantities on links into parties that are not vendors.
fn end_quantity(nodes: &[Node]) -> f64 {
    nodes
        .iter()
        .map(|n| {
            let own = match (&n.link, n.party.kind.as_str()) {
                (Some(l), kind) if kind != "vendor" => l.quantity,
                _ => 0.0,
            };
            own + end_quantity(&n.children)
        })
        .sum()
}

/// Every (vendor code, lot) in a tree.
fn lots(nodes: &[Node], out: &mut Vec<(String, String)>) {
    for n in nodes {
        if let (Some(code), Some(lot)) = (&n.party.code, &n.lot)
            && n.party.kind == "vendor"
        {
            out.push((code.to_string(), lot.to_string()));
        }
        lots(&n.children, out);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_chains_conserve_quantity_and_every_recipient_traces_back(ops in proptest::collection::vec(op(), 1..30)) {
        let mut c = Chain::new();
        let market = c.s.resolve(Kind::Market, &["M2"]).unwrap()[0].1;
        for v in 0..6 {
            let values = [
                ("code", text(&format!("V{v}"))),
                ("market", Value::Int(market)),
                ("name", text(&format!("V{v}"))),
                ("subject_kind", text("person")),
            ];
            put(&mut c.s, Kind::Vendor, &values);
        }
        c.receive_from_producer("W", "L0", 1000.0, T0);
        // (vendor, lot, remaining)
        let mut open: Vec<(String, String, f64)> = vec![("W".into(), "L0".into(), 1000.0)];
        let mut sold_to_end = 0.0;
        let mut at = T0 + HOUR;
        for (i, (pick, to, share)) in ops.iter().enumerate() {
            let k = pick % open.len();
            let (vendor, lot, remaining) = open[k].clone();
            let qty = (remaining * share * 100.0).round() / 100.0;
            if qty < 0.01 {
                continue;
            }
            open[k].2 -= qty;
            at += HOUR;
            match to {
                To::End(b) => {
                    c.sale(&vendor, Some(&lot), qty, at, END_BUYERS[*b]);
                    sold_to_end += qty;
                }
                To::Vendor(v) => {
                    let buyer = format!("V{v}");
                    if buyer == vendor {
                        continue;
                    }
                    c.sale(&vendor, Some(&lot), qty, at, ("vendor", Some(&buyer)));
                    let new_lot = format!("L{}", i + 1);
                    let more = [
                        ("supplier_kind", text("vendor")),
                        ("supplier", Value::Int(c.id(Kind::Vendor, &vendor))),
                        ("supplier_lot", text(&lot)),
                    ];
                    let celery = c.celery;
                    c.receipt(&buyer, Some(&new_lot), qty, at + 1, celery, &more);
                    open.push((buyer, new_lot, qty));
                }
            }
        }
        prop_assert!(at < T0 + 40 * DAY);
        let opts = TraceOptions { confirmed_only: true, ..TraceOptions::default() };
        let fwd = c.forward(Start::Lot("L0".into()), opts);
        prop_assert!(!fwd.truncated);
        let shown = end_quantity(&fwd.roots);
        prop_assert!((shown - sold_to_end).abs() < 1e-6, "forward shows {shown} kg reaching end buyers, {sold_to_end} kg were sold to them");
        let mut reached = Vec::new();
        lots(&fwd.roots, &mut reached);
        let started: Vec<&(String, String, f64)> = open.iter().filter(|(_, l, _)| l != "L0").collect();
        for (_, lot, _) in &started {
            prop_assert!(reached.iter().any(|(_, l)| l == lot), "lot {lot} was bought from the chain but not reached forward");
        }
        for (vendor, lot) in &reached {
            let back = c.back(Start::Lot(lot.clone()), opts);
            let mut origins = Vec::new();
            lots(&back.roots, &mut origins);
            prop_assert!(origins.iter().any(|(v, l)| v == "W" && l == "L0"), "{vendor}/{lot} does not trace back to W/L0");
        }
    }
}
