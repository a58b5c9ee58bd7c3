//! 追溯: the trace page and its spreadsheet exports.
//!
//! A reader gives a starting point — a lot code (批次追溯码), an origin certificate, a sale
//! (`SOURCE,EXT_ID`), a rapid test, a sample, or a producer, a vendor + variety or a buyer with
//! dates (the options of `shian trace`) — and a direction. The page shows the tree of hops
//! ([`shian_services::trace`]) as nested lists, the totals per kind of recipient and per region, and
//! a Sankey chart from origin to recipients; it offers the recall list (召回清单) and the FDA FSMA
//! 204 spreadsheet ([`shian_services::trace_export`]) as downloads.
//!
//! **Scope.** A trace may start only from a record within the reader's scope: a lot held by a
//! vendor they may see, a certificate of their region or received by their vendors, a sale, test or
//! sample they may see, a producer, vendor or buyer of theirs. Anything else is "not found", word
//! for word what a code that does not exist gets, so the page never tells whether a record exists.
//! The hops themselves cross scopes — that is what a trace is for — but a party links to its record
//! only where the reader's role may see that kind. The agriculture liaison starts from certificates
//! only.

use std::collections::HashSet;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Value};
use shian_services::accounts::{self, Principal};
use shian_services::trace::{self, DateRange, Direction, Start, TraceError, TraceOptions, TraceTree};
use shian_services::trace_export::{self, TraceExportError};
use shian_store::Store;
use shian_store::query::{ListQuery, Listed};

mod view;

use super::render;
use crate::AppState;
use crate::auth::{Auth, Ctx, urlencode};
use crate::error::AppError;
use view::{Graph, TotalView, TreeLine, Viewer};

/// The longest window of inference a reader may ask for, in days.
const MAX_WINDOW_DAYS: u32 = 30;

/// The query string of `/trace` and `/trace/export`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TraceParams {
    q: String,
    start: String,
    dir: String,
    confirmed: String,
    window: String,
    variety: String,
    from: String,
    to: String,
    format: String,
}

/// What the reference in `q` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartKind {
    Auto,
    Lot,
    Certificate,
    Sale,
    Test,
    Sample,
    Producer,
    Vendor,
    Buyer,
}

/// Every kind of start: its code in the query string, and its label.
const STARTS: [(StartKind, &str, &str, &str); 9] = [
    (StartKind::Auto, "auto", "自动识别", "Detect"),
    (StartKind::Lot, "lot", "批次追溯码", "Lot code"),
    (StartKind::Certificate, "certificate", "承诺达标合格证编号", "Origin certificate number"),
    (StartKind::Sale, "sale", "销货记录（来源系统,来源记录号）", "Sale (SOURCE,EXT_ID)"),
    (StartKind::Test, "test", "快检编号", "Rapid test number"),
    (StartKind::Sample, "sample", "抽样单编号", "Sample number"),
    (StartKind::Producer, "producer", "生产者编码＋日期（正向）", "Producer code + dates (forward)"),
    (StartKind::Vendor, "vendor", "销售者编码＋品种＋日期（正向）", "Vendor code + variety + dates (forward)"),
    (StartKind::Buyer, "buyer", "下游单位编码＋日期（逆向）", "Buyer code + dates (backward)"),
];

impl StartKind {
    fn parse(code: &str) -> Option<StartKind> {
        match code.trim() {
            "" => Some(StartKind::Auto),
            c => STARTS.iter().find(|s| s.1 == c).map(|s| s.0),
        }
    }

    fn code(self) -> &'static str {
        STARTS.iter().find(|s| s.0 == self).map(|s| s.1).unwrap_or("auto")
    }

    fn needs_dates(self) -> bool {
        matches!(self, StartKind::Producer | StartKind::Vendor | StartKind::Buyer)
    }
}

/// A checked trace request.
#[derive(Debug, Clone)]
struct TraceRequest {
    q: String,
    start: StartKind,
    back: bool,
    opts: TraceOptions,
    variety: String,
    from: String,
    to: String,
}

