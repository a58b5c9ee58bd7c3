//! The dispatcher: turns each undispatched failure event into a risk-ledger entry, inbox rows and
//! outbox rows, exactly once, then attaches the trace snapshots.
//!
//! **Exactly once.** The store claims the event (`dispatched_ms` set where it was empty) in the
//! same transaction that writes the entry and its notices; a second dispatcher, or a second run
//! after a crash, finds nothing to claim. A crash before the commit leaves the event waiting.
//!
//! **Who is told.** Every enabled account whose role is assigned official (包保干部), market
//! operator (市场开办者) or market staff (市场食品安全员) with that market as its scope. A sample taken
//! outside a market (at a supermarket or a producer) has no market: the county and city
//! regulators whose region covers the subject's are told instead. The SMS gateway gets the phone
//! numbers of the market's roster of assigned officials (`market_staff` with role
//! `assigned_official`), who need no account.
//!
//! **Owner.** The market's first assigned official on the roster (with the first account of that
//! role for the market, when there is one); with none, the county regulator owns the entry.

use shian_domain::access::Scope;
use shian_store::Store;
use shian_store::accounts::{NewAudit, UserRecord};
use shian_store::supervision::{Dispatch, FailedResult, NewAction, NewEntry, Notices, TraceAttach};

use super::config::NotifyConfig;
use super::message::Facts;
use super::rules::{self, Action, Level, Owner};
use super::snapshot::snapshot;
use super::{Result, SYSTEM_ACTOR, now_ms};

/// What a run of the dispatcher did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Entries opened (one per event).
    pub opened: usize,
    /// Events whose record was no longer failed (or no longer there).
    pub skipped: usize,
    /// Entries whose trace snapshots were attached.
    pub traced: usize,
}

impl std::ops::AddAssign for DispatchReport {
    fn add_assign(&mut self, o: Self) {
        self.opened += o.opened;
        self.skipped += o.skipped;
        self.traced += o.traced;
    }
}

/// The market people's roles that receive a market's failure notices.
pub const MARKET_ROLES: [&str; 3] = ["assigned_official", "market_operator", "market_staff"];

/// The platform's accounts, read once per run (a small table).
pub(crate) struct Audience {
    users: Vec<UserRecord>,
}

impl Audience {
    pub(crate) fn load(store: &dyn Store) -> Result<Audience> {
        Ok(Audience { users: store.users()?.into_iter().filter(|u| !u.disabled).collect() })
    }

    /// The accounts of a market's people.
    pub(crate) fn market_people(&self, market: i64) -> Vec<i64> {
        let of_market = |u: &&UserRecord| u.scope_market == Some(market) && MARKET_ROLES.contains(&u.role.as_str());
        self.users.iter().filter(of_market).map(|u| u.id).collect()
    }

    pub(crate) fn first_of_market(&self, market: i64, role: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.scope_market == Some(market) && u.role == role)
    }

    /// Accounts of a regulator role whose jurisdiction covers `region`.
    pub(crate) fn regulators(&self, owner: Owner, region: Option<&str>) -> Vec<&UserRecord> {
        let covers = |u: &UserRecord| match (owner, region, u.scope_region.as_deref()) {
            (Owner::ProvinceRegulator, _, _) => true,
            (_, Some(region), Some(scope)) => Scope::Region(scope.to_string()).covers_region(region),
            _ => false,
        };
        self.users.iter().filter(|u| u.role == owner.code() && covers(u)).collect()
    }
}

/// Dispatches up to `limit` waiting events in one round (without their traces: see
/// [`attach_traces`]): everything is read first, then written in one transaction, so a busy
/// database is asked for its writer lock once per round, not once per event.
pub fn dispatch_pending(store: &mut dyn Store, cfg: &NotifyConfig, limit: usize) -> Result<DispatchReport> {
    let events = store.pending_events(limit)?;
    let mut report = DispatchReport::default();
    if events.is_empty() {
        return Ok(report);
    }
    let audience = Audience::load(store)?;
    let now = now_ms() / 1000;
    let (mut prepared, mut skipped) = (Vec::new(), Vec::new());
    for ev in &events {
        match store.failed_result(&ev.source_kind, ev.record_id)? {
            Some(result) => prepared.push(prepare(store, &audience, ev.id, result, now)?),
            None => skipped.push(ev.id),
        }
    }
    let notices: Vec<_> = prepared.iter().map(|p| move |entry_id| p.notices(cfg, entry_id)).collect();
    let audits: Vec<_> = prepared.iter().map(|p| p.audit(now)).collect();
    let round: Vec<Dispatch> = prepared
        .iter()
        .zip(&notices)
        .zip(&audits)
        .map(|((p, notices), audit)| Dispatch {
            event_id: p.event_id,
            entry: &p.plan.entry,
            actions: &p.plan.actions,
            notices,
            audit,
        })
        .collect();
    let done = store.dispatch_events(&round, &skipped)?;
    report.opened = done.entries.iter().flatten().count();
    report.skipped = done.skipped;
    Ok(report)
}

/// Dispatches every waiting event and attaches every waiting trace (the CLI's and cron's run).
pub fn run_once(store: &mut dyn Store, cfg: &NotifyConfig) -> Result<DispatchReport> {
    let mut total = DispatchReport::default();
    loop {
        let r = dispatch_pending(store, cfg, 500)?;
        total += r;
        if r.opened + r.skipped == 0 {
            break;
        }
    }
    loop {
        let traced = attach_traces(store, 100)?;
        total.traced += traced;
        if traced == 0 {
            break;
        }
    }
    Ok(total)
}

