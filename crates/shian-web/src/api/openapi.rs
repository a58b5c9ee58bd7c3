//! The OpenAPI 3.1 document of the API, generated from the endpoint list ([`Endpoint::ALL`]) and
//! the record kinds (`shian_domain::kind`): one path per kind and endpoint, a schema per kind
//! with each field's type and its Chinese and English names, the error shape and the two ways to
//! sign in (bearer token, session cookie).

use std::sync::OnceLock;

use axum::Json;
use serde_json::{Map, Value, json};
use shian_domain::field::FieldType;
use shian_domain::unit::Unit;
use shian_domain::{Field, Kind, KindDef};
use shian_store::query::time_field;

use super::item::{label_key, poly_targets};
use super::params::{DEFAULT_LIMIT, MAX_LIMIT, filterable, has_region};
use super::{CSRF_HEADER, Endpoint, schema_name};
use crate::auth::SESSION_COOKIE;

/// `GET /api/openapi.json`.
pub async fn serve() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}

/// The whole document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "食安 Shian API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "食用农产品数字化监管平台接口：按管辖范围查询和写入各类记录。\n\n\
                Shian's API: read and write the platform's records within your scope. Money is yuan as a \
                string with two decimals; times are ISO 8601 in China Standard Time (+08:00); references \
                are the referenced record's natural key with its name beside it in `<field>_name`.",
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "parameters": parameters(),
            "responses": responses(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "API 令牌 / API token: `Authorization: Bearer shian_…`"},
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                    "description": format!("浏览器会话；写入时需在 {CSRF_HEADER} 头中提供 CSRF 令牌 / \
                        browser session; writes also send the session's CSRF token in {CSRF_HEADER}")},
            },
        },
    })
}

fn paths() -> Map<String, Value> {
    let mut paths = Map::new();
    for e in Endpoint::ALL {
        if e.per_kind() {
            for kind in Kind::ALL.into_iter().filter(|k| e.serves(*k)) {
                add(&mut paths, &e.path().replace("{kind}", kind.name()), e, operation(e, Some(kind)));
            }
        } else {
            add(&mut paths, e.path(), e, operation(e, None));
        }
    }
    paths
}

fn add(paths: &mut Map<String, Value>, path: &str, e: Endpoint, op: Value) {
    let item = paths.entry(path.to_string()).or_insert_with(|| json!({}));
    item[e.verb().lower()] = op;
}

