//! `shian notify run` (dispatch the waiting failure events, attach their traces, escalate overdue
//! entries and deliver the outbox once — for cron when no server runs), `shian notify status`, and
//! `shian inbox USER` (a user's notices; `--ack ID` marks one read).

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use serde_json::json;
use shian_domain::{Kind, Lang, time};
use shian_services::supervision::deliver::{Backoff, Deliverer, deliver_due};
use shian_services::supervision::dispatch::run_once;
use shian_services::supervision::escalate::escalate_overdue;
use shian_services::supervision::{NotifyConfig, SupervisionError, inbox, now, now_ms};
use shian_store::Store;

use super::user::actor;

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Dispatch waiting failure events, escalate overdue entries, deliver due messages, once.
    Run {
        #[arg(long)]
        json: bool,
    },
    /// What waits in the outbox.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct InboxArgs {
    /// The user name.
    pub user: String,
    /// Show read notices too.
    #[arg(long)]
    pub all: bool,
    /// Mark this notice read (acknowledge it).
    #[arg(long)]
    pub ack: Option<i64>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

fn refused(lang: Lang) -> impl Fn(SupervisionError) -> anyhow::Error {
    move |e| anyhow!(e.describe(lang))
}

pub fn run(store: &mut dyn Store, cmd: &NotifyCommand, lang: Lang) -> Result<ExitCode> {
    match cmd {
        NotifyCommand::Run { json } => run_all(store, *json, lang),
        NotifyCommand::Status { json } => status(store, *json, lang),
    }
}

fn run_all(store: &mut dyn Store, as_json: bool, lang: Lang) -> Result<ExitCode> {
    let cfg = NotifyConfig::from_env().map_err(refused(lang))?;
    let dispatched = run_once(store, &cfg).map_err(refused(lang))?;
    let escalated = escalate_overdue(store, now()).map_err(refused(lang))?;
    let deliverer = Deliverer::new(cfg, Backoff::default()).map_err(refused(lang))?;
    let mut sent = deliver_due(store, &deliverer, now_ms(), 1000).map_err(refused(lang))?;
    loop {
        let more = deliver_due(store, &deliverer, now_ms(), 1000).map_err(refused(lang))?;
        if more.delivered + more.retrying + more.gave_up == 0 {
            break;
        }
        sent.delivered += more.delivered;
        sent.retrying += more.retrying;
        sent.gave_up += more.gave_up;
    }
    if as_json {
        println!(
            "{:#}",
            json!({"opened": dispatched.opened, "skipped": dispatched.skipped, "traced": dispatched.traced,
                "escalated": escalated.escalated, "delivered": sent.delivered, "retrying": sent.retrying,
                "gave_up": sent.gave_up})
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (o, t, x, d, r, g) =
        (dispatched.opened, dispatched.traced, escalated.escalated, sent.delivered, sent.retrying, sent.gave_up);
    match lang {
        Lang::Zh => println!(
            "新登记风险台账 {o} 条，附追溯 {t} 条，逾期升级 {x} 条；外部通知送达 {d} 条，待重试 {r} 条，放弃 {g} 条"
        ),
        Lang::En => println!(
            "{o} ledger entries opened, {t} traced, {x} escalated; {d} messages delivered, {r} to retry, {g} given up"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn status(store: &dyn Store, as_json: bool, lang: Lang) -> Result<ExitCode> {
    let c = store.outbox_counts()?;
    let waiting = store.pending_events(100_000)?.len();
    if as_json {
        println!(
            "{:#}",
            json!({"events_waiting": waiting, "pending": c.pending, "delivered": c.delivered, "gave_up": c.gave_up})
        );
    } else {
        match lang {
            Lang::Zh => println!(
                "待分发不合格事件 {waiting} 条；外部通知待发送 {} 条，已送达 {} 条，已放弃 {} 条",
                c.pending, c.delivered, c.gave_up
            ),
            Lang::En => println!(
                "{waiting} failure events waiting; {} messages pending, {} delivered, {} given up",
                c.pending, c.delivered, c.gave_up
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `shian inbox USER`.
pub fn inbox(store: &mut dyn Store, args: &InboxArgs, lang: Lang) -> Result<ExitCode> {
    if let Some(id) = args.ack {
        let done = inbox::acknowledge(store, &args.user, id, &actor()).map_err(refused(lang))?;
        let text = match (done, lang) {
            (true, Lang::Zh) => format!("通知 {id} 已确认"),
            (true, Lang::En) => format!("notice {id} acknowledged"),
            (false, Lang::Zh) => format!("通知 {id} 不属于该用户或已确认"),
            (false, Lang::En) => format!("notice {id} is not this user's or was acknowledged already"),
        };
        println!("{text}");
        return Ok(if done { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let (_, notices) = inbox::inbox(store, &args.user, !args.all, args.limit).map_err(refused(lang))?;
    let zh = lang == Lang::Zh;
    if args.json {
        let rows: Vec<_> = notices
            .iter()
            .map(|n| {
                json!({"id": n.id, "entry_id": n.entry_id, "reason": n.reason,
                "title": if zh { &n.title } else { &n.title_en }, "body": if zh { &n.body } else { &n.body_en },
                "created_ms": n.created_ms, "read_at": n.read_at})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if notices.is_empty() {
        println!("{}", if zh { "没有未读通知" } else { "no unread notices" });
    }
    for n in &notices {
        let unread = if n.read_at.is_none() { if zh { "【未读】" } else { "[unread] " } } else { "" };
        let (title, body) = if zh { (&n.title, &n.body) } else { (&n.title_en, &n.body_en) };
        println!("#{} {} {unread}{title}\n    {body}", n.id, time::format_datetime(n.created_ms / 1000));
    }
    Ok(ExitCode::SUCCESS)
}

/// After an import of rapid tests or samples: dispatches the failure events it stored (the
/// triggers wrote them with the rows), so that a CLI import notifies as the server would. A bad
/// channel setting is reported and only the inbox is used; the import itself stands.
pub fn after_import(store: &mut dyn Store, kind: Kind, lang: Lang) -> Result<()> {
    if !matches!(kind, Kind::RapidTest | Kind::Sample | Kind::SampleItem) {
        return Ok(());
    }
    let cfg = NotifyConfig::from_env().unwrap_or_else(|e| {
        eprintln!("{}", e.describe(lang));
        NotifyConfig::default()
    });
    let r = run_once(store, &cfg).map_err(refused(lang))?;
    if r.opened > 0 {
        match lang {
            Lang::Zh => println!("不合格结果：新登记风险台账 {} 条，已通知市场包保干部和开办者", r.opened),
            Lang::En => {
                println!("failed results: {} risk-ledger entries opened, the markets' people notified", r.opened)
            }
        }
    }
    Ok(())
}
