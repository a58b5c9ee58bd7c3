//! An entry's page (`/ledger/{id}`): its facts, what is still due, the failed items, the timeline
//! (opening, actions, escalations, inbox notices and external deliveries, in time order), the
//! recall scope (who received the goods) and the origins, the trace links, and the forms.
//! Also its evidence files, served as downloads.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State as AxState};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use shian_domain::{Lang, time};
use shian_services::accounts::{Principal, region_label};
use shian_services::supervision::ledger::{self, EntryView};
use shian_services::supervision::now;
use shian_services::supervision::rules::{self, Action, Level, Owner, State};
use shian_services::supervision::snapshot::{Origins, RecallScope};
use shian_services::trace_export::{kind_label, unit_label};
use shian_store::supervision::{FailedItem, OutboxMessage, RiskEntry};

use super::board::due_text;
use super::{may_act, service_error, source_label, text, visible_entry};
use crate::AppState;
use crate::auth::{Auth, Ctx, urlencode};
use crate::error::AppError;
use crate::pages::render;

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: i64,
    pub when: String,
    /// `opened`, `action`, `escalation`, `notice`, `delivery`.
    pub kind: &'static str,
    pub what: String,
    pub detail: String,
    pub who: String,
    pub status: String,
    /// An evidence file's link.
    pub href: Option<String>,
}

fn event(at: i64, kind: &'static str, what: String) -> Event {
    Event {
        at,
        when: time::format_datetime(at),
        kind,
        what,
        detail: String::new(),
        who: String::new(),
        status: String::new(),
        href: None,
    }
}

fn pick(lang: Lang, zh: &str, en: &str) -> String {
    if lang == Lang::Zh { zh.to_string() } else { en.to_string() }
}

fn owner_label(code: &str, lang: Lang) -> String {
    Owner::parse(code).map(|o| text(&o.label(), lang)).unwrap_or_else(|| code.to_string())
}

fn opened(e: &RiskEntry, lang: Lang) -> Event {
    let mut ev = event(e.opened_at, "opened", pick(lang, "登记风险台账", "entered in the ledger"));
    ev.detail = format!("{} {}", source_label(&e.source_kind, lang), e.source_key.clone().unwrap_or_default());
    ev.who = owner_label(&e.owner_role, lang) + &e.owner_name.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
    ev
}

