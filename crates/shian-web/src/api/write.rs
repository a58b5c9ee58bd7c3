//! Writing one record through the API: the same parsing, verdict derivation and reference
//! resolution as a file import, then a scope check, `Store::write_batch` (which keeps the replaced
//! version in the history) and a line in the audit log.
//!
//! The body is the whole record, as one row of an import file would be: fields by their English
//! names, values as strings or numbers (yes/no fields also as booleans). A field left out or null
//! is empty, so an update replaces the record, as re-importing it would. Keys the API writes but
//! never reads (`id`, derived verdicts, `*_name` labels) are ignored, so an item read from the API
//! can be sent back as it is.
//!
//! Scope: the new version must fall within the caller's scope (judged from the records it refers
//! to: a vendor's market, a receipt's vendor, …) and so must the stored version it replaces, so a
//! market's operator can neither write into another market nor take over another market's record.

use serde_json::{Map, Value as Json};
use shian_domain::access::Scope;
use shian_domain::field::{FieldType, Value};
use shian_domain::{Kind, KindDef};
use shian_services::accounts::{self, Principal};
use shian_store::{Row, Store};

use super::error::{ApiError, FieldProblem};
use super::item::{item_json, label_key};
use crate::error::AppError;
use axum::http::StatusCode;

/// What a write did.
#[derive(Debug)]
pub struct Written {
    /// A new record (201) rather than an update of a stored one (200).
    pub created: bool,
    pub item: Json,
}

/// Parses, checks and writes one record of `kind` for `user`; `client` goes to the audit log.
pub fn upsert(
    store: &mut dyn Store,
    user: &Principal,
    kind: Kind,
    body: &Map<String, Json>,
    client: &str,
) -> Result<Written, ApiError> {
    let def = kind.def();
    let mut row = parse_body(def, body)?;
    resolve_references(store, def, &mut row)?;
    let key: Vec<Value> = def.key_positions().into_iter().map(|i| row[i].clone()).collect();
    let existing = store.find(kind, &key)?;
    if !row_in_scope(store, &user.scope, kind, &row, existing)? {
        return Err(out_of_scope().into());
    }
    let before = match existing {
        Some(id) => Some(store.get(kind, id, &user.scope)?.ok_or_else(out_of_scope)?),
        None => None,
    };
    store.write_batch(kind, std::slice::from_ref(&row), None)?;
    let id = store.find(kind, &key)?.ok_or_else(|| AppError::internal("a written record cannot be found"))?;
    let after = match store.get(kind, id, &user.scope)? {
        Some(listed) => listed,
        None => store.get(kind, id, &Scope::All)?.ok_or_else(|| AppError::internal("written record vanished"))?,
    };
    let before = before.map(|b| item_json(def, &b));
    let after = item_json(def, &after);
    record_audit(store, user, def, before.as_ref(), &after, client)?;
    Ok(Written { created: before.is_none(), item: after })
}

/// 403: the record lies outside the caller's scope (or its key belongs to a record that does).
pub fn out_of_scope() -> AppError {
    AppError::new(
        StatusCode::FORBIDDEN,
        "out_of_scope",
        "该记录不在您的管辖范围内，不能写入",
        "this record is outside your scope and cannot be written",
    )
}

fn record_audit(
    store: &mut dyn Store,
    user: &Principal,
    def: &KindDef,
    before: Option<&Json>,
    after: &Json,
    client: &str,
) -> Result<(), ApiError> {
    let action = if before.is_some() { "api.update" } else { "api.create" };
    let key: Vec<String> = def.key.iter().map(|k| after.get(k).map(text_of).unwrap_or_default()).collect();
    let before = before.map(Json::to_string);
    accounts::audit(
        store,
        &user.username,
        action,
        Some(def.name),
        Some(&key.join(",")),
        before.as_deref(),
        Some(&after.to_string()),
        Some(client),
    )
    .map_err(|e| ApiError::from(AppError::from(e)))
}

fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// The body as a row whose references still hold natural keys, derived fields computed.
fn parse_body(def: &'static KindDef, body: &Map<String, Json>) -> Result<Row, ApiError> {
    let mut row = vec![Value::Null; def.fields.len()];
    let mut problems = Vec::new();
    for (name, json) in body {
        match def.field(name) {
            Some((i, field)) if !field.derived => match parse_value(field.ty, json) {
                Ok(v) => row[i] = v,
                Err(p) => problems.push(FieldProblem { field: name.clone(), reason: p }),
            },
            _ if output_only(def, name) => {}
            _ => problems.push(FieldProblem::new(name.as_str(), "未知字段", "unknown field")),
        }
    }
    for (i, field) in def.fields.iter().enumerate() {
        if field.required && !field.derived && row[i].is_null() && !problems.iter().any(|p| p.field == field.name) {
            problems.push(FieldProblem::new(field.name, "必填项为空", "required value is empty"));
        }
    }
    if problems.is_empty()
        && let Err((name, e)) = def.derive(&mut row)
    {
        problems.push(FieldProblem { field: name.to_string(), reason: e.reason });
    }
    if problems.is_empty() { Ok(row) } else { Err(ApiError::invalid(problems)) }
}

/// Keys the API writes in an item but never reads.
fn output_only(def: &KindDef, name: &str) -> bool {
    name == "id"
        || def.fields.iter().any(|f| f.derived && f.name == name)
        || def.fields.iter().any(|f| label_key(def, f).as_deref() == Some(name))
}

/// One JSON value as import would read its cell.
fn parse_value(ty: FieldType, json: &Json) -> Result<Value, shian_domain::Msg> {
    let raw = match json {
        Json::Null => return Ok(Value::Null),
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Array(_) | Json::Object(_) => {
            return Err(shian_domain::Msg::new("应为字符串或数字", "must be a string or a number"));
        }
    };
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    ty.parse(&raw).map_err(|e| e.reason)
}

/// The kind a reference field of `row` points to (for a polymorphic one, by its kind field).
fn target(def: &KindDef, row: &Row, ty: FieldType) -> Option<Kind> {
    match ty {
        FieldType::Ref(k) => Some(k),
        FieldType::PolyRef { kind_field } => {
            let (i, f) = def.field(kind_field)?;
            let FieldType::Enum(choices) = f.ty else { return None };
            let code = row[i].as_text()?;
            choices.iter().find(|c| c.code == code)?.target
        }
        _ => None,
    }
}

/// Replaces the natural keys of references by ids, as import does; an unknown key is a problem
/// of its field.
fn resolve_references(store: &dyn Store, def: &KindDef, row: &mut Row) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    for (i, field) in def.fields.iter().enumerate() {
        let Value::Text(key) = &row[i] else { continue };
        if !field.ty.is_ref() {
            continue;
        }
        let Some(kind) = target(def, row, field.ty) else {
            problems.push(FieldProblem::new(
                field.name,
                "该类型的对方不登记编码，请留空并填写名称",
                "this kind of counterparty has no code: leave it empty",
            ));
            continue;
        };
        match store.resolve(kind, &[key.as_str()])?.pop() {
            Some((_, id)) => row[i] = Value::Int(id),
            None => {
                let t = kind.def();
                problems.push(FieldProblem::new(
                    field.name,
                    format!("{}“{}”不存在", t.zh, key),
                    format!("no {} with code \"{}\"", t.en, key),
                ));
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(ApiError::invalid(problems)) }
}

/// The id a resolved reference field holds.
fn id_of(def: &KindDef, row: &Row, name: &str) -> Option<i64> {
    def.field(name).and_then(|(i, _)| row[i].as_int())
}

fn text_in<'a>(def: &KindDef, row: &'a Row, name: &str) -> Option<&'a str> {
    def.field(name).and_then(|(i, _)| row[i].as_text())
}

/// Whether the record `id` of `kind` is within `scope` (a missing id never is).
fn visible(store: &dyn Store, kind: Kind, id: Option<i64>, scope: &Scope) -> Result<bool, ApiError> {
    match id {
        Some(id) => Ok(store.get(kind, id, scope)?.is_some()),
        None => Ok(false),
    }
}