fn reference(section: &str, name: &str) -> Value {
    json!({"$ref": format!("#/components/{section}/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// One operation; `kind` for the per-kind endpoints.
fn operation(e: Endpoint, kind: Option<Kind>) -> Value {
    if let Some(op) = super::ledger::operation(e) {
        return op;
    }
    let (zh, en) = e.summary();
    let Some(kind) = kind else {
        let content = match e {
            Endpoint::Docs => json!({"text/html": {"schema": {"type": "string"}}}),
            _ => json_content(json!({"type": "object"})),
        };
        return json!({
            "operationId": e.path().trim_start_matches("/api/").replace(['.', '/'], "_"),
            "summary": format!("{zh} / {en}"),
            "security": [],
            "responses": {"200": {"description": "OK", "content": content}},
        });
    };
    let def = kind.def();
    let s = schema_name(kind);
    let mut op = json!({
        "tags": [kind.name()],
        "summary": format!("{}：{zh} / {}: {en}", def.zh, def.en),
        "responses": {
            "401": reference("responses", "Unauthorized"),
            "403": reference("responses", "Forbidden"),
        },
    });
    match e {
        Endpoint::List => {
            op["operationId"] = json!(format!("list_{}", kind.name()));
            op["parameters"] = Value::Array(list_parameters(kind));
            op["responses"]["200"] = ok("一页记录 / a page of records", &format!("{s}Page"));
            op["responses"]["400"] = reference("responses", "BadRequest");
        }
        Endpoint::Get => {
            op["operationId"] = json!(format!("get_{}", kind.name()));
            op["parameters"] = json!([reference("parameters", "id")]);
            op["responses"]["200"] = ok("记录 / the record", &s);
            op["responses"]["404"] = reference("responses", "NotFound");
        }
        _ => {
            op["operationId"] = json!(format!("write_{}", kind.name()));
            op["description"] = json!(WRITE_NOTE);
            op["parameters"] = json!([reference("parameters", "csrf")]);
            op["requestBody"] =
                json!({"required": true, "content": json_content(reference("schemas", &format!("{s}Input")))});
            op["responses"]["200"] = ok("已更新（或未变） / updated (or unchanged)", &s);
            op["responses"]["201"] = ok("已新增 / created", &s);
            op["responses"]["400"] = reference("responses", "BadRequest");
        }
    }
    op
}

const WRITE_NOTE: &str = "请求体是整条记录（与导入文件的一行相同），按业务主键新增或更新；未提供的字段视为空。\
    记录须在您的管辖范围内；每次写入都会保留旧版本并记入审计日志。\n\n\
    The body is the whole record, like one row of an import file; it is created or updated by its natural \
    key, and fields left out are emptied. The record must lie within your scope; the replaced version is \
    kept in the history and the write is audited. `id`, derived verdicts and `*_name` labels are ignored.";

fn ok(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": json_content(reference("schemas", schema))})
}

/// The list parameters that apply to a kind, then one equality filter per filterable field.
fn list_parameters(kind: Kind) -> Vec<Value> {
    let def = kind.def();
    let mut out =
        vec![reference("parameters", "limit"), reference("parameters", "before"), reference("parameters", "q")];
    if has_region(kind) {
        out.push(reference("parameters", "region"));
    }
    if let Some(field) = time_field(kind) {
        for (name, zh, en) in [("from", "起", "from"), ("to", "止", "until")] {
            out.push(json!({
                "name": name, "in": "query", "required": false, "schema": {"type": "string"},
                "description": format!("{}{zh}（日期或时间） / {field} {en} (a date or a time; `to` with a date takes in the whole day)",
                    def.field(field).map(|(_, f)| f.zh).unwrap_or(field)),
            }));
        }
    }
    for field in def.fields.iter().filter(|f| filterable(f)) {
        out.push(json!({
            "name": field.name, "in": "query", "required": false,
            "schema": {"type": "string"},
            "description": format!("按“{}”筛选（相等） / equal to {}", field.zh, field.name),
        }));
    }
    out
}

fn parameters() -> Value {
    json!({
        "limit": {"name": "limit", "in": "query", "required": false,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "description": "每页条数 / records per page"},
        "before": {"name": "before", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1},
            "description": "翻页：上一页的 next_before / keyset paging: the previous page's next_before"},
        "q": {"name": "q", "in": "query", "required": false, "schema": {"type": "string", "maxLength": 100},
            "description": "搜索：编码前缀或名称包含 / search: natural key prefix or name contains"},
        "region": {"name": "region", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[0-9]{2}([0-9]{2}){0,2}$"},
            "description": "行政区划代码前缀（13、1301、130102） / region code prefix"},
        "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"},
            "description": "记录编号 / record id"},
        "csrf": {"name": CSRF_HEADER, "in": "header", "required": false, "schema": {"type": "string"},
            "description": "浏览器会话写入时必填 / required when writing with a browser session"},
    })
}

fn responses() -> Value {
    let r = |zh: &str, en: &str| json!({"description": format!("{zh} / {en}"), "content": json_content(reference("schemas", "Error"))});
    json!({
        "BadRequest": r("参数或字段有误，fields 列出每一项", "parameters or fields refused, each listed in fields"),
        "Unauthorized": r("未登录或令牌无效", "not signed in, or the token is unknown or revoked"),
        "Forbidden": r("角色无权操作，或记录不在管辖范围内", "the role may not do this, or the record is outside your scope"),
        "NotFound": r("记录不存在或不在管辖范围内", "not found, or outside your scope"),
    })
}

fn schemas() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("Error".into(), error_schema());
    out.extend(super::ledger::schemas().into_iter().map(|(name, schema)| (name.to_string(), schema)));
    for kind in Kind::ALL {
        let s = schema_name(kind);
        out.insert(s.clone(), item_schema(kind.def()));
        out.insert(
            format!("{s}Page"),
            json!({"type": "object", "required": ["items", "next_before"], "properties": {
                "items": {"type": "array", "items": reference("schemas", &s)},
                "next_before": {"type": ["integer", "null"],
                    "description": "下一页的 before 参数，没有下一页时为 null / the next page's before, null on the last page"},
            }}),
        );
        if kind.def().importable {
            out.insert(format!("{s}Input"), input_schema(kind.def()));
        }
    }
    out
}

