//! The archives: a list page and a record page for every record kind, and the audit log.
//!
//! A record page shows the record's fields, its previous versions, and the records that refer to
//! it (a market's vendors, staff and tests; a vendor's listings, receipts and sales; …), each
//! within the reader's scope.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use shian_domain::access::Scope;
use shian_domain::field::FieldType;
use shian_domain::region::Level;
use shian_domain::{Kind, Lang, Value};
use shian_services::accounts::Principal;
use shian_store::query::{Filter, ListQuery};

use super::render;
use super::view::{self, Cell, RowView};
use crate::AppState;
use crate::auth::{Auth, Ctx, urlencode};
use crate::error::AppError;

const PAGE: usize = 50;

/// Tabs of the archive groups.
const SUBJECTS: [Kind; 4] = [Kind::Market, Kind::Vendor, Kind::Producer, Kind::Buyer];
const SUPERVISION: [Kind; 7] = [
    Kind::RapidTest,
    Kind::Sample,
    Kind::Inspection,
    Kind::Complaint,
    Kind::Case,
    Kind::RoutineRecord,
    Kind::OriginCertificate,
];

/// A kind named in a URL that the user may see.
pub fn visible_kind(user: &Principal, name: &str) -> Result<Kind, AppError> {
    Kind::parse(name).filter(|k| *k != Kind::Region && user.may_see(*k)).ok_or_else(AppError::not_found)
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    ctx: Ctx,
    title: String,
    tabs: Vec<(String, String, bool)>,
    q: String,
    selects: Vec<Select>,
    has_dates: bool,
    from: String,
    to: String,
    total: Option<u64>,
    headers: Vec<String>,
    rows: Vec<RowView>,
    next: Option<String>,
}

struct Select {
    name: String,
    label: String,
    options: Vec<(String, String, bool)>,
}

fn tabs(kind: Kind, user: &Principal, lang: Lang) -> Vec<(String, String, bool)> {
    let group: &[Kind] = if SUBJECTS.contains(&kind) {
        &SUBJECTS
    } else if SUPERVISION.contains(&kind) {
        &SUPERVISION
    } else {
        &[]
    };
    group
        .iter()
        .filter(|k| user.may_see(**k))
        .map(|k| (format!("/records/{}", k.name()), view::kind_label(*k, lang).to_string(), *k == kind))
        .collect()
}

/// The divisions one level below the user's scope (the cities of the province, the counties of a
/// city), for a region filter; none for a county or a market.
fn region_select(kind: Kind, user: &Principal, params: &HashMap<String, String>, lang: Lang) -> Option<Select> {
    let located = shian_store::query::market_of(kind).is_some()
        || matches!(kind, Kind::Market | Kind::Producer | Kind::Buyer | Kind::OriginCertificate);
    let parent = match &user.scope {
        Scope::All => "130000".to_string(),
        Scope::Region(code) if shian_domain::region::by_code(code).is_some_and(|r| r.level == Level::Prefecture) => {
            code.clone()
        }
        _ => return None,
    };
    if !located {
        return None;
    }
    let chosen = params.get("region").map(String::as_str).unwrap_or("");
    let options = shian_domain::region::children(&parent)
        .map(|r| (r.code.to_string(), r.name.to_string(), r.code == chosen))
        .collect();
    Some(Select {
        name: "region".into(),
        label: if lang == Lang::En { "Region".into() } else { "行政区划".into() },
        options,
    })
}

/// The enum fields a list can be filtered by, as selects.
fn selects(kind: Kind, params: &HashMap<String, String>, lang: Lang) -> Vec<Select> {
    let def = kind.def();
    def.fields
        .iter()
        .filter_map(|f| match f.ty {
            FieldType::Enum(choices) if !choices.is_empty() => Some(Select {
                name: f.name.to_string(),
                label: view::field_label(f, lang),
                options: choices
                    .iter()
                    .map(|c| {
                        let label = if lang == Lang::En { c.en } else { c.zh };
                        (c.code.to_string(), label.to_string(), params.get(f.name).is_some_and(|v| v == c.code))
                    })
                    .collect(),
            }),
            _ => None,
        })
        .collect()
}

