//! 总览: the seed's figures for the reader's scope, monthly trends, this week's failures, open
//! risk items and a map of the province's cities with their markets and failures.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Value};
use shian_services::public::listed::shown;
use shian_store::Store;
use shian_store::query::{Filter, ListQuery};

use super::render;
use super::view;
use crate::AppState;
use crate::auth::{Auth, Ctx};
use crate::error::AppError;
use crate::summary::Figures;

pub struct FigureView {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    pub href: &'static str,
}

#[derive(Clone)]
pub struct FailureView {
    pub kind: String,
    pub number: String,
    pub href: String,
    pub market: String,
    pub variety: String,
    pub item: String,
    pub when: String,
}

#[derive(Clone)]
pub struct RiskView {
    pub label: String,
    pub count: u64,
    pub href: String,
}

/// The dashboard's lists of a scope, kept until the next write.
struct Lists {
    failures: Vec<FailureView>,
    risks: Vec<RiskView>,
    from: i64,
    to: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ctx: Ctx,
    scope_label: String,
    figures: Vec<FigureView>,
    failures: Vec<FailureView>,
    risks: Vec<RiskView>,
    week_from: String,
    week_to: String,
    chart_json: String,
}

/// Thousands separators: 25,000,000.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn figure_views(f: &Figures, ctx: &Ctx) -> Vec<FigureView> {
    let items: [(&'static str, &'static str, &'static str, u64, &'static str); 10] = [
        ("markets", "集中交易市场", "Markets", f.markets, "/records/market"),
        ("vendors", "入场销售者", "Vendors", f.vendors, "/records/vendor"),
        ("listings", "品种信息", "Variety listings", f.listings, "/records/vendor_variety"),
        ("orders", "出入库订单", "Order records", f.orders, "/records/inbound"),
        ("certificates", "承诺达标合格证", "Origin certificates", f.certificates, "/records/origin_certificate"),
        ("rapid_tests", "快速检测", "Rapid tests", f.rapid_tests, "/records/rapid_test"),
        ("samples", "监督抽检", "Official samples", f.samples, "/records/sample"),
        ("supermarkets", "超市门店", "Supermarket stores", f.supermarkets, "/records/buyer?buyer_kind=supermarket"),
        (
            "restaurants_canteens",
            "餐馆与食堂",
            "Restaurants and canteens",
            f.restaurants_canteens,
            "/records/buyer?buyer_kind=canteen",
        ),
        ("producers", "生产者", "Producers", f.producers, "/records/producer"),
    ];
    items
        .into_iter()
        .map(|(key, zh, en, n, href)| FigureView { key, label: ctx.t(zh, en), value: grouped(n), href })
        .collect()
}

fn chart_data(f: &Figures, ctx: &Ctx) -> serde_json::Value {
    json!({
        "labels": {
            "orders": ctx.t("出入库订单", "Order records"),
            "rapid": ctx.t("快速检测", "Rapid tests"),
            "rapid_failed": ctx.t("快检阳性", "Rapid positives"),
            "samples": ctx.t("监督抽检", "Samples"),
            "samples_failed": ctx.t("抽检不合格", "Failed samples"),
            "markets": ctx.t("市场数", "Markets"),
            "failures": ctx.t("不合格数", "Failures"),
        },
        "trend": f.trend.iter().map(|t| json!([t.0, t.1, t.2, t.3, t.4, t.5])).collect::<Vec<_>>(),
        "cities": f.cities.iter().map(|(name, (m, fails))| json!({"name": name, "markets": m, "failures": fails})).collect::<Vec<_>>(),
        "points": f.points.iter().filter_map(|(m, fails)| Some(json!({
            "name": m.name, "value": [m.lon?, m.lat?, fails], "href": format!("/record/market/{}", m.id)
        }))).collect::<Vec<_>>(),
    })
}

/// The last seven days of data: up to now, or up to the newest test if the data ends earlier.
fn week(store: &dyn Store, scope: &Scope) -> Result<(i64, i64), AppError> {
    let now = shian_services::accounts::now();
    let latest = store
        .list(Kind::RapidTest, &ListQuery { scope, filters: vec![], before: None, limit: 1 })?
        .first()
        .and_then(|r| r.values[field(Kind::RapidTest, "tested_at")].as_int())
        .unwrap_or(now);
    let end = latest.min(now);
    Ok((end - 7 * 86_400, end))
}

fn field(kind: Kind, name: &str) -> usize {
    kind.def().field(name).map(|(i, _)| i).expect("known field")
}

