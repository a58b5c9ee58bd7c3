//! The risk ledger (风险台账) as people use it: open an entry from any source, record what was done
//! (with an evidence file), dispose, verify and close, and read an entry with its actions,
//! escalations, notices, trace snapshots and what is still due.
//!
//! Every write goes through [`rules::transition`], so an entry only moves forward (open → in
//! disposal → disposed → verified and closed) and a closed entry takes nothing more; the store
//! refuses the write if another writer moved the entry first. Each write appends its audit line
//! (actor, action, entry, state before and after) in the same transaction.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Value, time};
use shian_store::Store;
use shian_store::accounts::NewAudit;
use shian_store::supervision::{
    EntryChange, EntryFilter, Escalation, FailedItem, NewAction, NewEntry, NewEvidence, Notification, OutboxMessage,
    RiskAction, RiskEntry,
};

use super::dispatch::Audience;
use super::rules::{self, Action, Due, Level, Owner, State};
use super::snapshot::{self, Origins, RecallScope};
use super::{Result, SupervisionError, now};

/// An evidence file to attach to an action.
#[derive(Debug, Clone)]
pub struct EvidenceFile {
    pub file_name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

impl EvidenceFile {
    /// Reads a file, refusing one larger than `max_bytes` before reading it whole.
    pub fn read(path: &Path, max_bytes: usize) -> Result<EvidenceFile> {
        let read_err = |source| SupervisionError::Read { path: path.display().to_string(), source };
        let size = std::fs::metadata(path).map_err(read_err)?.len();
        check_size(size, max_bytes)?;
        let data = std::fs::read(path).map_err(read_err)?;
        let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(EvidenceFile { content_type: content_type(&file_name).into(), file_name, data })
    }
}

fn check_size(size: u64, max_bytes: usize) -> Result<()> {
    if size > max_bytes as u64 {
        let mib = |b: u64| b as f64 / 1_048_576.0;
        return Err(SupervisionError::refused(
            format!("证据文件过大（{:.1} MiB），上限 {:.1} MiB", mib(size), mib(max_bytes as u64)),
            format!("the evidence file is too large ({:.1} MiB; at most {:.1} MiB)", mib(size), mib(max_bytes as u64)),
        ));
    }
    Ok(())
}

/// The media type of an evidence file by its extension.
pub fn content_type(file_name: &str) -> &'static str {
    let ext = file_name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// An action to record.
#[derive(Debug, Clone)]
pub struct ActRequest {
    pub action: Action,
    pub note: Option<String>,
    /// A re-test's method (a laboratory method: a rapid one is refused).
    pub method: Option<String>,
    /// A re-test's result: `pass` or `fail`.
    pub result: Option<String>,
    pub evidence: Option<EvidenceFile>,
}

impl ActRequest {
    pub fn new(action: Action, note: Option<String>) -> ActRequest {
        ActRequest { action, note, method: None, result: None, evidence: None }
    }
}

fn check_request(entry: &RiskEntry, req: &ActRequest, actions: &[RiskAction], max_bytes: usize) -> Result<()> {
    if req.action == Action::Note && req.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(SupervisionError::refused("备注不能为空", "a note needs its text"));
    }
    if req.action == Action::Retest {
        if rules::is_rapid_method(req.method.as_deref().unwrap_or("")) {
            return Err(SupervisionError::refused(
                "复检须注明实验室检验方法（如 GB 23200.113-2018），不得使用快检方法",
                "a re-test needs a laboratory method (e.g. GB 23200.113-2018), not a rapid one",
            ));
        }
        if !matches!(req.result.as_deref(), Some("pass" | "fail")) {
            return Err(SupervisionError::refused(
                "复检结果须为 pass（合格）或 fail（不合格）",
                "result: pass or fail",
            ));
        }
    }
    let rapid_undisposed = entry.retest_due.is_some()
        && !actions.iter().any(|a| ["destroy", "return"].contains(&a.action.as_str()))
        && !rules::last_retest(actions).is_some_and(|(_, passed)| passed);
    if req.action == Action::Dispose && rapid_undisposed {
        return Err(SupervisionError::refused(
            "快检阳性产品须记录销毁或退货退市（或实验室复检合格）后方可处置完毕",
            "a positive rapid test is disposed of by destroying or returning the goods (or a passing re-test)",
        ));
    }
    if let Some(e) = &req.evidence {
        check_size(e.data.len() as u64, max_bytes)?;
    }
    Ok(())
}

