//! The trace as the page shows it: hops as nested-list lines, totals in the reader's language, and
//! the chart's graph.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;
use shian_domain::Kind;
use shian_domain::Lang;
use shian_services::accounts::{Principal, region_label};
use shian_services::trace::{Direction, Link, Node, TraceTree};
use shian_services::trace_export::{kind_label, unit_label};

use crate::auth::urlencode;

/// Nodes drawn in the chart; a larger trace is drawn in part (the tree and exports stay whole).
const MAX_GRAPH_NODES: usize = 300;

/// One hop of the tree as the page shows it.
pub(super) struct NodeView {
    pub(super) kind: String,
    pub(super) kind_label: String,
    pub(super) name: String,
    pub(super) code: String,
    pub(super) href: Option<String>,
    pub(super) market: Option<String>,
    pub(super) region: String,
    pub(super) school: bool,
    pub(super) lot: Option<String>,
    pub(super) lot_href: Option<String>,
    pub(super) certificate: Option<String>,
    pub(super) certificate_href: Option<String>,
    pub(super) seen_before: bool,
    pub(super) records: usize,
    pub(super) candidate_lots: String,
    pub(super) link: Option<LinkView>,
}

/// The sale or receipt linking a hop to its parent.
pub(super) struct LinkView {
    pub(super) what: &'static str,
    pub(super) quantity: String,
    pub(super) unit: String,
    pub(super) time: String,
    pub(super) doc: String,
    pub(super) doc_href: Option<String>,
    pub(super) inferred: bool,
    pub(super) basis: String,
    pub(super) quarantine: Option<String>,
}

/// A hop in document order: after it, its children's list opens (`has_children`) or its item
/// closes, then `closes` lists of ancestors end.
pub(super) struct TreeLine {
    pub(super) node: NodeView,
    pub(super) has_children: bool,
    pub(super) closes: usize,
}

/// Turns trees into views: what the reader may follow, in their language.
pub(super) struct Viewer<'a> {
    pub(super) user: &'a Principal,
    pub(super) lang: Lang,
    /// The query string of the request without `q` and `start`, for pivots to a lot.
    pub(super) pivot: String,
}

impl Viewer<'_> {
    pub(super) fn lines(&self, tree: &TraceTree) -> Vec<TreeLine> {
        let mut out = Vec::new();
        for root in &tree.roots {
            self.walk(root, &mut out);
        }
        out
    }

    fn walk(&self, n: &Node, out: &mut Vec<TreeLine>) {
        out.push(TreeLine { node: self.node(n), has_children: !n.children.is_empty(), closes: 0 });
        if n.children.is_empty() {
            return;
        }
        for c in &n.children {
            self.walk(c, out);
        }
        if let Some(last) = out.last_mut() {
            last.closes += 1;
        }
    }

    fn party_href(&self, n: &Node) -> Option<String> {
        let kind = match n.party.kind.as_str() {
            "vendor" => Kind::Vendor,
            "producer" => Kind::Producer,
            "supermarket" | "restaurant" | "canteen" | "processor" | "buyer" => Kind::Buyer,
            _ => return None,
        };
        let id = n.party.id?;
        self.user.may_see(kind).then(|| format!("/record/{}/{id}", kind.name()))
    }

    fn node(&self, n: &Node) -> NodeView {
        let p = &n.party;
        let lang = self.lang;
        let certificate_href = n.certificate.as_ref().map(|c| format!("/find/origin_certificate/{}", urlencode(c)));
        NodeView {
            kind: p.kind.to_string(),
            kind_label: kind_label(&p.kind, p.canteen_kind.as_deref(), lang).to_string(),
            name: p.name.as_deref().or(p.code.as_deref()).unwrap_or_default().to_string(),
            code: p.code.as_deref().filter(|c| Some(*c) != p.name.as_deref()).unwrap_or_default().to_string(),
            href: self.party_href(n),
            market: p.detail.as_deref().filter(|_| p.kind == "vendor").map(String::from),
            region: p.region.as_deref().map(region_label).unwrap_or_default(),
            school: p.school,
            lot_href: n.lot.as_ref().filter(|_| self.may_start_from_lots()).map(|lot| self.lot_href(lot)),
            lot: n.lot.as_deref().map(String::from),
            certificate: n.certificate.as_deref().map(String::from),
            certificate_href,
            seen_before: n.seen_before,
            records: n.records,
            candidate_lots: n.candidate_lots.join(", "),
            link: n.link.as_ref().map(|l| self.link(l)),
        }
    }

    /// The liaison starts from certificates, a chain's headquarters sees no vendor's lots: neither
    /// is offered a lot to trace from.
    fn may_start_from_lots(&self) -> bool {
        !self.user.role.upstream_only() && !matches!(self.user.scope, shian_domain::access::Scope::Enterprise(_))
    }

    fn lot_href(&self, lot: &str) -> String {
        format!("/trace?q={}&start=lot&{}", urlencode(lot), self.pivot)
    }

    fn link(&self, l: &Link) -> LinkView {
        let what = match (l.record, self.lang) {
            ("inbound", Lang::Zh) => "进货",
            ("inbound", Lang::En) => "received",
            (_, Lang::Zh) => "销货",
            (_, Lang::En) => "sold",
        };
        let kind = if l.record == "inbound" { Kind::Inbound } else { Kind::Outbound };
        LinkView {
            what,
            quantity: fmt_qty(l.quantity),
            unit: unit_label(&l.unit, self.lang),
            time: l.time.to_string(),
            doc: format!("{}/{}", l.source, l.ext_id),
            doc_href: self.user.may_see(kind).then(|| format!("/record/{}/{}", l.record, l.id)),
            inferred: l.inferred,
            basis: l.basis.as_ref().map(|b| b.get(self.lang).to_string()).unwrap_or_default(),
            quarantine: l.quarantine.clone(),
        }
    }
}