impl TraceRequest {
    fn parse(p: &TraceParams) -> Result<TraceRequest, AppError> {
        let start = StartKind::parse(&p.start).ok_or_else(|| {
            AppError::bad_request(format!("起点类型“{}”无效", p.start), format!("invalid start kind {:?}", p.start))
        })?;
        let back = match p.dir.as_str() {
            "" | "back" | "backward" => true,
            "forward" => false,
            other => {
                return Err(AppError::bad_request(
                    format!("方向“{other}”无效，应为 back 或 forward"),
                    format!("invalid direction {other:?}: back or forward"),
                ));
            }
        };
        let window_days = match p.window.trim() {
            "" => TraceOptions::default().window_days,
            w => w.parse::<u32>().ok().filter(|d| *d <= MAX_WINDOW_DAYS).ok_or_else(|| {
                AppError::bad_request(
                    format!("推断窗口应为 0–{MAX_WINDOW_DAYS} 天：{w}"),
                    format!("the inference window is 0–{MAX_WINDOW_DAYS} days: {w}"),
                )
            })?,
        };
        let confirmed_only = matches!(p.confirmed.as_str(), "1" | "on" | "true");
        Ok(TraceRequest {
            q: p.q.trim().to_string(),
            start,
            back,
            opts: TraceOptions { window_days, confirmed_only, ..Default::default() },
            variety: p.variety.trim().to_string(),
            from: p.from.trim().to_string(),
            to: p.to.trim().to_string(),
        })
    }

    /// The query string that repeats this request (for the export links).
    fn query(&self) -> String {
        let mut q = format!("q={}&start={}&{}", urlencode(&self.q), self.start.code(), self.options());
        for (name, v) in [("variety", &self.variety), ("from", &self.from), ("to", &self.to)] {
            if !v.is_empty() {
                q += &format!("&{name}={}", urlencode(v));
            }
        }
        q
    }

    /// The direction and inference options as a query string (kept when pivoting to a lot).
    fn options(&self) -> String {
        let dir = if self.back { "back" } else { "forward" };
        let confirmed = if self.opts.confirmed_only { "&confirmed=1" } else { "" };
        format!("dir={dir}&window={}{confirmed}", self.opts.window_days)
    }

    fn range(&self) -> Result<DateRange, AppError> {
        DateRange::parse(&self.from, &self.to).ok_or_else(|| {
            AppError::bad_request(
                format!("请填写起止日期（YYYY-MM-DD），且起日不晚于止日：{} 至 {}", self.from, self.to),
                format!("give a date range (YYYY-MM-DD), from not after to: {} to {}", self.from, self.to),
            )
        })
    }
}

/// Where the trace starts, from the request (recognising the reference when asked to).
fn start_of(store: &dyn Store, r: &TraceRequest, upstream_only: bool) -> Result<Start, AppError> {
    let q = r.q.clone();
    Ok(match r.start {
        // The liaison starts from certificates only, so there is nothing to recognise.
        StartKind::Auto if upstream_only => Start::Certificate(q),
        StartKind::Auto => Start::detect(store, &q).map_err(trace_error)?,
        StartKind::Lot => Start::Lot(q),
        StartKind::Certificate => Start::Certificate(q),
        StartKind::Sale => match q.split_once(',') {
            Some((source, ext_id)) => Start::Sale { source: source.trim().into(), ext_id: ext_id.trim().into() },
            None => {
                return Err(AppError::bad_request(
                    format!("销货记录应写作 来源系统,来源记录号：{q}"),
                    format!("a sale is SOURCE,EXT_ID: {q}"),
                ));
            }
        },
        StartKind::Test => Start::Test(q),
        StartKind::Sample => Start::Sample(q),
        StartKind::Producer => Start::Producer { code: q, range: r.range()? },
        StartKind::Vendor if r.variety.is_empty() => {
            return Err(AppError::bad_request("请填写品种编码", "give a variety code"));
        }
        StartKind::Vendor => Start::VendorVariety { vendor: q, variety: r.variety.clone(), range: r.range()? },
        StartKind::Buyer => Start::Buyer { code: q, range: r.range()? },
    })
}