/// Records an action on entry `id` by `actor`; returns the action's id. `max_evidence_bytes`
/// bounds the evidence file.
pub fn act(store: &mut dyn Store, id: i64, req: &ActRequest, actor: &str, max_evidence_bytes: usize) -> Result<i64> {
    let entry = store.entry(id)?.ok_or(SupervisionError::NoEntry(id))?;
    let actions = store.actions(id)?;
    check_request(&entry, req, &actions, max_evidence_bytes)?;
    let state = State::parse(&entry.state).unwrap_or(State::Open);
    let passed = req.action == Action::Retest && req.result.as_deref() == Some("pass");
    let next = rules::transition(state, req.action, passed).map_err(SupervisionError::Refused)?;
    let at = now();
    let action = NewAction {
        action: req.action.code().into(),
        actor: actor.into(),
        at,
        note: req.note.clone().filter(|n| !n.trim().is_empty()),
        method: req.method.clone(),
        result: req.result.clone(),
        evidence_id: None,
    };
    let digest = req.evidence.as_ref().map(|e| format!("{:x}", Sha256::digest(&e.data)));
    let evidence = req.evidence.as_ref().zip(digest.as_deref()).map(|(e, sha256)| NewEvidence {
        file_name: &e.file_name,
        content_type: &e.content_type,
        sha256,
        data: &e.data,
        uploaded_by: actor,
        at,
    });
    let before = serde_json::json!({ "state": state.code() }).to_string();
    let after = serde_json::json!({
        "state": next.unwrap_or(state).code(), "action": req.action.code(), "note": action.note,
        "method": action.method, "result": action.result, "evidence": evidence.as_ref().map(|e| e.sha256),
    })
    .to_string();
    let audit = NewAudit {
        at,
        actor,
        action: "ledger.act",
        kind: Some("risk_entry"),
        before: Some(&before),
        after: Some(&after),
        ..NewAudit::default()
    };
    let change = EntryChange {
        state: next.map(State::code),
        expected_state: Some(state.code()),
        closed_at: (next == Some(State::VerifiedClosed)).then_some(at),
    };
    Ok(store.record_action(id, &action, evidence.as_ref(), &change, &audit)?)
}

/// Verifies and closes a disposed entry (核查办结).
pub fn close(store: &mut dyn Store, id: i64, note: Option<String>, actor: &str) -> Result<i64> {
    act(store, id, &ActRequest::new(Action::Close, note), actor, 0)
}

/// An entry to open by hand, or from a complaint, inspection finding, case or signal.
#[derive(Debug, Clone)]
pub struct ManualEntry {
    /// `complaint`, `inspection`, `case`, `signal` or `manual`.
    pub source: String,
    /// The source record's natural key (complaint number, …); none for `manual` and `signal`.
    pub reference: Option<String>,
    /// Market and vendor codes; taken from the source record when it names them.
    pub market: Option<String>,
    pub vendor: Option<String>,
    pub lot_code: Option<String>,
    pub level: Level,
    pub title: String,
    pub detail: Option<String>,
}

const MANUAL_SOURCES: [&str; 5] = ["complaint", "inspection", "case", "signal", "manual"];

/// The id of a record of `kind` by its single-column natural key.
fn id_of(store: &dyn Store, kind: Kind, code: &str) -> Result<i64> {
    let found = store.resolve(kind, &[code.trim()])?.into_iter().next();
    found.map(|(_, id)| id).ok_or_else(|| {
        let def = kind.def();
        SupervisionError::refused(format!("找不到{}“{code}”", def.zh), format!("no {} {code:?}", def.en))
    })
}

/// A reference field of a stored record, as the referenced record's natural key.
fn reference_code(store: &dyn Store, kind: Kind, id: i64, field: &str) -> Result<Option<String>> {
    let Some(listed) = store.get(kind, id, &Scope::All)? else { return Ok(None) };
    let position = kind.def().field(field).map(|(i, _)| i);
    Ok(position.and_then(|i| match listed.values.get(i) {
        Some(Value::Text(code)) => Some(code.clone()),
        _ => None,
    }))
}

