//! `GET /api/docs`: the API described for people, server-rendered from the same endpoint list
//! and record kinds as the OpenAPI document (askama, auto-escaped; no script, nothing fetched).

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use shian_domain::{Field, FieldType, Kind, KindDef, Lang};
use shian_store::query::time_field;

use super::item::label_key;
use super::openapi::{targets_text, type_text};
use super::params::{DEFAULT_LIMIT, MAX_LIMIT, filterable};
use super::{CSRF_HEADER, Endpoint};
use crate::auth::Ctx;
use crate::error::AppError;

/// The page.
#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    lang: &'static str,
    /// The language switch: where it goes and what it says.
    switch_href: String,
    switch_label: &'static str,
    t: Labels,
    endpoints: Vec<EndpointRow>,
    kinds: Vec<KindSection>,
}

/// The page's fixed wording in the reader's language.
struct Labels {
    title: &'static str,
    intro: &'static str,
    auth: String,
    formats: &'static str,
    paging: String,
    errors: &'static str,
    endpoints: &'static str,
    kinds: &'static str,
    method: &'static str,
    path: &'static str,
    what: &'static str,
    field: &'static str,
    zh_name: &'static str,
    type_: &'static str,
    required: &'static str,
    filter: &'static str,
    key: &'static str,
    time: &'static str,
    writable: &'static str,
    read_only: &'static str,
    yes: &'static str,
    openapi: &'static str,
}

struct EndpointRow {
    method: &'static str,
    path: &'static str,
    what: &'static str,
}

struct KindSection {
    name: &'static str,
    zh: &'static str,
    en: &'static str,
    key: String,
    time: String,
    writable: bool,
    fields: Vec<FieldRow>,
}

struct FieldRow {
    name: &'static str,
    zh: &'static str,
    type_: String,
    required: bool,
    filterable: bool,
    note: String,
}

/// `GET /api/docs`, in the reader's language (a broken sign-in does not stop the page).
pub async fn page(ctx: Result<Ctx, AppError>) -> Response {
    let lang = ctx.as_ref().map(|c| c.lang).unwrap_or_default();
    let switch_href = ctx.map(|c| c.other_lang_href()).unwrap_or_else(|_| "/lang/en?back=/api/docs".into());
    let page = DocsPage {
        lang: if lang == Lang::En { "en" } else { "zh-CN" },
        switch_href,
        switch_label: pick(lang, "English", "中文"),
        t: labels(lang),
        endpoints: Endpoint::ALL.iter().map(|e| endpoint_row(*e, lang)).collect(),
        kinds: Kind::ALL.iter().map(|k| kind_section(*k, lang)).collect(),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => super::ApiError::from(AppError::internal(e)).into_response(),
    }
}

fn pick<T>(lang: Lang, zh: T, en: T) -> T {
    if lang == Lang::En { en } else { zh }
}

fn labels(lang: Lang) -> Labels {
    let p = |zh, en| pick(lang, zh, en);
    Labels {
        title: p("食安平台接口说明", "Shian API"),
        intro: p(
            "所有接口只返回您管辖范围内的记录；不存在与超出范围的记录都返回 404。",
            "Every endpoint answers only with records within your scope; a record that does not exist and one outside your scope both answer 404.",
        ),
        auth: pick(
            lang,
            format!(
                "登录方式：请求头 Authorization: Bearer <API 令牌>，或浏览器会话 Cookie（写入时另需在 {CSRF_HEADER} 请求头中提供 CSRF 令牌）。"
            ),
            format!(
                "Sign in with the header Authorization: Bearer <API token>, or a browser session cookie (writes then also send the session's CSRF token in the {CSRF_HEADER} header)."
            ),
        ),
        formats: p(
            "金额为元（两位小数的字符串，如 \"12.50\"）；日期为 YYYY-MM-DD；时间为北京时间 ISO 8601（如 2026-03-05T08:00:00+08:00）；引用字段为对方的业务编码，并在 <字段>_name 中给出对方名称。",
            "Money is yuan as a string with two decimals (\"12.50\"); dates are YYYY-MM-DD; times are ISO 8601 in China time (2026-03-05T08:00:00+08:00); a reference is the referenced record's natural key, with its name in <field>_name.",
        ),
        paging: pick(
            lang,
            format!(
                "列表参数：limit（默认 {DEFAULT_LIMIT}，最多 {MAX_LIMIT}）、before（上一页的 next_before）、q（编码前缀或名称）、region（区划代码前缀）、from / to（主时间字段）、<字段>=值（下表中可筛选的字段）。未知参数或无效取值返回 400。"
            ),
            format!(
                "List parameters: limit (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}), before (the previous page's next_before), q (natural key prefix or name), region (region code prefix), from / to (the main time field), <field>=value (the filterable fields below). Unknown parameters or bad values answer 400."
            ),
        ),
        errors: p(
            "错误统一为 {\"error\": {\"code\", \"message\", \"message_en\", \"fields\"}}，fields 列出每个有误的参数或字段。",
            "Errors are always {\"error\": {\"code\", \"message\", \"message_en\", \"fields\"}}; fields lists each refused parameter or field.",
        ),
        endpoints: p("接口", "Endpoints"),
        kinds: p("记录类型与字段", "Record kinds and their fields"),
        method: p("方法", "Method"),
        path: p("路径", "Path"),
        what: p("说明", "Description"),
        field: p("字段", "Field"),
        zh_name: p("中文名称", "Chinese name"),
        type_: p("类型", "Type"),
        required: p("必填", "Required"),
        filter: p("可筛选", "Filter"),
        key: p("业务主键", "Natural key"),
        time: p("主时间字段", "Time field"),
        writable: p("可通过 POST 新增或更新", "Created or updated with POST"),
        read_only: p("只读（参考数据）", "Read only (reference data)"),
        yes: p("是", "yes"),
        openapi: p("机器可读的描述：", "Machine-readable description: "),
    }
}

fn endpoint_row(e: Endpoint, lang: Lang) -> EndpointRow {
    let (zh, en) = e.summary();
    EndpointRow { method: e.verb().upper(), path: e.path(), what: pick(lang, zh, en) }
}

fn kind_section(kind: Kind, lang: Lang) -> KindSection {
    let def = kind.def();
    KindSection {
        name: def.name,
        zh: def.zh,
        en: def.en,
        key: def.key.join(" + "),
        time: time_field(kind).unwrap_or("—").to_string(),
        writable: def.importable,
        fields: def.fields.iter().map(|f| field_row(def, f, lang)).collect(),
    }
}

fn field_row(def: &KindDef, f: &'static Field, lang: Lang) -> FieldRow {
    let (tzh, ten) = type_text(f.ty);
    let targets = targets_text(def, f);
    let mut note = match f.ty {
        FieldType::Enum(choices) => {
            choices.iter().map(|c| format!("{} = {}", c.code, pick(lang, c.zh, c.en))).collect::<Vec<_>>().join("; ")
        }
        _ if !targets.is_empty() => format!("→ {targets}"),
        _ => f.note.to_string(),
    };
    if f.derived {
        note.push_str(&format!(" — {}", f.note));
    }
    if let Some(label) = label_key(def, f) {
        note.push_str(&format!(" (+ {label})"));
    }
    FieldRow {
        name: f.name,
        zh: f.zh,
        type_: pick(lang, tzh, ten),
        required: f.required,
        filterable: filterable(f),
        note,
    }
}
