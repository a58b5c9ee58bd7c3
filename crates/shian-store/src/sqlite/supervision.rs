//! [`Supervision`] on SQLite. Every multi-row write is one `BEGIN IMMEDIATE` transaction, so a
//! background worker never fails on a lock upgrade while an import holds the writer lock: it waits
//! (busy timeout) and then commits all of its rows or none.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row as SqlRow, Transaction, TransactionBehavior, params};
use shian_domain::access::Scope;
use shian_domain::time;

use super::SqliteStore;
use crate::accounts::NewAudit;
use crate::supervision::{
    Attempt, Dispatch, Dispatched, EntryChange, EntryFilter, Escalation, Evidence, FailedItem, FailedResult,
    FailureEvent, MarketRef, NewAction, NewEntry, NewEvidence, NewNotification, NewOutbox, Notification, OutboxCounts,
    OutboxMessage, RiskAction, RiskEntry, StaffContact, Supervision, TraceAttach,
};
use crate::{Result, Store, StoreError};

const EVENT: &str = "SELECT id, source_kind, record_id, created_ms, dispatched_ms, entry_id FROM failure_events";

fn event(r: &SqlRow) -> rusqlite::Result<FailureEvent> {
    Ok(FailureEvent {
        id: r.get(0)?,
        source_kind: r.get(1)?,
        record_id: r.get(2)?,
        created_ms: r.get(3)?,
        dispatched_ms: r.get(4)?,
        entry_id: r.get(5)?,
    })
}

/// An entry's columns; `{snapshots}` is `e.recall, e.origins` for one entry and `NULL, NULL` for
/// lists (the snapshots can be large).
const ENTRY: &str = "SELECT e.id, e.source_kind, e.source_id, e.source_key, e.level, e.state, e.title, e.title_en,
    e.detail, e.market_id, m.code, m.name, e.vendor_id, v.code, v.name, e.variety_id, va.name, e.lot_code, e.region,
    e.owner_role, e.owner_user, e.owner_name, e.opened_at, e.deadline, e.retest_due, e.trace_status, {snapshots},
    e.updated_at, e.closed_at
    FROM risk_entries e LEFT JOIN markets m ON m.id = e.market_id LEFT JOIN vendors v ON v.id = e.vendor_id
    LEFT JOIN varieties va ON va.id = e.variety_id";

fn entry_sql(snapshots: bool, condition: &str) -> String {
    let cols = if snapshots { "e.recall, e.origins" } else { "NULL, NULL" };
    format!("{} WHERE {condition}", ENTRY.replace("{snapshots}", cols))
}

fn entry(r: &SqlRow) -> rusqlite::Result<RiskEntry> {
    Ok(RiskEntry {
        id: r.get(0)?,
        source_kind: r.get(1)?,
        source_id: r.get(2)?,
        source_key: r.get(3)?,
        level: r.get(4)?,
        state: r.get(5)?,
        title: r.get(6)?,
        title_en: r.get(7)?,
        detail: r.get(8)?,
        market_id: r.get(9)?,
        market_code: r.get(10)?,
        market_name: r.get(11)?,
        vendor_id: r.get(12)?,
        vendor_code: r.get(13)?,
        vendor_name: r.get(14)?,
        variety_id: r.get(15)?,
        variety_name: r.get(16)?,
        lot_code: r.get(17)?,
        region: r.get(18)?,
        owner_role: r.get(19)?,
        owner_user: r.get(20)?,
        owner_name: r.get(21)?,
        opened_at: r.get(22)?,
        deadline: r.get(23)?,
        retest_due: r.get(24)?,
        trace_status: r.get(25)?,
        recall: r.get(26)?,
        origins: r.get(27)?,
        updated_at: r.get(28)?,
        closed_at: r.get(29)?,
    })
}

const ACTION: &str =
    "SELECT id, entry_id, action, actor, at, note, method, result, evidence_id FROM risk_actions WHERE entry_id = ?";

fn action(r: &SqlRow) -> rusqlite::Result<RiskAction> {
    Ok(RiskAction {
        id: r.get(0)?,
        entry_id: r.get(1)?,
        action: r.get(2)?,
        actor: r.get(3)?,
        at: r.get(4)?,
        note: r.get(5)?,
        method: r.get(6)?,
        result: r.get(7)?,
        evidence_id: r.get(8)?,
    })
}