fn action(a: &shian_store::supervision::RiskAction, entry: i64, lang: Lang) -> Event {
    let label = Action::parse(&a.action).map(|x| text(&x.label(), lang)).unwrap_or_else(|| a.action.clone());
    let mut ev = event(a.at, "action", label);
    let result = a.result.as_deref().map(|r| match (r, lang) {
        ("pass", Lang::Zh) => "合格".to_string(),
        ("fail", Lang::Zh) => "不合格".to_string(),
        (r, _) => r.to_string(),
    });
    ev.detail = [a.method.clone(), result, a.note.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
    ev.who = if a.actor == shian_services::supervision::SYSTEM_ACTOR {
        pick(lang, "系统", "system")
    } else {
        a.actor.clone()
    };
    ev.href = a.evidence_id.map(|id| format!("/ledger/{entry}/evidence/{id}"));
    ev
}

fn escalation(x: &shian_store::supervision::Escalation, lang: Lang) -> Event {
    let mut ev = event(x.at, "escalation", pick(lang, "逾期升级", "escalated (overdue)"));
    ev.detail = format!(
        "{} → {}{}；{} {}",
        owner_label(&x.from_role, lang),
        owner_label(&x.to_role, lang),
        x.to_name.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
        pick(lang, "新期限", "new deadline"),
        time::format_datetime(x.new_deadline),
    );
    ev
}

fn notice(n: &shian_store::supervision::Notification, users: &HashMap<i64, String>, lang: Lang) -> Event {
    let mut ev = event(n.created_ms / 1000, "notice", pick(lang, "站内通知", "inbox notice"));
    ev.detail = if lang == Lang::Zh { n.title.clone() } else { n.title_en.clone() };
    ev.who = users.get(&n.user_id).cloned().unwrap_or_else(|| format!("#{}", n.user_id));
    ev.status = match (n.read_at, lang) {
        (Some(t), Lang::Zh) => format!("已读 {}", time::format_datetime(t)),
        (Some(t), Lang::En) => format!("read {}", time::format_datetime(t)),
        (None, _) => pick(lang, "未读", "unread"),
    };
    ev
}

fn delivery(m: &OutboxMessage, lang: Lang) -> Event {
    let channel = match (m.channel.as_str(), lang) {
        ("sms", Lang::Zh) => "短信",
        ("email", Lang::Zh) => "邮件",
        ("webhook", Lang::Zh) => "Webhook 推送",
        (c, _) => c,
    };
    let mut ev =
        event(m.created_ms / 1000, "delivery", format!("{} {channel}", pick(lang, "外部通知", "external notice")));
    ev.detail = m.subject.clone().unwrap_or_default();
    ev.who = m.recipients.clone().unwrap_or_default();
    let attempts = format!("{} {}", pick(lang, "尝试次数", "attempts"), m.attempts);
    ev.status = match (m.delivered_ms, m.gave_up_ms) {
        (Some(t), _) => {
            format!("{} {} · {attempts}", pick(lang, "已送达", "delivered"), time::format_datetime(t / 1000))
        }
        (None, Some(_)) => format!("{} · {attempts}", pick(lang, "已放弃", "gave up")),
        (None, None) => format!("{} · {attempts}", pick(lang, "待发送", "pending")),
    };
    if let Some(err) = &m.last_error {
        ev.status.push_str(&format!(" · {err}"));
    }
    ev
}

/// Everything that happened to an entry, oldest first. `users` names the notices' recipients.
pub fn timeline(v: &EntryView, users: &HashMap<i64, String>, lang: Lang) -> Vec<Event> {
    let id = v.entry.id;
    let mut out = vec![opened(&v.entry, lang)];
    out.extend(v.actions.iter().map(|a| action(a, id, lang)));
    out.extend(v.escalations.iter().map(|x| escalation(x, lang)));
    out.extend(v.notifications.iter().map(|n| notice(n, users, lang)));
    out.extend(v.messages.iter().map(|m| delivery(m, lang)));
    out.sort_by_key(|e| e.at);
    out
}

/// A recipient of the failed goods, for a table.
#[derive(Debug, Clone)]
pub struct RecipientRow {
    pub kind: String,
    pub kind_label: String,
    pub name: String,
    pub code: String,
    pub href: Option<String>,
    pub region: String,
    pub quantity: String,
    pub records: usize,
    pub school: bool,
    pub inferred: bool,
    pub depth: usize,
    pub from_lot: String,
}

/// A line of the recall totals: per kind of recipient.
#[derive(Debug, Clone)]
pub struct TotalRow {
    pub label: String,
    pub recipients: usize,
    pub quantity: String,
}

/// The recall scope as the page shows it.
#[derive(Debug, Clone)]
pub struct Recall {
    pub rows: Vec<RecipientRow>,
    pub totals: Vec<TotalRow>,
    pub schools: usize,
    pub truncated: bool,
}

fn qty(q: f64) -> String {
    shian_domain::field::format_real((q * 100.0).round() / 100.0)
}

/// Quantities summed per unit: "120 kg + 30 斤".
fn sum_per_unit<'a>(items: impl Iterator<Item = (&'a str, f64)>, lang: Lang) -> String {
    let mut per: Vec<(&str, f64)> = Vec::new();
    for (unit, q) in items {
        match per.iter_mut().find(|(u, _)| *u == unit) {
            Some((_, sum)) => *sum += q,
            None => per.push((unit, q)),
        }
    }
    per.iter().map(|(u, q)| format!("{} {}", qty(*q), unit_label(u, lang))).collect::<Vec<_>>().join(" + ")
}

