//! The query parameters of a list: `limit`, `before`, `q`, `region`, `from`, `to` and
//! `<field>=value` for equality on a code, enumeration, reference, region, unit or yes/no field.
//!
//! Every parameter is checked; an unknown one, one given twice or a bad value is refused with a
//! reason per parameter, so a typo never silently widens a list.

use shian_domain::access::Scope;
use shian_domain::field::FieldType;
use shian_domain::{Field, Kind, KindDef, Value, region};
use shian_store::query::{Filter, time_field};

use super::error::{ApiError, FieldProblem};

/// Records per page unless `limit` says otherwise, and the most it may say.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// The longest search text.
const MAX_SEARCH: usize = 100;

/// The parameters that are not field names.
pub const RESERVED: [&str; 6] = ["limit", "before", "q", "region", "from", "to"];

/// A checked list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    pub limit: usize,
    pub before: Option<i64>,
    pub filters: Vec<Filter>,
}

/// Whether lists of a kind may be filtered on this field by equality.
pub fn filterable(field: &Field) -> bool {
    matches!(
        field.ty,
        FieldType::Code
            | FieldType::Enum(_)
            | FieldType::Ref(_)
            | FieldType::Region
            | FieldType::Unit
            | FieldType::Bool
    ) && !RESERVED.contains(&field.name)
}

/// Whether lists of a kind may be narrowed to a region (kinds that lie somewhere).
pub fn has_region(kind: Kind) -> bool {
    !matches!(kind, Kind::Region | Kind::Variety)
}

impl ListParams {
    /// Checks the query's `name=value` pairs against the kind.
    pub fn parse(kind: Kind, pairs: &[(String, String)]) -> Result<ListParams, ApiError> {
        let mut params = ListParams { limit: DEFAULT_LIMIT, before: None, filters: Vec::new() };
        let mut problems = Vec::new();
        for (i, (name, value)) in pairs.iter().enumerate() {
            let outcome = if pairs[..i].iter().any(|(n, _)| n == name) {
                Err(problem(name, "参数重复", "given more than once"))
            } else {
                params.take(kind.def(), name, value.trim())
            };
            if let Err(p) = outcome {
                problems.push(p);
            }
        }
        if problems.is_empty() { Ok(params) } else { Err(ApiError::invalid(problems)) }
    }

    fn take(&mut self, def: &'static KindDef, name: &str, value: &str) -> Result<(), FieldProblem> {
        if value.is_empty() {
            return Err(problem(name, "取值为空", "empty value"));
        }
        match name {
            "limit" => self.limit = parse_limit(value)?,
            "before" => self.before = Some(parse_before(value)?),
            "q" => self.filters.push(parse_search(value)?),
            "region" => self.filters.push(parse_region(def.kind, value)?),
            "from" | "to" => self.filters.push(parse_time(def.kind, name, value)?),
            _ => self.filters.push(parse_field(def, name, value)?),
        }
        Ok(())
    }
}

fn problem(name: &str, zh: impl Into<String>, en: impl Into<String>) -> FieldProblem {
    FieldProblem::new(name, zh, en)
}