/// Opens an entry from `req` by `actor`; returns its id. The market's people (or, without a
/// market, the region's regulators) are told in their inbox.
pub fn open_manual(store: &mut dyn Store, req: &ManualEntry, actor: &str) -> Result<i64> {
    if !MANUAL_SOURCES.contains(&req.source.as_str()) {
        return Err(SupervisionError::refused(
            format!("来源须为 {} 之一", MANUAL_SOURCES.join("、")),
            format!("the source is one of {}", MANUAL_SOURCES.join(", ")),
        ));
    }
    if req.title.trim().is_empty() {
        return Err(SupervisionError::refused("请填写风险事项", "the entry needs a title"));
    }
    let (source_id, mut market, mut vendor) = (None, req.market.clone(), req.vendor.clone());
    let source_id = match (snapshot::source_kind(&req.source), &req.reference) {
        (Some(kind), Some(reference)) => {
            let id = id_of(store, kind, reference)?;
            market = market.or(reference_code(store, kind, id, "market")?);
            vendor = vendor.or(reference_code(store, kind, id, "vendor")?);
            Some(id)
        }
        (Some(kind), None) => {
            let def = kind.def();
            return Err(SupervisionError::refused(format!("请注明{}编号", def.zh), format!("which {}?", def.en)));
        }
        _ => source_id,
    };
    let vendor_id = vendor.as_deref().map(|v| id_of(store, Kind::Vendor, v)).transpose()?;
    if market.is_none()
        && let Some(v) = vendor_id
    {
        market = reference_code(store, Kind::Vendor, v, "market")?;
    }
    let market_ref = match market.as_deref() {
        Some(code) => store.market_ref(id_of(store, Kind::Market, code)?)?,
        None => None,
    };
    let audience = Audience::load(store)?;
    let region = market_ref.as_ref().map(|m| m.region.clone());
    let (owner, owner_user, owner_name) = manual_owner(store, &audience, market_ref.as_ref(), region.as_deref())?;
    let at = now();
    let entry = NewEntry {
        source_kind: req.source.clone(),
        source_id,
        source_key: req.reference.clone(),
        level: req.level.code().into(),
        title: req.title.trim().into(),
        title_en: req.title.trim().into(),
        detail: req.detail.clone(),
        market_id: market_ref.as_ref().map(|m| m.id),
        vendor_id,
        variety_id: None,
        lot_code: req.lot_code.clone(),
        region: region.clone(),
        owner_role: owner.code().into(),
        owner_user,
        owner_name,
        opened_at: at,
        deadline: at + req.level.period_secs(),
        retest_due: None,
        trace_status: if req.lot_code.is_some() { "pending" } else { "none" }.into(),
    };
    let users: Vec<i64> = match &market_ref {
        Some(m) => audience.market_people(m.id),
        None => audience.regulators(Owner::CountyRegulator, region.as_deref()).iter().map(|u| u.id).collect(),
    };
    let inbox = manual_notices(&entry, &users);
    let after = serde_json::json!({"source": req.source, "reference": req.reference, "level": req.level.code(),
        "title": entry.title, "owner_role": entry.owner_role})
    .to_string();
    let audit = NewAudit {
        at,
        actor,
        action: "ledger.open",
        kind: Some("risk_entry"),
        after: Some(&after),
        ..NewAudit::default()
    };
    Ok(store.open_entry(&entry, &[], &inbox, &audit)?)
}

type OwnerChoice = (Owner, Option<i64>, Option<String>);

fn manual_owner(
    store: &dyn Store,
    audience: &Audience,
    market: Option<&shian_store::supervision::MarketRef>,
    region: Option<&str>,
) -> Result<OwnerChoice> {
    if let Some(m) = market
        && let Some(official) = store.market_roster(m.id, "assigned_official")?.into_iter().next()
    {
        let account = audience.first_of_market(m.id, Owner::AssignedOfficial.code()).map(|u| u.id);
        return Ok((Owner::AssignedOfficial, account, Some(official.name)));
    }
    let county = audience.regulators(Owner::CountyRegulator, region).into_iter().next();
    Ok((Owner::CountyRegulator, county.map(|u| u.id), county.map(|u| u.display_name.clone())))
}