/// Whether a new version of a record falls within `scope`: the rules of the store's scope
/// conditions (`shian_store::query::scope_condition`), judged before writing from the records
/// the row refers to. `existing` is the id of the stored record with the same key, if any.
fn row_in_scope(
    store: &dyn Store,
    scope: &Scope,
    kind: Kind,
    row: &Row,
    existing: Option<i64>,
) -> Result<bool, ApiError> {
    let def = kind.def();
    let id = |name: &str| id_of(def, row, name);
    Ok(match kind {
        _ if *scope == Scope::All => true,
        Kind::Region | Kind::Variety => false,
        Kind::Market => match scope {
            Scope::Market(m) => existing == Some(*m),
            _ => text_in(def, row, "region").is_some_and(|r| scope.covers_region(r)),
        },
        Kind::MarketStaff
        | Kind::Vendor
        | Kind::RapidTest
        | Kind::Inspection
        | Kind::RoutineRecord
        | Kind::Complaint
        | Kind::Case => market_bound(store, scope, id("market"), id("vendor"))?,
        Kind::VendorVariety | Kind::Inbound => visible(store, Kind::Vendor, id("vendor"), scope)?,
        Kind::Outbound => match scope {
            Scope::Enterprise(_) => {
                text_in(def, row, "buyer_kind") != Some("vendor") && visible(store, Kind::Buyer, id("buyer"), scope)?
            }
            _ => visible(store, Kind::Vendor, id("vendor"), scope)?,
        },
        Kind::Producer | Kind::Buyer => own_region(def, row, "region", scope, existing),
        Kind::OriginCertificate | Kind::QuarantineCertificate => own_region(def, row, "origin", scope, existing),
        Kind::Sample => sample_in_scope(store, def, row, scope)?,
        Kind::SampleItem => visible(store, Kind::Sample, id("sample"), scope)?,
    })
}

/// A record of a market (and, if it names one, of a vendor, who must be within scope too).
fn market_bound(store: &dyn Store, scope: &Scope, market: Option<i64>, vendor: Option<i64>) -> Result<bool, ApiError> {
    Ok(visible(store, Kind::Market, market, scope)?
        && (vendor.is_none() || visible(store, Kind::Vendor, vendor, scope)?))
}

/// Producers, buyers and certificates lie where their region says; a chain's headquarters owns
/// itself and its stores.
fn own_region(def: &KindDef, row: &Row, column: &str, scope: &Scope, existing: Option<i64>) -> bool {
    match scope {
        Scope::Region(_) => text_in(def, row, column).is_some_and(|r| scope.covers_region(r)),
        Scope::Enterprise(e) if def.kind == Kind::Buyer => existing == Some(*e) || id_of(def, row, "chain") == Some(*e),
        _ => false,
    }
}

/// A sample belongs to its market, or to the buyer or producer it was taken from.
fn sample_in_scope(store: &dyn Store, def: &KindDef, row: &Row, scope: &Scope) -> Result<bool, ApiError> {
    if visible(store, Kind::Market, id_of(def, row, "market"), scope)? {
        return Ok(true);
    }
    let subject = id_of(def, row, "subject");
    match text_in(def, row, "subject_kind") {
        Some("buyer") => visible(store, Kind::Buyer, subject, scope),
        Some("producer") => visible(store, Kind::Producer, subject, scope),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Json) -> Map<String, Json> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn every_bad_field_is_listed() {
        let b = body(serde_json::json!({"code": "V-1", "market": 12, "phone": "123", "colour": "red"}));
        let err = parse_body(Kind::Vendor.def(), &b).expect_err("refused");
        let mut fields: Vec<&str> = err.fields.iter().map(|p| p.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["colour", "name", "phone", "subject_kind"]);
    }

    #[test]
    fn verdicts_are_derived_and_sent_ones_ignored() {
        let b = body(serde_json::json!({
            "test_no": "T1", "market": "M1", "variety": "V1", "item": "有机磷", "method": "enzyme_inhibition",
            "value": 62, "tested_at": "2026-03-05 08:00", "verdict": "pass", "id": 7, "market_name": "x"
        }));
        let def = Kind::RapidTest.def();
        let row = parse_body(def, &b).expect("parsed");
        let (i, _) = def.field("verdict").expect("field");
        assert_eq!(row[i], Value::Text("fail".into()));
    }
}
