//! The test catalogue (检测项目与限量) as stored: administrators change a limit, its method or its
//! citation; every change keeps the previous version and is written to the audit log.

use shian_domain::Msg;
use shian_store::Store;
use shian_store::catalogue::{TestItemChange, TestItemRecord};

use crate::accounts::{self, AccountError, Principal};

/// Changes a test item. Only administrators may; the limit is mg/kg, 0 meaning "must not be
/// detected"; method, basis and clause must be given.
pub fn update(
    store: &mut dyn Store,
    who: &Principal,
    id: i64,
    change: &TestItemChange,
) -> Result<TestItemRecord, AccountError> {
    if !who.role.may_manage_users() {
        return Err(AccountError::Refused(Msg::new(
            "只有系统管理员可以修改检测限量",
            "only administrators change limits",
        )));
    }
    if !change.limit_mg_kg.is_finite() || change.limit_mg_kg < 0.0 || change.limit_mg_kg > 1e6 {
        return Err(AccountError::Refused(Msg::new(
            "限量须为不小于 0 的数值（mg/kg）",
            "the limit is a number ≥ 0 (mg/kg)",
        )));
    }
    for (value, zh, en) in [
        (&change.method, "检验方法", "method"),
        (&change.basis, "限量依据", "basis"),
        (&change.clause, "条款引用", "clause"),
    ] {
        if value.trim().is_empty() || value.chars().count() > 300 {
            return Err(AccountError::Refused(Msg::new(
                format!("{zh}不能为空，且不超过 300 字"),
                format!("the {en} is required, at most 300 characters"),
            )));
        }
    }
    let before =
        store.test_item(id)?.ok_or_else(|| AccountError::Refused(Msg::new("找不到该检测项目", "no such test item")))?;
    store.update_test_item(id, change, &who.username, accounts::now())?;
    let after = store.test_item(id)?.unwrap_or_else(|| before.clone());
    let json = |r: &TestItemRecord| serde_json::to_string(r).unwrap_or_default();
    let key = format!("{}/{}", before.code, before.applies_to);
    accounts::audit(
        store,
        &who.username,
        "catalogue.update",
        Some("test_item"),
        Some(&key),
        Some(&json(&before)),
        Some(&json(&after)),
        None,
    )?;
    Ok(after)
}
