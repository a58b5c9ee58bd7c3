//! 抽检结果: official samples (监督抽检) and rapid tests (快检) within the reader's scope, with
//! filters (verdict, variety, market, item, date range, lab or method, region), a page at a time;
//! each failed result links to its risk-ledger entry.
//!
//! Rapid tests carry their verdict, so every filter is a condition of the store's scoped query. A
//! sample's verdict and items are on its items (`sample_items`): the sample-level filters go to the
//! query, and the verdict and item filters are applied to the samples as they are read, in batches,
//! stopping after [`MAX_SCAN`] samples with a link to continue.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Value};
use shian_services::accounts::Principal;
use shian_store::Store;
use shian_store::query::{Filter, ListQuery, Listed};

use super::ledger::{entry_in_scope, sees_ledger};
use super::records::filters as record_filters;
use super::render;
use super::view::{self, Cell};
use crate::AppState;
use crate::auth::{Auth, Ctx, urlencode};
use crate::error::AppError;

const PAGE: usize = 50;
const BATCH: usize = 200;
/// The most samples one page reads before it stops and offers to continue.
pub const MAX_SCAN: usize = 3_000;

/// Which results the page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Rapid,
    Sample,
}

/// The parameters each tab reads.
const RAPID_PARAMS: [&str; 9] = ["tab", "verdict", "variety", "market", "item", "method", "from", "to", "region"];
const SAMPLE_PARAMS: [&str; 9] = ["tab", "verdict", "variety", "market", "item", "lab", "from", "to", "region"];

/// The filters of a page, checked.
struct Params {
    tab: Tab,
    values: HashMap<String, String>,
    before: Option<i64>,
}

impl Params {
    fn parse(raw: &HashMap<String, String>) -> Result<Params, AppError> {
        let tab = match raw.get("tab").map(String::as_str) {
            Some("sample") => Tab::Sample,
            None | Some("" | "rapid") => Tab::Rapid,
            Some(t) => return Err(AppError::bad_request(format!("标签“{t}”无效"), format!("invalid tab {t:?}"))),
        };
        let known = if tab == Tab::Rapid { &RAPID_PARAMS } else { &SAMPLE_PARAMS };
        let values: HashMap<String, String> = raw
            .iter()
            .filter(|(k, v)| k.as_str() != "tab" && known.contains(&k.as_str()) && !v.trim().is_empty())
            .map(|(k, v)| (k.clone(), v.trim().chars().take(100).collect()))
            .collect();
        if let Some(v) = values.get("verdict").filter(|v| !matches!(v.as_str(), "pass" | "fail")) {
            return Err(AppError::bad_request(format!("判定“{v}”无效"), format!("invalid verdict {v:?}")));
        }
        let before = match raw.get("before").filter(|b| !b.is_empty()) {
            Some(b) => Some(b.parse().map_err(|_| AppError::bad_request("翻页参数无效", "invalid before"))?),
            None => None,
        };
        Ok(Params { tab, values, before })
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.values.get(k).map(String::as_str)
    }

    fn kind(&self) -> Kind {
        if self.tab == Tab::Rapid { Kind::RapidTest } else { Kind::Sample }
    }

    /// The store's conditions: dates, region, method (records' rules) and the equalities.
    fn filters(&self) -> Result<Vec<Filter>, AppError> {
        let shared: HashMap<String, String> = self
            .values
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "from" | "to" | "region" | "method"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = record_filters(self.kind(), &shared)?;
        let eq: &[&'static str] = if self.tab == Tab::Rapid {
            &["variety", "market", "item", "verdict"]
        } else {
            &["variety", "market", "lab"]
        };
        for name in eq {
            if let Some(v) = self.get(name) {
                out.push(Filter::Eq(name, Value::Text(v.to_string())));
            }
        }
        Ok(out)
    }

    fn query_string(&self) -> String {
        let mut p: Vec<String> = self.values.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
        p.sort();
        p.join("&")
    }
}

/// A result as a row: its cells, whether it failed, its ledger entry, and (samples) its items.
pub struct ResultRow {
    pub cells: Vec<Cell>,
    pub failed: bool,
    pub verdict: String,
    pub items: String,
    pub entry: Option<i64>,
}

