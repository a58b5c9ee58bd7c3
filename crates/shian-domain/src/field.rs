//! Field types and the parsing of one cell of input into a stored [`Value`].
//!
//! Every importable column has a [`FieldType`]. Parsing turns the text a person typed (in a
//! spreadsheet, a CSV file, a JSON line) into the value that is stored, or into a [`FieldError`]
//! with a reason in Chinese and English. References to other records stay as their natural key
//! here; the import service resolves them against the store.

use crate::msg::{Lang, Msg};
use crate::{ids, kind::Kind, region, time, unit::Unit};

/// A stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_real(&self) -> Option<f64> {
        match self {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

/// One allowed value of an enumerated field: the stored code and its labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    /// For the kind field of a polymorphic reference: the record kind this choice points to.
    pub target: Option<Kind>,
}

/// Shorthand for a choice that points nowhere.
pub const fn choice(code: &'static str, zh: &'static str, en: &'static str) -> Choice {
    Choice { code, zh, en, target: None }
}

/// Shorthand for a choice whose counterparty is a record of `target`.
pub const fn choice_to(code: &'static str, zh: &'static str, en: &'static str, target: Kind) -> Choice {
    Choice { code, zh, en, target: Some(target) }
}

/// The type of a column, which decides how its text is parsed, stored and written out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// Free text up to this many characters.
    Text(usize),
    /// An identifier: 1–64 characters of `A–Z a–z 0–9 - _ . /`.
    Code,
    Int {
        min: i64,
        max: i64,
    },
    Real {
        min: f64,
        max: f64,
    },
    /// A positive quantity in the row's unit.
    Quantity,
    /// Money in yuan with at most two decimals, stored as integer fen.
    Money,
    /// A calendar date, stored as `YYYY-MM-DD`.
    Date,
    /// A moment, read as China Standard Time unless an offset is given, stored as Unix seconds.
    DateTime,
    Bool,
    Enum(&'static [Choice]),
    Unit,
    /// A GB/T 2260 region code (or its standard name), stored as the code.
    Region,
    /// A reference to another record by its natural key, stored as that record's id.
    Ref(Kind),
    /// A reference whose target kind is chosen by the enumerated field named here.
    PolyRef {
        kind_field: &'static str,
    },
    /// A unified social credit code.
    Uscc,
    /// A unified social credit code or, for a natural person, a resident identity number.
    UsccOrId,
    Phone,
    Lon,
    Lat,
}

/// Why a cell was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FieldError {
    pub reason: Msg,
}

fn err(zh: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError { reason: Msg::new(zh.into(), en.into()) }
}

impl FieldType {
    /// Whether this column holds a reference resolved through the store.
    pub fn is_ref(&self) -> bool {
        matches!(self, FieldType::Ref(_) | FieldType::PolyRef { .. })
    }

