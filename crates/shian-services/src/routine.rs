//! Routine compliance: which market missed which daily control, weekly check or monthly review
//! in a window of days, from the routine records stored (never from the simulator's settings).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use shian_domain::access::Scope;
use shian_domain::routine::{Compliance, Period};
use shian_domain::{Kind, Value};
use shian_store::query::ListQuery;
use shian_store::{Store, StoreError};

/// One market's record keeping in the window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MarketRoutine {
    pub market_id: i64,
    pub code: String,
    pub name: String,
    pub region: String,
    /// Per period (daily, weekly, monthly): recorded, expected, the missed periods' first days
    /// (latest first).
    pub periods: Vec<PeriodRoutine>,
    /// The worst grade of the three.
    #[serde(skip)]
    pub grade: Compliance,
    pub grade_code: &'static str,
}

/// One period kind's record keeping.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PeriodRoutine {
    pub period: &'static str,
    pub recorded: usize,
    pub expected: usize,
    pub missed: Vec<NaiveDate>,
}

impl PeriodRoutine {
    /// Recorded share in percent (100 when nothing was expected).
    pub fn percent(&self) -> f64 {
        if self.expected == 0 { 100.0 } else { self.recorded as f64 * 100.0 / self.expected as f64 }
    }
}

/// The window ending on `to` (inclusive) and reaching back `days` days.
pub fn window(to: NaiveDate, days: u32) -> (NaiveDate, NaiveDate) {
    (to - chrono::Days::new(days.saturating_sub(1) as u64), to)
}

fn text(v: &Value) -> String {
    v.as_text().map(str::to_string).unwrap_or_default()
}

/// The routine of every open market in the scope over `from..=to`, worst first.
pub fn compliance(
    store: &dyn Store,
    scope: &Scope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<MarketRoutine>, StoreError> {
    let (f, t) = (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
    let mut done: HashMap<(i64, &'static str), HashSet<NaiveDate>> = HashMap::new();
    for (market, period, start) in store.routine_periods(scope, &f, &t)? {
        let (Some(p), Ok(day)) = (Period::parse(&period), NaiveDate::parse_from_str(&start, "%Y-%m-%d")) else {
            continue;
        };
        done.entry((market, p.code())).or_default().insert(day);
    }
    let def = Kind::Market.def();
    let col = |name: &str| def.field(name).map(|(i, _)| i).expect("market field");
    let markets = store.list(Kind::Market, &ListQuery { scope, filters: vec![], before: None, limit: 1000 })?;
    let mut out: Vec<MarketRoutine> = markets
        .into_iter()
        .filter(|m| text(&m.values[col("status")]) != "closed")
        .map(|m| {
            let periods: Vec<PeriodRoutine> = Period::ALL
                .into_iter()
                .map(|p| {
                    let expected = p.expected(from, to);
                    let have = done.get(&(m.id, p.code()));
                    let mut missed: Vec<NaiveDate> =
                        expected.iter().filter(|d| !have.is_some_and(|h| h.contains(d))).copied().collect();
                    missed.reverse();
                    PeriodRoutine {
                        period: p.code(),
                        recorded: expected.len() - missed.len(),
                        expected: expected.len(),
                        missed,
                    }
                })
                .collect();
            let grade =
                periods.iter().map(|p| Compliance::of(p.recorded, p.expected)).max().unwrap_or(Compliance::Good);
            MarketRoutine {
                market_id: m.id,
                code: text(&m.values[col("code")]),
                name: text(&m.values[col("name")]),
                region: text(&m.values[col("region")]),
                periods,
                grade,
                grade_code: match grade {
                    Compliance::Good => "good",
                    Compliance::Fair => "fair",
                    Compliance::Poor => "poor",
                },
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let share = |m: &MarketRoutine| m.periods.iter().map(PeriodRoutine::percent).sum::<f64>();
        b.grade.cmp(&a.grade).then(share(a).total_cmp(&share(b))).then(a.code.cmp(&b.code))
    });
    Ok(out)
}