const NOTIFICATION: &str =
    "SELECT id, user_id, entry_id, reason, title, title_en, body, body_en, created_ms, read_at FROM notifications";

fn notification(r: &SqlRow) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        user_id: r.get(1)?,
        entry_id: r.get(2)?,
        reason: r.get(3)?,
        title: r.get(4)?,
        title_en: r.get(5)?,
        body: r.get(6)?,
        body_en: r.get(7)?,
        created_ms: r.get(8)?,
        read_at: r.get(9)?,
    })
}

const MESSAGE: &str = "SELECT id, entry_id, channel, recipients, subject, payload, created_ms, attempts,
    next_attempt_ms, last_error, delivered_ms, gave_up_ms FROM outbox";

fn message(r: &SqlRow) -> rusqlite::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.get(0)?,
        entry_id: r.get(1)?,
        channel: r.get(2)?,
        recipients: r.get(3)?,
        subject: r.get(4)?,
        payload: r.get(5)?,
        created_ms: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_ms: r.get(8)?,
        last_error: r.get(9)?,
        delivered_ms: r.get(10)?,
        gave_up_ms: r.get(11)?,
    })
}

/// Appends an audit line inside a transaction; `key` stands in for a missing record key.
fn audit(tx: &Transaction, a: &NewAudit, key: Option<&str>) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, kind, record_key, before, after, client)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    let record_key = a.record_key.or(key);
    stmt.execute(params![a.at, a.actor, a.action, a.kind, record_key, a.before, a.after, a.client])?;
    Ok(())
}

fn insert_entry(tx: &Transaction, e: &NewEntry) -> Result<i64> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO risk_entries (source_kind, source_id, source_key, level, title, title_en, detail, market_id,
         vendor_id, variety_id, lot_code, region, owner_role, owner_user, owner_name, opened_at, deadline, retest_due,
         trace_status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![
        e.source_kind,
        e.source_id,
        e.source_key,
        e.level,
        e.title,
        e.title_en,
        e.detail,
        e.market_id,
        e.vendor_id,
        e.variety_id,
        e.lot_code,
        e.region,
        e.owner_role,
        e.owner_user,
        e.owner_name,
        e.opened_at,
        e.deadline,
        e.retest_due,
        e.trace_status,
        e.opened_at
    ])?;
    Ok(tx.last_insert_rowid())
}

fn insert_action(tx: &Transaction, entry: i64, a: &NewAction) -> Result<i64> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO risk_actions (entry_id, action, actor, at, note, method, result, evidence_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    stmt.execute(params![entry, a.action, a.actor, a.at, a.note, a.method, a.result, a.evidence_id])?;
    Ok(tx.last_insert_rowid())
}

fn insert_inbox(tx: &Transaction, entry: i64, rows: &[NewNotification], at_ms: i64) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO notifications (user_id, entry_id, reason, title, title_en, body, body_en, created_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    for n in rows {
        stmt.execute(params![n.user_id, entry, n.reason, n.title, n.title_en, n.body, n.body_en, at_ms])?;
    }
    Ok(())
}

fn insert_outbox(tx: &Transaction, entry: i64, rows: &[NewOutbox], at_ms: i64) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO outbox (entry_id, channel, recipients, subject, payload, created_ms, next_attempt_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    for m in rows {
        stmt.execute(params![entry, m.channel, m.recipients, m.subject, m.payload, at_ms, at_ms])?;
    }
    Ok(())
}

