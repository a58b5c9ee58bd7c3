//! Supervision of failed results: from a failed rapid test or sample to a risk-ledger entry, the
//! people who must act on it, and the record of what they did.
//!
//! **Events.** Triggers in the database (`V5__supervision.sql`) append a `failure_events` row in
//! the same transaction that stores a failed rapid test or a sample's failed item, whatever wrote
//! it (page, API, `shian import`, the simulator). Nothing depends on the writer remembering to
//! notify, and a crash between the commit and the notification loses nothing: the event waits.
//!
//! **Dispatch** ([`dispatch`]). Each undispatched event, exactly once: a ledger entry (level,
//! subject, owner, deadline; a positive rapid test is held at once with a 4-hour re-test window),
//! an inbox row for every account of the market's people (assigned officials, operator, staff),
//! and outbox rows for the configured channels ([`config`]) — written with the event marked
//! dispatched in one transaction. The forward (recall scope) and backward (origins) traces are
//! attached to the entry right after, in a second step, so that a slow trace never delays a
//! notification ([`snapshot`]).
//!
//! **Delivery** ([`deliver`]). A worker sends the outbox (webhook and SMS gateway as JSON POSTs,
//! mail over SMTP) with retries and exponential backoff; its state is in the database, so it
//! survives restarts. Delivery is at least once: a receiver may see a message twice after a crash
//! and can tell by its `Idempotency-Key` header.
//!
//! **Ledger** ([`ledger`], [`rules`]). States open → in disposal → disposed → verified and closed;
//! actions with actor, time, note and evidence file; what is due; [`escalate`] hands overdue
//! entries one level up. Every ledger write appends its audit line in the same transaction.
//!
//! **Background** ([`background`]). The server runs the dispatcher every 200 ms, the tracer, the
//! delivery worker and the escalation every minute on threads of their own connections.

pub mod background;
pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod escalate;
pub mod inbox;
pub mod ledger;
mod message;
pub mod rules;
pub mod snapshot;

use std::time::{SystemTime, UNIX_EPOCH};

use shian_domain::{Lang, Msg};
use shian_store::StoreError;

pub use config::NotifyConfig;

/// The audit log's actor for what the platform does by itself.
pub const SYSTEM_ACTOR: &str = "system";

/// Why a supervision operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rule refused the request; the message says why, for a person.
    #[error("{}", .0.en)]
    Refused(Msg),
    #[error("no ledger entry {0}")]
    NoEntry(i64),
    #[error("notification settings: {0}")]
    Config(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

impl SupervisionError {
    pub(crate) fn refused(zh: impl Into<String>, en: impl Into<String>) -> SupervisionError {
        SupervisionError::Refused(Msg::new(zh.into(), en.into()))
    }

    /// The message for a person, in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        match (self, lang) {
            (SupervisionError::Refused(m), _) => m.get(lang).to_string(),
            (SupervisionError::NoEntry(id), Lang::Zh) => format!("风险台账中没有编号为 {id} 的条目"),
            (SupervisionError::Config(e), Lang::Zh) => format!("通知渠道配置有误：{e}"),
            (SupervisionError::Store(e), Lang::Zh) => format!("数据库错误：{e}"),
            (SupervisionError::Read { path, source }, Lang::Zh) => format!("无法读取 {path}：{source}"),
            (e, Lang::En) => e.to_string(),
        }
    }
}

pub type Result<T, E = SupervisionError> = std::result::Result<T, E>;

/// The current time in Unix seconds.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
