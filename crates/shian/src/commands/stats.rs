//! `shian stats`: the count of every record kind.

use std::process::ExitCode;

use anyhow::Result;
use shian_domain::Lang;
use shian_services::stats;
use shian_store::Store;

pub fn stats(store: &dyn Store, json: bool, lang: Lang) -> Result<ExitCode> {
    let counts = stats::counts(store)?;
    let orders = stats::order_records(&counts);
    if json {
        let mut map = serde_json::Map::new();
        for (k, n) in &counts {
            map.insert(k.name().to_string(), (*n).into());
        }
        map.insert("order_records".into(), orders.into());
        println!("{}", serde_json::to_string_pretty(&map)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", table(&counts, orders, lang));
    Ok(ExitCode::SUCCESS)
}

/// The counts as an aligned table.
pub fn table(counts: &[(shian_domain::Kind, u64)], orders: u64, lang: Lang) -> String {
    let mut out = String::new();
    let label = |k: shian_domain::Kind| match lang {
        Lang::Zh => format!("{} ({})", k.def().zh, k.name()),
        Lang::En => format!("{} ({})", k.def().en, k.name()),
    };
    for (k, n) in counts {
        out += &format!("{:>12}  {}\n", group(*n), label(*k));
    }
    let total = match lang {
        Lang::Zh => "出入库订单合计 (inbound + outbound)",
        Lang::En => "order records (inbound + outbound)",
    };
    out += &format!("{:>12}  {total}\n", group(orders));
    out
}

/// 25000000 → 25,000,000
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