    /// Parses one non-empty, trimmed cell.
    pub fn parse(&self, raw: &str) -> Result<Value, FieldError> {
        match *self {
            FieldType::Text(max) => parse_text(raw, max),
            FieldType::Code | FieldType::Ref(_) | FieldType::PolyRef { .. } => parse_code(raw),
            FieldType::Int { min, max } => parse_int(raw, min, max),
            FieldType::Real { min, max } => parse_real(raw, min, max),
            FieldType::Quantity => match parse_real(raw, 0.0, 1e9)? {
                Value::Real(q) if q > 0.0 => Ok(Value::Real(q)),
                _ => Err(err("数量必须大于0", "quantity must be greater than 0")),
            },
            FieldType::Money => parse_money(raw).map(Value::Int),
            FieldType::Date => time::parse_date(raw)
                .map(|d| Value::Text(d.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| err("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD")),
            FieldType::DateTime => time::parse_datetime(raw)
                .map(Value::Int)
                .ok_or_else(|| err("时间格式应为 YYYY-MM-DD HH:MM:SS", "time must be YYYY-MM-DD HH:MM:SS")),
            FieldType::Bool => parse_bool(raw),
            FieldType::Enum(choices) => parse_enum(raw, choices),
            FieldType::Unit => Unit::parse(raw).map(|u| Value::Text(u.code().into())).ok_or_else(|| {
                err("未知计量单位（可用：千克、克、斤、吨、个、箱）", "unknown unit (kg, g, jin, t, piece, case)")
            }),
            FieldType::Region => region::lookup(raw)
                .map(|r| Value::Text(r.code.into()))
                .ok_or_else(|| err("不是有效的行政区划代码（GB/T 2260）", "not a GB/T 2260 region code")),
            FieldType::Uscc => {
                let up = raw.to_ascii_uppercase();
                if ids::is_valid_uscc(&up) {
                    Ok(Value::Text(up))
                } else {
                    Err(err("统一社会信用代码无效（应为18位且校验位正确）", "invalid unified social credit code"))
                }
            }
            FieldType::UsccOrId => {
                let up = raw.to_ascii_uppercase();
                if ids::is_valid_uscc(&up) || ids::is_valid_id_number(&up) {
                    Ok(Value::Text(up))
                } else {
                    Err(err(
                        "既不是有效的统一社会信用代码，也不是有效的身份证号码",
                        "neither a valid credit code nor a valid ID number",
                    ))
                }
            }
            FieldType::Phone => parse_phone(raw),
            FieldType::Lon => parse_real(raw, 73.0, 136.0),
            FieldType::Lat => parse_real(raw, 3.0, 54.0),
        }
    }

    /// Writes a stored value as text for export, in the language of the headers.
    pub fn format(&self, v: &Value, lang: Lang) -> String {
        match (self, v) {
            (_, Value::Null) => String::new(),
            (FieldType::Money, Value::Int(fen)) => format_money(*fen),
            (FieldType::DateTime, Value::Int(t)) => time::format_datetime(*t),
            (FieldType::Bool, Value::Int(b)) => match (lang, *b != 0) {
                (Lang::Zh, true) => "是".into(),
                (Lang::Zh, false) => "否".into(),
                (Lang::En, b) => b.to_string(),
            },
            (FieldType::Enum(choices), Value::Text(code)) => match (lang, choices.iter().find(|c| c.code == code)) {
                (Lang::Zh, Some(c)) => c.zh.into(),
                _ => code.clone(),
            },
            (_, Value::Int(i)) => i.to_string(),
            (_, Value::Real(r)) => format_real(*r),
            (_, Value::Text(s)) => s.clone(),
        }
    }
}

/// First characters that make a spreadsheet treat a cell as a formula. Exports put an apostrophe
/// before such text ([`defuse`]); imports take it away again ([`undefuse`]).
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Prefixes formula-like text with an apostrophe so a spreadsheet shows it as text.
pub fn defuse(s: String) -> String {
    if s.starts_with(FORMULA_STARTS) { format!("'{s}") } else { s }
}

/// Removes the apostrophe that [`defuse`] added.
pub fn undefuse(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => s,
    }
}

fn parse_text(raw: &str, max: usize) -> Result<Value, FieldError> {
    let s = undefuse(raw);
    if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        return Err(err("含有不可见的控制字符", "contains control characters"));
    }
    let n = s.chars().count();
    if n > max {
        return Err(err(format!("过长（{n}字，最多{max}字）"), format!("too long ({n} characters, at most {max})")));
    }
    Ok(Value::Text(s.to_string()))
}

fn parse_code(raw: &str) -> Result<Value, FieldError> {
    let raw = undefuse(raw);
    let ok = raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if ok {
        Ok(Value::Text(raw.to_string()))
    } else {
        Err(err("编码只能由字母、数字和 - _ . / 组成，最长64位", "a code is at most 64 letters, digits or - _ . /"))
    }
}

fn parse_int(raw: &str, min: i64, max: i64) -> Result<Value, FieldError> {
    match raw.parse::<i64>() {
        Ok(i) if (min..=max).contains(&i) => Ok(Value::Int(i)),
        Ok(_) => Err(err(format!("超出范围（{min}–{max}）"), format!("out of range ({min}–{max})"))),
        Err(_) => Err(err("不是整数", "not a whole number")),
    }
}