fn error_schema() -> Value {
    json!({
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message", "message_en"], "properties": {
            "code": {"type": "string"},
            "message": {"type": "string", "description": "中文说明"},
            "message_en": {"type": "string", "description": "English message"},
            "fields": {"type": "array", "items": {"type": "object", "required": ["field", "message", "message_en"],
                "properties": {
                    "field": {"type": "string"}, "message": {"type": "string"}, "message_en": {"type": "string"}}}},
        }}},
    })
}

/// A record as the API writes it.
fn item_schema(def: &KindDef) -> Value {
    let mut props = Map::new();
    let mut required = vec![json!("id")];
    props.insert("id".into(), json!({"type": "integer", "readOnly": true, "description": "记录编号 / record id"}));
    for field in def.fields {
        props.insert(field.name.into(), output_field(field));
        required.push(json!(field.name));
        if let Some(key) = label_key(def, field) {
            props.insert(
                key.clone(),
                json!({"type": ["string", "null"], "readOnly": true,
                "description": format!("“{}”对应的名称 / name of the {} referred to", field.zh, field.name)}),
            );
            required.push(json!(key));
        }
    }
    json!({"type": "object", "description": kind_description(def), "required": required, "properties": props})
}

/// A record as the API reads it.
fn input_schema(def: &KindDef) -> Value {
    let mut props = Map::new();
    for field in def.fields.iter().filter(|f| !f.derived) {
        let types = match field.ty {
            FieldType::Int { .. }
            | FieldType::Real { .. }
            | FieldType::Quantity
            | FieldType::Money
            | FieldType::Lon
            | FieldType::Lat => json!(["number", "string", "null"]),
            FieldType::Bool => json!(["boolean", "string", "null"]),
            _ => json!(["string", "null"]),
        };
        props.insert(field.name.into(), json!({"type": types, "description": field_description(field)}));
    }
    let required: Vec<&str> = def.fields.iter().filter(|f| f.required && !f.derived).map(|f| f.name).collect();
    json!({"type": "object", "description": kind_description(def), "required": required, "properties": props})
}

fn kind_description(def: &KindDef) -> String {
    format!("{}（{}）；业务主键 / natural key: {}", def.zh, def.en, def.key.join(" + "))
}

/// The schema of one field's value in an item.
fn output_field(field: &Field) -> Value {
    let mut s = base_schema(field.ty);
    if !field.required {
        nullable(&mut s);
    }
    s["description"] = json!(field_description(field));
    if field.derived {
        s["readOnly"] = json!(true);
    }
    s
}

fn nullable(s: &mut Value) {
    if let Some(t) = s.get("type").cloned() {
        s["type"] = json!([t, "null"]);
    }
    if let Some(Value::Array(choices)) = s.get_mut("enum") {
        choices.push(Value::Null);
    }
}

