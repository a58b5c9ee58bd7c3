//! Credit evaluation of a vendor (信用评价): a transparent formula over its records, giving a score
//! out of 100, a grade A–D and every deduction with the record it comes from.
//!
//! The formula (also in `docs/credit.md`): start from 100 and deduct, for records of the last
//! 365 days before the evaluation (`as_of`), each weighted by recency — **×1** within 90 days,
//! **×0.5** from 91 to 365 days, older records do not count:
//!
//! | source | deduction |
//! |---|---|
//! | official sample (监督抽检) with a failed item | 20 per sample |
//! | rapid test (快速检测) failed | 8 per test |
//! | complaint upheld (投诉举报, status `upheld`) | 6 per complaint |
//! | inspection with problems (日常检查) | 2 per problem, at most 6, +3 while still `rectifying` |
//! | enforcement case (案件查办) | 15 per case, +10 when the penalty is ¥10,000 or more |
//!
//! and two measures of the last 30 (routine) and 90 (certificates) days, not weighted:
//!
//! - **market routine** (日管控/周排查/月调度 of the vendor's market): 35 records expected in 30 days
//!   (30 daily, 4 weekly, 1 monthly); deduct `10 × (1 − recorded / expected)`;
//! - **certificate coverage** of the vendor's receipts of the last 90 days (at most the latest
//!   500; a receipt from another vendor counts when the upstream lot arrived with a certificate),
//!   when there are at least 5: deduct `15 × (1 − covered / receipts)`.
//!
//! Score = `max(0, round(100 − deductions))`; grade **A** ≥ 90, **B** ≥ 75, **C** ≥ 60, **D** below.
//! A failed official sample or a case still open within the last 90 days caps the grade at C.
//!
//! Recomputation: the evaluation is a pure function of the records and `as_of`, computed on
//! demand; the web layer keeps the result with the vendor's public page in a cache that every
//! write through the platform clears, and that expires after a minute (so imports from the
//! command line show within a minute).

use shian_domain::access::Scope;
use shian_domain::{Kind, Lang, Msg, Value};
use shian_store::query::{Filter, ListQuery, Listed};
use shian_store::{Result, Store};

use crate::public::listed::{self, day};

const DAY: i64 = 86_400;
/// Records older than this do not count.
pub const HORIZON_DAYS: i64 = 365;
/// Records at most this old count in full; older ones at half weight.
pub const RECENT_DAYS: i64 = 90;

/// Points deducted per record, before the recency weight.
pub const SAMPLE_FAILED: f64 = 20.0;
pub const RAPID_FAILED: f64 = 8.0;
pub const COMPLAINT_UPHELD: f64 = 6.0;
pub const PER_PROBLEM: f64 = 2.0;
pub const PROBLEMS_MAX: f64 = 6.0;
pub const STILL_RECTIFYING: f64 = 3.0;
pub const CASE: f64 = 15.0;
pub const CASE_LARGE_PENALTY: f64 = 10.0;
/// ¥10,000 in fen.
pub const LARGE_PENALTY_FEN: i64 = 1_000_000;
pub const ROUTINE_MAX: f64 = 10.0;
pub const ROUTINE_EXPECTED: u64 = 35;
pub const ROUTINE_DAYS: i64 = 30;
pub const CERTIFICATE_MAX: f64 = 15.0;
pub const CERTIFICATE_MIN_RECEIPTS: u64 = 5;
pub const CERTIFICATE_DAYS: i64 = 90;
const CERTIFICATE_RECEIPTS: usize = 500;

/// A credit grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

impl Grade {
    /// The grade of a score.
    pub fn of(score: u32) -> Grade {
        match score {
            90.. => Grade::A,
            75..=89 => Grade::B,
            60..=74 => Grade::C,
            _ => Grade::D,
        }
    }

    pub fn letter(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }

    /// What the grade means, for the public.
    pub fn meaning(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Grade::A => ("守信", "trustworthy"),
            Grade::B => ("基本守信", "mostly trustworthy"),
            Grade::C => ("失信风险", "at risk"),
            Grade::D => ("严重失信风险", "serious risk"),
        };
        if lang == Lang::En { en } else { zh }
    }
}