fn parse_limit(value: &str) -> Result<usize, FieldProblem> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(problem(
            "limit",
            format!("应为 1–{MAX_LIMIT} 的整数"),
            format!("must be a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}

fn parse_before(value: &str) -> Result<i64, FieldProblem> {
    match value.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(problem(
            "before",
            "应为正整数（上一页返回的 next_before）",
            "must be a positive id (a page's next_before)",
        )),
    }
}

fn parse_search(value: &str) -> Result<Filter, FieldProblem> {
    if value.chars().count() > MAX_SEARCH {
        return Err(problem("q", format!("最长 {MAX_SEARCH} 个字符"), format!("at most {MAX_SEARCH} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(problem("q", "含有控制字符", "contains control characters"));
    }
    Ok(Filter::Search(value.to_string()))
}

/// A region code prefix: the 2, 4 or 6 leading digits of a GB/T 2260 division that exists.
fn parse_region(kind: Kind, value: &str) -> Result<Filter, FieldProblem> {
    if !has_region(kind) {
        return Err(problem("region", "该类记录不按区划筛选", "this kind has no region to filter on"));
    }
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    let full = format!("{value:0<6}");
    if !digits || !matches!(value.len(), 2 | 4 | 6) || region::by_code(&full).is_none() {
        return Err(problem(
            "region",
            "应为有效的行政区划代码或其前 2 位、4 位（如 13、1301、130102）",
            "must be a region code or its first 2 or 4 digits (13, 1301, 130102)",
        ));
    }
    Ok(Filter::InRegion(Scope::region_prefix(&full).to_string()))
}

/// `from` and `to` on the kind's main time field: a date, or for a time field also a time (China
/// time unless an offset is given). `to` with a bare date takes in that whole day.
fn parse_time(kind: Kind, name: &str, value: &str) -> Result<Filter, FieldProblem> {
    let def = kind.def();
    let Some(field) = time_field(kind) else {
        return Err(problem(name, "该类记录没有可筛选的时间字段", "this kind has no time field to filter on"));
    };
    let ty = def.field(field).map(|(_, f)| f.ty).unwrap_or(FieldType::Date);
    let bare_date = FieldType::Date.parse(value).ok();
    let parsed = match (ty, &bare_date) {
        (FieldType::DateTime, Some(_)) if name == "to" => FieldType::DateTime.parse(value).map(|v| end_of_day(&v)),
        (FieldType::DateTime, _) => FieldType::DateTime.parse(value),
        (_, Some(date)) => Ok(date.clone()),
        _ => FieldType::Date.parse(value),
    };
    let v = parsed.map_err(|e| problem(name, e.reason.zh, e.reason.en))?;
    Ok(if name == "from" { Filter::From(field, v) } else { Filter::To(field, v) })
}

fn end_of_day(v: &Value) -> Value {
    v.as_int().map_or(Value::Null, |t| Value::Int(t + 86_399))
}

/// `<field>=value`: equality on a filterable field, the value parsed as import parses it
/// (a reference by the referenced record's natural key).
fn parse_field(def: &'static KindDef, name: &str, value: &str) -> Result<Filter, FieldProblem> {
    let Some((_, field)) = def.field(name).filter(|(_, f)| filterable(f)) else {
        let allowed: Vec<&str> =
            RESERVED.iter().copied().chain(def.fields.iter().filter(|f| filterable(f)).map(|f| f.name)).collect();
        return Err(problem(
            name,
            format!("未知参数（可用：{}）", allowed.join("、")),
            format!("unknown parameter (allowed: {})", allowed.join(", ")),
        ));
    };
    let v = field.ty.parse(value).map_err(|e| problem(name, e.reason.zh, e.reason.en))?;
    Ok(Filter::Eq(field.name, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let err = ListParams::parse(Kind::Vendor, &pairs(&[("limit", "0"), ("colour", "red"), ("from", "2026-01-01")]))
            .expect_err("refused");
        let names: Vec<&str> = err.fields.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(names, ["limit", "colour", "from"]);
    }

    #[test]
    fn to_with_a_date_takes_in_the_whole_day() {
        let p = ListParams::parse(Kind::Outbound, &pairs(&[("to", "2026-03-05")])).expect("ok");
        let Filter::To("sold_at", Value::Int(t)) = p.filters[0] else { panic!("{:?}", p.filters) };
        assert_eq!(t, 1_772_668_800 - 8 * 3600 + 86_399);
    }

    #[test]
    fn region_prefixes_must_name_a_division() {
        assert!(ListParams::parse(Kind::Market, &pairs(&[("region", "1301")])).is_ok());
        assert!(ListParams::parse(Kind::Market, &pairs(&[("region", "130")])).is_err());
        assert!(ListParams::parse(Kind::Market, &pairs(&[("region", "9999")])).is_err());
        assert!(ListParams::parse(Kind::Variety, &pairs(&[("region", "13")])).is_err());
    }
}
