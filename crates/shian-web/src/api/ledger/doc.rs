//! The OpenAPI description of the ledger and inbox endpoints: their operations (parameters,
//! responses, request body) and the schemas of what they answer.

use serde_json::{Value, json};

use super::super::Endpoint;
use super::super::params::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::pages::ledger::SOURCES;

fn reference(section: &str, name: &str) -> Value {
    json!({"$ref": format!("#/components/{section}/{name}")})
}

fn ok(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": reference("schemas", schema)}}})
}

fn id_parameter() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "description": "编号 / id"})
}

/// What differs between the operations: id, parameters, success status and response.
fn parts(e: Endpoint) -> Option<(&'static str, Value, &'static str, Value)> {
    let csrf = reference("parameters", "csrf");
    Some(match e {
        Endpoint::Ledger => {
            ("list_ledger", ledger_parameters(), "200", ok("一页台账条目 / a page of entries", "LedgerPage"))
        }
        Endpoint::LedgerEntry => {
            ("get_ledger_entry", json!([id_parameter()]), "200", ok("条目 / the entry", "LedgerEntryDetail"))
        }
        Endpoint::LedgerAct => {
            ("act_on_ledger_entry", json!([id_parameter(), csrf]), "201", ok("已记录 / recorded", "LedgerActionResult"))
        }
        Endpoint::Inbox => ("list_inbox", inbox_parameters(), "200", ok("消息 / notices", "InboxPage")),
        Endpoint::InboxAck => {
            ("acknowledge_notice", json!([id_parameter(), csrf]), "200", ok("已读 / acknowledged", "Acknowledged"))
        }
        _ => return None,
    })
}

/// The OpenAPI operation of a ledger or inbox endpoint (`None` for the others).
pub fn operation(e: Endpoint) -> Option<Value> {
    let (op_id, params, code, response) = parts(e)?;
    let (zh, en) = e.summary();
    let tag = if matches!(e, Endpoint::Inbox | Endpoint::InboxAck) { "inbox" } else { "ledger" };
    let mut op = json!({
        "tags": [tag],
        "operationId": op_id,
        "summary": format!("{zh} / {en}"),
        "parameters": params,
        "responses": {
            "400": reference("responses", "BadRequest"),
            "401": reference("responses", "Unauthorized"),
            "403": reference("responses", "Forbidden"),
        },
    });
    op["responses"][code] = response;
    if matches!(e, Endpoint::LedgerEntry | Endpoint::LedgerAct | Endpoint::InboxAck) {
        op["responses"]["404"] = reference("responses", "NotFound");
    }
    if e == Endpoint::LedgerAct {
        let body = json!({"application/json": {"schema": reference("schemas", "LedgerActionInput")}});
        op["requestBody"] = json!({"required": true, "content": body});
    }
    Some(op)
}

fn query(name: &str, schema: Value, zh: &str, en: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": format!("{zh} / {en}")})
}

