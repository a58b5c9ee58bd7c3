//! [`Catalogue`] on SQLite.

use rusqlite::{OptionalExtension, Row as SqlRow, params};
use shian_domain::catalogue;

use super::SqliteStore;
use crate::Result;
use crate::catalogue::{Catalogue, TestItemChange, TestItemRecord, TestItemVersion};

const ITEM: &str = "SELECT id, code, name, en, class, applies_to, limit_mg_kg, basis, method, clause, updated_at,
    updated_by FROM test_items";

fn item(r: &SqlRow) -> rusqlite::Result<TestItemRecord> {
    Ok(TestItemRecord {
        id: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        en: r.get(3)?,
        class: r.get(4)?,
        applies_to: r.get(5)?,
        limit_mg_kg: r.get(6)?,
        basis: r.get(7)?,
        method: r.get(8)?,
        clause: r.get(9)?,
        updated_at: r.get(10)?,
        updated_by: r.get(11)?,
    })
}

/// Inserts the compiled starter items that are missing (an administrator's edits are kept).
pub(super) fn seed(tx: &rusqlite::Transaction) -> Result<()> {
    let mut ins = tx.prepare(
        "INSERT INTO test_items (code, name, en, class, applies_to, limit_mg_kg, basis, method, clause)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code, applies_to) DO NOTHING",
    )?;
    for t in catalogue::test_items() {
        let class = match t.class {
            catalogue::ItemClass::Pesticide => "pesticide",
            catalogue::ItemClass::VetDrug => "vet_drug",
            catalogue::ItemClass::Banned => "banned",
            catalogue::ItemClass::HeavyMetal => "heavy_metal",
        };
        ins.execute(params![t.code, t.name, t.en, class, t.applies_to, t.limit_mg_kg, t.basis, t.method, t.clause])?;
    }
    Ok(())
}

impl Catalogue for SqliteStore {
    fn test_items(&self) -> Result<Vec<TestItemRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!("{ITEM} ORDER BY class, code, applies_to"))?;
        Ok(stmt.query_map([], item)?.collect::<rusqlite::Result<_>>()?)
    }

    fn test_item(&self, id: i64) -> Result<Option<TestItemRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!("{ITEM} WHERE id = ?"))?;
        Ok(stmt.query_row([id], item).optional()?)
    }

    fn update_test_item(&mut self, id: i64, c: &TestItemChange, actor: &str, at: i64) -> Result<bool> {
        let Some(before) = self.test_item(id)? else { return Ok(false) };
        let tx = self.conn.transaction()?;
        let previous = serde_json::to_string(&before).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
        tx.execute(
            "INSERT INTO test_item_history (item_id, replaced_at, replaced_by, previous) VALUES (?, ?, ?, ?)",
            params![id, at, actor, previous],
        )?;
        tx.execute(
            "UPDATE test_items SET limit_mg_kg = ?, method = ?, basis = ?, clause = ?, updated_at = ?, updated_by = ?
             WHERE id = ?",
            params![c.limit_mg_kg, c.method, c.basis, c.clause, at, actor, id],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn test_item_history(&self, id: i64) -> Result<Vec<TestItemVersion>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT replaced_at, replaced_by, previous FROM test_item_history WHERE item_id = ? ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([id], |r| {
            let previous: String = r.get(2)?;
            Ok(TestItemVersion {
                replaced_at: r.get(0)?,
                replaced_by: r.get(1)?,
                previous: serde_json::from_str(&previous).unwrap_or(serde_json::Value::Null),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