/// One deduction and the record it comes from (none for the two measures).
#[derive(Debug, Clone, PartialEq)]
pub struct Deduction {
    pub points: f64,
    pub kind: Option<Kind>,
    pub record_id: Option<i64>,
    /// The record's number (test number, sample number, …).
    pub record_key: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub reason: Msg,
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Credit {
    pub score: u32,
    pub grade: Grade,
    pub deductions: Vec<Deduction>,
    /// Why the grade was capped at C, if it was.
    pub capped: Option<Msg>,
    /// When the evaluation was made (Unix seconds).
    pub as_of: i64,
}

/// A dated record that may cost points.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: Kind,
    pub id: i64,
    pub key: String,
    pub at: i64,
    /// What it was about (a variety and item, a violation, …).
    pub detail: String,
}

/// An inspection with its problem count and whether rectification is still under way.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected {
    pub event: Event,
    pub problems: i64,
    pub rectifying: bool,
}

/// A case with its penalty and whether it is still open.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    pub event: Event,
    pub penalty_fen: Option<i64>,
    pub open: bool,
}

/// Everything the formula reads about one vendor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub samples_failed: Vec<Event>,
    pub rapid_failed: Vec<Event>,
    pub complaints_upheld: Vec<Event>,
    pub inspections: Vec<Inspected>,
    pub cases: Vec<CaseRecord>,
    /// Routine records of the vendor's market in the last 30 days.
    pub routine_recorded: u64,
    /// (covered, receipts) over the last 90 days.
    pub certificates: (u64, u64),
}

/// The weight of a record `at` seen from `as_of`: 1, 0.5 or 0.
pub fn recency(at: i64, as_of: i64) -> f64 {
    let age = (as_of - at).max(0) / DAY;
    if age <= RECENT_DAYS {
        1.0
    } else if age <= HORIZON_DAYS {
        0.5
    } else {
        0.0
    }
}

fn deduction(e: &Event, points: f64, as_of: i64, zh: String, en: String) -> Option<Deduction> {
    let w = recency(e.at, as_of);
    (w > 0.0).then(|| Deduction {
        points: points * w,
        kind: Some(e.kind),
        record_id: Some(e.id),
        record_key: e.key.clone(),
        date: day(e.at),
        reason: Msg::new(
            if w < 1.0 { format!("{zh}（90天前，按半数计）") } else { zh },
            if w < 1.0 { format!("{en} (over 90 days ago: half weight)") } else { en },
        ),
    })
}

fn record_deductions(i: &Inputs, as_of: i64) -> Vec<Deduction> {
    let mut out = Vec::new();
    for e in &i.samples_failed {
        let (zh, en) = (format!("监督抽检不合格：{}", e.detail), format!("official sample failed: {}", e.detail));
        out.extend(deduction(e, SAMPLE_FAILED, as_of, zh, en));
    }
    for e in &i.rapid_failed {
        let (zh, en) = (format!("快速检测不合格：{}", e.detail), format!("rapid test failed: {}", e.detail));
        out.extend(deduction(e, RAPID_FAILED, as_of, zh, en));
    }
    for e in &i.complaints_upheld {
        out.extend(deduction(e, COMPLAINT_UPHELD, as_of, "投诉举报经查属实".into(), "complaint upheld".into()));
    }
    for x in i.inspections.iter().filter(|x| x.problems > 0) {
        let mut points = (PER_PROBLEM * x.problems as f64).min(PROBLEMS_MAX);
        let (mut zh, mut en) =
            (format!("日常检查发现问题{}项", x.problems), format!("inspection: {} problems", x.problems));
        if x.rectifying {
            points += STILL_RECTIFYING;
            zh += "，尚在整改";
            en += ", still rectifying";
        }
        out.extend(deduction(&x.event, points, as_of, zh, en));
    }
    for c in &i.cases {
        let large = c.penalty_fen.is_some_and(|p| p >= LARGE_PENALTY_FEN);
        let points = CASE + if large { CASE_LARGE_PENALTY } else { 0.0 };
        let (mut zh, mut en) =
            (format!("案件查办：{}", c.event.detail), format!("enforcement case: {}", c.event.detail));
        if large {
            zh += "（罚没1万元以上）";
            en += " (penalty ¥10,000 or more)";
        }
        out.extend(deduction(&c.event, points, as_of, zh, en));
    }
    out
}