fn field(kind: Kind, name: &str) -> Option<usize> {
    kind.def().field(name).map(|(i, _)| i)
}

fn cells(kind: Kind, row: &Listed, cols: &[&str], lang: Lang) -> Vec<Cell> {
    cols.iter().filter_map(|c| field(kind, c)).map(|i| view::cell(kind, row, i, lang)).collect()
}

const RAPID_COLS: [&str; 9] =
    ["test_no", "market", "vendor", "variety", "lot_code", "item", "method", "value", "tested_at"];
const SAMPLE_COLS: [&str; 7] = ["sample_no", "subject", "market", "variety", "lot_code", "sampled_on", "lab"];

fn verdict_label(failed: Option<bool>, lang: Lang) -> String {
    let t = match failed {
        Some(true) => ("不合格", "fail"),
        Some(false) => ("合格", "pass"),
        None => ("待检", "pending"),
    };
    if lang == Lang::Zh { t.0.into() } else { t.1.into() }
}

/// The ledger entry of a failed result, when the reader may see it.
fn entry_of(store: &dyn Store, user: &Principal, kind: &str, id: i64) -> Result<Option<i64>, AppError> {
    if !sees_ledger(user) {
        return Ok(None);
    }
    let entry = store.entry_for_source(kind, id)?;
    Ok(entry.filter(|e| entry_in_scope(e, &user.scope)).map(|e| e.id))
}

fn rapid_row(store: &dyn Store, user: &Principal, r: &Listed, lang: Lang) -> Result<ResultRow, AppError> {
    let verdict = field(Kind::RapidTest, "verdict").and_then(|i| r.values[i].as_text()).map(|v| v == "fail");
    let failed = verdict == Some(true);
    Ok(ResultRow {
        cells: cells(Kind::RapidTest, r, &RAPID_COLS, lang),
        failed,
        verdict: verdict_label(verdict, lang),
        items: String::new(),
        entry: if failed { entry_of(store, user, "rapid_test", r.id)? } else { None },
    })
}

/// A sample's items: (item, value, unit, limit, verdict).
fn items_of(store: &dyn Store, scope: &Scope, sample: i64) -> Result<Vec<Listed>, AppError> {
    let lq = ListQuery { scope, filters: vec![Filter::RefId("sample", sample)], before: None, limit: 100 };
    Ok(store.list(Kind::SampleItem, &lq)?)
}

fn item_text(item: &Listed, lang: Lang) -> (String, bool) {
    let k = Kind::SampleItem;
    let get = |n: &str| field(k, n).map(|i| view::cell(k, item, i, lang).text).unwrap_or_default();
    let failed = field(k, "verdict").and_then(|i| item.values[i].as_text()) == Some("fail");
    let limit = get("limit");
    let limit = if limit.is_empty() { String::new() } else { format!(" / {limit}") };
    (format!("{} {} {}{limit}", get("item"), get("value"), get("unit")), failed)
}

/// A sample as a row, or `None` when its items do not match the verdict or item filter.
fn sample_row(
    store: &dyn Store,
    user: &Principal,
    s: &Listed,
    p: &Params,
    lang: Lang,
) -> Result<Option<ResultRow>, AppError> {
    let items = items_of(store, &user.scope, s.id)?;
    let texts: Vec<(String, bool)> = items.iter().map(|i| item_text(i, lang)).collect();
    let failed = texts.iter().any(|(_, f)| *f);
    let verdict = (!items.is_empty()).then_some(failed);
    let verdict_ok = p.get("verdict").is_none_or(|v| verdict == Some(v == "fail"));
    let item_ok = p.get("item").is_none_or(|want| {
        let i = field(Kind::SampleItem, "item");
        items.iter().any(|x| i.and_then(|i| x.values[i].as_text()) == Some(want))
    });
    if !verdict_ok || !item_ok {
        return Ok(None);
    }
    let shown: Vec<&str> = texts.iter().filter(|(_, f)| *f || !failed).map(|(t, _)| t.as_str()).collect();
    Ok(Some(ResultRow {
        cells: cells(Kind::Sample, s, &SAMPLE_COLS, lang),
        failed,
        verdict: verdict_label(verdict, lang),
        items: shown.join("；"),
        entry: if failed { entry_of(store, user, "sample", s.id)? } else { None },
    }))
}