/// One event, read and planned, ready to be written.
struct Prepared {
    event_id: i64,
    result: FailedResult,
    plan: Plan,
    /// The accounts to tell.
    users: Vec<i64>,
    /// The SMS gateway's numbers: the market roster's assigned officials.
    phones: Vec<String>,
    audit_after: String,
}

fn prepare(store: &dyn Store, audience: &Audience, event_id: i64, result: FailedResult, now: i64) -> Result<Prepared> {
    let plan = plan(store, audience, &result, now)?;
    let users = match &result.market {
        Some(m) => audience.market_people(m.id),
        None => regional_users(audience, plan.entry.region.as_deref()),
    };
    let phones = match &result.market {
        Some(m) => store.market_roster(m.id, "assigned_official")?.into_iter().filter_map(|s| s.phone).collect(),
        None => Vec::new(),
    };
    let audit_after = serde_json::json!({
        "source": result.source_kind, "key": result.key, "level": plan.level.code(),
        "owner_role": plan.entry.owner_role, "owner": plan.entry.owner_name, "notified": users.len(),
    })
    .to_string();
    Ok(Prepared { event_id, result, plan, users, phones, audit_after })
}

impl Prepared {
    fn notices(&self, cfg: &NotifyConfig, entry_id: i64) -> Notices {
        let facts = Facts {
            result: &self.result,
            entry_id,
            level: self.plan.level,
            owner: self.plan.entry.owner_name.as_deref(),
            deadline: self.plan.entry.deadline,
            retest_due: self.plan.entry.retest_due,
        };
        Notices { inbox: facts.inbox(&self.users), outbox: facts.outbox(cfg, &self.phones) }
    }

    fn audit(&self, now: i64) -> NewAudit<'_> {
        NewAudit {
            at: now,
            actor: SYSTEM_ACTOR,
            action: "ledger.open",
            kind: Some("risk_entry"),
            after: Some(&self.audit_after),
            client: Some("dispatcher"),
            ..NewAudit::default()
        }
    }
}

/// County and city regulators of a region (for a failure outside any market).
fn regional_users(audience: &Audience, region: Option<&str>) -> Vec<i64> {
    let county = audience.regulators(Owner::CountyRegulator, region);
    let city = audience.regulators(Owner::CityRegulator, region);
    county.into_iter().chain(city).map(|u| u.id).collect()
}

/// The entry an event opens, with its first actions.
struct Plan {
    level: Level,
    entry: NewEntry,
    actions: Vec<NewAction>,
}

fn plan(store: &dyn Store, audience: &Audience, r: &FailedResult, now: i64) -> Result<Plan> {
    let level = rules::level_of(&r.items);
    let region = r.market.as_ref().map(|m| m.region.clone()).or_else(|| r.subject_region.clone());
    let (owner, owner_user, owner_name) = owner_of(store, audience, r, region.as_deref())?;
    let rapid = r.source_kind == "rapid_test";
    let retest_due = rapid.then_some(r.tested_at + rules::RETEST_WINDOW_SECS);
    let facts = Facts { result: r, entry_id: 0, level, owner: None, deadline: 0, retest_due: None };
    let title = facts.title();
    let entry = NewEntry {
        source_kind: r.source_kind.clone(),
        source_id: Some(r.record_id),
        source_key: Some(r.key.clone()),
        level: level.code().into(),
        title: title.zh.into(),
        title_en: title.en.into(),
        detail: None,
        market_id: r.market.as_ref().map(|m| m.id),
        vendor_id: r.vendor_id,
        variety_id: Some(r.variety_id),
        lot_code: r.lot_code.clone(),
        region,
        owner_role: owner.code().into(),
        owner_user,
        owner_name,
        opened_at: now,
        deadline: now + level.period_secs(),
        retest_due,
        trace_status: if r.lot_code.is_some() { "pending" } else { "no_lot" }.into(),
    };
    let actions = if rapid { vec![hold_at_once(now)] } else { Vec::new() };
    Ok(Plan { level, entry, actions })
}

/// A positive rapid test's goods are held at once: the platform records the order.
fn hold_at_once(now: i64) -> NewAction {
    NewAction {
        action: Action::Hold.code().into(),
        actor: SYSTEM_ACTOR.into(),
        at: now,
        note: Some("快检阳性：货品立即暂扣封存、停止销售，待实验室方法复检（4 小时内）".into()),
        ..NewAction::default()
    }
}

type OwnerChoice = (Owner, Option<i64>, Option<String>);

fn owner_of(store: &dyn Store, audience: &Audience, r: &FailedResult, region: Option<&str>) -> Result<OwnerChoice> {
    if let Some(m) = &r.market {
        let roster = store.market_roster(m.id, "assigned_official")?;
        let account = audience.first_of_market(m.id, Owner::AssignedOfficial.code());
        if !roster.is_empty() || account.is_some() {
            let name = roster.first().map(|s| s.name.clone()).or_else(|| account.map(|u| u.display_name.clone()));
            return Ok((Owner::AssignedOfficial, account.map(|u| u.id), name));
        }
    }
    let county = audience.regulators(Owner::CountyRegulator, region).into_iter().next();
    Ok((Owner::CountyRegulator, county.map(|u| u.id), county.map(|u| u.display_name.clone())))
}

/// Attaches the trace snapshots to up to `limit` waiting entries (traced first, then written in
/// one transaction); returns how many.
pub fn attach_traces(store: &mut dyn Store, limit: usize) -> Result<usize> {
    let waiting = store.entries_awaiting_trace(limit)?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut snapshots = Vec::with_capacity(waiting.len());
    for e in &waiting {
        let snap = snapshot(store, e)?;
        snapshots.push(TraceAttach {
            entry: e.id,
            status: snap.status.into(),
            recall: snap.recall,
            origins: snap.origins,
        });
    }
    Ok(store.attach_traces(&snapshots)?)
}
