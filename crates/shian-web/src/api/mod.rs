//! The JSON API: every record kind under `/api/v1/{kind}`, the risk ledger and the inbox
//! ([`ledger`]), its OpenAPI document at `/api/openapi.json` and a readable page at `/api/docs`.
//!
//! The endpoints are listed once, in [`Endpoint::ALL`]: the router, the OpenAPI document and the
//! docs page are all built from that list and from the record kinds (`shian_domain::kind`), so
//! the documentation cannot drift from what is served.
//!
//! Errors are always the one JSON shape of [`crate::error::AppError::json`], here extended with a
//! `fields` list when a request is refused for particular parameters or fields ([`ApiError`]).
//! Not found and outside the caller's scope are both 404, so a scope check never tells whether a
//! record exists; a kind the caller's role may not see at all, or may not write, is 403.

mod docs;
mod error;
mod item;
pub mod ledger;
pub mod openapi;
mod params;
mod records;
mod write;

use axum::Router;
use axum::routing::{MethodRouter, get, post};
use shian_domain::Kind;
use shian_services::accounts::Principal;

use crate::AppState;
use crate::error::AppError;

pub use error::{ApiError, FieldProblem};
pub use item::{item_json, label_key};
pub use params::{MAX_LIMIT, filterable};

/// The header a browser session sends its CSRF token in when it writes through the API.
/// Bearer-token clients need none.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
}

impl Verb {
    /// The method as written in an OpenAPI path item (`get`).
    pub fn lower(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
        }
    }

    /// The method as written in a request (`GET`).
    pub fn upper(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }
}

/// One endpoint of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /api/v1/{kind}`: a page of records.
    List,
    /// `GET /api/v1/{kind}/{id}`: one record.
    Get,
    /// `POST /api/v1/{kind}`: create or update one record by its natural key.
    Write,
    /// `GET /api/openapi.json`.
    OpenApi,
    /// `GET /api/docs`.
    Docs,
    /// `GET /api/v1/ledger`: a page of risk-ledger entries.
    Ledger,
    /// `GET /api/v1/ledger/{id}`: an entry with its timeline and recall scope.
    LedgerEntry,
    /// `POST /api/v1/ledger/{id}/actions`: record an action on an entry.
    LedgerAct,
    /// `GET /api/v1/inbox`: the caller's notices.
    Inbox,
    /// `POST /api/v1/inbox/{id}/ack`: mark a notice read.
    InboxAck,
}

impl Endpoint {
    /// Every endpoint, in the order the documentation lists them.
    pub const ALL: [Endpoint; 10] = [
        Endpoint::List,
        Endpoint::Get,
        Endpoint::Write,
        Endpoint::Ledger,
        Endpoint::LedgerEntry,
        Endpoint::LedgerAct,
        Endpoint::Inbox,
        Endpoint::InboxAck,
        Endpoint::OpenApi,
        Endpoint::Docs,
    ];

    /// The route, in axum's syntax (also OpenAPI's, once `{kind}` is filled in).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::List | Endpoint::Write => "/api/v1/{kind}",
            Endpoint::Get => "/api/v1/{kind}/{id}",
            Endpoint::OpenApi => "/api/openapi.json",
            Endpoint::Docs => "/api/docs",
            Endpoint::Ledger => "/api/v1/ledger",
            Endpoint::LedgerEntry => "/api/v1/ledger/{id}",
            Endpoint::LedgerAct => "/api/v1/ledger/{id}/actions",
            Endpoint::Inbox => "/api/v1/inbox",
            Endpoint::InboxAck => "/api/v1/inbox/{id}/ack",
        }
    }

    pub fn verb(self) -> Verb {
        match self {
            Endpoint::Write | Endpoint::LedgerAct | Endpoint::InboxAck => Verb::Post,
            _ => Verb::Get,
        }
    }

    /// Whether the endpoint answers without signing in (the documentation).
    pub fn public(self) -> bool {
        matches!(self, Endpoint::OpenApi | Endpoint::Docs)
    }

    /// Whether the path holds `{kind}` and is documented once per record kind.
    pub fn per_kind(self) -> bool {
        self.path().contains("{kind}")
    }

    /// Whether the endpoint serves this kind (writes only for importable kinds).
    pub fn serves(self, kind: Kind) -> bool {
        self != Endpoint::Write || kind.def().importable
    }

    /// What the endpoint does, in Chinese and English.
    pub fn summary(self) -> (&'static str, &'static str) {
        match self {
            Endpoint::List => ("分页查询记录（仅限管辖范围内）", "List records in your scope, a page at a time"),
            Endpoint::Get => ("按编号读取一条记录", "Read one record by id"),
            Endpoint::Write => ("按业务主键新增或更新一条记录", "Create or update one record by its natural key"),
            Endpoint::OpenApi => ("本接口的 OpenAPI 3.1 描述文档", "This API's OpenAPI 3.1 document"),
            Endpoint::Docs => ("接口说明页面", "This API's documentation page"),
            Endpoint::Ledger => (
                "风险台账条目（仅限管辖范围内，可筛选、分页）",
                "Risk-ledger entries in your scope, filtered, a page at a time",
            ),
            Endpoint::LedgerEntry => (
                "读取一条风险台账：待办事项、不合格项目、处置记录、召回范围和来源",
                "One ledger entry: what is due, failed items, timeline, recall scope and origins",
            ),
            Endpoint::LedgerAct => {
                ("记录处置措施（暂扣、复检、销毁、核查办结等）", "Record an action (hold, re-test, destroy, close, …)")
            }
            Endpoint::Inbox => ("我的消息（站内通知）与未读数", "Your notices and the unread count"),
            Endpoint::InboxAck => ("将一条消息标为已读", "Mark a notice read"),
        }
    }

    fn handler(self) -> MethodRouter<AppState> {
        match self {
            Endpoint::List => get(records::list),
            Endpoint::Get => get(records::get_one),
            Endpoint::Write => post(records::write),
            Endpoint::OpenApi => get(openapi::serve),
            Endpoint::Docs => get(docs::page),
            Endpoint::Ledger => get(ledger::list),
            Endpoint::LedgerEntry => get(ledger::get_one),
            Endpoint::LedgerAct => post(ledger::act),
            Endpoint::Inbox => get(ledger::inbox),
            Endpoint::InboxAck => post(ledger::ack),
        }
    }
}

/// The API's routes, to be merged into the application's router.
pub fn routes() -> Router<AppState> {
    Endpoint::ALL.iter().fold(Router::new(), |router, e| router.route(e.path(), e.handler()))
}

/// The kind a URL names by its API name (`vendor`, `rapid_test`), or 404.
pub fn kind_named(name: &str) -> Result<Kind, AppError> {
    Kind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(AppError::not_found)
}

/// The kind a URL names, if the caller's role may see records of it at all (404 for an unknown
/// kind, 403 for one the role never sees).
pub fn visible_kind(user: &Principal, name: &str) -> Result<Kind, AppError> {
    let kind = kind_named(name)?;
    if user.may_see(kind) { Ok(kind) } else { Err(AppError::forbidden()) }
}

/// `market_staff` → `MarketStaff`: the name of a kind's schema in the OpenAPI document.
pub fn schema_name(kind: Kind) -> String {
    kind.name()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}
