//! `shian ledger …`: the risk ledger (风险台账) on the command line — list entries, show one with
//! its actions, recall scope, origins and what is due, record an action (with an evidence file),
//! close a disposed entry, open an entry by hand or from a complaint, inspection or case. Every
//! write is audited with the actor `cli:$USER`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use serde_json::json;
use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, time};
use shian_services::supervision::ledger::{self, ActRequest, EntryView, EvidenceFile, ManualEntry};
use shian_services::supervision::rules::{Action, Level, Owner, State};
use shian_services::supervision::{NotifyConfig, SupervisionError, now};
use shian_services::trace_export::{kind_label, unit_label};
use shian_store::Store;
use shian_store::supervision::EntryFilter;

use super::user::actor;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// List entries, newest first (台账列表).
    List(ListArgs),
    /// Show one entry: subject, owner, due items, actions, recall scope, origins (台账详情).
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Record an action on an entry (记录处置).
    Act(ActArgs),
    /// Verify and close a disposed entry (核查办结).
    Close {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Open an entry by hand or from a complaint, inspection or case (登记风险).
    Open(OpenArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// open, in_disposal, disposed or verified_closed.
    #[arg(long)]
    pub state: Option<String>,
    /// A market code.
    #[arg(long)]
    pub market: Option<String>,
    /// rapid_test, sample, complaint, inspection, case, manual or signal.
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ActArgs {
    pub id: i64,
    /// hold, recall, destroy, return, retest, notify_origin, open_case, note or dispose.
    #[arg(long)]
    pub action: String,
    #[arg(long)]
    pub note: Option<String>,
    /// A re-test's laboratory method, e.g. "GB 23200.113-2018" (rapid methods are refused).
    #[arg(long)]
    pub method: Option<String>,
    /// A re-test's result: pass or fail.
    #[arg(long)]
    pub result: Option<String>,
    /// An evidence file (photo, PDF) kept with the action (at most SHIAN_EVIDENCE_MAX_BYTES).
    #[arg(long)]
    pub evidence: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    /// complaint, inspection, case, signal or manual.
    #[arg(long, default_value = "manual")]
    pub source: String,
    /// The complaint, inspection or case number.
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// What the risk is.
    #[arg(long)]
    pub title: String,
    /// general (一般), major (较大) or serious (重大).
    #[arg(long, default_value = "general")]
    pub level: String,
    #[arg(long)]
    pub market: Option<String>,
    #[arg(long)]
    pub vendor: Option<String>,
    #[arg(long)]
    pub lot: Option<String>,
    #[arg(long)]
    pub detail: Option<String>,
}

pub fn run(store: &mut dyn Store, cmd: &LedgerCommand, lang: Lang) -> Result<ExitCode> {
    let refused = |e: SupervisionError| anyhow!(e.describe(lang));
    match cmd {
        LedgerCommand::List(args) => list(store, args, lang)?,
        LedgerCommand::Show { id, json } => {
            let view = ledger::view(store, *id, now()).map_err(refused)?;
            print!("{}", if *json { format!("{:#}\n", view_json(&view, lang)) } else { show(&view, lang) });
        }
        LedgerCommand::Act(args) => act(store, args, lang)?,
        LedgerCommand::Close { id, note } => {
            ledger::close(store, *id, note.clone(), &actor()).map_err(refused)?;
            println!("{}", pick(lang, &format!("风险台账 #{id} 已核查办结"), &format!("entry #{id} closed")));
        }
        LedgerCommand::Open(args) => open(store, args, lang)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn pick(lang: Lang, zh: &str, en: &str) -> String {
    if lang == Lang::Zh { zh.to_string() } else { en.to_string() }
}

fn list(store: &dyn Store, args: &ListArgs, lang: Lang) -> Result<()> {
    if let Some(s) = args.state.as_deref().filter(|s| State::parse(s).is_none()) {
        let codes: Vec<_> = State::ALL.iter().map(|s| s.code()).collect();
        return Err(anyhow!(pick(
            lang,
            &format!("未知状态“{s}”，可用：{}", codes.join(", ")),
            &format!("unknown state {s:?}; one of {}", codes.join(", "))
        )));
    }
    let market_id =
        match &args.market {
            Some(code) => {
                Some(store.resolve(Kind::Market, &[code.as_str()])?.first().map(|(_, id)| *id).ok_or_else(|| {
                    anyhow!(pick(lang, &format!("找不到市场“{code}”"), &format!("no market {code:?}")))
                })?)
            }
            None => None,
        };
    let filter = EntryFilter {
        scope: &Scope::All,
        state: args.state.as_deref(),
        market_id,
        source_kind: args.source.as_deref(),
        before: None,
        limit: args.limit,
    };
    let now = now();
    let lines: Vec<_> = ledger::list(store, &filter)
        .map_err(|e| anyhow!(e.describe(lang)))?
        .iter()
        .map(|e| ledger::line(e, lang, now))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
        return Ok(());
    }
    let headers = match lang {
        Lang::Zh => ["编号", "等级", "状态", "来源", "市场", "销售者", "品种", "批次", "责任人", "处置期限"],
        Lang::En => ["id", "level", "state", "source", "market", "vendor", "variety", "lot", "owner", "deadline"],
    };
    let overdue = pick(lang, "（逾期）", " (overdue)");
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.id.to_string(),
                l.level_label.clone(),
                l.state_label.clone(),
                format!("{} {}", source_label(&l.source, lang), l.source_key.clone().unwrap_or_default())
                    .trim()
                    .to_string(),
                l.market.clone().unwrap_or_default(),
                l.vendor.clone().unwrap_or_default(),
                l.variety.clone().unwrap_or_default(),
                l.lot_code.clone().unwrap_or_default(),
                l.owner.clone().unwrap_or_default(),
                format!("{}{}", l.deadline, if l.overdue { overdue.as_str() } else { "" }),
            ]
        })
        .collect();
    print!("{}", super::columns(&headers, &rows));
    Ok(())
}