/// Filters from the query string: enum fields, search, date range, region.
pub fn filters(kind: Kind, params: &HashMap<String, String>) -> Result<Vec<Filter>, AppError> {
    let def = kind.def();
    let mut out = Vec::new();
    for f in def.fields {
        if let (FieldType::Enum(choices), Some(v)) = (f.ty, params.get(f.name).filter(|v| !v.is_empty())) {
            if !choices.iter().any(|c| c.code == v) {
                return Err(AppError::bad_request(
                    format!("{}的取值“{v}”无效", f.zh),
                    format!("invalid {}: {v:?}", f.name),
                ));
            }
            out.push(Filter::Eq(f.name, Value::Text(v.clone())));
        }
    }
    if let Some(q) = params.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()) {
        out.push(Filter::Search(q.to_string()));
    }
    if let Some(time) = shian_store::query::time_field(kind) {
        let ty = def.field(time).map(|(_, f)| f.ty);
        for (param, end) in [("from", false), ("to", true)] {
            let Some(d) = params.get(param).filter(|v| !v.is_empty()) else { continue };
            let v = date_bound(ty, d, end)
                .ok_or_else(|| AppError::bad_request(format!("日期“{d}”无效"), format!("invalid date {d:?}")))?;
            out.push(if end { Filter::To(time, v) } else { Filter::From(time, v) });
        }
    }
    if let Some(r) = params.get("region").filter(|r| !r.is_empty()) {
        if !r.bytes().all(|b| b.is_ascii_digit()) || r.len() > 6 {
            return Err(AppError::bad_request(format!("区划代码“{r}”无效"), format!("invalid region code {r:?}")));
        }
        out.push(Filter::InRegion(r.clone()));
    }
    Ok(out)
}

/// A date (`YYYY-MM-DD`) as the bound of a date or a time field (China time, whole day).
fn date_bound(ty: Option<FieldType>, d: &str, end: bool) -> Option<Value> {
    let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
    Some(match ty {
        Some(FieldType::DateTime) => {
            let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() - 8 * 3600;
            Value::Int(if end { start + 86_399 } else { start })
        }
        _ => Value::Text(date.format("%Y-%m-%d").to_string()),
    })
}

/// `/records/{kind}`
pub async fn list(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let kind = visible_kind(&user, &name)?;
    let lang = ctx.lang;
    let filters = filters(kind, &params)?;
    let before = params.get("before").and_then(|b| b.parse::<i64>().ok());
    let scope = user.scope.clone();
    let small = !matches!(kind, Kind::Inbound | Kind::Outbound | Kind::SampleItem);
    let (rows, total) = state
        .db
        .run(move |store| {
            let lq = ListQuery { scope: &scope, filters: filters.clone(), before, limit: PAGE };
            let rows = store.list(kind, &lq)?;
            let total = if small { Some(store.count_in(kind, &scope, &filters)?) } else { None };
            Ok((rows, total))
        })
        .await?;
    let cols = view::list_columns(kind, 8);
    let views: Vec<RowView> = rows.iter().map(|r| view::row_view(kind, r, &cols, lang)).collect();
    let next = (rows.len() == PAGE).then(|| {
        let mut p: Vec<String> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "before")
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        p.push(format!("before={}", rows.last().map(|r| r.id).unwrap_or(0)));
        format!("/records/{}?{}", kind.name(), p.join("&"))
    });
    let page = ListPage {
        title: view::kind_label(kind, lang).to_string(),
        tabs: tabs(kind, &user, lang),
        q: params.get("q").cloned().unwrap_or_default(),
        selects: region_select(kind, &user, &params, lang).into_iter().chain(selects(kind, &params, lang)).collect(),
        has_dates: shian_store::query::time_field(kind).is_some(),
        from: params.get("from").cloned().unwrap_or_default(),
        to: params.get("to").cloned().unwrap_or_default(),
        total,
        headers: view::headers(kind, views.first(), &cols, lang),
        rows: views,
        next,
        ctx,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    ctx: Ctx,
    title: String,
    kind_label: String,
    list_href: String,
    actions: Vec<(String, String)>,
    fields: Vec<FieldView>,
    sections: Vec<Section>,
    history: Vec<(String, String, String)>,
}