fn base_schema(ty: FieldType) -> Value {
    match ty {
        FieldType::Text(n) => json!({"type": "string", "maxLength": n}),
        FieldType::Code | FieldType::Ref(_) | FieldType::PolyRef { .. } => {
            json!({"type": "string", "pattern": "^[A-Za-z0-9._/-]{1,64}$"})
        }
        FieldType::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        FieldType::Real { min, max } => json!({"type": "number", "minimum": min, "maximum": max}),
        FieldType::Quantity => json!({"type": "number", "exclusiveMinimum": 0}),
        FieldType::Money => json!({"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::DateTime => json!({"type": "string", "format": "date-time"}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Enum(choices) => {
            json!({"type": "string", "enum": choices.iter().map(|c| c.code).collect::<Vec<_>>()})
        }
        FieldType::Unit => json!({"type": "string", "enum": Unit::ALL.iter().map(|(_, c, _)| *c).collect::<Vec<_>>()}),
        FieldType::Region => json!({"type": "string", "pattern": "^[0-9]{6}$"}),
        FieldType::Uscc | FieldType::UsccOrId => json!({"type": "string", "minLength": 18, "maxLength": 18}),
        FieldType::Phone => json!({"type": "string", "pattern": "^[0-9]{10,12}$"}),
        FieldType::Lon => json!({"type": "number", "minimum": 73, "maximum": 136}),
        FieldType::Lat => json!({"type": "number", "minimum": 3, "maximum": 54}),
    }
}

/// `销售者编码 / vendor — 类型 / type …`: the names, the type and the allowed values.
pub fn field_description(field: &Field) -> String {
    let (zh, en) = type_text(field.ty);
    let mut d = format!("{} / {}。{zh} / {en}", field.zh, field.name);
    if let FieldType::Enum(choices) = field.ty {
        let listed: Vec<String> = choices.iter().map(|c| format!("{} = {}（{}）", c.code, c.zh, c.en)).collect();
        d.push_str(&format!("：{}", listed.join("；")));
    }
    if !field.note.is_empty() {
        d.push_str(&format!(" — {}", field.note));
    }
    d
}

/// A field type in words, in Chinese and English.
pub fn type_text(ty: FieldType) -> (String, String) {
    let s = |zh: &str, en: &str| (zh.to_string(), en.to_string());
    match ty {
        FieldType::Text(n) => (format!("文本，最多 {n} 字"), format!("text, at most {n} characters")),
        FieldType::Code => s("编码", "code"),
        FieldType::Int { min, max } => (format!("整数 {min}–{max}"), format!("whole number {min}–{max}")),
        FieldType::Real { min, max } => (format!("数值 {min}–{max}"), format!("number {min}–{max}")),
        FieldType::Quantity => s("数量（大于 0）", "quantity (above 0)"),
        FieldType::Money => s("金额（元，两位小数的字符串）", "money (yuan, a string with two decimals)"),
        FieldType::Date => s("日期 YYYY-MM-DD", "date YYYY-MM-DD"),
        FieldType::DateTime => s("时间（北京时间，ISO 8601 +08:00）", "time (China time, ISO 8601 +08:00)"),
        FieldType::Bool => s("是/否", "yes/no"),
        FieldType::Enum(_) => s("枚举代码", "enumeration code"),
        FieldType::Unit => s("计量单位代码", "unit code"),
        FieldType::Region => s("行政区划代码（GB/T 2260）", "region code (GB/T 2260)"),
        FieldType::Ref(k) => (format!("引用{}的业务编码", k.def().zh), format!("natural key of a {}", k.def().en)),
        FieldType::PolyRef { kind_field } => (
            format!("引用对方的业务编码（对方类型见 {kind_field}）"),
            format!("natural key of the counterparty whose kind {kind_field} names"),
        ),
        FieldType::Uscc => s("统一社会信用代码", "unified social credit code"),
        FieldType::UsccOrId => s("统一社会信用代码或身份证号", "credit code or ID number"),
        FieldType::Phone => s("电话号码", "phone number"),
        FieldType::Lon => s("经度", "longitude"),
        FieldType::Lat => s("纬度", "latitude"),
    }
}

/// The kinds a polymorphic field of `def` may point to, named, for the docs page.
pub fn targets_text(def: &KindDef, field: &Field) -> String {
    match field.ty {
        FieldType::Ref(k) => k.name().to_string(),
        FieldType::PolyRef { kind_field } => {
            poly_targets(def, kind_field).map(|k| k.name()).collect::<Vec<_>>().join(" | ")
        }
        _ => String::new(),
    }
}