/// A trace error as the reader sees it: "not found" looks the same whether the reference does not
/// exist or lies outside the scope.
fn trace_error(e: TraceError) -> AppError {
    match e {
        TraceError::NotFound(_) | TraceError::Unknown { .. } => AppError::not_found(),
        TraceError::Store(e) => e.into(),
        TraceError::BackwardFromRange => AppError::bad_request(
            "生产者、销售者＋品种加日期只能正向追踪去向",
            "a producer, or a vendor and variety, with dates starts a forward trace",
        ),
        TraceError::ForwardFromBuyer => {
            AppError::bad_request("下游单位的进货只能逆向追溯来源", "a buyer's receipts start a backward trace")
        }
        e => AppError::bad_request(e.describe(Lang::Zh), e.describe(Lang::En)),
    }
}

fn export_error(e: TraceExportError) -> AppError {
    match e {
        TraceExportError::NotForward => AppError::bad_request(
            "召回清单须由正向追踪（去向）生成",
            "a recall list is made from a forward trace (recipients)",
        ),
        TraceExportError::Store(e) => e.into(),
        e => AppError::internal(e),
    }
}

/// The id of a record by its single natural key, if it is within the scope.
fn visible(store: &dyn Store, user: &Principal, kind: Kind, code: &str) -> Result<bool, AppError> {
    let Some((_, id)) = store.resolve(kind, &[code])?.pop() else { return Ok(false) };
    Ok(store.get(kind, id, &user.scope)?.is_some())
}

/// Checks that the reader may start a trace here. For a lot code, returns the vendors holding it
/// that the reader may see (the trace keeps only their lots).
fn authorize(store: &dyn Store, user: &Principal, start: &Start) -> Result<Option<HashSet<i64>>, AppError> {
    if user.role.upstream_only() && !matches!(start, Start::Certificate(_)) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "农业农村部门联络员只能从承诺达标合格证开始追溯",
            "the agriculture liaison traces from origin certificates only",
        ));
    }
    let ok = match start {
        Start::Lot(code) => {
            let mut holders = HashSet::new();
            for vendor in store.lot_holders(code)? {
                if store.get(Kind::Vendor, vendor, &user.scope)?.is_some() {
                    holders.insert(vendor);
                }
            }
            if holders.is_empty() {
                return Err(AppError::not_found());
            }
            return Ok(Some(holders));
        }
        Start::Certificate(no) => certificate_visible(store, user, no)?,
        Start::Sale { source, ext_id } => {
            let key = [Value::Text(source.clone()), Value::Text(ext_id.clone())];
            match store.find(Kind::Outbound, &key)? {
                Some(id) => store.get(Kind::Outbound, id, &user.scope)?.is_some(),
                None => false,
            }
        }
        Start::Test(no) => visible(store, user, Kind::RapidTest, no)?,
        Start::Sample(no) => visible(store, user, Kind::Sample, no)?,
        Start::Producer { code, .. } => visible(store, user, Kind::Producer, code)?,
        Start::VendorVariety { vendor, .. } => visible(store, user, Kind::Vendor, vendor)?,
        Start::Buyer { code, .. } => visible(store, user, Kind::Buyer, code)?,
    };
    if ok { Ok(None) } else { Err(AppError::not_found()) }
}

