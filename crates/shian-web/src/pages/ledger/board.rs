//! The ledger board (`/ledger`): entries newest first with filters, a page at a time.
//!
//! State, source, market and region are conditions of the store's query (the region narrows the
//! reader's scope, never widens it). Level, "overdue only" and the subject search are applied to
//! the entries as they are read, so a page reads entries in batches until it is full; a search
//! that matches little stops after [`MAX_SCAN`] entries and offers to continue from there.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State as AxState};
use axum::response::Response;
use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, time};
use shian_services::accounts::{Principal, region_label};
use shian_services::supervision::now;
use shian_services::supervision::rules::{self, Due, Level, State};
use shian_store::Store;
use shian_store::supervision::{EntryFilter, RiskEntry};

use super::{SOURCES, require_ledger, source_label, text};
use crate::AppState;
use crate::auth::{Auth, Ctx, urlencode};
use crate::error::AppError;
use crate::pages::render;

/// Entries per page.
pub const PAGE: usize = 50;
/// Entries read per query when some filters are applied after reading.
const BATCH: usize = 200;
/// The most entries one page reads before it stops and offers to continue.
pub const MAX_SCAN: usize = 5_000;

/// The board's filters, from a query string.
#[derive(Debug, Clone, Default)]
pub struct BoardQuery {
    pub state: Option<State>,
    /// `active`: open or in disposal.
    pub active: bool,
    pub level: Option<Level>,
    pub source: Option<&'static str>,
    pub market: Option<String>,
    pub region: Option<String>,
    pub overdue: bool,
    pub q: Option<String>,
    pub before: Option<i64>,
    pub limit: usize,
}

fn invalid(name: &str, v: &str) -> AppError {
    AppError::bad_request(format!("参数 {name} 的取值“{v}”无效"), format!("invalid {name}: {v:?}"))
}

fn flag(v: Option<&String>) -> bool {
    v.is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes" | "on"))
}

impl BoardQuery {
    /// Reads the filters; an unknown state, level, source or a malformed region is refused.
    pub fn parse(params: &HashMap<String, String>, limit: usize) -> Result<BoardQuery, AppError> {
        let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut q = BoardQuery { limit, overdue: flag(params.get("overdue")), ..BoardQuery::default() };
        match get("state") {
            Some("active") => q.active = true,
            Some(s) => q.state = Some(State::parse(s).ok_or_else(|| invalid("state", s))?),
            None => {}
        }
        if let Some(l) = get("level") {
            q.level = Some(Level::parse(l).ok_or_else(|| invalid("level", l))?);
        }
        if let Some(s) = get("source") {
            q.source =
                Some(SOURCES.iter().find(|(c, ..)| *c == s).map(|(c, ..)| *c).ok_or_else(|| invalid("source", s))?);
        }
        if let Some(r) = get("region") {
            let ok = r.bytes().all(|b| b.is_ascii_digit()) && matches!(r.len(), 2 | 4 | 6);
            q.region = Some(ok.then(|| format!("{r:0<6}")).ok_or_else(|| invalid("region", r))?);
        }
        q.market = get("market").map(str::to_string);
        q.q = get("q").map(|s| s.chars().take(100).collect());
        if let Some(b) = get("before") {
            q.before = Some(b.parse().map_err(|_| invalid("before", b))?);
        }
        Ok(q)
    }

    /// The query string of these filters (without `before`), for links.
    pub fn query_string(&self) -> String {
        let mut p: Vec<String> = Vec::new();
        let mut add = |k: &str, v: &str| p.push(format!("{k}={}", urlencode(v)));
        if self.active {
            add("state", "active");
        }
        if let Some(s) = self.state {
            add("state", s.code());
        }
        if let Some(l) = self.level {
            add("level", l.code());
        }
        if let Some(s) = self.source {
            add("source", s);
        }
        for (k, v) in [("market", &self.market), ("region", &self.region), ("q", &self.q)] {
            if let Some(v) = v {
                add(k, v);
            }
        }
        if self.overdue {
            add("overdue", "1");
        }
        p.join("&")
    }

