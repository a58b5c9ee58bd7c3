//! Escalation of overdue entries (逾期升级): an entry still open or in disposal after its deadline
//! goes one level up — assigned official → county → city → province regulator — with a new
//! deadline of its level's period, an escalation row, inbox notices to the new owner role's
//! accounts covering the entry's region and an audit line, in one transaction. The server calls
//! [`escalate_overdue`] every minute; an entry owned by the province stays there.

use shian_domain::time;
use shian_store::Store;
use shian_store::accounts::NewAudit;
use shian_store::supervision::{Escalation, NewNotification, RiskEntry};

use super::dispatch::Audience;
use super::rules::{Level, Owner};
use super::{Result, SYSTEM_ACTOR};

/// What a round of escalation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EscalationReport {
    pub escalated: usize,
}

/// Hands every entry overdue at `now` one level up.
pub fn escalate_overdue(store: &mut dyn Store, now: i64) -> Result<EscalationReport> {
    let mut report = EscalationReport::default();
    loop {
        let overdue = store.overdue_entries(now, 200)?;
        if overdue.is_empty() {
            return Ok(report);
        }
        let audience = Audience::load(store)?;
        let mut moved = 0;
        for e in &overdue {
            moved += usize::from(escalate_one(store, &audience, e, now)?);
        }
        report.escalated += moved;
        if moved == 0 {
            return Ok(report);
        }
    }
}

fn escalate_one(store: &mut dyn Store, audience: &Audience, e: &RiskEntry, now: i64) -> Result<bool> {
    let Some(next) = Owner::parse(&e.owner_role).and_then(Owner::next) else { return Ok(false) };
    let level = Level::parse(&e.level).unwrap_or(Level::General);
    let owners = audience.regulators(next, e.region.as_deref());
    let first = owners.first();
    let escalation = Escalation {
        entry_id: e.id,
        at: now,
        from_role: e.owner_role.clone(),
        to_role: next.code().into(),
        from_user: e.owner_user,
        to_user: first.map(|u| u.id),
        to_name: first.map(|u| u.display_name.clone()),
        previous_deadline: e.deadline,
        new_deadline: now + level.period_secs(),
    };
    let inbox: Vec<NewNotification> = owners.iter().map(|u| notice(e, next, &escalation, u.id)).collect();
    let after = serde_json::json!({"owner_role": next.code(), "owner_user": escalation.to_user,
        "deadline": escalation.new_deadline})
    .to_string();
    let before =
        serde_json::json!({"owner_role": e.owner_role, "owner_user": e.owner_user, "deadline": e.deadline}).to_string();
    let audit = NewAudit {
        at: now,
        actor: SYSTEM_ACTOR,
        action: "ledger.escalate",
        kind: Some("risk_entry"),
        before: Some(&before),
        after: Some(&after),
        client: Some("escalation"),
        ..NewAudit::default()
    };
    Ok(store.escalate(&escalation, &inbox, &audit)?)
}

fn notice(e: &RiskEntry, to: Owner, x: &Escalation, user_id: i64) -> NewNotification {
    let (was, by) = (time::format_datetime(x.previous_deadline), time::format_datetime(x.new_deadline));
    let role = to.label();
    NewNotification {
        user_id,
        reason: "escalation".into(),
        title: format!("【逾期升级】风险台账 #{}：{}", e.id, e.title),
        title_en: format!("[Overdue, escalated] Risk-ledger entry #{}: {}", e.id, e.title_en),
        body: format!("该条目未在期限 {was} 前处置完毕，现升级由{}督办，新期限 {by}。", role.zh),
        body_en: format!("Not disposed of by {was}; escalated to the {}, new deadline {by}.", role.en),
    }
}
