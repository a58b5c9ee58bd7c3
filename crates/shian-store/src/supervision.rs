//! Storage of supervision: the failure events that triggers write beside a failed result, the risk
//! ledger (风险台账) with its actions, evidence and escalations, the platform inbox and the outbox
//! of external notifications.
//!
//! Every write that belongs together is one method and one transaction here: opening an entry from
//! an event marks the event dispatched and queues its notifications in the same commit, so a crash
//! leaves either all of it or none; every ledger write appends its audit line in the same commit.
//! The rules (levels, owners, deadlines, what may follow what) are the services' job.

use shian_domain::access::Scope;

use crate::accounts::NewAudit;
use crate::{Result, Store};

/// A failed record waiting to be (or already) dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureEvent {
    pub id: i64,
    /// `rapid_test` or `sample`.
    pub source_kind: String,
    /// The id of the rapid test or sample.
    pub record_id: i64,
    /// When the trigger wrote it (Unix milliseconds; within the failed result's transaction).
    pub created_ms: i64,
    pub dispatched_ms: Option<i64>,
    pub entry_id: Option<i64>,
}

/// A market as the ledger shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketRef {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// The county-level region code (GB/T 2260).
    pub region: String,
}

/// A failed test item of a sample, or the item of a rapid test.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedItem {
    pub item: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub limit: Option<f64>,
    pub method: Option<String>,
    /// A rapid test's qualitative result (`positive`).
    pub result: Option<String>,
}

/// A failed rapid test or sample with what the ledger and the notifications need to say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedResult {
    /// `rapid_test` or `sample`.
    pub source_kind: String,
    pub record_id: i64,
    /// The test number or sample number.
    pub key: String,
    pub market: Option<MarketRef>,
    pub vendor_id: Option<i64>,
    pub vendor_code: Option<String>,
    pub vendor_name: Option<String>,
    /// A sample's subject when it is not a vendor: `buyer` or `producer`, with code and name.
    pub subject_kind: String,
    pub subject_code: Option<String>,
    pub subject_name: Option<String>,
    /// The subject's region when there is no market (a buyer's or producer's).
    pub subject_region: Option<String>,
    pub variety_id: i64,
    pub variety_code: String,
    pub variety_name: String,
    pub lot_code: Option<String>,
    /// A rapid test's method code (`enzyme_inhibition`, …); a sample's lab.
    pub method: Option<String>,
    /// When tested (rapid test, Unix seconds) or sampled (sample: midnight China time of the date).
    pub tested_at: i64,
    pub items: Vec<FailedItem>,
}

/// A person on a market's roster (`market_staff`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffContact {
    pub code: String,
    pub role: String,
    pub name: String,
    pub phone: Option<String>,
}

/// A new ledger entry.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub source_kind: String,
    pub source_id: Option<i64>,
    pub source_key: Option<String>,
    pub level: String,
    pub title: String,
    pub title_en: String,
    pub detail: Option<String>,
    pub market_id: Option<i64>,
    pub vendor_id: Option<i64>,
    pub variety_id: Option<i64>,
    pub lot_code: Option<String>,
    pub region: Option<String>,
    pub owner_role: String,
    pub owner_user: Option<i64>,
    pub owner_name: Option<String>,
    pub opened_at: i64,
    pub deadline: i64,
    pub retest_due: Option<i64>,
    /// `pending` when a trace is to be attached, `no_lot` when there is no lot to trace, `none`.
    pub trace_status: String,
}

/// A ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskEntry {
    pub id: i64,
    pub source_kind: String,
    pub source_id: Option<i64>,
    pub source_key: Option<String>,
    pub level: String,
    pub state: String,
    pub title: String,
    pub title_en: String,
    pub detail: Option<String>,
    pub market_id: Option<i64>,
    pub market_code: Option<String>,
    pub market_name: Option<String>,
    pub vendor_id: Option<i64>,
    pub vendor_code: Option<String>,
    pub vendor_name: Option<String>,
    pub variety_id: Option<i64>,
    pub variety_name: Option<String>,
    pub lot_code: Option<String>,
    pub region: Option<String>,
    pub owner_role: String,
    pub owner_user: Option<i64>,
    pub owner_name: Option<String>,
    pub opened_at: i64,
    pub deadline: i64,
    pub retest_due: Option<i64>,
    pub trace_status: String,
    /// JSON snapshot of the forward trace's recipients (the recall scope).
    pub recall: Option<String>,
    /// JSON snapshot of the backward trace's origins.
    pub origins: Option<String>,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

/// A new action on an entry.
#[derive(Debug, Clone, Default)]
pub struct NewAction {
    pub action: String,
    pub actor: String,
    pub at: i64,
    pub note: Option<String>,
    pub method: Option<String>,
    pub result: Option<String>,
    pub evidence_id: Option<i64>,
}

