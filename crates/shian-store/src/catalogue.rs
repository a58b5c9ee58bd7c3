//! Storage of the test catalogue: test items with their limit per food, and each change's
//! previous version.

use crate::Result;

/// A test item and its limit for one food (a variety or a class of varieties).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TestItemRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub en: Option<String>,
    /// `pesticide`, `vet_drug`, `banned`, `heavy_metal`.
    pub class: String,
    /// Variety or class code the limit applies to.
    pub applies_to: String,
    /// mg/kg; 0 means must not be detected.
    pub limit_mg_kg: f64,
    pub basis: String,
    pub method: String,
    pub clause: String,
    pub updated_at: Option<i64>,
    pub updated_by: Option<String>,
}

/// What an administrator may change.
#[derive(Debug, Clone, PartialEq)]
pub struct TestItemChange {
    pub limit_mg_kg: f64,
    pub method: String,
    pub basis: String,
    pub clause: String,
}

/// A previous version of a test item.
#[derive(Debug, Clone, PartialEq)]
pub struct TestItemVersion {
    pub replaced_at: i64,
    pub replaced_by: String,
    pub previous: serde_json::Value,
}

pub trait Catalogue {
    fn test_items(&self) -> Result<Vec<TestItemRecord>>;
    fn test_item(&self, id: i64) -> Result<Option<TestItemRecord>>;
    /// Changes an item, keeping its previous version; returns false if it does not exist.
    fn update_test_item(&mut self, id: i64, change: &TestItemChange, actor: &str, at: i64) -> Result<bool>;
    fn test_item_history(&self, id: i64) -> Result<Vec<TestItemVersion>>;
}