fn fmt_qty(q: f64) -> String {
    shian_domain::field::format_real((q * 100.0).round() / 100.0)
}

/// A line of the totals tables.
pub(super) struct TotalView {
    pub(super) label: String,
    pub(super) recipients: usize,
    pub(super) records: usize,
    pub(super) inferred: usize,
    pub(super) kg: String,
    pub(super) schools: usize,
}

pub(super) fn totals(tree: &TraceTree, lang: Lang) -> (Vec<TotalView>, Vec<TotalView>) {
    let kinds = tree
        .totals
        .iter()
        .map(|t| TotalView {
            label: kind_label(&t.kind, None, lang).to_string(),
            recipients: t.recipients,
            records: t.records,
            inferred: t.inferred_records,
            kg: fmt_qty(t.quantity_kg),
            schools: t.school_canteens,
        })
        .collect();
    let regions = tree
        .regions
        .iter()
        .map(|t| TotalView {
            label: match (t.region.is_empty(), lang) {
                (true, Lang::Zh) => "地区不详".to_string(),
                (true, Lang::En) => "region unknown".to_string(),
                (false, _) => format!("{} {}", region_label(&t.region), t.region),
            },
            recipients: t.recipients,
            records: t.records,
            inferred: t.inferred_records,
            kg: fmt_qty(t.quantity_kg),
            schools: t.school_canteens,
        })
        .collect();
    (kinds, regions)
}

/// The chart's data: a Sankey graph whose nodes are parties at one hop distance, so that every
/// link goes from one hop to the next and the graph has no cycle (ECharts refuses cycles), and
/// whose node names are unique (ECharts requires that) while their labels may repeat.
pub(super) struct Graph<'a> {
    viewer: &'a Viewer<'a>,
    backward: bool,
    nodes: Vec<serde_json::Value>,
    index: HashMap<String, usize>,
    /// (from, to) → (kg, records, inferred records)
    links: BTreeMap<(usize, usize), (f64, usize, usize)>,
    truncated: bool,
}

impl Graph<'_> {
    pub(super) fn build(viewer: &Viewer, tree: &TraceTree) -> serde_json::Value {
        let mut g = Graph {
            viewer,
            backward: tree.direction == Direction::Backward,
            nodes: Vec::new(),
            index: HashMap::new(),
            links: BTreeMap::new(),
            truncated: false,
        };
        for root in &tree.roots {
            g.add(root, 0, None);
        }
        g.json()
    }

    fn key(n: &Node, depth: usize) -> String {
        let p = &n.party;
        let who = match (p.id, &p.code, &p.name) {
            (Some(id), ..) => format!("{}#{id}", p.kind),
            (None, Some(code), _) => format!("{}:{code}", p.kind),
            (None, None, Some(name)) => format!("{}~{name}", p.kind),
            _ => p.kind.to_string(),
        };
        format!("{depth}|{who}")
    }

    fn add(&mut self, n: &Node, depth: usize, parent: Option<usize>) {
        let key = Graph::key(n, depth);
        let at = match self.index.get(&key) {
            Some(i) => *i,
            None if self.nodes.len() >= MAX_GRAPH_NODES => {
                self.truncated = true;
                return;
            }
            None => self.insert(key, n, depth),
        };
        if let (Some(parent), Some(l)) = (parent, &n.link) {
            let pair = if self.backward { (at, parent) } else { (parent, at) };
            let e = self.links.entry(pair).or_default();
            e.0 += shian_domain::unit::Unit::parse(&l.unit)
                .zip(shian_domain::unit::Unit::parse("kg"))
                .and_then(|(from, kg)| shian_domain::unit::convert(l.quantity, from, kg))
                .unwrap_or(0.0);
            e.1 += n.records;
            e.2 += if l.inferred { n.records } else { 0 };
        }
        for c in &n.children {
            self.add(c, depth + 1, Some(at));
        }
    }

    fn insert(&mut self, key: String, n: &Node, depth: usize) -> usize {
        let view = self.viewer.node(n);
        let label = format!("{} {}", view.kind_label, view.name).trim().to_string();
        let mut tip = vec![label.clone()];
        tip.extend(view.market.clone());
        if !view.region.is_empty() {
            tip.push(view.region.clone());
        }
        self.nodes.push(json!({
            "id": key, "label": label, "kind": n.party.kind, "school": n.party.school,
            "depth": depth, "href": view.href, "tip": tip,
        }));
        self.index.insert(key, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    fn json(self) -> serde_json::Value {
        let lang = self.viewer.lang;
        let t = |zh: &'static str, en: &'static str| if lang == Lang::Zh { zh } else { en };
        let links: Vec<_> = self
            .links
            .iter()
            .map(|(&(s, t), &(kg, records, inferred))| {
                let value = if kg > 0.0 { kg } else { records as f64 };
                json!({"s": s, "t": t, "value": value, "kg": fmt_qty(kg), "records": records, "inferred": inferred})
            })
            .collect();
        json!({
            "nodes": self.nodes,
            "links": links,
            "truncated": self.truncated,
            "labels": {"kg": t("千克", "kg"), "records": t("笔", "records"), "inferred": t("推断", "inferred")},
        })
    }
}