/// The name of a recipient the records do not name (consumers, aggregated per lot).
fn unnamed(kind: &str, lang: Lang) -> String {
    match kind {
        "consumer" => pick(lang, "零售消费者", "retail consumers"),
        _ => pick(lang, "未具名", "unnamed"),
    }
}

fn recipient_href(user: &Principal, kind: &str, code: Option<&str>) -> Option<String> {
    let target = match kind {
        "vendor" => shian_domain::Kind::Vendor,
        "supermarket" | "restaurant" | "canteen" | "processor" | "buyer" => shian_domain::Kind::Buyer,
        _ => return None,
    };
    let code = code?;
    user.may_see(target).then(|| format!("/find/{}/{}", target.name(), urlencode(code)))
}

/// The recall scope's rows and totals per kind of recipient.
pub fn recall_view(r: &RecallScope, user: &Principal, lang: Lang) -> Recall {
    let rows: Vec<RecipientRow> = r
        .recipients
        .iter()
        .map(|x| RecipientRow {
            kind: x.kind.clone(),
            kind_label: kind_label(&x.kind, x.school.then_some("school"), lang).to_string(),
            name: x.name.clone().or_else(|| x.code.clone()).unwrap_or_else(|| unnamed(&x.kind, lang)),
            code: x.code.clone().filter(|c| Some(c) != x.name.as_ref()).unwrap_or_default(),
            href: recipient_href(user, &x.kind, x.code.as_deref()),
            region: x.region.as_deref().map(|c| format!("{} {c}", region_label(c))).unwrap_or_default(),
            quantity: format!("{} {}", qty(x.quantity), unit_label(&x.unit, lang)),
            records: x.records,
            school: x.school,
            inferred: x.inferred,
            depth: x.depth,
            from_lot: x.from_lot.clone().unwrap_or_default(),
        })
        .collect();
    let mut kinds: Vec<&str> = Vec::new();
    for x in &r.recipients {
        if !kinds.contains(&x.kind.as_str()) {
            kinds.push(&x.kind);
        }
    }
    let totals = kinds
        .into_iter()
        .map(|k| {
            let of = || r.recipients.iter().filter(move |x| x.kind == k);
            TotalRow {
                label: kind_label(k, None, lang).to_string(),
                recipients: of().count(),
                quantity: sum_per_unit(of().map(|x| (x.unit.as_str(), x.quantity)), lang),
            }
        })
        .collect();
    Recall { rows, totals, schools: r.school_canteens, truncated: r.truncated }
}

/// An origin of the failed goods, for a table.
pub struct OriginRow {
    pub kind: String,
    pub name: String,
    pub region: String,
    pub certificate: Option<String>,
    pub certificate_href: String,
    pub via: String,
    pub inferred: bool,
}

fn origin_rows(o: &Origins, lang: Lang) -> Vec<OriginRow> {
    o.origins
        .iter()
        .map(|x| OriginRow {
            kind: kind_label(&x.kind, None, lang).to_string(),
            name: match (&x.name, &x.code) {
                (Some(n), Some(c)) if n != c => format!("{n}（{c}）"),
                (n, c) => n.clone().or_else(|| c.clone()).unwrap_or_default(),
            },
            region: x.region.as_deref().map(|c| format!("{} {c}", region_label(c))).unwrap_or_default(),
            certificate: x.certificate.clone(),
            certificate_href: format!("/find/origin_certificate/{}", urlencode(x.certificate.as_deref().unwrap_or(""))),
            via: [x.via_vendor.clone(), x.via_lot.clone()].into_iter().flatten().collect::<Vec<_>>().join(" / "),
            inferred: x.inferred,
        })
        .collect()
}

/// A failed item, for a table.
pub struct ItemRow {
    pub item: String,
    pub value: String,
    pub limit: String,
    pub method: String,
}