/// An action as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskAction {
    pub id: i64,
    pub entry_id: i64,
    pub action: String,
    pub actor: String,
    pub at: i64,
    pub note: Option<String>,
    pub method: Option<String>,
    pub result: Option<String>,
    pub evidence_id: Option<i64>,
}

/// An evidence file to keep.
#[derive(Debug, Clone)]
pub struct NewEvidence<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub data: &'a [u8],
    pub uploaded_by: &'a str,
    pub at: i64,
}

/// An evidence file as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub id: i64,
    pub entry_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub data: Vec<u8>,
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

/// An entry handed one level up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub entry_id: i64,
    pub at: i64,
    pub from_role: String,
    pub to_role: String,
    pub from_user: Option<i64>,
    pub to_user: Option<i64>,
    pub to_name: Option<String>,
    pub previous_deadline: i64,
    pub new_deadline: i64,
}

/// A message for one user's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub user_id: i64,
    /// Why it was sent: `failure`, `escalation`.
    pub reason: String,
    pub title: String,
    pub title_en: String,
    pub body: String,
    pub body_en: String,
}

/// A message in a user's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub user_id: i64,
    pub entry_id: Option<i64>,
    pub reason: String,
    pub title: String,
    pub title_en: String,
    pub body: String,
    pub body_en: String,
    pub created_ms: i64,
    pub read_at: Option<i64>,
}

/// A message for an external channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    /// `webhook`, `sms` or `email`.
    pub channel: String,
    /// Phone numbers (SMS) or mail addresses (email), comma-separated.
    pub recipients: Option<String>,
    pub subject: Option<String>,
    /// The JSON body (webhook, SMS gateway) or the mail text.
    pub payload: String,
}

/// A message of the outbox as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub entry_id: Option<i64>,
    pub channel: String,
    pub recipients: Option<String>,
    pub subject: Option<String>,
    pub payload: String,
    pub created_ms: i64,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub delivered_ms: Option<i64>,
    pub gave_up_ms: Option<i64>,
}

/// The inbox and outbox rows about a new entry.
#[derive(Debug, Clone, Default)]
pub struct Notices {
    pub inbox: Vec<NewNotification>,
    pub outbox: Vec<NewOutbox>,
}

/// What an event's dispatch writes.
pub struct Dispatch<'a> {
    pub event_id: i64,
    pub entry: &'a NewEntry,
    /// Actions recorded at once (a positive rapid test's hold).
    pub actions: &'a [NewAction],
    /// The notices, made once the entry's id is known (they name it).
    pub notices: &'a dyn Fn(i64) -> Notices,
    pub audit: &'a NewAudit<'a>,
}

/// What a round of dispatch wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// The entry opened for each dispatch, in order; `None` where another dispatcher had the event.
    pub entries: Vec<Option<i64>>,
    /// Events marked dispatched without an entry.
    pub skipped: usize,
    /// The moment the round's notices were queued (Unix milliseconds, just before the commit); the
    /// events' `dispatched_ms`.
    pub at_ms: i64,
}

/// A trace snapshot to attach to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceAttach {
    pub entry: i64,
    /// `done`, `no_lot` or `failed`.
    pub status: String,
    pub recall: Option<String>,
    pub origins: Option<String>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub message: i64,
    pub at_ms: i64,
    /// `None`: delivered.
    pub error: Option<String>,
    /// After a failure, when to try again; `None` gives the message up.
    pub next_attempt_ms: Option<i64>,
}

/// A change of an entry's state that goes with an action.
#[derive(Debug, Clone, Default)]
pub struct EntryChange<'a> {
    /// The state it moves to (`None`: unchanged).
    pub state: Option<&'a str>,
    /// The write is refused when the entry is no longer in this state (another writer was first).
    pub expected_state: Option<&'a str>,
    pub closed_at: Option<i64>,
}

/// Filters of a ledger list.
#[derive(Debug, Clone)]
pub struct EntryFilter<'a> {
    pub scope: &'a Scope,
    pub state: Option<&'a str>,
    pub market_id: Option<i64>,
    pub source_kind: Option<&'a str>,
    /// Entries with an id below this one (lists run newest first).
    pub before: Option<i64>,
    pub limit: usize,
}

/// Counts of the outbox, for `shian notify`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub gave_up: u64,
}

/// What supervision needs from a backend.
pub trait Supervision {
    /// Another connection to the same database, for a background worker on its own thread.
    /// A private in-memory database cannot be shared and is refused.
    fn reopen(&self) -> Result<Box<dyn Store>>;