fn failures(store: &dyn Store, scope: &Scope, from: i64, to: i64, lang: Lang) -> Result<Vec<FailureView>, AppError> {
    let mut out = Vec::new();
    let lq = ListQuery {
        scope,
        filters: vec![
            Filter::Eq("verdict", Value::Text("fail".into())),
            Filter::From("tested_at", Value::Int(from)),
            Filter::To("tested_at", Value::Int(to)),
        ],
        before: None,
        limit: 20,
    };
    for r in store.list(Kind::RapidTest, &lq)? {
        out.push(FailureView {
            kind: view::kind_label(Kind::RapidTest, lang).to_string(),
            number: shown(Kind::RapidTest, &r, "test_no"),
            href: format!("/record/rapid_test/{}", r.id),
            market: shown(Kind::RapidTest, &r, "market"),
            variety: shown(Kind::RapidTest, &r, "variety"),
            item: shown(Kind::RapidTest, &r, "item"),
            when: r.values[field(Kind::RapidTest, "tested_at")]
                .as_int()
                .map(shian_domain::time::format_datetime)
                .unwrap_or_default(),
        });
    }
    let day = |t: i64| shian_domain::time::format_datetime(t).chars().take(10).collect::<String>();
    let lq =
        ListQuery { scope, filters: vec![Filter::Eq("verdict", Value::Text("fail".into()))], before: None, limit: 200 };
    let (from_day, to_day) = (day(from), day(to));
    for item in store.list(Kind::SampleItem, &lq)? {
        let sample_no = item.values[field(Kind::SampleItem, "sample")].as_text().unwrap_or_default().to_string();
        let Some(id) = store.find(Kind::Sample, &[Value::Text(sample_no.clone())])? else { continue };
        let Some(s) = store.get(Kind::Sample, id, scope)? else { continue };
        let on = shown(Kind::Sample, &s, "sampled_on");
        if on < from_day || on > to_day {
            continue;
        }
        out.push(FailureView {
            kind: view::kind_label(Kind::Sample, lang).to_string(),
            number: sample_no,
            href: format!("/record/sample/{id}"),
            market: shown(Kind::Sample, &s, "market"),
            variety: shown(Kind::Sample, &s, "variety"),
            item: shown(Kind::SampleItem, &item, "item"),
            when: on,
        });
    }
    Ok(out)
}

fn risks(store: &dyn Store, scope: &Scope, ctx: &Ctx) -> Result<Vec<RiskView>, AppError> {
    let open = [
        (Kind::Complaint, "status", "received", "件投诉举报已受理待调查", "complaints received, not yet investigated"),
        (Kind::Complaint, "status", "investigating", "件投诉举报调查中", "complaints under investigation"),
        (Kind::Inspection, "status", "rectifying", "项检查问题整改中", "inspection findings being rectified"),
        (Kind::Case, "status", "open", "起案件在办", "cases open"),
    ];
    let mut out = Vec::new();
    for (kind, f, code, zh, en) in open {
        let filter = Filter::Eq(f, Value::Text(code.into()));
        let count = store.count_in(kind, scope, &[filter])?;
        out.push(RiskView {
            label: ctx.t(zh, en).to_string(),
            count,
            href: format!("/records/{}?{f}={code}", kind.name()),
        });
    }
    Ok(out)
}

/// The ledger's active entries by level and overdue (the risk ledger, issue 5), cached a minute
/// per scope: the background dispatcher opens entries without telling the cache.
fn ledger_risks(
    store: &dyn Store,
    summary: &crate::summary::Summaries,
    user: &shian_services::accounts::Principal,
    lang: Lang,
) -> Result<Vec<RiskView>, AppError> {
    use super::ledger::{dashboard_lines, open_counts, sees_ledger};
    if !sees_ledger(user) {
        return Ok(Vec::new());
    }
    let now = shian_services::accounts::now();
    let key = format!("ledger/{:?}/{}", user.scope, now / 60);
    let counts = summary.cached(key, || open_counts(store, &user.scope, now))?;
    let lines = dashboard_lines(&counts, lang);
    Ok(lines.into_iter().map(|(label, count, href)| RiskView { label, count, href }).collect())
}

/// `/`
pub async fn page(State(state): State<AppState>, Auth(user, ctx): Auth) -> Result<Response, AppError> {
    let scope = user.scope.clone();
    let summary = std::sync::Arc::clone(&state.summary);
    let lang = ctx.lang;
    let risk_ctx = ctx.clone();
    let upstream = user.role.upstream_only();
    let key = format!("dashboard/{:?}/{lang:?}", user.scope);
    let user_for_ledger = user.clone();
    let (figures, lists, views, ledger) = state
        .db
        .run(move |store| {
            let figures = summary.figures(store, &scope)?;
            let views = summary
                .cached(format!("public/views/{scope:?}"), || crate::public::staff::views_figure(store, &scope))?;
            let lists = summary.cached(key, || {
                let (from, to) = week(store, &scope)?;
                let (failures, risks) = if upstream {
                    (Vec::new(), Vec::new())
                } else {
                    (failures(store, &scope, from, to, lang)?, risks(store, &scope, &risk_ctx)?)
                };
                Ok(Lists { failures, risks, from, to })
            })?;
            let ledger = ledger_risks(store, &summary, &user_for_ledger, lang)?;
            Ok((figures, lists, views, ledger))
        })
        .await?;
    let mut figure_list = figure_views(&figures, &ctx);
    figure_list.push(FigureView {
        key: "public_views",
        label: ctx.t("公示页浏览量", "Public page views"),
        value: grouped(*views),
        href: "/records/vendor",
    });
    let (from, to) = (lists.from, lists.to);
    let day = |t: i64| shian_domain::time::format_datetime(t).chars().take(10).collect::<String>();
    render(&DashboardPage {
        scope_label: user.scope_label.clone(),
        figures: figure_list,
        failures: lists.failures.clone(),
        risks: ledger.iter().chain(lists.risks.iter()).cloned().collect(),
        week_from: day(from),
        week_to: day(to),
        chart_json: view::script_json(&chart_data(&figures, &ctx)),
        ctx,
    })
}
