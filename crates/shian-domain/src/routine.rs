//! The markets' routine: daily control, weekly check, monthly review (日管控、周排查、月调度).
//!
//! A market records one daily control for every day, one weekly check for every week (weeks
//! start on Monday) and one monthly review for every month (starting on the 1st); each record is
//! keyed by the first day of its period. These rules say which periods a window of days expects,
//! and how a share of periods recorded grades a market.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// A routine period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Daily, Period::Weekly, Period::Monthly];

    /// The stored code (`routine_record.period`).
    pub fn code(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    pub fn parse(code: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The first day of the period holding `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Daily => day,
            Period::Weekly => day - Days::new(day.weekday().num_days_from_monday() as u64),
            Period::Monthly => day.with_day(1).expect("every month has a 1st"),
        }
    }

    /// The periods that have fully ended within `from..=to`, by their first day: a week or
    /// month still running on `to` is not expected yet.
    pub fn expected(self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut start = self.start_of(from);
        if start < from {
            start = self.next(start);
        }
        while start <= to && self.next(start) <= to + Days::new(1) {
            out.push(start);
            start = self.next(start);
        }
        out
    }

    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Daily => start + Days::new(1),
            Period::Weekly => start + Days::new(7),
            Period::Monthly => start.checked_add_months(chrono::Months::new(1)).expect("date in range"),
        }
    }
}

/// How well a market keeps its routine, from the share of expected periods recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Compliance {
    /// ≥ 95 % recorded: 合规
    Good,
    /// ≥ 80 %: 基本合规
    Fair,
    /// below 80 %: 不合规
    Poor,
}

impl Compliance {
    pub fn of(recorded: usize, expected: usize) -> Compliance {
        if expected == 0 || recorded * 100 >= expected * 95 {
            Compliance::Good
        } else if recorded * 100 >= expected * 80 {
            Compliance::Fair
        } else {
            Compliance::Poor
        }
    }

    pub fn label(self, lang: crate::Lang) -> &'static str {
        match (self, lang) {
            (Compliance::Good, crate::Lang::Zh) => "合规",
            (Compliance::Fair, crate::Lang::Zh) => "基本合规",
            (Compliance::Poor, crate::Lang::Zh) => "不合规",
            (Compliance::Good, crate::Lang::En) => "compliant",
            (Compliance::Fair, crate::Lang::En) => "mostly compliant",
            (Compliance::Poor, crate::Lang::En) => "not compliant",
        }
    }
}

/// Whether a weekday starts a week (weeks start on Monday).
pub fn starts_week(day: NaiveDate) -> bool {
    day.weekday() == Weekday::Mon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_window_expects_only_periods_that_have_ended() {
        // 2026-11-01 is a Sunday; 2026-11-30 a Monday.
        let (from, to) = (d("2026-11-01"), d("2026-11-30"));
        assert_eq!(Period::Daily.expected(from, to).len(), 30);
        let weeks = Period::Weekly.expected(from, to);
        assert_eq!(weeks.first(), Some(&d("2026-11-02")));
        assert_eq!(weeks.last(), Some(&d("2026-11-23")), "the week starting on the 30th has not ended");
        assert!(weeks.iter().all(|w| starts_week(*w)));
        assert_eq!(Period::Monthly.expected(from, to), vec![d("2026-11-01")]);
        assert!(Period::Monthly.expected(d("2026-11-02"), to).is_empty(), "a month begun before the window");
    }

    #[test]
    fn compliance_grades_by_share_recorded() {
        assert_eq!(Compliance::of(29, 30), Compliance::Good);
        assert_eq!(Compliance::of(25, 30), Compliance::Fair);
        assert_eq!(Compliance::of(10, 30), Compliance::Poor);
        assert_eq!(Compliance::of(0, 0), Compliance::Good);
    }
}