fn item_rows(items: &[FailedItem], lang: Lang) -> Vec<ItemRow> {
    let unit = |u: &Option<String>| u.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
    items
        .iter()
        .map(|i| ItemRow {
            item: i.item.clone(),
            value: match (&i.value, &i.result) {
                (Some(v), _) => format!("{}{}", qty(*v), unit(&i.unit)),
                (None, Some(r)) if r == "positive" => pick(lang, "阳性", "positive"),
                (None, r) => r.clone().unwrap_or_default(),
            },
            limit: i.limit.map(|l| format!("{}{}", qty(l), unit(&i.unit))).unwrap_or_default(),
            method: i.method.clone().unwrap_or_default(),
        })
        .collect()
}

/// Where the entry's traces start: its test, its sample, or its lot (`q`, `start`).
fn trace_start(e: &RiskEntry) -> Option<(String, &'static str)> {
    match (e.source_kind.as_str(), &e.source_key, &e.lot_code) {
        ("rapid_test", Some(k), _) => Some((k.clone(), "test")),
        ("sample", Some(k), _) => Some((k.clone(), "sample")),
        (_, _, Some(lot)) => Some((lot.clone(), "lot")),
        _ => None,
    }
}

/// The links to the trace page and the recall list export.
fn trace_links(e: &RiskEntry, ctx: &Ctx) -> Vec<(String, String)> {
    let Some((q, start)) = trace_start(e) else { return Vec::new() };
    let base = format!("q={}&start={start}", urlencode(&q));
    vec![
        (format!("/trace?{base}&dir=back"), ctx.t("向上追溯来源", "Trace back to origin").to_string()),
        (format!("/trace?{base}&dir=forward"), ctx.t("向下追踪去向", "Trace forward").to_string()),
        (
            format!("/trace/export?{base}&dir=forward&format=recall"),
            ctx.t("导出召回清单（XLSX）", "Recall list (XLSX)").to_string(),
        ),
    ]
}

/// The trace snapshot's state in words.
fn trace_note(e: &RiskEntry, ctx: &Ctx) -> String {
    let error = || e.recall.as_deref().and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok());
    match e.trace_status.as_str() {
        "pending" => ctx.t("追溯计算中，请稍后刷新。", "The trace is being computed; reload shortly.").into(),
        "no_lot" => {
            ctx.t("该结果未记录批次追溯码，无法自动追溯。", "The result names no lot, so it cannot be traced.").into()
        }
        "failed" => format!(
            "{}{}",
            ctx.t("追溯未能完成：", "The trace failed: "),
            error().and_then(|v| v["error"].as_str().map(str::to_string)).unwrap_or_default()
        ),
        "none" => ctx.t("该条目没有可追溯的批次。", "The entry has no lot to trace.").into(),
        _ => String::new(),
    }
}

/// The actions the form offers in a state (closing has its own form).
pub fn offered_actions(state: State, lang: Lang) -> Vec<(&'static str, String)> {
    Action::ALL
        .into_iter()
        .filter(|a| *a != Action::Close && rules::transition(state, *a, false).is_ok())
        .map(|a| (a.code(), text(&a.label(), lang)))
        .collect()
}

