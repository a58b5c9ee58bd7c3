//! 日常管理合规: which market missed which daily control, weekly check or monthly review.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use shian_services::routine::{self, MarketRoutine};

use super::render;
use crate::AppState;
use crate::auth::{Auth, Ctx};
use crate::error::AppError;

/// Days in the window unless the reader asks for another.
const DEFAULT_DAYS: u32 = 30;

#[derive(Template)]
#[template(path = "routine.html")]
struct RoutinePage {
    ctx: Ctx,
    days: u32,
    from: String,
    to: String,
    markets: Vec<MarketRoutine>,
    poor: usize,
}

impl RoutinePage {
    fn region(&self, code: &str) -> String {
        shian_services::accounts::region_label(code)
    }

    fn grade(&self, m: &MarketRoutine) -> &'static str {
        m.grade.label(self.ctx.lang)
    }

    fn missed(&self, p: &routine::PeriodRoutine) -> String {
        let shown: Vec<String> = p.missed.iter().take(5).map(|d| d.format("%m-%d").to_string()).collect();
        let more = p.missed.len().saturating_sub(5);
        if more > 0 { format!("{} …(+{more})", shown.join(" ")) } else { shown.join(" ") }
    }
}

/// The newest day with routine data: today, or the last day of the data if it ends earlier.
fn last_day(store: &dyn shian_store::Store) -> Result<NaiveDate, AppError> {
    let today = chrono::Utc::now().with_timezone(&shian_domain::time::china()).date_naive();
    let lq = shian_store::query::ListQuery {
        scope: &shian_domain::access::Scope::All,
        filters: vec![],
        before: None,
        limit: 1,
    };
    let def = shian_domain::Kind::RoutineRecord.def();
    let i = def.field("period_start").map(|(i, _)| i).expect("field");
    let newest = store
        .list(shian_domain::Kind::RoutineRecord, &lq)?
        .first()
        .and_then(|r| r.values[i].as_text().and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()));
    Ok(newest.map(|n| n.min(today)).unwrap_or(today))
}

/// `/routine?days=30`
pub async fn page(
    State(state): State<AppState>,
    Auth(user, ctx): Auth,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    if user.role.upstream_only() {
        return Err(AppError::not_found());
    }
    let days = match params.get("days").filter(|d| !d.is_empty()) {
        Some(d) => d
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=366).contains(d))
            .ok_or_else(|| AppError::bad_request("天数须为 1–366", "days must be 1–366"))?,
        None => DEFAULT_DAYS,
    };
    let scope = user.scope.clone();
    let (from, to, markets) = state
        .db
        .run(move |store| {
            let (from, to) = routine::window(last_day(store)?, days);
            Ok((from, to, routine::compliance(store, &scope, from, to)?))
        })
        .await?;
    let poor = markets.iter().filter(|m| m.grade == shian_domain::routine::Compliance::Poor).count();
    render(&RoutinePage { ctx, days, from: from.to_string(), to: to.to_string(), markets, poor })
}