/// A certificate is the reader's if its origin lies in their region, or (for market people and
/// regulators of other regions) if one of their vendors received goods with it.
fn certificate_visible(store: &dyn Store, user: &Principal, no: &str) -> Result<bool, AppError> {
    let Some((_, id)) = store.resolve(Kind::OriginCertificate, &[no])?.pop() else { return Ok(false) };
    if store.get(Kind::OriginCertificate, id, &user.scope)?.is_some() {
        return Ok(true);
    }
    if user.role.upstream_only() {
        return Ok(false);
    }
    let mut vendors: Vec<i64> = store.receipts_with_certificate(id)?.iter().map(|m| m.vendor_id).collect();
    vendors.sort_unstable();
    vendors.dedup();
    for v in vendors {
        if store.get(Kind::Vendor, v, &user.scope)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Runs a trace the reader may start.
///
/// Through the server's trace index when it is fresh; through the database (the same answer,
/// slower) while there is none or it is stale, which also starts building a new one.
fn run_trace(store: &dyn Store, state: &AppState, user: &Principal, r: &TraceRequest) -> Result<TraceTree, AppError> {
    let start = start_of(store, r, user.role.upstream_only())?;
    let holders = authorize(store, user, &start)?;
    let index = state.trace.current();
    let indexed = match &index {
        Some(ix) => ix.on(store)?,
        None => None,
    };
    match (&index, &indexed) {
        (_, Some(_)) => {}
        (Some(ix), None) => state.trace.stale(ix, &state.db),
        (None, None) => state.trace.build(&state.db),
    }
    let stored;
    let data: &dyn trace::TraceData = match &indexed {
        Some(ix) => ix,
        None => {
            stored = trace::Stored::new(store);
            &stored
        }
    };
    let mut tree =
        if r.back { trace::backward_in(data, &start, &r.opts) } else { trace::forward_in(data, &start, &r.opts) }
            .map_err(trace_error)?;
    if let Some(holders) = holders {
        let before = tree.roots.len();
        tree.roots.retain(|n| n.party.kind == "vendor" && n.party.id.is_some_and(|id| holders.contains(&id)));
        if tree.roots.len() != before && tree.direction == Direction::Forward {
            trace::recount(&mut tree);
        }
    }
    Ok(tree)
}

#[derive(Template)]
#[template(path = "trace.html")]
struct TracePage {
    ctx: Ctx,
    q: String,
    starts: Vec<(&'static str, &'static str, bool)>,
    back: bool,
    confirmed: bool,
    window: u32,
    variety: String,
    from: String,
    to: String,
    ranged: bool,
    examples: Vec<(String, String)>,
    error: Option<String>,
    result: Option<ResultView>,
}

struct ResultView {
    title: &'static str,
    forward: bool,
    start: String,
    lines: Vec<TreeLine>,
    kinds: Vec<TotalView>,
    regions: Vec<TotalView>,
    truncated: bool,
    nodes: usize,
    recall_href: Option<String>,
    fsma_href: String,
    graph_json: String,
    /// The chart has links to draw (a lone starting point draws nothing).
    has_graph: bool,
    /// The chart shows part of the trace.
    graph_partial: bool,
}

impl TracePage {
    fn new(ctx: Ctx, r: &TraceRequest, upstream_only: bool) -> TracePage {
        let starts = STARTS
            .iter()
            .filter(|s| !upstream_only || s.0 == StartKind::Certificate)
            .map(|s| (s.1, ctx.t(s.2, s.3), s.0 == r.start))
            .collect();
        TracePage {
            q: r.q.clone(),
            starts,
            back: r.back,
            confirmed: r.opts.confirmed_only,
            window: r.opts.window_days,
            variety: r.variety.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            ranged: r.start.needs_dates(),
            examples: Vec::new(),
            error: None,
            result: None,
            ctx,
        }
    }
}

/// What the blocking part of the page found.
enum Found {
    Examples(Vec<(String, String)>),
    Tree(Box<TraceTree>),
}

/// `/trace`
pub async fn page(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Query(params): Query<TraceParams>,
) -> Result<Response, AppError> {
    let r = TraceRequest::parse(&params)?;
    let upstream = user.role.upstream_only();
    let mut page = TracePage::new(ctx, &r, upstream);
    let (who, req, lang, st) = (user.clone(), r.clone(), page.ctx.lang, state.clone());
    let found = state
        .db
        .run(move |store| {
            if req.q.is_empty() {
                return Ok(Found::Examples(examples(store, &who, lang)?));
            }
            Ok(Found::Tree(Box::new(run_trace(store, &st, &who, &req)?)))
        })
        .await;
    match found {
        Ok(Found::Examples(examples)) => page.examples = examples,
        Ok(Found::Tree(tree)) => page.result = Some(result_view(&tree, &user, &r, lang)),
        Err(e) if e.status.is_client_error() => {
            page.error = Some(e.msg.get(lang).to_string());
            let mut response = render(&page)?;
            *response.status_mut() = e.status;
            return Ok(response);
        }
        Err(e) => return Err(e),
    }
    render(&page)
}

fn result_view(tree: &TraceTree, user: &Principal, r: &TraceRequest, lang: Lang) -> ResultView {
    let viewer = Viewer { user, lang, pivot: r.options() };
    let (kinds, regions) = view::totals(tree, lang);
    let graph = Graph::build(&viewer, tree);
    let query = r.query();
    let zh = lang == Lang::Zh;
    ResultView {
        forward: tree.direction == Direction::Forward,
        title: match (tree.direction, zh) {
            (Direction::Backward, true) => "逆向追溯（来源）",
            (Direction::Backward, false) => "Backward trace (origin)",
            (Direction::Forward, true) => "正向追踪（去向）",
            (Direction::Forward, false) => "Forward trace (recipients)",
        },
        start: tree.start.clone(),
        lines: viewer.lines(tree),
        kinds,
        regions,
        truncated: tree.truncated,
        nodes: tree.nodes,
        recall_href: (tree.direction == Direction::Forward).then(|| format!("/trace/export?{query}&format=recall")),
        fsma_href: format!("/trace/export?{query}&format=fsma204"),
        has_graph: graph["links"].as_array().is_some_and(|l| !l.is_empty()),
        graph_partial: graph["truncated"].as_bool().unwrap_or(false),
        graph_json: crate::pages::view::script_json(&graph),
    }
}

/// A few starting points within the reader's scope, for a first visit: recent lot codes (or, for
/// a chain's headquarters, recent sales to its stores) and recent certificates.
fn examples(store: &dyn Store, user: &Principal, lang: Lang) -> Result<Vec<(String, String)>, AppError> {
    let t = |zh: &'static str, en: &'static str| if lang == Lang::Zh { zh } else { en };
    let link = |q: &str, start: &str, dir: &str, what: &str| {
        (format!("/trace?q={}&start={start}&dir={dir}", urlencode(q)), format!("{q} · {what}"))
    };
    let mut out = Vec::new();
    match &user.scope {
        _ if user.role.upstream_only() => {}
        // A chain's headquarters sees the sales to its stores, not the vendors' lots.
        Scope::Enterprise(_) => {
            for sale in recent(store, user, Kind::Outbound, &["source", "ext_id"], 5)? {
                out.push(link(&sale, "sale", "back", t("追溯来源", "trace back")));
            }
        }
        _ => {
            // Lots that were sold from have both an origin and recipients.
            let mut lots = recent(store, user, Kind::Outbound, &["lot_code"], 5)?;
            if lots.is_empty() {
                lots = recent(store, user, Kind::Inbound, &["lot_code"], 5)?;
            }
            for lot in lots {
                out.push(link(&lot, "lot", "back", t("追溯来源", "trace back")));
                out.push(link(&lot, "lot", "forward", t("追踪去向", "trace forward")));
            }
        }
    }
    for cert in recent(store, user, Kind::OriginCertificate, &["cert_no"], 3)? {
        out.push(link(&cert, "certificate", "forward", t("合格证去向", "certificate forward")));
    }
    Ok(out)
}

/// Distinct values (fields joined by a comma) of the newest records of a kind in the scope.
fn recent(store: &dyn Store, user: &Principal, kind: Kind, fields: &[&str], n: usize) -> Result<Vec<String>, AppError> {
    let def = kind.def();
    let positions: Vec<usize> = fields.iter().filter_map(|f| def.field(f).map(|(i, _)| i)).collect();
    let rows: Vec<Listed> =
        store.list(kind, &ListQuery { scope: &user.scope, filters: vec![], before: None, limit: 50 })?;
    let mut out: Vec<String> = Vec::new();
    for row in rows {
        let parts: Option<Vec<&str>> = positions.iter().map(|&i| row.values.get(i).and_then(Value::as_text)).collect();
        let Some(value) = parts.map(|p| p.join(",")) else { continue };
        if !out.contains(&value) {
            out.push(value);
        }
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}

/// Which spreadsheet an export is.
#[derive(Debug, Clone, Copy)]
enum Export {
    Recall,
    Fsma204,
}

impl Export {
    fn parse(s: &str) -> Result<Export, AppError> {
        match s {
            "recall" => Ok(Export::Recall),
            "fsma204" => Ok(Export::Fsma204),
            _ => Err(AppError::bad_request(
                format!("导出格式“{s}”无效，应为 recall 或 fsma204"),
                format!("invalid export format {s:?}: recall or fsma204"),
            )),
        }
    }

    fn write(self, store: &dyn Store, tree: &TraceTree, lang: Lang) -> Result<Vec<u8>, AppError> {
        let mut buf = Vec::new();
        match self {
            Export::Recall => trace_export::recall_xlsx(tree, lang, &mut buf),
            Export::Fsma204 => trace_export::fsma204_xlsx(store, tree, lang, &mut buf),
        }
        .map_err(export_error)?;
        Ok(buf)
    }

    /// The file's name in the reader's language.
    fn file_name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Export::Recall, Lang::Zh) => "召回清单",
            (Export::Recall, Lang::En) => "recall-list",
            (Export::Fsma204, _) => "FSMA204",
        }
    }
}