    /// Whether some filters are applied after reading.
    fn post_filtered(&self) -> bool {
        self.level.is_some() || self.overdue || self.q.is_some() || self.active
    }

    fn keeps(&self, e: &RiskEntry, now: i64) -> bool {
        let active = State::parse(&e.state).is_some_and(State::is_active);
        self.level.is_none_or(|l| l.code() == e.level)
            && (!self.active || active)
            && (!self.overdue || (active && now > e.deadline))
            && self.q.as_deref().is_none_or(|q| matches_subject(e, q))
    }
}

/// Whether a search text is in the entry's subject: title, market, vendor, variety, lot, source.
fn matches_subject(e: &RiskEntry, q: &str) -> bool {
    let q = q.to_lowercase();
    [
        Some(&e.title),
        Some(&e.title_en),
        e.market_code.as_ref(),
        e.market_name.as_ref(),
        e.vendor_code.as_ref(),
        e.vendor_name.as_ref(),
        e.variety_name.as_ref(),
        e.lot_code.as_ref(),
        e.source_key.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|s| s.to_lowercase().contains(&q))
}

/// A page of the board: entries with what is due on each.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub rows: Vec<(RiskEntry, Vec<Due>)>,
    /// The next page's `before`.
    pub next_before: Option<i64>,
    /// The page stopped after [`MAX_SCAN`] entries without filling up.
    pub stopped: bool,
}

/// The scope narrowed to a region filter; `None` when the region lies outside the scope.
fn narrowed(scope: &Scope, region: Option<&str>) -> Option<Scope> {
    match (scope, region) {
        (_, None) | (Scope::Market(_) | Scope::Enterprise(_), _) => Some(scope.clone()),
        (Scope::All, Some(r)) => Some(Scope::Region(r.to_string())),
        (Scope::Region(_), Some(r)) => scope.covers_region(r).then(|| Scope::Region(r.to_string())),
    }
}

/// The market a filter names, by code (within the scope or not: the scope applies anyway).
fn market_id(store: &dyn Store, code: Option<&str>) -> Result<Option<i64>, AppError> {
    let Some(code) = code else { return Ok(None) };
    let found = store.resolve(Kind::Market, &[code])?.into_iter().next().map(|(_, id)| id);
    found.map(Some).ok_or_else(|| {
        AppError::bad_request(format!("找不到市场编码“{code}”"), format!("no market with code {code:?}"))
    })
}

/// One page of entries in `scope` matching `q`, with what is due on each at `now`.
pub fn board(store: &dyn Store, scope: &Scope, q: &BoardQuery, now: i64) -> Result<Board, AppError> {
    let Some(scope) = narrowed(scope, q.region.as_deref()) else { return Ok(Board::default()) };
    let market_id = market_id(store, q.market.as_deref())?;
    let (entries, next_before, stopped) = read_page(store, &scope, market_id, q, now)?;
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        let due = rules::due_items(&e, &store.actions(e.id)?, now);
        rows.push((e, due));
    }
    Ok(Board { rows, next_before, stopped })
}

type Page = (Vec<RiskEntry>, Option<i64>, bool);

/// Reads entries in batches until a page is full, the entries end or [`MAX_SCAN`] were read:
/// the page, the next page's `before`, and whether it stopped at the limit.
fn read_page(
    store: &dyn Store,
    scope: &Scope,
    market_id: Option<i64>,
    q: &BoardQuery,
    now: i64,
) -> Result<Page, AppError> {
    let batch = if q.post_filtered() { BATCH } else { q.limit + 1 };
    let (mut rows, mut cursor, mut scanned) = (Vec::new(), q.before, 0);
    loop {
        let filter = EntryFilter {
            scope,
            state: q.state.map(State::code),
            market_id,
            source_kind: q.source,
            before: cursor,
            limit: batch,
        };
        let entries = store.entries(&filter)?;
        let full = entries.len() == batch;
        for e in entries {
            cursor = Some(e.id);
            scanned += 1;
            if q.keeps(&e, now) {
                rows.push(e);
                if rows.len() > q.limit {
                    rows.truncate(q.limit);
                    let next = rows.last().map(|e| e.id);
                    return Ok((rows, next, false));
                }
            }
        }
        if !full {
            return Ok((rows, None, false));
        }
        if scanned >= MAX_SCAN {
            return Ok((rows, cursor, true));
        }
    }
}

