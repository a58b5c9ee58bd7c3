//! 检测项目与限量: the test catalogue, each item's limit per food with its method and citation,
//! the previous versions, and the administrator's edit form.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shian_domain::{Lang, catalogue};
use shian_store::catalogue::{TestItemChange, TestItemRecord, TestItemVersion};

use super::render;
use crate::AppState;
use crate::auth::{Auth, Ctx};
use crate::error::AppError;

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    ctx: Ctx,
    items: Vec<TestItemRecord>,
}

impl CataloguePage {
    fn class(&self, class: &str) -> &'static str {
        class_label(class, self.ctx.lang)
    }

    fn food(&self, code: &str) -> String {
        food_label(code)
    }
}

fn class_label(class: &str, lang: Lang) -> &'static str {
    match (class, lang) {
        ("pesticide", Lang::Zh) => "农药残留",
        ("vet_drug", Lang::Zh) => "兽药残留",
        ("banned", Lang::Zh) => "禁用物质",
        ("heavy_metal", Lang::Zh) => "重金属",
        ("pesticide", Lang::En) => "pesticide residue",
        ("vet_drug", Lang::En) => "veterinary drug residue",
        ("banned", Lang::En) => "banned substance",
        _ => "heavy metal",
    }
}

/// "芹菜（010101）" for a variety or class code.
fn food_label(code: &str) -> String {
    match catalogue::variety(code) {
        Some(v) => format!("{}（{code}）", v.name),
        None => code.to_string(),
    }
}

fn limit_text(limit: f64, lang: Lang) -> String {
    match (limit <= 0.0, lang) {
        (true, Lang::Zh) => "不得检出".into(),
        (true, Lang::En) => "not to be detected".into(),
        (false, _) => format!("{limit} mg/kg"),
    }
}

/// `/catalogue`
pub async fn list(State(state): State<AppState>, Auth(_user, ctx): Auth) -> Result<Response, AppError> {
    let items = state.db.run(|store| Ok(store.test_items()?)).await?;
    render(&CataloguePage { ctx, items })
}

#[derive(Template)]
#[template(path = "catalogue_item.html")]
struct ItemPage {
    ctx: Ctx,
    item: TestItemRecord,
    history: Vec<TestItemVersion>,
    may_edit: bool,
    error: Option<String>,
}

impl ItemPage {
    fn class(&self) -> &'static str {
        class_label(&self.item.class, self.ctx.lang)
    }

    fn food(&self) -> String {
        food_label(&self.item.applies_to)
    }

    fn limit(&self) -> String {
        limit_text(self.item.limit_mg_kg, self.ctx.lang)
    }

    fn when(&self, at: &i64) -> String {
        shian_domain::time::format_datetime(*at)
    }

    fn old(&self, v: &TestItemVersion, field: &str) -> String {
        match v.previous.get(field) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }
}

async fn item_page(state: &AppState, ctx: Ctx, id: i64, error: Option<String>) -> Result<Response, AppError> {
    let may_edit = ctx.user.as_ref().is_some_and(|u| u.role.may_manage_users());
    let (item, history) = state
        .db
        .run(move |store| {
            let item = store.test_item(id)?.ok_or_else(AppError::not_found)?;
            Ok((item, store.test_item_history(id)?))
        })
        .await?;
    let mut response = render(&ItemPage { ctx, item, history, may_edit, error: error.clone() })?;
    if error.is_some() {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// `/catalogue/{id}`
pub async fn item(
    State(state): State<AppState>,
    Auth(_user, ctx): Auth,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    item_page(&state, ctx, id, None).await
}

#[derive(Deserialize)]
pub struct ItemForm {
    #[serde(default)]
    csrf: String,
    limit_mg_kg: String,
    method: String,
    basis: String,
    clause: String,
}

/// `POST /catalogue/{id}`: an administrator changes the item.
pub async fn update(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Path(id): Path<i64>,
    Form(form): Form<ItemForm>,
) -> Result<Response, AppError> {
    ctx.check_csrf(&form.csrf)?;
    if !user.role.may_manage_users() {
        return Err(AppError::forbidden());
    }
    let Ok(limit) = form.limit_mg_kg.trim().parse::<f64>() else {
        let msg = ctx.t("限量须为数值（mg/kg）", "the limit is a number (mg/kg)").to_string();
        return item_page(&state, ctx, id, Some(msg)).await;
    };
    let change = TestItemChange { limit_mg_kg: limit, method: form.method, basis: form.basis, clause: form.clause };
    let lang = ctx.lang;
    let outcome = state
        .db
        .run(move |store| {
            Ok(shian_services::test_catalogue::update(store, &user, id, &change).map_err(|e| e.message(lang)))
        })
        .await?;
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/catalogue/{id}")).into_response()),
        Err(msg) => item_page(&state, ctx, id, Some(msg)).await,
    }
}