    /// Events not yet dispatched, oldest first.
    fn pending_events(&self, limit: usize) -> Result<Vec<FailureEvent>>;
    /// Events after `after_id`, dispatched or not, oldest first (for tests and benchmarks).
    fn events(&self, after_id: i64, limit: usize) -> Result<Vec<FailureEvent>>;
    /// The failed rapid test or sample an event stands for (`None` if it was deleted since).
    fn failed_result(&self, source_kind: &str, record_id: i64) -> Result<Option<FailedResult>>;
    /// A market by id.
    fn market_ref(&self, id: i64) -> Result<Option<MarketRef>>;
    /// A market's active roster entries of a role (`assigned_official`, `director`, …).
    fn market_roster(&self, market: i64, role: &str) -> Result<Vec<StaffContact>>;
    /// Writes a round of dispatches — each event's entry, actions, inbox and outbox rows, the event
    /// marked dispatched — and marks `skipped` events dispatched without an entry (their record is
    /// no longer failed), all in one transaction. An event another dispatcher claimed first is
    /// left alone (its slot in [`Dispatched::entries`] is `None`).
    fn dispatch_events(&mut self, round: &[Dispatch], skipped: &[i64]) -> Result<Dispatched>;

    /// Entries waiting for their trace snapshot, oldest first.
    fn entries_awaiting_trace(&self, limit: usize) -> Result<Vec<RiskEntry>>;
    /// Attaches trace snapshots to entries still waiting for one, in one transaction; returns how
    /// many were attached.
    fn attach_traces(&mut self, snapshots: &[TraceAttach]) -> Result<usize>;

    /// Opens an entry from a source other than a failure event, with its first actions and inbox
    /// rows, in one transaction.
    fn open_entry(
        &mut self,
        entry: &NewEntry,
        actions: &[NewAction],
        inbox: &[NewNotification],
        audit: &NewAudit,
    ) -> Result<i64>;
    fn entry(&self, id: i64) -> Result<Option<RiskEntry>>;
    /// Entries matching the filter, newest first.
    fn entries(&self, filter: &EntryFilter) -> Result<Vec<RiskEntry>>;
    /// The entry opened for a source record, if any.
    fn entry_for_source(&self, source_kind: &str, source_id: i64) -> Result<Option<RiskEntry>>;
    fn actions(&self, entry: i64) -> Result<Vec<RiskAction>>;
    fn escalations(&self, entry: i64) -> Result<Vec<Escalation>>;
    /// Records an action, stores its evidence file if any, changes the entry as said, appends the
    /// audit line: one transaction. Returns the action's id.
    fn record_action(
        &mut self,
        entry: i64,
        action: &NewAction,
        evidence: Option<&NewEvidence>,
        change: &EntryChange,
        audit: &NewAudit,
    ) -> Result<i64>;
    /// An evidence file by id.
    fn evidence(&self, id: i64) -> Result<Option<Evidence>>;
    /// Unclosed entries (open or in disposal) whose deadline passed before `now` and that can still
    /// go up (their owner is not the province), oldest deadline first.
    fn overdue_entries(&self, now: i64, limit: usize) -> Result<Vec<RiskEntry>>;
    /// Hands an entry to a new owner with a new deadline, with its escalation row, inbox rows and
    /// audit line: one transaction. `false` when the entry's owner changed meanwhile.
    fn escalate(&mut self, e: &Escalation, inbox: &[NewNotification], audit: &NewAudit) -> Result<bool>;

    /// A user's inbox, newest first.
    fn inbox(&self, user: i64, unread_only: bool, limit: usize) -> Result<Vec<Notification>>;
    /// The inbox rows about an entry.
    fn notifications_of(&self, entry: i64) -> Result<Vec<Notification>>;
    /// Marks a user's notification read; `false` when it is not theirs or was read already.
    fn acknowledge(&mut self, user: i64, notification: i64, at: i64, audit: &NewAudit) -> Result<bool>;

    /// Outbox messages due at `now_ms`, oldest first.
    fn due_messages(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxMessage>>;
    /// The outbox messages about an entry.
    fn messages_of(&self, entry: i64) -> Result<Vec<OutboxMessage>>;
    /// Takes due messages for one attempt each: moves their next attempt to `lease_until_ms`
    /// unless another worker took them first. `due` holds (id, next_attempt_ms) as read; returns
    /// the ids taken.
    fn claim_messages(&mut self, due: &[(i64, i64)], lease_until_ms: i64) -> Result<Vec<i64>>;
    /// Records the outcomes of delivery attempts, in one transaction.
    fn record_attempts(&mut self, attempts: &[Attempt]) -> Result<()>;
    fn outbox_counts(&self) -> Result<OutboxCounts>;
}
