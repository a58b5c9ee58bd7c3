//! Reading fields of records listed by `Queries::list` by name, and the labels of enum codes.

use shian_domain::field::FieldType;
use shian_domain::{Kind, Lang};
use shian_store::query::Listed;

/// A text field (for a reference: the referenced record's natural key).
pub fn text<'a>(kind: Kind, row: &'a Listed, field: &str) -> Option<&'a str> {
    let (i, _) = kind.def().field(field)?;
    row.values.get(i)?.as_text().filter(|s| !s.is_empty())
}

/// An integer field.
pub fn int(kind: Kind, row: &Listed, field: &str) -> Option<i64> {
    let (i, _) = kind.def().field(field)?;
    row.values.get(i)?.as_int()
}

/// The name of the record a reference field points to (when that kind has names).
pub fn label<'a>(kind: Kind, row: &'a Listed, field: &str) -> Option<&'a str> {
    let (i, _) = kind.def().field(field)?;
    row.labels.get(i)?.as_deref()
}

/// What a page shows for a field: the referenced record's name when there is one, else the stored
/// text (empty when neither).
pub fn shown(kind: Kind, row: &Listed, field: &str) -> String {
    label(kind, row, field).or_else(|| text(kind, row, field)).unwrap_or_default().to_string()
}

/// The label of an enum field's code in a language (the code itself if it is not a choice).
pub fn choice(kind: Kind, field: &str, code: &str, lang: Lang) -> String {
    let Some((_, f)) = kind.def().field(field) else { return code.to_string() };
    let FieldType::Enum(choices) = f.ty else { return code.to_string() };
    match choices.iter().find(|c| c.code == code) {
        Some(c) if lang == Lang::En => c.en.to_string(),
        Some(c) => c.zh.to_string(),
        None => code.to_string(),
    }
}

/// A date field (`YYYY-MM-DD`) as Unix seconds at midnight China time.
pub fn date_at(kind: Kind, row: &Listed, field: &str) -> Option<i64> {
    let d = shian_domain::time::parse_date(text(kind, row, field)?)?;
    shian_domain::time::from_local(d.and_hms_opt(0, 0, 0)?)
}

/// Unix seconds as a China date, `YYYY-MM-DD`.
pub fn day(unix: i64) -> String {
    shian_domain::time::format_datetime(unix).chars().take(10).collect()
}
