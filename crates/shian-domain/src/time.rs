//! Time: stored as UTC, read and shown in China Standard Time (Asia/Shanghai, UTC+8 with no
//! daylight saving since 1991, so a fixed offset is exact for every date we store).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// The offset of Asia/Shanghai.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// Parses a calendar date: `2026-03-05`, `2026/3/5`, `2026.3.5`, `20260305` or `2026年3月5日`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    let norm: String =
        s.trim_end_matches('日').chars().map(|c| if matches!(c, '/' | '.' | '年' | '月') { '-' } else { c }).collect();
    NaiveDate::parse_from_str(&norm, "%Y-%m-%d").ok()
}

/// Parses a moment. Without an offset it is read as China Standard Time; RFC 3339 with an offset is
/// honoured. A bare date means midnight. Returns Unix seconds (UTC).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_plain(s) {
        return Some(t);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp());
    }
    let norm = s.replace('T', " ").replace('/', "-");
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&norm, fmt) {
            return china().from_local_datetime(&naive).single().map(|d| d.timestamp());
        }
    }
    parse_date(s).and_then(|d| from_local(d.and_hms_opt(0, 0, 0)?))
}

/// The common case, `YYYY-MM-DD HH:MM:SS` in China time, without allocating (bulk imports spend
/// much of their parsing time here).
fn parse_plain(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32))
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let days = date.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days();
    Some(days * 86_400 + (h * 3600 + m * 60 + sec) as i64 - 8 * 3600)
}

/// Unix seconds of a China-local moment.
pub fn from_local(naive: NaiveDateTime) -> Option<i64> {
    china().from_local_datetime(&naive).single().map(|d| d.timestamp())
}

/// Formats Unix seconds as China-local `YYYY-MM-DD HH:MM:SS`.
pub fn format_datetime(unix: i64) -> String {
    use std::fmt::Write;
    match Utc.timestamp_opt(unix, 0).single() {
        // Field by field rather than through a format string: traces format one per link.
        Some(t) => {
            let t = t.with_timezone(&china()).naive_local();
            if !(0..=9999).contains(&t.year()) {
                return t.format("%Y-%m-%d %H:%M:%S").to_string();
            }
            let mut s = String::with_capacity(19);
            let (d, h) = ((t.year(), t.month(), t.day()), (t.hour(), t.minute(), t.second()));
            let _ = write!(s, "{:04}-{:02}-{:02} {:02}:{:02}:{:02}", d.0, d.1, d.2, h.0, h.1, h.2);
            s
        }
        None => unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_china_standard_time() {
        let t = parse_datetime("2026-03-05 08:00").unwrap();
        assert_eq!(t, parse_datetime("2026-03-05T00:00:00Z").unwrap());
        assert_eq!(format_datetime(t), "2026-03-05 08:00:00");
    }

    #[test]
    fn formatting_field_by_field_agrees_with_chrono() {
        for unix in [0, 1_770_000_000, 1_709_208_000, 951_782_400, 4_102_444_799] {
            let chrono = Utc.timestamp_opt(unix, 0).unwrap().with_timezone(&china()).format("%Y-%m-%d %H:%M:%S");
            assert_eq!(format_datetime(unix), chrono.to_string(), "{unix}");
        }
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        for s in ["2026-03-05 08:00:00", "1999-12-31 23:59:59", "2024-02-29 12:30:01"] {
            let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
            assert_eq!(parse_plain(s), from_local(naive), "{s}");
        }
        assert_eq!(parse_plain("2026-02-30 00:00:00"), None);
        assert_eq!(parse_plain("2026-01-01 24:00:00"), None);
    }

    #[test]
    fn date_spellings_from_spreadsheets() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 5);
        for s in ["2026-03-05", "2026/3/5", "2026.3.5", "20260305", "2026年3月5日"] {
            assert_eq!(parse_date(s), d, "{s}");
        }
        assert_eq!(parse_date("2026-02-30"), None);
    }
}