/// What is due, in words: "re-test by … (until 05-01 12:00, overdue)".
pub fn due_text(d: &Due, lang: Lang) -> String {
    let by = d.by.map(|b| time::format_datetime(b).chars().skip(5).take(11).collect::<String>());
    match (by, d.overdue, lang) {
        (Some(by), true, Lang::Zh) => format!("{}（{by} 前，已逾期）", text(&d.what, lang)),
        (Some(by), false, Lang::Zh) => format!("{}（{by} 前）", text(&d.what, lang)),
        (Some(by), true, Lang::En) => format!("{} (by {by}, overdue)", text(&d.what, lang)),
        (Some(by), false, Lang::En) => format!("{} (by {by})", text(&d.what, lang)),
        (None, ..) => text(&d.what, lang),
    }
}

/// A row of the board.
pub struct Row {
    pub id: i64,
    pub level: String,
    pub level_code: String,
    pub title: String,
    pub source: String,
    pub market: String,
    pub market_href: Option<String>,
    pub owner: String,
    pub deadline: String,
    pub overdue: bool,
    pub state: String,
    pub state_code: String,
    pub due: Vec<String>,
}

fn row(e: &RiskEntry, due: &[Due], lang: Lang, now: i64) -> Row {
    let state = State::parse(&e.state);
    let owner_role = rules::Owner::parse(&e.owner_role).map(|o| text(&o.label(), lang)).unwrap_or_default();
    Row {
        id: e.id,
        level: Level::parse(&e.level).map(|l| text(&l.label(), lang)).unwrap_or_else(|| e.level.clone()),
        level_code: e.level.clone(),
        title: if lang == Lang::Zh { e.title.clone() } else { e.title_en.clone() },
        source: source_label(&e.source_kind, lang),
        market: match (&e.market_name, &e.region) {
            (Some(name), _) => name.clone(),
            (None, Some(r)) => region_label(r),
            (None, None) => String::new(),
        },
        market_href: e.market_id.map(|m| format!("/record/market/{m}")),
        owner: match &e.owner_name {
            Some(n) => format!("{owner_role} {n}"),
            None => owner_role,
        },
        deadline: time::format_datetime(e.deadline).chars().take(16).collect(),
        overdue: state.is_some_and(State::is_active) && now > e.deadline,
        state: state.map(|s| text(&s.label(), lang)).unwrap_or_else(|| e.state.clone()),
        state_code: e.state.clone(),
        due: due.iter().map(|d| due_text(d, lang)).collect(),
    }
}

/// A select of the filter form: name, label, options (value, label, selected).
pub struct Select {
    pub name: &'static str,
    pub label: String,
    pub options: Vec<(String, String, bool)>,
}

fn select(name: &'static str, label: &str, chosen: Option<&str>, opts: Vec<(String, String)>) -> Select {
    let options = opts.into_iter().map(|(v, l)| (v.clone(), l, Some(v.as_str()) == chosen)).collect();
    Select { name, label: label.to_string(), options }
}

fn state_select(q: &BoardQuery, ctx: &Ctx) -> Select {
    let chosen = if q.active { Some("active") } else { q.state.map(State::code) };
    let mut opts =
        vec![("active".to_string(), ctx.t("未办结（待处置、处置中）", "Active (open, in disposal)").to_string())];
    opts.extend(State::ALL.iter().map(|s| (s.code().to_string(), text(&s.label(), ctx.lang))));
    select("state", ctx.t("状态", "State"), chosen, opts)
}