fn measure(points: f64, zh: String, en: String) -> Option<Deduction> {
    let points = (points * 2.0).round() / 2.0;
    (points > 0.0).then(|| Deduction {
        points,
        kind: None,
        record_id: None,
        record_key: String::new(),
        date: String::new(),
        reason: Msg::new(zh, en),
    })
}

fn measure_deductions(i: &Inputs) -> Vec<Deduction> {
    let done = i.routine_recorded.min(ROUTINE_EXPECTED);
    let routine = measure(
        ROUTINE_MAX * (1.0 - done as f64 / ROUTINE_EXPECTED as f64),
        format!("所在市场近30天日管控、周排查、月调度记录{done}/{ROUTINE_EXPECTED}"),
        format!("the market's routine records in the last 30 days: {done}/{ROUTINE_EXPECTED}"),
    );
    let (covered, receipts) = i.certificates;
    let certificates = (receipts >= CERTIFICATE_MIN_RECEIPTS)
        .then(|| {
            let pct = covered as f64 * 100.0 / receipts as f64;
            measure(
                CERTIFICATE_MAX * (1.0 - covered as f64 / receipts as f64),
                format!("近90天进货附承诺达标合格证{covered}/{receipts}（{pct:.0}%）"),
                format!("receipts of the last 90 days with an origin certificate: {covered}/{receipts} ({pct:.0}%)"),
            )
        })
        .flatten();
    routine.into_iter().chain(certificates).collect()
}

fn cap(i: &Inputs, as_of: i64) -> Option<Msg> {
    let recent = |at: i64| as_of - at <= RECENT_DAYS * DAY;
    if i.samples_failed.iter().any(|e| recent(e.at)) {
        return Some(Msg::new(
            "近90天有监督抽检不合格，等级最高为C",
            "a failed official sample within 90 days: C at best",
        ));
    }
    if i.cases.iter().any(|c| c.open && recent(c.event.at)) {
        return Some(Msg::new("近90天有在办案件，等级最高为C", "a case open within 90 days: C at best"));
    }
    None
}

/// The formula: a score, a grade and the deductions, from the inputs.
pub fn score(i: &Inputs, as_of: i64) -> Credit {
    let mut deductions = record_deductions(i, as_of);
    deductions.extend(measure_deductions(i));
    let total: f64 = deductions.iter().map(|d| d.points).sum();
    let score = (100.0 - total).round().max(0.0) as u32;
    let capped = cap(i, as_of);
    let grade = match capped {
        Some(_) => Grade::of(score).max(Grade::C),
        None => Grade::of(score),
    };
    Credit { score, grade, deductions, capped, as_of }
}

/// Evaluates a vendor from its records.
pub fn evaluate(store: &dyn Store, vendor: i64, as_of: i64) -> Result<Credit> {
    Ok(score(&inputs(store, vendor, as_of)?, as_of))
}

fn list(store: &dyn Store, kind: Kind, filters: Vec<Filter>) -> Result<Vec<Listed>> {
    store.list(kind, &ListQuery { scope: &Scope::All, filters, before: None, limit: 1000 })
}

fn event(kind: Kind, row: &Listed, key: &str, at: i64, detail: String) -> Event {
    Event { kind, id: row.id, key: listed::text(kind, row, key).unwrap_or_default().to_string(), at, detail }
}

/// Reads what the formula needs about a vendor.
pub fn inputs(store: &dyn Store, vendor: i64, as_of: i64) -> Result<Inputs> {
    let since = as_of - HORIZON_DAYS * DAY;
    let since_day = Value::Text(day(since));
    Ok(Inputs {
        samples_failed: samples_failed(store, vendor, &since_day)?,
        rapid_failed: rapid_failed(store, vendor, since)?,
        complaints_upheld: complaints_upheld(store, vendor, since)?,
        inspections: inspections(store, vendor, &since_day)?,
        cases: cases(store, vendor, &since_day)?,
        routine_recorded: routine_recorded(store, vendor, as_of)?,
        certificates: certificates(store, vendor, as_of)?,
    })
}