fn act(store: &mut dyn Store, args: &ActArgs, lang: Lang) -> Result<()> {
    let refused = |e: SupervisionError| anyhow!(e.describe(lang));
    let action = Action::parse(&args.action).filter(|a| *a != Action::Close).ok_or_else(|| {
        let codes: Vec<_> = Action::ALL.iter().filter(|a| **a != Action::Close).map(|a| a.code()).collect();
        anyhow!(pick(
            lang,
            &format!("未知处置“{}”，可用：{}", args.action, codes.join(", ")),
            &format!("unknown action {:?}; one of {}", args.action, codes.join(", "))
        ))
    })?;
    let cfg = NotifyConfig::from_env().map_err(refused)?;
    let evidence = match &args.evidence {
        Some(path) => Some(EvidenceFile::read(path, cfg.evidence_max_bytes).map_err(refused)?),
        None => None,
    };
    let req = ActRequest {
        action,
        note: args.note.clone(),
        method: args.method.clone(),
        result: args.result.clone(),
        evidence,
    };
    ledger::act(store, args.id, &req, &actor(), cfg.evidence_max_bytes).map_err(refused)?;
    let entry = store.entry(args.id)?.ok_or_else(|| anyhow!("entry {} vanished", args.id))?;
    let state = State::parse(&entry.state).map(|s| s.label().get(lang).to_string()).unwrap_or(entry.state);
    let label = action.label();
    match lang {
        Lang::Zh => println!("风险台账 #{}：已记录“{}”，当前状态 {state}", args.id, label.zh),
        Lang::En => println!("entry #{}: {} recorded; now {state}", args.id, label.en),
    }
    Ok(())
}

fn open(store: &mut dyn Store, args: &OpenArgs, lang: Lang) -> Result<()> {
    let level = Level::parse(&args.level)
        .ok_or_else(|| anyhow!(pick(lang, "等级须为 general、major 或 serious", "level: general, major or serious")))?;
    let req = ManualEntry {
        source: args.source.clone(),
        reference: args.reference.clone(),
        market: args.market.clone(),
        vendor: args.vendor.clone(),
        lot_code: args.lot.clone(),
        level,
        title: args.title.clone(),
        detail: args.detail.clone(),
    };
    let id = ledger::open_manual(store, &req, &actor()).map_err(|e| anyhow!(e.describe(lang)))?;
    println!("{}", pick(lang, &format!("已登记风险台账 #{id}"), &format!("entry #{id} opened")));
    Ok(())
}

fn label_of(code: &str, lang: Lang, f: impl Fn(&str) -> Option<shian_domain::Msg>) -> String {
    f(code).map(|m| m.get(lang).to_string()).unwrap_or_else(|| code.to_string())
}

