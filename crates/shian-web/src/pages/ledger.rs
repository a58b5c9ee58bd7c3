//! 风险台账: the board of ledger entries, an entry's page (timeline, what is due, the failed items,
//! the recall scope and the origins), the forms that record an action (with an evidence file) or
//! close an entry, and the form that opens an entry by hand.
//!
//! **Scope.** An entry belongs to its market, or — a sample taken outside a market — to its
//! subject's county. A reader sees an entry when its market is theirs or its region lies within
//! their region: the same condition the store applies to the board ([`entry_in_scope`]). Anything
//! else is "not found", like an id that does not exist. The agriculture liaison and a chain's
//! headquarters have no ledger.
//!
//! **Writes.** Roles that may write, within their scope, record actions and close entries; the
//! rules (what may follow what, a re-test's laboratory method, the evidence size) are the
//! service's ([`shian_services::supervision::ledger`]) and its refusals are shown as they are.

mod board;
mod entry;
mod forms;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use shian_domain::access::Scope;
use shian_domain::{Lang, Msg};
use shian_services::accounts::Principal;
use shian_services::supervision::SupervisionError;
use shian_store::Store;
use shian_store::supervision::RiskEntry;

use crate::AppState;
use crate::error::AppError;

pub use board::{Board, BoardQuery, board, due_text, region_parent};
pub use entry::{Event, Recall, RecipientRow, TotalRow, recall_view, timeline, user_names};
pub use forms::{OpenForm, act_request, open_entry, record};

/// The largest evidence file taken with an action.
pub const MAX_EVIDENCE_BYTES: usize = 20 * 1024 * 1024;

/// The ledger's sources: code, Chinese, English.
pub const SOURCES: [(&str, &str, &str); 7] = [
    ("rapid_test", "快检阳性", "positive rapid test"),
    ("sample", "抽检不合格", "failed sample"),
    ("complaint", "投诉举报", "complaint"),
    ("inspection", "日常检查发现", "inspection finding"),
    ("case", "案件查办", "case"),
    ("manual", "手工登记", "manual entry"),
    ("signal", "分析预警", "analysis signal"),
];

/// The pages' routes (forms with small bodies).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ledger", get(board::page))
        .route("/ledger/new", get(forms::new_form).post(forms::open))
        .route("/ledger/{id}", get(entry::page))
        .route("/ledger/{id}/close", post(forms::close))
        .route("/ledger/{id}/evidence/{evidence}", get(entry::evidence))
}

/// The action form, which may carry an evidence file.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/ledger/{id}/act", post(forms::act))
        .layer(DefaultBodyLimit::max(MAX_EVIDENCE_BYTES + 64 * 1024))
}

/// A source's name in `lang`.
pub fn source_label(code: &str, lang: Lang) -> String {
    SOURCES
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, zh, en)| if lang == Lang::Zh { zh.to_string() } else { en.to_string() })
        .unwrap_or_else(|| code.to_string())
}

/// Whether the user's role and scope have a ledger at all.
pub fn sees_ledger(user: &Principal) -> bool {
    !user.role.upstream_only() && !matches!(user.scope, Scope::Enterprise(_))
}

/// Whether an entry lies within a scope: its market is the scope's, or its region lies within it.
pub fn entry_in_scope(e: &RiskEntry, scope: &Scope) -> bool {
    match scope {
        Scope::All => true,
        Scope::Market(m) => e.market_id == Some(*m),
        Scope::Region(_) => e.region.as_deref().is_some_and(|r| scope.covers_region(r)),
        Scope::Enterprise(_) => false,
    }
}

/// Entry `id` if the user may see it, else 404.
pub fn visible_entry(store: &dyn Store, user: &Principal, id: i64) -> Result<RiskEntry, AppError> {
    if !sees_ledger(user) {
        return Err(AppError::not_found());
    }
    let entry = store.entry(id)?.ok_or_else(AppError::not_found)?;
    if entry_in_scope(&entry, &user.scope) { Ok(entry) } else { Err(AppError::not_found()) }
}

/// Whether the user may record actions on an entry they can see.
pub fn may_act(user: &Principal, e: &RiskEntry) -> bool {
    user.role.may_write() && entry_in_scope(e, &user.scope)
}

/// The ledger for a user, or 404.
pub fn require_ledger(user: &Principal) -> Result<(), AppError> {
    if sees_ledger(user) { Ok(()) } else { Err(AppError::not_found()) }
}

/// A supervision error as the web shows it: a rule's refusal is a 400 with its message.
pub fn service_error(e: SupervisionError) -> AppError {
    match e {
        SupervisionError::Refused(msg) => AppError { status: StatusCode::BAD_REQUEST, code: "refused", msg },
        SupervisionError::NoEntry(_) => AppError::not_found(),
        SupervisionError::Store(e) => e.into(),
        e => AppError::internal(e),
    }
}

/// A message in `lang`, owned.
pub fn text(m: &Msg, lang: Lang) -> String {
    m.get(lang).to_string()
}

/// Entries still to be dealt with in a scope: per level, and how many are overdue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenCounts {
    /// general, major, serious.
    pub by_level: [u64; 3],
    pub overdue: u64,
    /// More than [`MAX_COUNTED`] entries: the counts stop there.
    pub capped: bool,
}

/// The most active entries counted for the dashboard.
pub const MAX_COUNTED: usize = 50_000;

/// Counts the open and in-disposal entries of a scope at `now`.
pub fn open_counts(store: &dyn Store, scope: &Scope, now: i64) -> Result<OpenCounts, AppError> {
    use shian_services::supervision::rules::{Level, State};
    let mut c = OpenCounts::default();
    let mut seen = 0;
    for state in [State::Open, State::InDisposal] {
        let mut before = None;
        loop {
            let filter = shian_store::supervision::EntryFilter {
                scope,
                state: Some(state.code()),
                market_id: None,
                source_kind: None,
                before,
                limit: 1000,
            };
            let batch = store.entries(&filter)?;
            for e in &batch {
                let level = Level::ALL.iter().position(|l| l.code() == e.level).unwrap_or(0);
                c.by_level[level] += 1;
                c.overdue += u64::from(now > e.deadline);
            }
            seen += batch.len();
            before = batch.last().map(|e| e.id);
            if batch.len() < 1000 || seen >= MAX_COUNTED {
                c.capped |= seen >= MAX_COUNTED;
                break;
            }
        }
    }
    Ok(c)
}

/// The dashboard's lines about the ledger: (label, count, link), most serious first.
pub fn dashboard_lines(c: &OpenCounts, lang: Lang) -> Vec<(String, u64, String)> {
    use shian_services::supervision::rules::Level;
    let zh = lang == Lang::Zh;
    let mut out: Vec<(String, u64, String)> = Level::ALL
        .iter()
        .enumerate()
        .rev()
        .map(|(i, l)| {
            let label = if zh {
                format!("条{}风险待处置", l.label().zh)
            } else {
                format!("{} entries to dispose of", l.label().en)
            };
            (label, c.by_level[i], format!("/ledger?state=active&level={}", l.code()))
        })
        .collect();
    let overdue = if zh { "条风险已逾期".to_string() } else { "entries overdue".to_string() };
    out.push((overdue, c.overdue, "/ledger?state=active&overdue=1".into()));
    out
}
