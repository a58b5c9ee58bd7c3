//! Turning stored values into what a page shows: labels in the reader's language, references as
//! links to the referenced record, enum codes as their names, region codes as place names.

use shian_domain::field::FieldType;
use shian_domain::{Field, Kind, KindDef, Lang, Value};
use shian_store::query::Listed;

use crate::auth::urlencode;

/// One table cell.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
}

/// One table row.
#[derive(Debug, Clone)]
pub struct RowView {
    pub cells: Vec<Cell>,
}

/// A field's label in a language.
pub fn field_label(f: &Field, lang: Lang) -> String {
    match lang {
        Lang::Zh => f.zh.to_string(),
        Lang::En => f.name.replace('_', " "),
    }
}

/// A kind's name in a language.
pub fn kind_label(kind: Kind, lang: Lang) -> &'static str {
    let def = kind.def();
    match lang {
        Lang::Zh => def.zh,
        Lang::En => def.en,
    }
}

/// A stored value as text for a page.
pub fn format_value(f: &Field, v: &Value, lang: Lang) -> String {
    match (f.ty, v) {
        (FieldType::Enum(choices), Value::Text(code)) => choices
            .iter()
            .find(|c| c.code == code)
            .map(|c| if lang == Lang::En { c.en.to_string() } else { c.zh.to_string() })
            .unwrap_or_else(|| code.clone()),
        (FieldType::Region, Value::Text(code)) => {
            format!("{} {}", shian_services::accounts::region_label(code), code)
        }
        (ty, v) => ty.format(v, lang),
    }
}

/// The kind a reference field of a listed row points to.
fn ref_target(def: &KindDef, f: &Field, row: &Listed) -> Option<Kind> {
    match f.ty {
        FieldType::Ref(target) => Some(target),
        FieldType::PolyRef { kind_field } => {
            let (i, kf) = def.field(kind_field)?;
            let FieldType::Enum(choices) = kf.ty else { return None };
            let code = row.values[i].as_text()?;
            choices.iter().find(|c| c.code == code).and_then(|c| c.target)
        }
        _ => None,
    }
}

/// The cell of field `i` of a row: references link to their record and show its name.
pub fn cell(kind: Kind, row: &Listed, i: usize, lang: Lang) -> Cell {
    let def = kind.def();
    let f = &def.fields[i];
    let v = &row.values[i];
    if let (Some(target), Some(key)) = (ref_target(def, f, row), v.as_text()) {
        let text = match &row.labels[i] {
            Some(name) => format!("{name}（{key}）"),
            None => key.to_string(),
        };
        return Cell { text, href: Some(format!("/find/{}/{}", target.name(), urlencode(key))) };
    }
    let text = format_value(f, v, lang);
    let is_key = def.key.first() == Some(&f.name);
    Cell { text, href: is_key.then(|| format!("/record/{}/{}", kind.name(), row.id)) }
}

/// The fields a list shows: the key and the most telling others, at most `max`.
pub fn list_columns(kind: Kind, max: usize) -> Vec<usize> {
    let def = kind.def();
    let skip = |f: &Field| {
        matches!(f.ty, FieldType::Text(n) if n > 200)
            || matches!(f.name, "phone" | "credit_code" | "address" | "contact" | "source" | "commitment" | "self_test")
    };
    let mut cols: Vec<usize> = (0..def.fields.len()).filter(|&i| !skip(&def.fields[i])).collect();
    cols.truncate(max);
    // The natural key always leads, so every row links to its record.
    let key = def.key.iter().rev().filter_map(|k| def.field(k).map(|(i, _)| i)).collect::<Vec<_>>();
    for k in key {
        cols.retain(|&c| c != k);
        cols.insert(0, k);
    }
    if kind == Kind::Inbound || kind == Kind::Outbound {
        // Orders are known by their source record number.
        cols.retain(|&c| def.fields[c].name != "source");
    }
    cols
}

/// A listed row as cells of `cols`.
pub fn row_view(kind: Kind, row: &Listed, cols: &[usize], lang: Lang) -> RowView {
    let mut cells: Vec<Cell> = cols.iter().map(|&i| cell(kind, row, i, lang)).collect();
    if !cells.iter().any(|c| c.href.as_deref().is_some_and(|h| h.starts_with("/record/"))) {
        cells.insert(
            0,
            Cell { text: format!("#{}", row.id), href: Some(format!("/record/{}/{}", kind.name(), row.id)) },
        );
    }
    RowView { cells }
}

/// Headers matching [`row_view`].
pub fn headers(kind: Kind, row_sample: Option<&RowView>, cols: &[usize], lang: Lang) -> Vec<String> {
    let def = kind.def();
    let mut h: Vec<String> = cols.iter().map(|&i| field_label(&def.fields[i], lang)).collect();
    if row_sample.is_some_and(|r| r.cells.len() > cols.len()) {
        h.insert(0, "#".into());
    }
    h
}

/// Escapes JSON for a `<script type="application/json">` block.
pub fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}