fn source_label(code: &str, lang: Lang) -> String {
    let (zh, en) = match code {
        "rapid_test" => ("快速检测", "rapid test"),
        "sample" => ("监督抽检", "official sample"),
        "complaint" => ("投诉举报", "complaint"),
        "inspection" => ("日常检查", "inspection"),
        "case" => ("案件查办", "case"),
        "signal" => ("分析预警", "analysis signal"),
        _ => ("人工登记", "entered by hand"),
    };
    pick(lang, zh, en)
}

/// An entry as text for a terminal.
fn show(v: &EntryView, lang: Lang) -> String {
    let e = &v.entry;
    let mut out = String::new();
    let level = label_of(&e.level, lang, |c| Level::parse(c).map(|l| l.label()));
    let state = label_of(&e.state, lang, |c| State::parse(c).map(|s| s.label()));
    let owner_role = label_of(&e.owner_role, lang, |c| Owner::parse(c).map(|o| o.label()));
    let zh = lang == Lang::Zh;
    let line = |out: &mut String, k_zh: &str, k_en: &str, v: String| {
        *out += &format!("{}{}{v}\n", if zh { k_zh } else { k_en }, if zh { "：" } else { ": " });
    };
    out += &format!("{} #{}  [{level}]  {state}\n", pick(lang, "风险台账", "Risk-ledger entry"), e.id);
    line(&mut out, "事项", "risk", if zh { e.title.clone() } else { e.title_en.clone() });
    line(
        &mut out,
        "来源",
        "source",
        format!("{} {}", source_label(&e.source_kind, lang), e.source_key.clone().unwrap_or_default()),
    );
    let subject = [&e.market_name, &e.vendor_name, &e.variety_name, &e.lot_code];
    line(&mut out, "对象", "subject", subject.iter().filter_map(|s| s.as_deref()).collect::<Vec<_>>().join(" / "));
    line(
        &mut out,
        "责任",
        "owner",
        format!("{owner_role} {}", e.owner_name.clone().unwrap_or_default()).trim().to_string(),
    );
    line(&mut out, "登记", "opened", time::format_datetime(e.opened_at));
    line(&mut out, "处置期限", "deadline", time::format_datetime(e.deadline));
    if let Some(by) = e.retest_due {
        line(&mut out, "复检时限", "re-test by", time::format_datetime(by));
    }
    for i in &v.items {
        let value = i.value.map(|x| format!(" {x}")).unwrap_or_default();
        let limit = i.limit.map(|l| format!(" ({} {l})", pick(lang, "限量", "limit"))).unwrap_or_default();
        let result = i.result.clone().map(|r| format!(" {r}")).unwrap_or_default();
        line(
            &mut out,
            "不合格项目",
            "failed item",
            format!("{}{value}{}{limit}{result}", i.item, i.unit.clone().unwrap_or_default()),
        );
    }
    out += &format!("{}\n", pick(lang, "待办：", "due:"));
    if v.due.is_empty() {
        out += &format!("  {}\n", pick(lang, "无", "nothing"));
    }
    for d in &v.due {
        let by = d.by.map(time::format_datetime).map(|b| pick(lang, &format!("（期限 {b}）"), &format!(" (by {b})")));
        let by = by.unwrap_or_default();
        let late = if d.overdue { pick(lang, " 已逾期", " overdue") } else { String::new() };
        out += &format!("  - {}{by}{late}\n", d.what.get(lang));
    }
    out += &format!("{}\n", pick(lang, "处置记录：", "actions:"));
    for a in &v.actions {
        let label = label_of(&a.action, lang, |c| Action::parse(c).map(|x| x.label()));
        let extra =
            [a.method.clone(), a.result.clone(), a.note.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        let evidence =
            a.evidence_id.map(|id| format!(" [{} {id}]", pick(lang, "证据", "evidence"))).unwrap_or_default();
        out += &format!("  {} {} {label} {extra}{evidence}\n", time::format_datetime(a.at), a.actor);
    }
    for x in &v.escalations {
        let to = label_of(&x.to_role, lang, |c| Owner::parse(c).map(|o| o.label()));
        out += &format!(
            "  {} {} → {to} {}\n",
            time::format_datetime(x.at),
            pick(lang, "逾期升级", "escalated"),
            x.to_name.clone().unwrap_or_default()
        );
    }
    out += &recall_text(v, lang);
    let unread = v.notifications.iter().filter(|n| n.read_at.is_none()).count();
    let delivered = v.messages.iter().filter(|m| m.delivered_ms.is_some()).count();
    line(
        &mut out,
        "通知",
        "notices",
        match lang {
            Lang::Zh => format!(
                "站内 {} 条（未读 {unread}），外部渠道 {} 条（已送达 {delivered}）",
                v.notifications.len(),
                v.messages.len()
            ),
            Lang::En => format!(
                "{} in inboxes ({unread} unread), {} external ({delivered} delivered)",
                v.notifications.len(),
                v.messages.len()
            ),
        },
    );
    out
}

fn recall_text(v: &EntryView, lang: Lang) -> String {
    let mut out = String::new();
    match (&v.recall, v.entry.trace_status.as_str()) {
        (Some(r), "done") => {
            out += &match lang {
                Lang::Zh => {
                    format!("召回范围（{} 个去向，学校/幼儿园食堂 {} 个）：\n", r.recipients.len(), r.school_canteens)
                }
                Lang::En => format!(
                    "recall scope ({} recipients, {} school canteens):\n",
                    r.recipients.len(),
                    r.school_canteens
                ),
            };
            for p in &r.recipients {
                let kind = kind_label(&p.kind, p.school.then_some("school"), lang);
                let inferred = if p.inferred { pick(lang, " [推断]", " [inferred]") } else { String::new() };
                out += &format!(
                    "  {}{kind} {} {} {} {}{inferred}\n",
                    "  ".repeat(p.depth.saturating_sub(1)),
                    p.code.clone().unwrap_or_default(),
                    p.name.clone().unwrap_or_default(),
                    p.quantity,
                    unit_label(&p.unit, lang)
                );
            }
        }
        (_, "pending") => out += &format!("{}\n", pick(lang, "召回范围：追溯中", "recall scope: being traced")),
        (_, "no_lot") => {
            out += &format!("{}\n", pick(lang, "召回范围：未记录批次，无法追溯", "recall scope: no lot to trace"))
        }
        (_, "failed") => {
            out += &format!("{}\n", pick(lang, "召回范围：追溯未能完成", "recall scope: the trace failed"))
        }
        _ => {}
    }
    if let Some(o) = &v.origins {
        out += &format!("{}\n", pick(lang, "来源追溯：", "origins:"));
        for p in &o.origins {
            let kind = kind_label(&p.kind, None, lang);
            let cert = p
                .certificate
                .clone()
                .map(|c| format!(" {} {c}", pick(lang, "合格证", "certificate")))
                .unwrap_or_default();
            out += &format!(
                "  {kind} {} {}{cert}\n",
                p.code.clone().unwrap_or_default(),
                p.name.clone().unwrap_or_default()
            );
        }
    }
    out
}

/// An entry with everything about it, as JSON.
fn view_json(v: &EntryView, lang: Lang) -> serde_json::Value {
    let e = &v.entry;
    let actions: Vec<_> = v
        .actions
        .iter()
        .map(|a| {
            json!({"action": a.action, "actor": a.actor, "at": a.at, "time": time::format_datetime(a.at),
            "note": a.note, "method": a.method, "result": a.result, "evidence_id": a.evidence_id})
        })
        .collect();
    let due: Vec<_> =
        v.due.iter().map(|d| json!({"what": d.what.get(lang), "by": d.by, "overdue": d.overdue})).collect();
    let escalations: Vec<_> = v
        .escalations
        .iter()
        .map(|x| {
            json!({"at": x.at, "from": x.from_role, "to": x.to_role, "to_user": x.to_user, "to_name": x.to_name,
            "previous_deadline": x.previous_deadline, "new_deadline": x.new_deadline})
        })
        .collect();
    let items: Vec<_> = v
        .items
        .iter()
        .map(|i| json!({"item": i.item, "value": i.value, "unit": i.unit, "limit": i.limit, "result": i.result}))
        .collect();
    json!({
        "entry": ledger::line(e, lang, now()),
        "region": e.region,
        "owner_user": e.owner_user,
        "retest_due": e.retest_due,
        "trace_status": e.trace_status,
        "items": items,
        "due": due,
        "actions": actions,
        "escalations": escalations,
        "recall": v.recall,
        "origins": v.origins,
        "notifications": {"inbox": v.notifications.len(), "unread": v.notifications.iter().filter(|n| n.read_at.is_none()).count(),
            "users": v.notifications.iter().map(|n| n.user_id).collect::<Vec<_>>()},
        "outbox": v.messages.iter().map(|m| json!({"channel": m.channel, "attempts": m.attempts,
            "delivered": m.delivered_ms.is_some(), "last_error": m.last_error})).collect::<Vec<_>>(),
    })
}