#[derive(Template)]
#[template(path = "ledger_entry.html")]
struct EntryPage {
    ctx: Ctx,
    e: RiskEntry,
    title: String,
    level: String,
    state: String,
    source: String,
    source_href: Option<String>,
    owner: String,
    opened: String,
    deadline: String,
    overdue: bool,
    retest_due: Option<String>,
    closed: Option<String>,
    items: Vec<ItemRow>,
    due: Vec<(String, bool)>,
    events: Vec<Event>,
    trace_note: String,
    recall: Option<Recall>,
    origins: Vec<OriginRow>,
    origins_truncated: bool,
    links: Vec<(String, String)>,
    actions: Vec<(&'static str, String)>,
    may_close: bool,
}

impl EntryPage {
    fn region(&self) -> String {
        self.e.region.as_deref().map(|r| format!("{} {r}", region_label(r))).unwrap_or_default()
    }
}

fn source_href(e: &RiskEntry, user: &Principal) -> Option<String> {
    let kind = shian_services::supervision::snapshot::source_kind(&e.source_kind)?;
    let id = e.source_id?;
    user.may_see(kind).then(|| format!("/record/{}/{id}", kind.name()))
}

fn entry_page(v: EntryView, users: &HashMap<i64, String>, user: &Principal, ctx: Ctx, now: i64) -> EntryPage {
    let lang = ctx.lang;
    let e = &v.entry;
    let state = State::parse(&e.state).unwrap_or(State::Open);
    let acting = may_act(user, e);
    EntryPage {
        title: if lang == Lang::Zh { e.title.clone() } else { e.title_en.clone() },
        level: Level::parse(&e.level).map(|l| text(&l.label(), lang)).unwrap_or_default(),
        state: text(&state.label(), lang),
        source: source_label(&e.source_kind, lang),
        source_href: source_href(e, user),
        owner: owner_label(&e.owner_role, lang) + &e.owner_name.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
        opened: time::format_datetime(e.opened_at),
        deadline: time::format_datetime(e.deadline),
        overdue: state.is_active() && now > e.deadline,
        retest_due: e.retest_due.map(time::format_datetime),
        closed: e.closed_at.map(time::format_datetime),
        items: item_rows(&v.items, lang),
        due: v.due.iter().map(|d| (due_text(d, lang), d.overdue)).collect(),
        events: timeline(&v, users, lang),
        trace_note: trace_note(e, &ctx),
        recall: v.recall.as_ref().map(|r| recall_view(r, user, lang)),
        origins: v.origins.as_ref().map(|o| origin_rows(o, lang)).unwrap_or_default(),
        origins_truncated: v.origins.as_ref().is_some_and(|o| o.truncated),
        links: trace_links(e, &ctx),
        actions: if acting { offered_actions(state, lang) } else { Vec::new() },
        may_close: acting && state == State::Disposed,
        e: v.entry.clone(),
        ctx,
    }
}

/// The display names of the platform's accounts, by id.
pub fn user_names(store: &dyn shian_store::Store) -> Result<HashMap<i64, String>, AppError> {
    Ok(store.users()?.into_iter().map(|u| (u.id, format!("{}（{}）", u.display_name, u.username))).collect())
}

/// `/ledger/{id}`
pub async fn page(
    AxState(state): AxState<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::not_found())?;
    let reader = user.clone();
    let at = now();
    let (view, users) = state
        .db
        .run(move |store| {
            visible_entry(store, &reader, id)?;
            Ok((ledger::view(store, id, at).map_err(service_error)?, user_names(store)?))
        })
        .await?;
    render(&entry_page(view, &users, &user, ctx, at))
}

/// Only these types are served as themselves; anything else is a download of bytes.
const SAFE_TYPES: [&str; 5] = ["image/jpeg", "image/png", "application/pdf", "text/plain", "video/mp4"];

/// `/ledger/{id}/evidence/{evidence}`: an evidence file of an entry the reader may see.
pub async fn evidence(
    AxState(state): AxState<AppState>,
    Auth(user, _ctx): Auth,
    Path((id, evidence)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (id, evidence): (i64, i64) = match (id.parse(), evidence.parse()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Err(AppError::not_found()),
    };
    let file = state
        .db
        .run(move |store| {
            visible_entry(store, &user, id)?;
            store.evidence(evidence)?.filter(|f| f.entry_id == id).ok_or_else(AppError::not_found)
        })
        .await?;
    let mime = SAFE_TYPES.iter().find(|t| **t == file.content_type).copied().unwrap_or("application/octet-stream");
    let mime = if mime == "text/plain" { "text/plain; charset=utf-8" } else { mime };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, crate::pages::trace::attachment(&file.file_name)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        file.data,
    )
        .into_response())
}