fn rapid_failed(store: &dyn Store, vendor: i64, since: i64) -> Result<Vec<Event>> {
    let k = Kind::RapidTest;
    let filters = vec![
        Filter::RefId("vendor", vendor),
        Filter::Eq("verdict", Value::Text("fail".into())),
        Filter::From("tested_at", Value::Int(since)),
    ];
    Ok(list(store, k, filters)?
        .iter()
        .map(|r| {
            let detail = format!(
                "{} {}",
                listed::label(k, r, "variety").unwrap_or_default(),
                listed::text(k, r, "item").unwrap_or_default()
            );
            event(k, r, "test_no", listed::int(k, r, "tested_at").unwrap_or(0), detail)
        })
        .collect())
}

fn samples_failed(store: &dyn Store, vendor: i64, since: &Value) -> Result<Vec<Event>> {
    let k = Kind::Sample;
    let filters = vec![Filter::PolyRefId("subject", "vendor", vendor), Filter::From("sampled_on", since.clone())];
    let mut out = Vec::new();
    for s in list(store, k, filters)? {
        let failed: Vec<String> = list(
            store,
            Kind::SampleItem,
            vec![Filter::RefId("sample", s.id), Filter::Eq("verdict", Value::Text("fail".into()))],
        )?
        .iter()
        .filter_map(|item| listed::text(Kind::SampleItem, item, "item").map(str::to_string))
        .collect();
        if !failed.is_empty() {
            let detail = format!("{} {}", listed::label(k, &s, "variety").unwrap_or_default(), failed.join("、"));
            out.push(event(k, &s, "sample_no", listed::date_at(k, &s, "sampled_on").unwrap_or(0), detail));
        }
    }
    Ok(out)
}

fn complaints_upheld(store: &dyn Store, vendor: i64, since: i64) -> Result<Vec<Event>> {
    let k = Kind::Complaint;
    let filters = vec![
        Filter::RefId("vendor", vendor),
        Filter::Eq("status", Value::Text("upheld".into())),
        Filter::From("received_at", Value::Int(since)),
    ];
    Ok(list(store, k, filters)?
        .iter()
        .map(|r| event(k, r, "complaint_no", listed::int(k, r, "received_at").unwrap_or(0), String::new()))
        .collect())
}

fn inspections(store: &dyn Store, vendor: i64, since: &Value) -> Result<Vec<Inspected>> {
    let k = Kind::Inspection;
    let filters = vec![
        Filter::RefId("vendor", vendor),
        Filter::From("problems", Value::Int(1)),
        Filter::From("inspected_on", since.clone()),
    ];
    Ok(list(store, k, filters)?
        .iter()
        .map(|r| Inspected {
            event: event(k, r, "inspection_no", listed::date_at(k, r, "inspected_on").unwrap_or(0), String::new()),
            problems: listed::int(k, r, "problems").unwrap_or(0),
            rectifying: listed::text(k, r, "status") == Some("rectifying"),
        })
        .collect())
}

fn cases(store: &dyn Store, vendor: i64, since: &Value) -> Result<Vec<CaseRecord>> {
    let k = Kind::Case;
    let filters = vec![Filter::RefId("vendor", vendor), Filter::From("opened_on", since.clone())];
    Ok(list(store, k, filters)?
        .iter()
        .map(|r| {
            let detail = listed::text(k, r, "violation").unwrap_or_default().to_string();
            CaseRecord {
                event: event(k, r, "case_no", listed::date_at(k, r, "opened_on").unwrap_or(0), detail),
                penalty_fen: listed::int(k, r, "penalty"),
                open: listed::text(k, r, "status") == Some("open"),
            }
        })
        .collect())
}

