-- The test catalogue (检测项目与限量): one row per test item and the food it is limited for,
-- seeded from the starter set compiled into the binary and editable by administrators; every
-- change keeps the previous version in test_item_history (append-only).
CREATE TABLE test_items (
  id INTEGER PRIMARY KEY, code TEXT NOT NULL, name TEXT NOT NULL, en TEXT, class TEXT NOT NULL,
  applies_to TEXT NOT NULL, limit_mg_kg REAL NOT NULL, basis TEXT NOT NULL, method TEXT NOT NULL,
  clause TEXT NOT NULL, updated_at INTEGER, updated_by TEXT,
  UNIQUE (code, applies_to)
);

CREATE TABLE test_item_history (
  id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES test_items(id), replaced_at INTEGER NOT NULL,
  replaced_by TEXT NOT NULL, previous TEXT NOT NULL
);
CREATE INDEX test_item_history_item ON test_item_history(item_id);
CREATE TRIGGER test_item_history_no_update BEFORE UPDATE ON test_item_history
BEGIN SELECT RAISE(ABORT, 'the catalogue history cannot be changed'); END;
CREATE TRIGGER test_item_history_no_delete BEFORE DELETE ON test_item_history
BEGIN SELECT RAISE(ABORT, 'the catalogue history cannot be changed'); END;