/// A page of results: rows, the next page's `before`, and whether it stopped at [`MAX_SCAN`].
type Found = (Vec<ResultRow>, Option<i64>, bool);

fn rapid_page(store: &dyn Store, user: &Principal, p: &Params, lang: Lang) -> Result<Found, AppError> {
    let lq = ListQuery { scope: &user.scope, filters: p.filters()?, before: p.before, limit: PAGE };
    let rows = store.list(Kind::RapidTest, &lq)?;
    let next = (rows.len() == PAGE).then(|| rows.last().map(|r| r.id)).flatten();
    let out = rows.iter().map(|r| rapid_row(store, user, r, lang)).collect::<Result<_, _>>()?;
    Ok((out, next, false))
}

fn sample_page(store: &dyn Store, user: &Principal, p: &Params, lang: Lang) -> Result<Found, AppError> {
    let filters = p.filters()?;
    let (mut out, mut cursor, mut scanned) = (Vec::new(), p.before, 0);
    loop {
        let lq = ListQuery { scope: &user.scope, filters: filters.clone(), before: cursor, limit: BATCH };
        let batch = store.list(Kind::Sample, &lq)?;
        let full = batch.len() == BATCH;
        for s in &batch {
            cursor = Some(s.id);
            scanned += 1;
            if let Some(row) = sample_row(store, user, s, p, lang)? {
                out.push(row);
                if out.len() == PAGE {
                    return Ok((out, cursor, false));
                }
            }
        }
        if !full {
            return Ok((out, None, false));
        }
        if scanned >= MAX_SCAN {
            return Ok((out, cursor, true));
        }
    }
}

#[derive(Template)]
#[template(path = "sampling.html")]
struct SamplingPage {
    ctx: Ctx,
    rapid: bool,
    values: HashMap<String, String>,
    regions: Vec<(String, String)>,
    methods: Vec<(&'static str, String)>,
    headers: Vec<String>,
    rows: Vec<ResultRow>,
    next: Option<String>,
    stopped: bool,
}

impl SamplingPage {
    fn v(&self, k: &str) -> &str {
        self.values.get(k).map(String::as_str).unwrap_or("")
    }
}

fn headers(kind: Kind, cols: &[&str], lang: Lang) -> Vec<String> {
    let def = kind.def();
    cols.iter().filter_map(|c| def.field(c)).map(|(_, f)| view::field_label(f, lang)).collect()
}

fn methods(lang: Lang) -> Vec<(&'static str, String)> {
    let Some((_, f)) = Kind::RapidTest.def().field("method") else { return Vec::new() };
    let shian_domain::field::FieldType::Enum(choices) = f.ty else { return Vec::new() };
    choices.iter().map(|c| (c.code, if lang == Lang::Zh { c.zh.to_string() } else { c.en.to_string() })).collect()
}

/// `/sampling?tab=rapid|sample&verdict=&variety=&market=&item=&lab=&method=&from=&to=&region=`
pub async fn page(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    if user.role.upstream_only() {
        return Err(AppError::not_found());
    }
    let p = Params::parse(&raw)?;
    let lang = ctx.lang;
    let reader = user.clone();
    let (p, (rows, before, stopped)) = state
        .db
        .run(move |store| {
            let found = if p.tab == Tab::Rapid {
                rapid_page(store, &reader, &p, lang)?
            } else {
                sample_page(store, &reader, &p, lang)?
            };
            Ok((p, found))
        })
        .await?;
    let rapid = p.tab == Tab::Rapid;
    let regions = super::ledger::region_parent(&user.scope)
        .map(|parent| {
            shian_domain::region::children(&parent).map(|r| (r.code.to_string(), r.name.to_string())).collect()
        })
        .unwrap_or_default();
    render(&SamplingPage {
        headers: if rapid {
            headers(Kind::RapidTest, &RAPID_COLS, lang)
        } else {
            headers(Kind::Sample, &SAMPLE_COLS, lang)
        },
        next: before.map(|b| {
            format!("/sampling?{}&tab={}&before={b}", p.query_string(), if rapid { "rapid" } else { "sample" })
        }),
        methods: methods(lang),
        values: p.values,
        rapid,
        regions,
        rows,
        stopped,
        ctx,
    })
}