/// `/trace/export?…&format=recall|fsma204`: the spreadsheet of a trace, as an attachment.
pub async fn export(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Auth(user, ctx): Auth,
    Query(params): Query<TraceParams>,
) -> Result<Response, AppError> {
    let r = TraceRequest::parse(&params)?;
    let format = Export::parse(&params.format)?;
    if r.q.is_empty() {
        return Err(AppError::bad_request("请给出追溯起点", "give a starting point"));
    }
    let lang = ctx.lang;
    let client = addr.ip().to_string();
    let (reference, query, st) = (r.q.clone(), r.query(), state.clone());
    let body = state
        .db
        .run(move |store| {
            let tree = run_trace(store, &st, &user, &r)?;
            let body = format.write(store, &tree, lang)?;
            let after = json!({"query": query, "roots": tree.roots.len(), "nodes": tree.nodes}).to_string();
            let action =
                format!("trace.export.{}", if matches!(format, Export::Recall) { "recall" } else { "fsma204" });
            accounts::audit(
                store,
                &user.username,
                &action,
                Some("trace"),
                Some(&tree.start),
                None,
                Some(&after),
                Some(&client),
            )?;
            Ok(body)
        })
        .await?;
    let disposition = attachment(&format!("{}-{reference}.xlsx", format.file_name(lang)));
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// A `Content-Disposition: attachment` value with an ASCII `filename` for old clients and the
/// full name as RFC 5987 `filename*` (UTF-8, percent-encoded).
pub fn attachment(name: &str) -> String {
    let safe: String = name.chars().filter(|c| !c.is_control() && !matches!(c, '/' | '\\')).collect();
    let ascii: String =
        safe.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    let encoded: String = safe
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_are_ascii_with_the_utf8_name_beside() {
        let v = attachment("召回清单-T0001.xlsx");
        assert!(v.starts_with("attachment; filename=\"____-T0001.xlsx\""), "{v}");
        assert!(v.contains("filename*=UTF-8''%E5%8F%AC%E5%9B%9E%E6%B8%85%E5%8D%95-T0001.xlsx"), "{v}");
        let quoted = attachment("a\"b\r\n.xlsx");
        assert!(quoted.contains("filename=\"a_b.xlsx\"") && quoted.contains("a%22b.xlsx"), "{quoted}");
    }

    #[test]
    fn requests_repeat_as_query_strings() {
        let p = TraceParams { q: "T1 2".into(), dir: "forward".into(), confirmed: "1".into(), ..Default::default() };
        let r = TraceRequest::parse(&p).expect("valid");
        assert_eq!(r.query(), "q=T1%202&start=auto&dir=forward&window=3&confirmed=1");
        let bad = TraceParams { window: "99".into(), ..Default::default() };
        assert_eq!(TraceRequest::parse(&bad).map(|_| ()).unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