fn manual_notices(entry: &NewEntry, users: &[i64]) -> Vec<shian_store::supervision::NewNotification> {
    let level = Level::parse(&entry.level).unwrap_or(Level::General).label();
    let deadline = time::format_datetime(entry.deadline);
    users
        .iter()
        .map(|&user_id| shian_store::supervision::NewNotification {
            user_id,
            reason: "entry".into(),
            title: format!("【{}】新增风险台账：{}", level.zh, entry.title),
            title_en: format!("[{}] New risk-ledger entry: {}", level.en, entry.title_en),
            body: format!("风险事项“{}”已登记，请于 {deadline} 前处置完毕。", entry.title),
            body_en: format!("\"{}\" was entered in the risk ledger; dispose of it by {deadline}.", entry.title_en),
        })
        .collect()
}

/// Everything shown about one entry.
#[derive(Debug, Clone)]
pub struct EntryView {
    pub entry: RiskEntry,
    pub actions: Vec<RiskAction>,
    pub escalations: Vec<Escalation>,
    pub notifications: Vec<Notification>,
    pub messages: Vec<OutboxMessage>,
    pub due: Vec<Due>,
    pub recall: Option<RecallScope>,
    pub origins: Option<Origins>,
    /// The failed items of the source test or sample as stored now.
    pub items: Vec<FailedItem>,
}

/// Reads entry `id` with everything about it, and what is due at `now`.
pub fn view(store: &dyn Store, id: i64, now: i64) -> Result<EntryView> {
    let entry = store.entry(id)?.ok_or(SupervisionError::NoEntry(id))?;
    let actions = store.actions(id)?;
    let items = match (entry.source_kind.as_str(), entry.source_id) {
        (kind @ ("rapid_test" | "sample"), Some(record)) => {
            store.failed_result(kind, record)?.map(|r| r.items).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Ok(EntryView {
        due: rules::due_items(&entry, &actions, now),
        recall: snapshot::stored_recall(&entry),
        origins: snapshot::stored_origins(&entry),
        escalations: store.escalations(id)?,
        notifications: store.notifications_of(id)?,
        messages: store.messages_of(id)?,
        actions,
        items,
        entry,
    })
}

/// Entries in a scope, newest first.
pub fn list(store: &dyn Store, filter: &EntryFilter) -> Result<Vec<RiskEntry>> {
    Ok(store.entries(filter)?)
}

/// One entry of a list, as JSON and for tables.
#[derive(Debug, Clone, Serialize)]
pub struct EntryLine {
    pub id: i64,
    pub level: String,
    pub level_label: String,
    pub state: String,
    pub state_label: String,
    pub source: String,
    pub source_key: Option<String>,
    pub title: String,
    pub market: Option<String>,
    pub vendor: Option<String>,
    pub variety: Option<String>,
    pub lot_code: Option<String>,
    pub owner_role: String,
    pub owner: Option<String>,
    pub opened: String,
    pub deadline: String,
    pub overdue: bool,
}

/// An entry as a line of a list, in `lang`.
pub fn line(e: &RiskEntry, lang: Lang, now: i64) -> EntryLine {
    let state = State::parse(&e.state);
    EntryLine {
        id: e.id,
        level: e.level.clone(),
        level_label: Level::parse(&e.level).map(|l| l.label().get(lang).to_string()).unwrap_or_default(),
        state: e.state.clone(),
        state_label: state.map(|s| s.label().get(lang).to_string()).unwrap_or_default(),
        source: e.source_kind.clone(),
        source_key: e.source_key.clone(),
        title: if lang == Lang::Zh { e.title.clone() } else { e.title_en.clone() },
        market: e.market_code.clone(),
        vendor: e.vendor_code.clone(),
        variety: e.variety_name.clone(),
        lot_code: e.lot_code.clone(),
        owner_role: e.owner_role.clone(),
        owner: e.owner_name.clone(),
        opened: time::format_datetime(e.opened_at),
        deadline: time::format_datetime(e.deadline),
        overdue: state.is_some_and(State::is_active) && now > e.deadline,
    }
}