struct FieldView {
    label: String,
    text: String,
    href: Option<String>,
}

struct Section {
    title: String,
    more: Option<String>,
    headers: Vec<String>,
    rows: Vec<RowView>,
}

/// The kinds whose records point at a record of `kind`, and through which field (and, for a
/// polymorphic reference, which choice).
fn referrers(kind: Kind) -> Vec<(Kind, &'static str, Option<&'static str>)> {
    let mut out = Vec::new();
    for other in Kind::ALL {
        for f in other.def().fields {
            match f.ty {
                FieldType::Ref(target) if target == kind && other != kind => out.push((other, f.name, None)),
                FieldType::PolyRef { kind_field } => {
                    let Some((_, kf)) = other.def().field(kind_field) else { continue };
                    let FieldType::Enum(choices) = kf.ty else { continue };
                    for c in choices.iter().filter(|c| c.target == Some(kind)) {
                        out.push((other, f.name, Some(c.code)));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// `/record/{kind}/{id}`
pub async fn record(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path((name, id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let kind = visible_kind(&user, &name)?;
    let lang = ctx.lang;
    let scope = user.scope.clone();
    let related: Vec<_> = referrers(kind).into_iter().filter(|(k, _, _)| user.may_see(*k)).collect();
    let (row, sections, history, summaries) = state
        .db
        .run(move |store| {
            let row = store.get(kind, id, &scope)?.ok_or_else(AppError::not_found)?;
            let summaries = super::profile::summaries(store, kind, id, &scope, lang)?;
            let mut sections = Vec::new();
            for (other, field, choice) in related {
                let filter = match choice {
                    Some(c) => Filter::PolyRefId(field, c, id),
                    None => Filter::RefId(field, id),
                };
                let lq = ListQuery { scope: &scope, filters: vec![filter], before: None, limit: 20 };
                sections.push((other, field, store.list(other, &lq)?));
            }
            let history = store.history(kind, id)?;
            Ok((row, sections, history, summaries))
        })
        .await?;
    let def = kind.def();
    let fields = (0..def.fields.len())
        .map(|i| {
            let Cell { text, href } = view::cell(kind, &row, i, lang);
            let href = href.filter(|h| !h.starts_with("/record/"));
            FieldView { label: view::field_label(&def.fields[i], lang), text, href }
        })
        .collect();
    let title = record_title(kind, &row, lang);
    let summaries =
        summaries.into_iter().map(|s| Section { title: s.title, more: None, headers: s.headers, rows: s.rows });
    let sections = summaries
        .chain(sections.into_iter().filter(|(_, _, rows)| !rows.is_empty()).map(|(other, field, rows)| {
            let cols: Vec<usize> =
                view::list_columns(other, 7).into_iter().filter(|&c| other.def().fields[c].name != field).collect();
            let views: Vec<RowView> = rows.iter().map(|r| view::row_view(other, r, &cols, lang)).collect();
            Section {
                title: view::kind_label(other, lang).to_string(),
                more: None,
                headers: view::headers(other, views.first(), &cols, lang),
                rows: views,
            }
        }))
        .collect();
    let history = history
        .into_iter()
        .map(|h| {
            (
                shian_domain::time::format_datetime(h.replaced_at),
                h.import_run.map(|r| r.to_string()).unwrap_or_default(),
                h.previous.to_string(),
            )
        })
        .collect();
    let actions = match kind {
        Kind::Inbound | Kind::Outbound | Kind::OriginCertificate | Kind::RapidTest | Kind::Sample => {
            let key = trace_ref(kind, &row);
            key.map(|k| {
                vec![
                    (
                        format!("/trace?q={}&dir=back", urlencode(&k)),
                        ctx.t("向上追溯来源", "Trace back to origin").to_string(),
                    ),
                    (
                        format!("/trace?q={}&dir=forward", urlencode(&k)),
                        ctx.t("向下追踪去向", "Trace forward").to_string(),
                    ),
                ]
            })
            .unwrap_or_default()
        }
        Kind::Vendor | Kind::Market => crate::public::staff::actions(kind, id, &ctx),
        _ => Vec::new(),
    };
    render(&RecordPage {
        title,
        kind_label: view::kind_label(kind, lang).to_string(),
        list_href: format!("/records/{}", kind.name()),
        actions,
        fields,
        sections,
        history,
        ctx,
    })
}

/// What the trace page is given for a record: its lot code, or its certificate number.
fn trace_ref(kind: Kind, row: &shian_store::query::Listed) -> Option<String> {
    let def = kind.def();
    let get = |name: &str| def.field(name).and_then(|(i, _)| row.values[i].as_text()).map(str::to_string);
    match kind {
        Kind::OriginCertificate => get("cert_no"),
        Kind::RapidTest => get("test_no"),
        Kind::Sample => get("sample_no"),
        _ => get("lot_code"),
    }
}

fn record_title(kind: Kind, row: &shian_store::query::Listed, lang: Lang) -> String {
    let def = kind.def();
    let name = def.field("name").and_then(|(i, _)| row.values[i].as_text());
    let key: Vec<String> = def.key_positions().iter().map(|&i| view::cell(kind, row, i, lang).text).collect();
    match name {
        Some(n) => format!("{n}（{}）", key.join(" / ")),
        None => format!("{} {}", view::kind_label(kind, lang), key.join(" / ")),
    }
}

/// `/find/{kind}/{key}`: the record with a natural key, if the reader may see it.
pub async fn find(
    State(state): State<AppState>,
    Auth(user, _ctx): Auth,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let kind = visible_kind(&user, &name)?;
    if kind.def().key.len() != 1 {
        return Err(AppError::not_found());
    }
    let scope = user.scope.clone();
    let id = state
        .db
        .run(move |store| {
            let id = store.find(kind, &[Value::Text(key)])?.ok_or_else(AppError::not_found)?;
            store.get(kind, id, &scope)?.ok_or_else(AppError::not_found)?;
            Ok(id)
        })
        .await?;
    Ok(Redirect::to(&format!("/record/{}/{id}", kind.name())).into_response())
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    ctx: Ctx,
    entries: Vec<shian_store::accounts::AuditEntry>,
    next: Option<String>,
    actor: String,
}

impl AuditPage {
    fn when(&self, at: &i64) -> String {
        shian_domain::time::format_datetime(*at)
    }
}

/// `/audit`: the audit log, newest first (auditors and administrators).
pub async fn audit(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    if !user.role.may_read_audit() {
        return Err(AppError::forbidden());
    }
    let before = params.get("before").and_then(|b| b.parse::<i64>().ok());
    let actor = params.get("actor").filter(|a| !a.is_empty()).cloned();
    let a = actor.clone();
    let entries = state.db.run(move |store| Ok(store.audit_log(a.as_deref(), before, 100)?)).await?;
    let next = (entries.len() == 100).then(|| {
        format!(
            "/audit?actor={}&before={}",
            urlencode(actor.as_deref().unwrap_or("")),
            entries.last().map(|e| e.id).unwrap_or(0)
        )
    });
    render(&AuditPage { ctx, entries, next, actor: actor.unwrap_or_default() })
}
