//! Summaries a record page shows above its related records: a market's routine compliance over
//! the last 30 days; a variety's sources (origin regions), monthly volumes and test results.

use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Value};
use shian_services::routine;
use shian_store::Store;
use shian_store::query::Filter;

use super::view::{Cell, RowView};
use crate::error::AppError;

/// A titled table.
pub struct Summary {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<RowView>,
}

fn t(lang: Lang, zh: &str, en: &str) -> String {
    if lang == Lang::En { en.to_string() } else { zh.to_string() }
}

fn row(cells: Vec<String>) -> RowView {
    RowView { cells: cells.into_iter().map(|text| Cell { text, href: None }).collect() }
}

/// The summaries of a record of `kind`, within the reader's scope.
pub fn summaries(store: &dyn Store, kind: Kind, id: i64, scope: &Scope, lang: Lang) -> Result<Vec<Summary>, AppError> {
    match kind {
        Kind::Market => market(store, id, scope, lang),
        Kind::Variety => variety(store, id, scope, lang),
        _ => Ok(Vec::new()),
    }
}

fn market(store: &dyn Store, id: i64, scope: &Scope, lang: Lang) -> Result<Vec<Summary>, AppError> {
    let today = chrono::Utc::now().with_timezone(&shian_domain::time::china()).date_naive();
    let (from, to) = routine::window(today, 30);
    let within = match scope {
        Scope::Market(m) if *m != id => return Ok(Vec::new()),
        _ => Scope::Market(id),
    };
    let Some(m) = routine::compliance(store, &within, from, to)?.into_iter().next() else { return Ok(Vec::new()) };
    let names = [("日管控", "Daily control"), ("周排查", "Weekly check"), ("月调度", "Monthly review")];
    let rows = m
        .periods
        .iter()
        .zip(names)
        .map(|(p, (zh, en))| {
            let missed: Vec<String> = p.missed.iter().take(8).map(|d| d.format("%m-%d").to_string()).collect();
            row(vec![
                t(lang, zh, en),
                format!("{}/{}", p.recorded, p.expected),
                format!("{:.0}%", p.percent()),
                missed.join(" "),
            ])
        })
        .collect();
    Ok(vec![Summary {
        title: format!("{} {from} – {to}：{}", t(lang, "日常管理合规", "Routine compliance"), m.grade.label(lang)),
        headers: vec![
            t(lang, "类型", "Routine"),
            t(lang, "已记录/应记录", "Recorded/expected"),
            t(lang, "记录率", "Share"),
            t(lang, "最近缺失", "Latest missed"),
        ],
        rows,
    }])
}

fn quantity(q: f64, unit: &str) -> String {
    let label = shian_domain::unit::Unit::ALL.iter().find(|(_, c, _)| *c == unit).map(|(_, _, zh)| *zh).unwrap_or(unit);
    format!("{} {label}", shian_domain::field::format_real((q * 100.0).round() / 100.0))
}

fn variety(store: &dyn Store, id: i64, scope: &Scope, lang: Lang) -> Result<Vec<Summary>, AppError> {
    let flows = store.variety_flows(id, scope)?;
    let sources = flows
        .sources
        .iter()
        .take(15)
        .map(|(region, unit, n, q)| {
            let place = if region.is_empty() {
                t(lang, "无合格证", "no certificate")
            } else {
                shian_services::accounts::region_label(region)
            };
            row(vec![place, n.to_string(), quantity(*q, unit)])
        })
        .collect();
    let months =
        flows.months.iter().map(|(m, unit, n, q)| row(vec![m.clone(), n.to_string(), quantity(*q, unit)])).collect();
    let fail = |kind: Kind| -> Result<(u64, u64), AppError> {
        let f = [Filter::RefId("variety", id)];
        let all = store.count_in(kind, scope, &f)?;
        let failed = if kind == Kind::RapidTest {
            store.count_in(
                kind,
                scope,
                &[Filter::RefId("variety", id), Filter::Eq("verdict", Value::Text("fail".into()))],
            )?
        } else {
            0
        };
        Ok((all, failed))
    };
    let (rapid, rapid_failed) = fail(Kind::RapidTest)?;
    let (samples, _) = fail(Kind::Sample)?;
    let tests = vec![
        row(vec![t(lang, "快速检测", "Rapid tests"), rapid.to_string(), rapid_failed.to_string()]),
        row(vec![t(lang, "监督抽检", "Official samples"), samples.to_string(), "—".into()]),
    ];
    Ok(vec![
        Summary {
            title: t(lang, "来源产地（按进货合格证）", "Sources (origin on the receipts' certificates)"),
            headers: vec![t(lang, "产地", "Origin"), t(lang, "进货笔数", "Receipts"), t(lang, "数量", "Quantity")],
            rows: sources,
        },
        Summary {
            title: t(lang, "月度进货量", "Monthly receipts"),
            headers: vec![t(lang, "月份", "Month"), t(lang, "进货笔数", "Receipts"), t(lang, "数量", "Quantity")],
            rows: months,
        },
        Summary {
            title: t(lang, "检测情况", "Tests"),
            headers: vec![t(lang, "类型", "Type"), t(lang, "次数", "Count"), t(lang, "不合格", "Failed")],
            rows: tests,
        },
    ])
}