fn routine_recorded(store: &dyn Store, vendor: i64, as_of: i64) -> Result<u64> {
    let Some(v) = store.get(Kind::Vendor, vendor, &Scope::All)? else { return Ok(0) };
    let Some(code) = listed::text(Kind::Vendor, &v, "market") else { return Ok(0) };
    let Some(market) = store.find(Kind::Market, &[Value::Text(code.to_string())])? else { return Ok(0) };
    let filters = [
        Filter::From("period_start", Value::Text(day(as_of - ROUTINE_DAYS * DAY))),
        Filter::To("period_start", Value::Text(day(as_of))),
    ];
    store.count_in(Kind::RoutineRecord, &Scope::Market(market), &filters)
}

fn certificates(store: &dyn Store, vendor: i64, as_of: i64) -> Result<(u64, u64)> {
    let since = as_of - CERTIFICATE_DAYS * DAY;
    let recent: Vec<_> = store
        .receipt_origins(vendor, CERTIFICATE_RECEIPTS)?
        .into_iter()
        .filter(|r| r.received_at >= since && r.received_at <= as_of)
        .collect();
    Ok((recent.iter().filter(|r| r.certified).count() as u64, recent.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn ev(kind: Kind, days_ago: i64) -> Event {
        Event { kind, id: 1, key: "X1".into(), at: NOW - days_ago * DAY, detail: "芹菜 毒死蜱".into() }
    }

    fn full_routine() -> Inputs {
        Inputs { routine_recorded: ROUTINE_EXPECTED, certificates: (10, 10), ..Inputs::default() }
    }

    #[test]
    fn a_clean_record_scores_100_and_grade_a() {
        let c = score(&full_routine(), NOW);
        assert_eq!((c.score, c.grade), (100, Grade::A));
        assert!(c.deductions.is_empty());
    }

    #[test]
    fn failures_weigh_more_when_recent_and_not_at_all_after_a_year() {
        let mut i = full_routine();
        i.rapid_failed = vec![ev(Kind::RapidTest, 10), ev(Kind::RapidTest, 200), ev(Kind::RapidTest, 400)];
        let c = score(&i, NOW);
        assert_eq!(c.deductions.len(), 2);
        assert_eq!(c.deductions[0].points, RAPID_FAILED);
        assert_eq!(c.deductions[1].points, RAPID_FAILED / 2.0);
        assert_eq!(c.score, 88);
        assert_eq!(c.grade, Grade::B);
    }

    #[test]
    fn a_recent_failed_sample_caps_the_grade_at_c_even_with_a_high_score() {
        let mut i = full_routine();
        i.samples_failed = vec![ev(Kind::Sample, 5)];
        let c = score(&i, NOW);
        assert_eq!(c.score, 80);
        assert_eq!(c.grade, Grade::C);
        assert!(c.capped.is_some());
    }

    #[test]
    fn missing_routine_and_certificates_are_deducted_in_proportion() {
        let i = Inputs { routine_recorded: 0, certificates: (0, 20), ..Inputs::default() };
        let c = score(&i, NOW);
        assert_eq!(c.score, 75);
        let few = Inputs { routine_recorded: ROUTINE_EXPECTED, certificates: (0, 4), ..Inputs::default() };
        assert_eq!(score(&few, NOW).score, 100, "fewer than 5 receipts: coverage is not judged");
    }

    #[test]
    fn inspections_and_cases_follow_the_table() {
        let mut i = full_routine();
        i.inspections = vec![Inspected { event: ev(Kind::Inspection, 1), problems: 5, rectifying: true }];
        i.cases = vec![CaseRecord { event: ev(Kind::Case, 1), penalty_fen: Some(LARGE_PENALTY_FEN), open: false }];
        let c = score(&i, NOW);
        assert_eq!(c.deductions[0].points, PROBLEMS_MAX + STILL_RECTIFYING);
        assert_eq!(c.deductions[1].points, CASE + CASE_LARGE_PENALTY);
        assert_eq!(c.score, 66);
        assert_eq!(c.grade, Grade::C);
    }

    #[test]
    fn grades_have_their_bounds() {
        assert_eq!(
            [90, 89, 75, 74, 60, 59, 0].map(Grade::of),
            [Grade::A, Grade::B, Grade::B, Grade::C, Grade::C, Grade::D, Grade::D]
        );
    }
}