fn selects(q: &BoardQuery, user: &Principal, ctx: &Ctx) -> Vec<Select> {
    let lang = ctx.lang;
    let levels = Level::ALL.iter().map(|l| (l.code().to_string(), text(&l.label(), lang))).collect();
    let sources = SOURCES.iter().map(|(c, ..)| (c.to_string(), source_label(c, lang))).collect();
    let mut out = vec![
        state_select(q, ctx),
        select("level", ctx.t("风险等级", "Level"), q.level.map(Level::code), levels),
        select("source", ctx.t("来源", "Source"), q.source, sources),
    ];
    if let Some(parent) = region_parent(&user.scope) {
        let regions =
            shian_domain::region::children(&parent).map(|r| (r.code.to_string(), r.name.to_string())).collect();
        out.push(select("region", ctx.t("行政区划", "Region"), q.region.as_deref(), regions));
    }
    out
}

/// The division whose children a region filter offers: the province's cities, a city's counties.
pub fn region_parent(scope: &Scope) -> Option<String> {
    use shian_domain::region::Level as RegionLevel;
    match scope {
        Scope::All => Some("130000".into()),
        Scope::Region(code)
            if shian_domain::region::by_code(code).is_some_and(|r| r.level == RegionLevel::Prefecture) =>
        {
            Some(code.clone())
        }
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct BoardPage {
    ctx: Ctx,
    selects: Vec<Select>,
    market: String,
    market_filter: bool,
    q: String,
    overdue: bool,
    rows: Vec<Row>,
    next: Option<String>,
    stopped: bool,
    may_open: bool,
}

/// `/ledger`
pub async fn page(
    AxState(state): AxState<AppState>,
    Auth(user, ctx): Auth,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    require_ledger(&user)?;
    let q = BoardQuery::parse(&params, PAGE)?;
    let (scope, query, at) = (user.scope.clone(), q.clone(), now());
    let found = state.db.run(move |store| board(store, &scope, &query, at)).await?;
    let next = found.next_before.map(|b| format!("/ledger?{}&before={b}", q.query_string()));
    render(&BoardPage {
        selects: selects(&q, &user, &ctx),
        market: q.market.clone().unwrap_or_default(),
        market_filter: !matches!(user.scope, Scope::Market(_)),
        q: q.q.clone().unwrap_or_default(),
        overdue: q.overdue,
        rows: found.rows.iter().map(|(e, d)| row(e, d, ctx.lang, at)).collect(),
        next,
        stopped: found.stopped,
        may_open: user.role.may_write(),
        ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn filters_round_trip_through_the_query_string() {
        let p = params(&[("state", "open"), ("level", "major"), ("region", "1301"), ("overdue", "1"), ("q", "芹菜")]);
        let q = BoardQuery::parse(&p, 10).expect("parse");
        assert_eq!(q.region.as_deref(), Some("130100"));
        let again: HashMap<String, String> = q
            .query_string()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(again.get("level").map(String::as_str), Some("major"));
        assert_eq!(again.get("region").map(String::as_str), Some("130100"));
        assert!(again.contains_key("overdue") && again.contains_key("q"));
    }

    #[test]
    fn unknown_values_are_refused() {
        for (k, v) in
            [("state", "gone"), ("level", "huge"), ("source", "rumour"), ("region", "13' OR 1"), ("before", "x")]
        {
            assert!(BoardQuery::parse(&params(&[(k, v)]), 10).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn a_region_filter_narrows_the_scope_and_never_widens_it() {
        let county = Scope::Region("130102".into());
        assert_eq!(narrowed(&county, Some("130100")), None, "a county reader cannot ask for the city");
        assert_eq!(narrowed(&Scope::All, Some("130100")), Some(Scope::Region("130100".into())));
        let city = Scope::Region("130100".into());
        assert_eq!(narrowed(&city, Some("130102")), Some(Scope::Region("130102".into())));
        assert_eq!(narrowed(&city, Some("130200")), None);
    }
}
