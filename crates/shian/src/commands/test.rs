//! `shian test`: the test catalogue (items, limits, methods, citations) and recent test results.
//!
//! `shian test items` lists the catalogue as stored; `shian test set-limit` changes an item as an
//! administrator would on the web (the previous version is kept; audited as `cli:$USER`);
//! `shian test results` lists recent rapid tests and official samples, failures only with
//! `--failed`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use shian_domain::access::{Role, Scope};
use shian_domain::{Kind, Lang, Value};
use shian_services::accounts::Principal;
use shian_services::public::listed::shown;
use shian_store::Store;
use shian_store::catalogue::TestItemChange;
use shian_store::query::{Filter, ListQuery};

#[derive(Debug, clap::Subcommand)]
pub enum TestCommand {
    /// The test items with their limit per food, method and citation (检测项目与限量).
    Items {
        #[arg(long)]
        json: bool,
    },
    /// Change an item's limit (mg/kg; 0 = must not be detected), method, basis or citation.
    SetLimit {
        /// The item's code, e.g. chlorpyrifos.
        code: String,
        /// The variety or class code the limit applies to, e.g. 010101.
        applies_to: String,
        #[arg(long)]
        limit: f64,
        #[arg(long)]
        method: Option<String>,
        #[arg(long)]
        basis: Option<String>,
        #[arg(long)]
        clause: Option<String>,
    },
    /// Recent rapid tests and official samples (检测结果).
    Results {
        /// Only failed results.
        #[arg(long)]
        failed: bool,
        /// Only one market's (its code).
        #[arg(long)]
        market: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(store: &mut dyn Store, cmd: &TestCommand, lang: Lang) -> Result<ExitCode> {
    match cmd {
        TestCommand::Items { json } => items(store, *json, lang),
        TestCommand::SetLimit { code, applies_to, limit, method, basis, clause } => {
            let change = (*limit, method.clone(), basis.clone(), clause.clone());
            set_limit(store, code, applies_to, change, lang)
        }
        TestCommand::Results { failed, market, limit, json } => {
            results(store, *failed, market.as_deref(), *limit, *json, lang)
        }
    }
}

fn items(store: &dyn Store, json: bool, lang: Lang) -> Result<ExitCode> {
    let items = store.test_items()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(ExitCode::SUCCESS);
    }
    for i in items {
        let limit = match (i.limit_mg_kg <= 0.0, lang) {
            (true, Lang::Zh) => "不得检出".to_string(),
            (true, Lang::En) => "not to be detected".to_string(),
            (false, _) => format!("{} mg/kg", i.limit_mg_kg),
        };
        println!("{:<22} {:<12} {:<8} {:<14} {:<20} {}", i.code, i.name, i.applies_to, limit, i.method, i.clause);
    }
    Ok(ExitCode::SUCCESS)
}

fn set_limit(
    store: &mut dyn Store,
    code: &str,
    applies_to: &str,
    (limit, method, basis, clause): (f64, Option<String>, Option<String>, Option<String>),
    lang: Lang,
) -> Result<ExitCode> {
    let item = store.test_items()?.into_iter().find(|i| i.code == code && i.applies_to == applies_to);
    let Some(item) = item else {
        bail!(match lang {
            Lang::Zh => format!("找不到检测项目 {code}（适用 {applies_to}）"),
            Lang::En => format!("no test item {code} for {applies_to}"),
        });
    };
    let change = TestItemChange {
        limit_mg_kg: limit,
        method: method.unwrap_or(item.method),
        basis: basis.unwrap_or(item.basis),
        clause: clause.unwrap_or(item.clause),
    };
    // Whoever runs the binary on the server administers it; the audit names them.
    let operator = Principal {
        id: 0,
        username: super::user::actor(),
        display_name: super::user::actor(),
        role: Role::Admin,
        scope: Scope::All,
        scope_label: String::new(),
    };
    let after = shian_services::test_catalogue::update(store, &operator, item.id, &change)
        .map_err(|e| anyhow::anyhow!(e.message(lang)))?;
    match lang {
        Lang::Zh => {
            println!("已修改 {}（{}）：限量 {} mg/kg；原版本已保留", after.name, after.applies_to, after.limit_mg_kg)
        }
        Lang::En => println!(
            "changed {} ({}): limit {} mg/kg; the previous version is kept",
            after.code, after.applies_to, after.limit_mg_kg
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn results(
    store: &dyn Store,
    failed: bool,
    market: Option<&str>,
    limit: usize,
    json: bool,
    lang: Lang,
) -> Result<ExitCode> {
    let scope = match market {
        Some(code) => {
            let id = store.find(Kind::Market, &[Value::Text(code.into())])?.with_context(|| match lang {
                Lang::Zh => format!("找不到市场 {code}"),
                Lang::En => format!("no market {code}"),
            })?;
            Scope::Market(id)
        }
        None => Scope::All,
    };
    let verdict = |f: bool| if f { vec![Filter::Eq("verdict", Value::Text("fail".into()))] } else { vec![] };
    let tests =
        store.list(Kind::RapidTest, &ListQuery { scope: &scope, filters: verdict(failed), before: None, limit })?;
    let mut rows = Vec::new();
    for t in &tests {
        let k = Kind::RapidTest;
        rows.push(serde_json::json!({
            "kind": "rapid_test", "number": shown(k, t, "test_no"), "market": shown(k, t, "market"),
            "vendor": shown(k, t, "vendor"), "variety": shown(k, t, "variety"), "item": shown(k, t, "item"),
            "verdict": shown(k, t, "verdict"),
            "when": t.values[k.def().field("tested_at").map(|(i, _)| i).unwrap_or(0)].as_int().map(shian_domain::time::format_datetime),
        }));
    }
    let items =
        store.list(Kind::SampleItem, &ListQuery { scope: &scope, filters: verdict(failed), before: None, limit })?;
    for i in &items {
        let k = Kind::SampleItem;
        rows.push(serde_json::json!({
            "kind": "sample_item", "number": shown(k, i, "sample"), "item": shown(k, i, "item"),
            "value": i.values[k.def().field("value").map(|(n, _)| n).unwrap_or(0)].as_real(),
            "limit": i.values[k.def().field("limit").map(|(n, _)| n).unwrap_or(0)].as_real(),
            "verdict": shown(k, i, "verdict"),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in rows {
        let verdict = match (r["verdict"].as_str(), lang) {
            (Some("fail"), Lang::Zh) => "不合格",
            (Some("fail"), Lang::En) => "fail",
            (_, Lang::Zh) => "合格",
            (_, Lang::En) => "pass",
        };
        let get = |k: &str| r[k].as_str().unwrap_or("").to_string();
        println!(
            "{:<12} {:<16} {:<8} {:<24} {:<12} {}",
            get("kind"),
            get("number"),
            verdict,
            get("item"),
            get("variety"),
            get("market")
        );
    }
    Ok(ExitCode::SUCCESS)
}