fn enumeration(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn ledger_parameters() -> Value {
    let states = ["active", "open", "in_disposal", "disposed", "verified_closed"];
    let sources: Vec<&str> = SOURCES.iter().map(|s| s.0).collect();
    let region = json!({"type": "string", "pattern": "^[0-9]{2}([0-9]{2}){0,2}$"});
    json!([
        reference("parameters", "limit"),
        reference("parameters", "before"),
        query("state", enumeration(&states), "状态（active = 待处置或处置中）", "state (active: open or in disposal)"),
        query("level", enumeration(&["general", "major", "serious"]), "风险等级", "level"),
        query("source", enumeration(&sources), "来源", "source"),
        query("market", json!({"type": "string"}), "市场编码", "market code"),
        query("region", region, "行政区划代码前缀（只能缩小管辖范围）", "region code prefix (narrows your scope)"),
        query("overdue", json!({"type": "boolean"}), "仅逾期", "overdue only"),
        query(
            "q",
            json!({"type": "string"}),
            "搜索事项、市场、销售者、品种、批次",
            "search title, market, vendor, lot"
        ),
    ])
}

fn inbox_parameters() -> Value {
    let limit = json!({"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT});
    json!([
        query("limit", limit, "每页条数（0 = 只要未读数）", "notices per page (0: the unread count only)"),
        reference("parameters", "before"),
        query("unread", json!({"type": "boolean"}), "只看未读", "unread only"),
    ])
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn array_of(schema: &str) -> Value {
    json!({"type": "array", "items": reference("schemas", schema)})
}

fn entry_schema() -> Value {
    let text = || json!({"type": "string"});
    let maybe = || json!({"type": ["string", "null"]});
    let time = || json!({"type": "string", "format": "date-time"});
    let required = ["id", "level", "state", "title", "deadline", "overdue", "due"];
    let mut s = object(
        &required,
        json!({
            "id": {"type": "integer"}, "level": enumeration(&["general", "major", "serious"]), "level_label": text(),
            "state": enumeration(&["open", "in_disposal", "disposed", "verified_closed"]), "state_label": text(),
            "source": text(), "source_key": maybe(), "title": text(), "market": maybe(), "market_name": maybe(),
            "vendor": maybe(), "variety": maybe(), "lot_code": maybe(), "region": maybe(), "owner_role": text(),
            "owner": maybe(), "opened": text(), "deadline": text(), "opened_at": time(), "deadline_at": time(),
            "overdue": {"type": "boolean"}, "due": array_of("LedgerDue"), "href": text(),
        }),
    );
    s["description"] = json!("风险台账条目 / a ledger entry");
    s
}

fn detail_schema() -> Value {
    let event = object(
        &["at", "kind", "what"],
        json!({
            "at": {"type": "string", "format": "date-time"},
            "kind": enumeration(&["opened", "action", "escalation", "notice", "delivery"]),
            "what": {"type": "string"}, "detail": {"type": "string"}, "who": {"type": "string"},
            "status": {"type": "string"}, "href": {"type": ["string", "null"]},
        }),
    );
    object(
        &["entry", "items", "timeline"],
        json!({
            "entry": reference("schemas", "LedgerEntry"),
            "items": {"type": "array", "items": {"type": "object"}, "description": "不合格项目 / failed items"},
            "timeline": {"type": "array", "items": event},
            "recall": {"type": ["object", "null"], "description": "召回范围：接收方清单 / recall scope: recipients"},
            "origins": {"type": ["object", "null"], "description": "来源追溯 / origins of the goods"},
        }),
    )
}

fn action_input_schema() -> Value {
    let actions =
        ["hold", "recall", "destroy", "return", "retest", "notify_origin", "open_case", "note", "dispose", "close"];
    object(
        &["action"],
        json!({
            "action": enumeration(&actions),
            "note": {"type": "string"},
            "method": {"type": "string", "description": "复检方法（实验室方法） / re-test method (a laboratory one)"},
            "result": {"type": "string", "enum": ["pass", "fail"], "description": "复检结果 / re-test result"},
        }),
    )
}

fn notification_schema() -> Value {
    let text = || json!({"type": "string"});
    object(
        &["id", "title", "body", "created_at"],
        json!({
            "id": {"type": "integer"}, "entry_id": {"type": ["integer", "null"]}, "reason": text(),
            "title": text(), "title_en": text(), "body": text(), "body_en": text(),
            "created_at": {"type": "string", "format": "date-time"},
            "read_at": {"type": ["string", "null"], "format": "date-time"}, "href": {"type": ["string", "null"]},
        }),
    )
}

/// The schemas of the ledger and inbox endpoints.
pub fn schemas() -> Vec<(&'static str, Value)> {
    let next = json!({"type": ["integer", "null"], "description": "下一页的 before / the next page's before"});
    let due = json!({"what": {"type": "string"}, "what_en": {"type": "string"},
        "by": {"type": ["string", "null"], "format": "date-time"}, "overdue": {"type": "boolean"}});
    let stopped =
        json!({"type": "boolean", "description": "本页读到上限，可能未满 / the page stopped at its read limit"});
    vec![
        ("LedgerDue", object(&["what", "overdue"], due)),
        ("LedgerEntry", entry_schema()),
        (
            "LedgerPage",
            object(
                &["items", "next_before"],
                json!({"items": array_of("LedgerEntry"), "next_before": next, "stopped": stopped}),
            ),
        ),
        ("LedgerEntryDetail", detail_schema()),
        ("LedgerActionInput", action_input_schema()),
        (
            "LedgerActionResult",
            object(&["id", "entry"], json!({"id": {"type": "integer"}, "entry": reference("schemas", "LedgerEntry")})),
        ),
        ("Notification", notification_schema()),
        (
            "InboxPage",
            object(
                &["items", "unread", "next_before"],
                json!({"items": array_of("Notification"), "unread": {"type": "integer"},
                    "unread_capped": {"type": "boolean"}, "next_before": next}),
            ),
        ),
        (
            "Acknowledged",
            object(
                &["id", "acknowledged"],
                json!({"id": {"type": "integer"},
                    "acknowledged": {"type": "boolean", "description": "false：此前已读 / false: read already"}}),
            ),
        ),
    ]
}