fn parse_real(raw: &str, min: f64, max: f64) -> Result<Value, FieldError> {
    match raw.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= min && r <= max => Ok(Value::Real(r)),
        Ok(_) => Err(err(format!("超出范围（{min}–{max}）"), format!("out of range ({min}–{max})"))),
        Err(_) => Err(err("不是数字", "not a number")),
    }
}

/// Parses yuan (`12.5`, `¥12.50`, `12.50元`) into fen without going through floating point.
pub fn parse_money(raw: &str) -> Result<i64, FieldError> {
    let bad = || err("金额格式应为元，最多两位小数", "amount must be yuan with at most two decimals");
    let s = raw.trim_start_matches(['¥', '￥']).trim_end_matches('元');
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || whole.len() > 12
        || frac.len() > 2
        || !(whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let fen =
        whole.parse::<i64>().map_err(|_| bad())? * 100 + format!("{frac:0<2}").parse::<i64>().map_err(|_| bad())?;
    Ok(if neg { -fen } else { fen })
}

/// Writes fen as yuan with two decimals.
pub fn format_money(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

/// Writes a real number in its shortest form that reads back to the same value.
pub fn format_real(r: f64) -> String {
    format!("{r}")
}

fn parse_bool(raw: &str) -> Result<Value, FieldError> {
    match raw.to_ascii_lowercase().as_str() {
        "是" | "true" | "1" | "y" | "yes" => Ok(Value::Int(1)),
        "否" | "false" | "0" | "n" | "no" => Ok(Value::Int(0)),
        _ => Err(err("应为 是/否", "must be true or false")),
    }
}

fn parse_enum(raw: &str, choices: &[Choice]) -> Result<Value, FieldError> {
    choices
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(raw) || c.zh == raw || c.en.eq_ignore_ascii_case(raw))
        .map(|c| Value::Text(c.code.to_string()))
        .ok_or_else(|| {
            let zh: Vec<_> = choices.iter().map(|c| c.zh).collect();
            let en: Vec<_> = choices.iter().map(|c| c.code).collect();
            err(format!("取值应为：{}", zh.join("、")), format!("must be one of: {}", en.join(", ")))
        })
}

fn parse_phone(raw: &str) -> Result<Value, FieldError> {
    let digits: String = raw.trim_start_matches("+86").chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let mobile = digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit());
    let landline =
        digits.starts_with('0') && (10..=12).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    if mobile || landline {
        Ok(Value::Text(digits))
    } else {
        Err(err("不是有效的手机或固定电话号码", "not a valid mobile or landline number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_is_exact_fen() {
        assert_eq!(parse_money("12.5"), Ok(1250));
        assert_eq!(parse_money("¥0.07"), Ok(7));
        assert_eq!(parse_money("3元"), Ok(300));
        assert!(parse_money("1.234").is_err());
        assert!(parse_money("abc").is_err());
    }

    #[test]
    fn formula_defusing_apostrophe_is_removed_on_import() {
        assert_eq!(FieldType::Text(10).parse("'=1+1"), Ok(Value::Text("=1+1".into())));
        assert_eq!(FieldType::Text(10).parse("'ok"), Ok(Value::Text("'ok".into())));
    }

    #[test]
    fn phones() {
        assert_eq!(FieldType::Phone.parse("138-0311-1234"), Ok(Value::Text("13803111234".into())));
        assert_eq!(FieldType::Phone.parse("0311-86881234"), Ok(Value::Text("031186881234".into())));
        assert!(FieldType::Phone.parse("12345").is_err());
    }

    proptest! {
        #[test]
        fn money_round_trips(fen in -1_000_000_000i64..1_000_000_000) {
            prop_assert_eq!(parse_money(&format_money(fen)), Ok(fen));
        }

        #[test]
        fn reals_round_trip(r in -1e9f64..1e9) {
            prop_assert_eq!(FieldType::Real { min: -1e10, max: 1e10 }.parse(&format_real(r)), Ok(Value::Real(r)));
        }
    }
}