fn insert_evidence(tx: &Transaction, entry: i64, e: &NewEvidence) -> Result<i64> {
    tx.execute(
        "INSERT INTO risk_evidence (entry_id, file_name, content_type, size, sha256, data, uploaded_by, uploaded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params![entry, e.file_name, e.content_type, e.data.len() as i64, e.sha256, e.data, e.uploaded_by, e.at],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The condition and its one parameter (`?6`) that keep a ledger list inside a scope.
fn scope_condition(scope: &Scope) -> (&'static str, SqlValue) {
    match scope {
        Scope::All => ("?6 IS NULL", SqlValue::Null),
        Scope::Region(code) => ("e.region LIKE ?6", SqlValue::Text(format!("{}%", Scope::region_prefix(code)))),
        Scope::Market(id) => ("e.market_id = ?6", SqlValue::Integer(*id)),
        // A chain's headquarters sees no ledger (entries belong to markets and regions).
        Scope::Enterprise(_) => ("?6 IS NULL AND 0", SqlValue::Null),
    }
}

/// Midnight China time of a `YYYY-MM-DD` date, as Unix seconds (0 when it does not parse).
fn date_seconds(date: &str) -> i64 {
    time::parse_date(date).and_then(|d| d.and_hms_opt(0, 0, 0)).and_then(time::from_local).unwrap_or(0)
}

const RAPID: &str = "SELECT t.test_no, m.id, m.code, m.name, m.region, v.id, v.code, v.name, va.id, va.code, va.name,
    t.lot_code, t.method, t.tested_at, t.item, t.value, t.result
    FROM rapid_tests t JOIN markets m ON m.id = t.market_id LEFT JOIN vendors v ON v.id = t.vendor_id
    JOIN varieties va ON va.id = t.variety_id WHERE t.id = ? AND t.verdict = 'fail'";

const SAMPLE: &str = "SELECT s.sample_no, m.id, m.code, m.name, m.region, v.id, v.code, v.name, va.id, va.code,
    va.name, s.lot_code, s.lab, s.sampled_on, s.subject_kind, coalesce(b.code, p.code), coalesce(b.name, p.name),
    coalesce(b.region, p.region)
    FROM samples s
    LEFT JOIN vendors v ON s.subject_kind = 'vendor' AND v.id = s.subject_id
    LEFT JOIN buyers b ON s.subject_kind = 'buyer' AND b.id = s.subject_id
    LEFT JOIN producers p ON s.subject_kind = 'producer' AND p.id = s.subject_id
    LEFT JOIN markets m ON m.id = coalesce(s.market_id, v.market_id)
    JOIN varieties va ON va.id = s.variety_id WHERE s.id = ?";

fn market_of(r: &SqlRow) -> rusqlite::Result<Option<MarketRef>> {
    let Some(id) = r.get::<_, Option<i64>>(1)? else { return Ok(None) };
    Ok(Some(MarketRef { id, code: r.get(2)?, name: r.get(3)?, region: r.get(4)? }))
}

fn rapid_result(record_id: i64, r: &SqlRow) -> rusqlite::Result<FailedResult> {
    Ok(FailedResult {
        source_kind: "rapid_test".into(),
        record_id,
        key: r.get(0)?,
        market: market_of(r)?,
        vendor_id: r.get(5)?,
        vendor_code: r.get(6)?,
        vendor_name: r.get(7)?,
        subject_kind: "vendor".into(),
        subject_code: r.get(6)?,
        subject_name: r.get(7)?,
        subject_region: r.get(4)?,
        variety_id: r.get(8)?,
        variety_code: r.get(9)?,
        variety_name: r.get(10)?,
        lot_code: r.get(11)?,
        method: r.get(12)?,
        tested_at: r.get(13)?,
        items: vec![FailedItem {
            item: r.get(14)?,
            value: r.get(15)?,
            unit: None,
            limit: None,
            method: r.get(12)?,
            result: r.get(16)?,
        }],
    })
}

fn sample_result(record_id: i64, r: &SqlRow) -> rusqlite::Result<FailedResult> {
    let vendor_code: Option<String> = r.get(6)?;
    let market = market_of(r)?;
    let subject_kind: String = r.get(14)?;
    let vendor = subject_kind == "vendor";
    Ok(FailedResult {
        source_kind: "sample".into(),
        record_id,
        key: r.get(0)?,
        subject_region: if vendor { market.as_ref().map(|m| m.region.clone()) } else { r.get(17)? },
        market,
        vendor_id: r.get(5)?,
        vendor_name: r.get(7)?,
        subject_code: if vendor { vendor_code.clone() } else { r.get(15)? },
        subject_name: if vendor { r.get(7)? } else { r.get(16)? },
        vendor_code,
        subject_kind,
        variety_id: r.get(8)?,
        variety_code: r.get(9)?,
        variety_name: r.get(10)?,
        lot_code: r.get(11)?,
        method: r.get(12)?,
        tested_at: date_seconds(&r.get::<_, String>(13)?),
        items: Vec::new(),
    })
}

/// Claims an event for this transaction (`false`: dispatched already).
fn claim_event(tx: &Transaction, event: i64, at_ms: i64) -> Result<bool> {
    let mut stmt =
        tx.prepare_cached("UPDATE failure_events SET dispatched_ms = ? WHERE id = ? AND dispatched_ms IS NULL")?;
    Ok(stmt.execute(params![at_ms, event])? == 1)
}

/// Writes a claimed event's entry (unless its source has one already) and links the event to it.
fn dispatch_one(tx: &Transaction, d: &Dispatch, at_ms: i64) -> Result<i64> {
    let existing: Option<i64> = tx
        .prepare_cached("SELECT id FROM risk_entries WHERE source_kind = ? AND source_id = ?")?
        .query_row(params![d.entry.source_kind, d.entry.source_id], |r| r.get(0))
        .optional()?;
    let id = match existing {
        Some(id) => id,
        None => {
            let id = insert_entry(tx, d.entry)?;
            for a in d.actions {
                insert_action(tx, id, a)?;
            }
            let notices = (d.notices)(id);
            insert_inbox(tx, id, &notices.inbox, at_ms)?;
            insert_outbox(tx, id, &notices.outbox, at_ms)?;
            audit(tx, d.audit, Some(&id.to_string()))?;
            id
        }
    };
    tx.prepare_cached("UPDATE failure_events SET entry_id = ? WHERE id = ?")?.execute(params![id, d.event_id])?;
    Ok(id)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Busy-waits for the writer lock in 1 ms steps (up to 30 s), instead of SQLite's default steps
/// that grow to 100 ms: a background worker then takes the lock in the short gaps between an
/// import's batch transactions rather than waiting for the import to end.
fn eager_busy_handler(retries: i32) -> bool {
    std::thread::sleep(Duration::from_millis(1));
    retries < 30_000
}

impl SqliteStore {
    fn failed_items(&self, sample: i64) -> Result<Vec<FailedItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT item, value, unit, \"limit\", method FROM sample_items WHERE sample_id = ? AND verdict = 'fail'
             ORDER BY id",
        )?;
        let rows = stmt.query_map([sample], |r| {
            Ok(FailedItem {
                item: r.get(0)?,
                value: r.get(1)?,
                unit: r.get(2)?,
                limit: r.get(3)?,
                method: r.get(4)?,
                result: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn immediate(&mut self) -> Result<Transaction<'_>> {
        Ok(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

impl Supervision for SqliteStore {
    fn reopen(&self) -> Result<Box<dyn Store>> {
        match self.conn.path() {
            Some(path) if !path.is_empty() => {
                let store = SqliteStore::open(path)?;
                store.conn.busy_handler(Some(eager_busy_handler))?;
                Ok(Box::new(store))
            }
            _ => Err(StoreError::Invalid("a private in-memory database cannot be opened twice".into())),
        }
    }

    fn pending_events(&self, limit: usize) -> Result<Vec<FailureEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!("{EVENT} WHERE dispatched_ms IS NULL ORDER BY id LIMIT ?"))?;
        Ok(stmt.query_map([limit as i64], event)?.collect::<rusqlite::Result<_>>()?)
    }

    fn events(&self, after_id: i64, limit: usize) -> Result<Vec<FailureEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!("{EVENT} WHERE id > ? ORDER BY id LIMIT ?"))?;
        Ok(stmt.query_map(params![after_id, limit as i64], event)?.collect::<rusqlite::Result<_>>()?)
    }

    fn failed_result(&self, source_kind: &str, record_id: i64) -> Result<Option<FailedResult>> {
        match source_kind {
            "rapid_test" => {
                let mut stmt = self.conn.prepare_cached(RAPID)?;
                Ok(stmt.query_row([record_id], |r| rapid_result(record_id, r)).optional()?)
            }
            "sample" => {
                let items = self.failed_items(record_id)?;
                if items.is_empty() {
                    return Ok(None);
                }
                let mut stmt = self.conn.prepare_cached(SAMPLE)?;
                let found = stmt.query_row([record_id], |r| sample_result(record_id, r)).optional()?;
                Ok(found.map(|f| FailedResult { items, ..f }))
            }
            other => Err(StoreError::Invalid(format!("{other} is not a failure source"))),
        }
    }

    fn market_ref(&self, id: i64) -> Result<Option<MarketRef>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, code, name, region FROM markets WHERE id = ?")?;
        let found = stmt
            .query_row([id], |r| Ok(MarketRef { id: r.get(0)?, code: r.get(1)?, name: r.get(2)?, region: r.get(3)? }));
        Ok(found.optional()?)
    }

    fn market_roster(&self, market: i64, role: &str) -> Result<Vec<StaffContact>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, role, name, phone FROM market_staff
             WHERE market_id = ? AND role = ? AND coalesce(active, 1) <> 0 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![market, role], |r| {
            Ok(StaffContact { code: r.get(0)?, role: r.get(1)?, name: r.get(2)?, phone: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn dispatch_events(&mut self, round: &[Dispatch], skipped: &[i64]) -> Result<Dispatched> {
        let tx = self.immediate()?;
        let start_ms = now_ms();
        let mut out = Dispatched::default();
        let mut claimed = Vec::with_capacity(round.len() + skipped.len());
        for d in round {
            let id = if claim_event(&tx, d.event_id, start_ms)? { Some(dispatch_one(&tx, d, start_ms)?) } else { None };
            claimed.extend(id.map(|_| d.event_id));
            out.entries.push(id);
        }
        for &event in skipped {
            if claim_event(&tx, event, start_ms)? {
                claimed.push(event);
                out.skipped += 1;
            }
        }
        // The events are stamped at the end of the round, just before the commit that queues
        // their notices: the delay a benchmark measures includes the whole round.
        out.at_ms = now_ms();
        let mut stamp = tx.prepare_cached("UPDATE failure_events SET dispatched_ms = ? WHERE id = ?")?;
        for event in claimed {
            stamp.execute(params![out.at_ms, event])?;
        }
        drop(stamp);
        tx.commit()?;
        Ok(out)
    }

    fn entries_awaiting_trace(&self, limit: usize) -> Result<Vec<RiskEntry>> {
        let sql = entry_sql(false, "e.trace_status = 'pending' ORDER BY e.id LIMIT ?");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt.query_map([limit as i64], entry)?.collect::<rusqlite::Result<_>>()?)
    }

    fn attach_traces(&mut self, snapshots: &[TraceAttach]) -> Result<usize> {
        let tx = self.immediate()?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE risk_entries SET trace_status = ?, recall = ?, origins = ? WHERE id = ? AND trace_status = 'pending'",
            )?;
            for t in snapshots {
                n += stmt.execute(params![t.status, t.recall, t.origins, t.entry])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn open_entry(
        &mut self,
        entry: &NewEntry,
        actions: &[NewAction],
        inbox: &[NewNotification],
        a: &NewAudit,
    ) -> Result<i64> {
        let tx = self.immediate()?;
        let id = insert_entry(&tx, entry)?;
        for action in actions {
            insert_action(&tx, id, action)?;
        }
        insert_inbox(&tx, id, inbox, entry.opened_at * 1000)?;
        audit(&tx, a, Some(&id.to_string()))?;
        tx.commit()?;
        Ok(id)
    }

    fn entry(&self, id: i64) -> Result<Option<RiskEntry>> {
        let mut stmt = self.conn.prepare_cached(&entry_sql(true, "e.id = ?"))?;
        Ok(stmt.query_row([id], entry).optional()?)
    }

    fn entries(&self, f: &EntryFilter) -> Result<Vec<RiskEntry>> {
        let (scope, scope_value) = scope_condition(f.scope);
        let condition = format!(
            "(?1 IS NULL OR e.state = ?1) AND (?2 IS NULL OR e.market_id = ?2) AND (?3 IS NULL OR e.source_kind = ?3)
             AND (?4 IS NULL OR e.id < ?4) AND {scope} ORDER BY e.id DESC LIMIT ?5"
        );
        let mut stmt = self.conn.prepare_cached(&entry_sql(false, &condition))?;
        let rows =
            stmt.query_map(params![f.state, f.market_id, f.source_kind, f.before, f.limit as i64, scope_value], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn entry_for_source(&self, source_kind: &str, source_id: i64) -> Result<Option<RiskEntry>> {
        let mut stmt = self.conn.prepare_cached(&entry_sql(true, "e.source_kind = ? AND e.source_id = ?"))?;
        Ok(stmt.query_row(params![source_kind, source_id], entry).optional()?)
    }

    fn actions(&self, entry: i64) -> Result<Vec<RiskAction>> {
        let mut stmt = self.conn.prepare_cached(&format!("{ACTION} ORDER BY id"))?;
        Ok(stmt.query_map([entry], action)?.collect::<rusqlite::Result<_>>()?)
    }

    fn escalations(&self, entry: i64) -> Result<Vec<Escalation>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT entry_id, at, from_role, to_role, from_user, to_user, to_name, previous_deadline, new_deadline
             FROM risk_escalations WHERE entry_id = ? ORDER BY id",
        )?;
        let rows = stmt.query_map([entry], |r| {
            Ok(Escalation {
                entry_id: r.get(0)?,
                at: r.get(1)?,
                from_role: r.get(2)?,
                to_role: r.get(3)?,
                from_user: r.get(4)?,
                to_user: r.get(5)?,
                to_name: r.get(6)?,
                previous_deadline: r.get(7)?,
                new_deadline: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn record_action(
        &mut self,
        entry: i64,
        a: &NewAction,
        evidence: Option<&NewEvidence>,
        change: &EntryChange,
        au: &NewAudit,
    ) -> Result<i64> {
        let tx = self.immediate()?;
        let evidence_id = match evidence {
            Some(e) => Some(insert_evidence(&tx, entry, e)?),
            None => a.evidence_id,
        };
        let id = insert_action(&tx, entry, &NewAction { evidence_id, ..a.clone() })?;
        let changed = tx.execute(
            "UPDATE risk_entries SET state = coalesce(?1, state), closed_at = coalesce(?2, closed_at), updated_at = ?3
             WHERE id = ?4 AND (?5 IS NULL OR state = ?5)",
            params![change.state, change.closed_at, a.at, entry, change.expected_state],
        )?;
        if changed == 0 {
            return Err(StoreError::Invalid(format!("ledger entry {entry} does not exist or changed meanwhile")));
        }
        audit(&tx, au, Some(&entry.to_string()))?;
        tx.commit()?;
        Ok(id)
    }

    fn evidence(&self, id: i64) -> Result<Option<Evidence>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, entry_id, file_name, content_type, size, sha256, data, uploaded_by, uploaded_at
             FROM risk_evidence WHERE id = ?",
        )?;
        let found = stmt.query_row([id], |r| {
            Ok(Evidence {
                id: r.get(0)?,
                entry_id: r.get(1)?,
                file_name: r.get(2)?,
                content_type: r.get(3)?,
                size: r.get(4)?,
                sha256: r.get(5)?,
                data: r.get(6)?,
                uploaded_by: r.get(7)?,
                uploaded_at: r.get(8)?,
            })
        });
        Ok(found.optional()?)
    }

    fn overdue_entries(&self, now: i64, limit: usize) -> Result<Vec<RiskEntry>> {
        let sql = entry_sql(
            false,
            "e.state IN ('open', 'in_disposal') AND e.deadline < ? AND e.owner_role <> 'province_regulator'
             ORDER BY e.deadline, e.id LIMIT ?",
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt.query_map(params![now, limit as i64], entry)?.collect::<rusqlite::Result<_>>()?)
    }

    fn escalate(&mut self, e: &Escalation, inbox: &[NewNotification], au: &NewAudit) -> Result<bool> {
        let tx = self.immediate()?;
        let changed = tx.execute(
            "UPDATE risk_entries SET owner_role = ?, owner_user = ?, owner_name = ?, deadline = ?, updated_at = ?
             WHERE id = ? AND owner_role = ? AND deadline = ? AND state IN ('open', 'in_disposal')",
            params![
                e.to_role,
                e.to_user,
                e.to_name,
                e.new_deadline,
                e.at,
                e.entry_id,
                e.from_role,
                e.previous_deadline
            ],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO risk_escalations (entry_id, at, from_role, to_role, from_user, to_user, to_name,
             previous_deadline, new_deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                e.entry_id,
                e.at,
                e.from_role,
                e.to_role,
                e.from_user,
                e.to_user,
                e.to_name,
                e.previous_deadline,
                e.new_deadline
            ],
        )?;
        insert_inbox(&tx, e.entry_id, inbox, e.at * 1000)?;
        audit(&tx, au, Some(&e.entry_id.to_string()))?;
        tx.commit()?;
        Ok(true)
    }

    fn inbox(&self, user: i64, unread_only: bool, limit: usize) -> Result<Vec<Notification>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{NOTIFICATION} WHERE user_id = ? AND (? = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT ?"
        ))?;
        let rows = stmt.query_map(params![user, unread_only as i64, limit as i64], notification)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn notifications_of(&self, entry: i64) -> Result<Vec<Notification>> {
        let mut stmt = self.conn.prepare_cached(&format!("{NOTIFICATION} WHERE entry_id = ? ORDER BY id"))?;
        Ok(stmt.query_map([entry], notification)?.collect::<rusqlite::Result<_>>()?)
    }

    fn acknowledge(&mut self, user: i64, notification: i64, at: i64, au: &NewAudit) -> Result<bool> {
        let tx = self.immediate()?;
        let n = tx.execute(
            "UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL",
            params![at, notification, user],
        )?;
        if n == 0 {
            return Ok(false);
        }
        audit(&tx, au, Some(&notification.to_string()))?;
        tx.commit()?;
        Ok(true)
    }

    fn due_messages(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxMessage>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{MESSAGE} WHERE delivered_ms IS NULL AND gave_up_ms IS NULL AND next_attempt_ms <= ?
             ORDER BY next_attempt_ms, id LIMIT ?"
        ))?;
        Ok(stmt.query_map(params![now_ms, limit as i64], message)?.collect::<rusqlite::Result<_>>()?)
    }

    fn messages_of(&self, entry: i64) -> Result<Vec<OutboxMessage>> {
        let mut stmt = self.conn.prepare_cached(&format!("{MESSAGE} WHERE entry_id = ? ORDER BY id"))?;
        Ok(stmt.query_map([entry], message)?.collect::<rusqlite::Result<_>>()?)
    }

    fn claim_messages(&mut self, due: &[(i64, i64)], lease_until_ms: i64) -> Result<Vec<i64>> {
        let tx = self.immediate()?;
        let mut taken = Vec::with_capacity(due.len());
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET next_attempt_ms = ? WHERE id = ? AND next_attempt_ms = ? AND delivered_ms IS NULL
                 AND gave_up_ms IS NULL",
            )?;
            for &(id, due_ms) in due {
                if stmt.execute(params![lease_until_ms, id, due_ms])? == 1 {
                    taken.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(taken)
    }

    fn record_attempts(&mut self, attempts: &[Attempt]) -> Result<()> {
        let tx = self.immediate()?;
        {
            let mut delivered = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, delivered_ms = ? WHERE id = ? AND delivered_ms IS NULL",
            )?;
            let mut failed = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?1, next_attempt_ms = coalesce(?2, next_attempt_ms),
                 gave_up_ms = CASE WHEN ?2 IS NULL THEN ?3 END WHERE id = ?4 AND delivered_ms IS NULL",
            )?;
            for a in attempts {
                match &a.error {
                    None => delivered.execute(params![a.at_ms, a.message])?,
                    Some(e) => failed.execute(params![e, a.next_attempt_ms, a.at_ms, a.message])?,
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn outbox_counts(&self) -> Result<OutboxCounts> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT count(*) FILTER (WHERE delivered_ms IS NULL AND gave_up_ms IS NULL),
                    count(*) FILTER (WHERE delivered_ms IS NOT NULL), count(*) FILTER (WHERE gave_up_ms IS NOT NULL)
             FROM outbox",
        )?;
        Ok(stmt.query_row([], |r| {
            Ok(OutboxCounts {
                pending: r.get::<_, i64>(0)? as u64,
                delivered: r.get::<_, i64>(1)? as u64,
                gave_up: r.get::<_, i64>(2)? as u64,
            })
        })?)
    }
}
