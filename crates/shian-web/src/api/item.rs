//! A stored record as the API shows it: `id` and every field by its English name, values written
//! for reading.
//!
//! - money: yuan as a decimal string with two places (`"12.50"`), exact, never a float;
//! - dates: `YYYY-MM-DD`; times: ISO 8601 in China Standard Time (`2026-03-05T08:00:00+08:00`);
//! - yes/no fields: JSON booleans; numbers: JSON numbers; enumerations: their code (`wholesale`);
//! - references: the referenced record's natural key, and beside it `<field>_name`, the referenced
//!   record's name, where that kind has names (`market` → `market_name`); region codes get
//!   `<field>_name` too. Where the kind already has a field of that name (an inbound receipt's
//!   `supplier_name` is the name as written on the receipt), the label is `<field>_record_name`.

use serde_json::{Map, Value as Json};
use shian_domain::field::{FieldType, format_money};
use shian_domain::{Field, KindDef, Value, region, time};
use shian_services::accounts::region_label;
use shian_store::query::Listed;

/// The key of the label written beside a field, if the field gets one.
pub fn label_key(def: &KindDef, field: &Field) -> Option<String> {
    let labelled = match field.ty {
        FieldType::Ref(target) => target.def().field("name").is_some(),
        FieldType::PolyRef { kind_field } => poly_targets(def, kind_field).any(|k| k.def().field("name").is_some()),
        FieldType::Region => true,
        _ => false,
    };
    if !labelled {
        return None;
    }
    let plain = format!("{}_name", field.name);
    Some(if def.field(&plain).is_some() { format!("{}_record_name", field.name) } else { plain })
}

/// The kinds a polymorphic reference may point to.
pub fn poly_targets(def: &KindDef, kind_field: &str) -> impl Iterator<Item = shian_domain::Kind> {
    let choices = match def.field(kind_field).map(|(_, f)| f.ty) {
        Some(FieldType::Enum(choices)) => choices,
        _ => &[],
    };
    choices.iter().filter_map(|c| c.target)
}

/// A record as JSON.
pub fn item_json(def: &KindDef, listed: &Listed) -> Json {
    let mut obj = Map::new();
    obj.insert("id".into(), listed.id.into());
    for (i, field) in def.fields.iter().enumerate() {
        let value = listed.values.get(i).unwrap_or(&Value::Null);
        obj.insert(field.name.into(), value_json(field.ty, value));
        if let Some(key) = label_key(def, field) {
            let label = match field.ty {
                FieldType::Region => value.as_text().filter(|c| region::by_code(c).is_some()).map(region_label),
                _ => listed.labels.get(i).cloned().flatten(),
            };
            obj.insert(key, label.map_or(Json::Null, Json::String));
        }
    }
    Json::Object(obj)
}

/// One stored value, written for reading.
pub fn value_json(ty: FieldType, v: &Value) -> Json {
    match (ty, v) {
        (_, Value::Null) => Json::Null,
        (FieldType::Money, Value::Int(fen)) => Json::String(format_money(*fen)),
        (FieldType::DateTime, Value::Int(t)) => Json::String(iso_china(*t)),
        (FieldType::Bool, Value::Int(b)) => Json::Bool(*b != 0),
        (_, Value::Int(i)) => (*i).into(),
        (_, Value::Real(r)) => serde_json::Number::from_f64(*r).map_or(Json::Null, Json::Number),
        (_, Value::Text(s)) => Json::String(s.clone()),
    }
}

/// Unix seconds as ISO 8601 in China Standard Time: `2026-03-05T08:00:00+08:00`.
pub fn iso_china(unix: i64) -> String {
    let local = time::format_datetime(unix);
    match local.split_once(' ') {
        Some((date, clock)) => format!("{date}T{clock}+08:00"),
        None => local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shian_domain::Kind;

    #[test]
    fn times_are_china_time_with_their_offset() {
        assert_eq!(iso_china(1_772_668_800), "2026-03-05T08:00:00+08:00");
    }

    #[test]
    fn money_is_a_yuan_string_and_booleans_are_booleans() {
        assert_eq!(value_json(FieldType::Money, &Value::Int(1250)), Json::String("12.50".into()));
        assert_eq!(value_json(FieldType::Bool, &Value::Int(1)), Json::Bool(true));
    }

    #[test]
    fn labels_never_shadow_a_field() {
        let def = Kind::Inbound.def();
        let (_, supplier) = def.field("supplier").expect("field");
        assert_eq!(label_key(def, supplier).as_deref(), Some("supplier_record_name"));
        let (_, vendor) = def.field("vendor").expect("field");
        assert_eq!(label_key(def, vendor).as_deref(), Some("vendor_name"));
        let (_, cert) = def.field("certificate").expect("field");
        assert_eq!(label_key(def, cert), None, "certificates have no names");
    }
}
