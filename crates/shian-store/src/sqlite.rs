//! The embedded SQLite backend: one file, WAL journal, foreign keys on, migrations applied at open.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::{ToSqlOutput, Type, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params, params_from_iter};
use shian_domain::{Kind, Value, catalogue, region};

use crate::sql::{self, Dialect};
use crate::{
    BatchOutcome, Certificate, HistoryEntry, LotFlow, Movement, MovementRef, MovementsVersion, Party, Result, Row,
    RunId, RunSummary, Store, StoreError, TestedLot,
};

mod accounts;
mod fingerprint;
mod public;
mod query;
mod supervision;
mod test_catalogue;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

const D: Dialect = Dialect::Sqlite;

/// Rows per multi-row `INSERT` on the bulk paths.
const CHUNK: usize = 64;

/// A Shian database in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    /// The last [`MovementsVersion`] read, with what stood when it was read.
    version: std::cell::Cell<Option<Versioned>>,
    /// The WAL index header that every other connection's commit rewrites, to check for commits
    /// without asking SQLite.
    fingerprint: std::cell::RefCell<Option<fingerprint::Fingerprint>>,
}

/// A [`MovementsVersion`] and the connection's `data_version`, `total_changes` and the WAL index
/// header when it was read: while none of them moved, nobody committed anything.
#[derive(Clone, Copy)]
struct Versioned {
    data_version: i64,
    changes: u64,
    print: Option<fingerprint::Print>,
    version: MovementsVersion,
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(SqlValue::Null),
            Value::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Value::Real(r) => ToSqlOutput::Owned(SqlValue::Real(*r)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn to_json(def: &shian_domain::KindDef, row: &[Value]) -> serde_json::Value {
    let map = def
        .fields
        .iter()
        .zip(row)
        .map(|(f, v)| {
            let j = match v {
                Value::Null => serde_json::Value::Null,
                Value::Int(i) => (*i).into(),
                Value::Real(r) => (*r).into(),
                Value::Text(s) => s.clone().into(),
            };
            (f.name.to_string(), j)
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Columns of a receipt read as a [`Movement`].
const RECEIPT: &str = "SELECT id, source, ext_id, vendor_id, variety_id, lot_code, quantity, unit, received_at,
    supplier_kind, supplier_id, supplier_name, supplier_lot, certificate_id,
    (SELECT q.cert_no FROM quarantine_certificates q WHERE q.id = inbound.quarantine_id) FROM inbound";

/// Columns of a sale read as a [`Movement`].
const SALE: &str = "SELECT id, source, ext_id, vendor_id, variety_id, lot_code, quantity, unit, sold_at,
    buyer_kind, buyer_id, buyer_name, NULL, NULL, NULL FROM outbound";

/// Columns of a vendor, producer or buyer read as a [`Party`] (after its id), and the id column
/// to select one by.
fn party_select(kind: Kind) -> Result<(&'static str, &'static str)> {
    Ok(match kind {
        Kind::Vendor => (
            "SELECT v.id, v.code, v.name, m.name, NULL, m.region FROM vendors v LEFT JOIN markets m ON m.id = v.market_id",
            "v.id",
        ),
        Kind::Producer => ("SELECT id, code, name, region, NULL, region FROM producers", "id"),
        Kind::Buyer => ("SELECT id, code, name, buyer_kind, canteen_kind, region FROM buyers", "id"),
        _ => return Err(StoreError::Invalid(format!("{} is not a trading party", kind.name()))),
    })
}

fn party_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Party)> {
    let party =
        Party { code: r.get(1)?, name: r.get(2)?, detail: r.get(3)?, canteen_kind: r.get(4)?, region: r.get(5)? };
    Ok((r.get(0)?, party))
}

/// Text or null at column `i`, borrowed from the row.
fn text_at<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    match r.get_ref(i)? {
        ValueRef::Null => Ok(None),
        v => v.as_str().map(Some).map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e))),
    }
}

/// Columns of an origin certificate read as a [`Certificate`] (after its id).
const CERTIFICATE: &str = "SELECT id, cert_no, producer_id, issued_on, quantity, unit FROM origin_certificates";

fn certificate_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Certificate)> {
    let cert = Certificate {
        cert_no: r.get(1)?,
        producer_id: r.get(2)?,
        issued_on: r.get(3)?,
        quantity: r.get(4)?,
        unit: r.get(5)?,
    };
    Ok((r.get(0)?, cert))
}

fn movement(r: &rusqlite::Row<'_>) -> rusqlite::Result<Movement> {
    Ok(Movement {
        id: r.get(0)?,
        source: r.get(1)?,
        ext_id: r.get(2)?,
        vendor_id: r.get(3)?,
        variety_id: r.get(4)?,
        lot_code: r.get(5)?,
        quantity: r.get(6)?,
        unit: r.get(7)?,
        at: r.get(8)?,
        party_kind: r.get(9)?,
        party_id: r.get(10)?,
        party_name: r.get(11)?,
        supplier_lot: r.get(12)?,
        certificate_id: r.get(13)?,
        quarantine_no: r.get(14)?,
    })
}

impl SqliteStore {
    /// Visits every row of `select` as read by `read` (an id and a value).
    fn scan_by_id<T>(
        &self,
        select: &str,
        read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<(i64, T)>,
        visit: &mut dyn FnMut(i64, T) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(select)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, value) = read(r)?;
            visit(id, value)?;
        }
        Ok(())
    }

    /// Movements selected by `select` (one of [`RECEIPT`], [`SALE`]) and a condition.
    fn movements(&self, select: &str, condition: &str, params: impl rusqlite::Params) -> Result<Vec<Movement>> {
        let mut stmt = self.conn.prepare_cached(&format!("{select} WHERE {condition}"))?;
        let rows = stmt.query_map(params, movement)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` (`:memory:` for a private in-memory one).
    pub fn open(path: &str) -> Result<SqliteStore> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -131_072)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint every 64 MiB of WAL rather than 4 MiB: bulk imports rewrite the same index
        // pages many times, and each checkpoint copies them into the database file again.
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        // Let index builds sort on two threads.
        conn.pragma_update(None, "threads", 2)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        embedded::migrations::runner().run(&mut conn).map_err(|e| StoreError::Migration(e.to_string()))?;
        let mut store = SqliteStore { conn, version: std::cell::Cell::new(None), fingerprint: Default::default() };
        store.seed_reference_data()?;
        store.restore_indexes()?;
        Ok(store)
    }

    /// Inserts the built-in regions and variety catalogue where missing.
    fn seed_reference_data(&mut self) -> Result<()> {
        let have: i64 = self.conn.query_row("SELECT count(*) FROM regions", [], |r| r.get(0))?;
        let tx = self.conn.transaction()?;
        if have as usize != region::all().len() {
            let mut ins = tx.prepare(
                "INSERT INTO regions (code, name, level, parent) VALUES (?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
            )?;
            for r in region::all() {
                ins.execute(params![r.code, r.name, r.level as i64, r.parent])?;
            }
        }
        let mut ins = tx.prepare(
            "INSERT INTO varieties (code, name, en, parent_id, unit)
             VALUES (?1, ?2, ?3, (SELECT id FROM varieties WHERE code = ?4), ?5) ON CONFLICT (code) DO NOTHING",
        )?;
        for v in catalogue::varieties() {
            ins.execute(params![v.code, v.name, v.en, v.parent, v.unit])?;
        }
        drop(ins);
        test_catalogue::seed(&tx)?;
        tx.execute("CREATE TABLE IF NOT EXISTS suspended_indexes (name TEXT PRIMARY KEY, sql TEXT NOT NULL)", [])?;
        tx.commit()?;
        Ok(())
    }

    /// The underlying connection, for backend-specific services and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn count(&self, kind: Kind) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", sql::q(kind.def().table));
        Ok(self.conn.query_row(&sql, [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn resolve(&self, kind: Kind, keys: &[&str]) -> Result<Vec<(String, i64)>> {
        let def = kind.def();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let sql = sql::resolve(D, def, chunk.len())
                .ok_or_else(|| StoreError::Invalid(format!("{} has no single-column key", def.name)))?;
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(chunk), |r| Ok((r.get(0)?, r.get(1)?)))?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }

    fn find(&self, kind: Kind, key: &[Value]) -> Result<Option<i64>> {
        let mut stmt = self.conn.prepare_cached(&sql::id_by_key(D, kind.def()))?;
        Ok(stmt.query_row(params_from_iter(key.iter().map(Param)), |r| r.get(0)).optional()?)
    }

    fn write_batch(&mut self, kind: Kind, rows: &[Row], run: Option<RunId>) -> Result<BatchOutcome> {
        let def = kind.def();
        let keys = def.key_positions();
        let n = def.fields.len();
        let tx = self.conn.transaction()?;
        let mut out = BatchOutcome::default();
        {
            let mut many = tx.prepare_cached(&sql::insert_many(D, def, CHUNK, true))?;
            let mut one = tx.prepare_cached(&sql::insert(D, def, true))?;
            let mut select = tx.prepare_cached(&sql::select_by_key(D, def))?;
            let mut update = tx.prepare_cached(&sql::update(D, def))?;
            let mut history = tx.prepare_cached(
                "INSERT INTO record_history (kind, record_id, replaced_at, import_run, previous) VALUES (?, ?, ?, ?, ?)",
            )?;
            for chunk in rows.chunks(CHUNK) {
                // New rows, the common case, go in many to a statement. When some of a chunk's keys
                // were already stored, each of its rows is compared with what is stored now: the
                // ones just inserted compare equal, so they are counted as inserted, not unchanged.
                let inserted = if chunk.len() == CHUNK {
                    many.execute(params_from_iter(chunk.iter().flatten().map(Param)))? as u64
                } else {
                    let mut k = 0;
                    for row in chunk {
                        k += one.execute(params_from_iter(row.iter().map(Param)))? as u64;
                    }
                    k
                };
                out.inserted += inserted;
                if inserted == chunk.len() as u64 {
                    continue;
                }
                let mut equal = 0;
                for row in chunk {
                    let key = keys.iter().map(|&i| Param(&row[i]));
                    let (id, old): (i64, Row) = select.query_row(params_from_iter(key), |r| {
                        Ok((r.get(0)?, (1..=n).map(|i| r.get_ref(i).map(from_sql)).collect::<rusqlite::Result<_>>()?))
                    })?;
                    if &old == row {
                        equal += 1;
                        continue;
                    }
                    let previous = to_json(def, &old).to_string();
                    history.execute(params![def.name, id, now(), run.map(|r| r.0), previous])?;
                    let id_value = Value::Int(id);
                    update.execute(params_from_iter(row.iter().map(Param).chain(std::iter::once(Param(&id_value)))))?;
                    out.updated += 1;
                }
                out.unchanged += equal - inserted;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn insert_new(&mut self, kind: Kind, rows: &mut dyn Iterator<Item = Row>) -> Result<u64> {
        let def = kind.def();
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut many = tx.prepare_cached(&sql::insert_many(D, def, CHUNK, false))?;
            let mut one = tx.prepare_cached(&sql::insert(D, def, false))?;
            let mut chunk: Vec<Row> = Vec::with_capacity(CHUNK);
            for row in rows {
                chunk.push(row);
                if chunk.len() == CHUNK {
                    many.execute(params_from_iter(chunk.iter().flatten().map(Param)))?;
                    n += CHUNK as u64;
                    chunk.clear();
                }
            }
            for row in &chunk {
                one.execute(params_from_iter(row.iter().map(Param)))?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn suspend_indexes(&mut self, kind: Kind) -> Result<()> {
        let tx = self.conn.transaction()?;
        let indexes: Vec<(String, String)> = tx
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL")?
            .query_map([kind.def().table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, ddl) in indexes {
            tx.execute("INSERT OR REPLACE INTO suspended_indexes (name, sql) VALUES (?, ?)", params![name, ddl])?;
            tx.execute(&format!("DROP INDEX {}", sql::q(&name)), [])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn restore_indexes(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        let suspended: Vec<(String, String)> = tx
            .prepare("SELECT name, sql FROM suspended_indexes")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, ddl) in suspended {
            tx.execute(&ddl, [])?;
            tx.execute("DELETE FROM suspended_indexes WHERE name = ?", [name])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(&self, kind: Kind, visit: &mut dyn FnMut(&[Value]) -> Result<()>) -> Result<()> {
        let def = kind.def();
        let mut stmt = self.conn.prepare(&sql::scan(def))?;
        let mut rows = stmt.query([])?;
        let mut buf = Vec::with_capacity(def.fields.len());
        while let Some(r) = rows.next()? {
            buf.clear();
            for i in 0..def.fields.len() {
                buf.push(from_sql(r.get_ref(i)?));
            }
            visit(&buf)?;
        }
        Ok(())
    }

    fn history(&self, kind: Kind, id: i64) -> Result<Vec<HistoryEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT replaced_at, import_run, previous FROM record_history WHERE kind = ? AND record_id = ? ORDER BY id",
        )?;
        let rows = stmt.query_map(params![kind.name(), id], |r| {
            let previous: String = r.get(2)?;
            Ok(HistoryEntry {
                replaced_at: r.get(0)?,
                import_run: r.get(1)?,
                previous: serde_json::from_str(&previous).unwrap_or(serde_json::Value::Null),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn begin_run(&mut self, kind: Kind, file: &str) -> Result<RunId> {
        self.conn.execute(
            "INSERT INTO import_runs (kind, file, started_at, status) VALUES (?, ?, ?, 'running')",
            params![kind.name(), file, now()],
        )?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    fn finish_run(&mut self, run: RunId, status: &str, s: RunSummary) -> Result<()> {
        self.conn.execute(
            "UPDATE import_runs SET finished_at = ?, status = ?, rows_read = ?, inserted = ?, updated = ?,
             unchanged = ?, rejected = ? WHERE id = ?",
            params![
                now(),
                status,
                s.rows_read as i64,
                s.outcome.inserted as i64,
                s.outcome.updated as i64,
                s.outcome.unchanged as i64,
                s.rejected as i64,
                run.0
            ],
        )?;
        Ok(())
    }

    fn bulk_load(&mut self, on: bool) -> Result<()> {
        let (journal, sync) = if on { ("OFF", "OFF") } else { ("WAL", "NORMAL") };
        self.conn.pragma_update(None, "journal_mode", journal)?;
        self.conn.pragma_update(None, "synchronous", sync)?;
        Ok(())
    }

    fn optimize(&mut self) -> Result<()> {
        self.conn.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    fn lot_holders(&self, lot_code: &str) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT vendor_id FROM inbound WHERE lot_code = ?1 UNION SELECT vendor_id FROM outbound WHERE lot_code = ?1
             ORDER BY 1",
        )?;
        let rows = stmt.query_map([lot_code], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn receipts_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        self.movements(RECEIPT, "lot_code = ? AND vendor_id = ? ORDER BY received_at, id", params![lot_code, vendor])
    }

    fn sales_of_lot(&self, vendor: i64, lot_code: &str) -> Result<Vec<Movement>> {
        self.movements(SALE, "lot_code = ? AND vendor_id = ? ORDER BY sold_at, id", params![lot_code, vendor])
    }

    fn receipts_between(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        let cond = "vendor_id = ? AND variety_id = ? AND received_at BETWEEN ? AND ? ORDER BY received_at, id";
        self.movements(RECEIPT, cond, params![vendor, variety, from, to])
    }

    fn unlotted_sales(&self, vendor: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        let cond =
            "vendor_id = ? AND variety_id = ? AND sold_at BETWEEN ? AND ? AND lot_code IS NULL ORDER BY sold_at, id";
        self.movements(SALE, cond, params![vendor, variety, from, to])
    }

    fn receipts_from_lot(&self, supplier: i64, supplier_lot: &str) -> Result<Vec<Movement>> {
        let cond = "supplier_lot = ? AND supplier_id = ? AND supplier_kind = 'vendor' ORDER BY received_at, id";
        self.movements(RECEIPT, cond, params![supplier_lot, supplier])
    }

    fn unlotted_receipts_from(&self, supplier: i64, variety: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        let cond = "supplier_id = ? AND variety_id = ? AND received_at BETWEEN ? AND ? AND supplier_kind = 'vendor'
                    AND supplier_lot IS NULL ORDER BY received_at, id";
        self.movements(RECEIPT, cond, params![supplier, variety, from, to])
    }

    fn receipts_with_certificate(&self, certificate: i64) -> Result<Vec<Movement>> {
        self.movements(RECEIPT, "certificate_id = ? ORDER BY received_at, id", [certificate])
    }

    fn receipts_from_producer(&self, producer: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        let cond = "received_at BETWEEN ?2 AND ?3 AND ((supplier_kind = 'producer' AND supplier_id = ?1)
                    OR certificate_id IN (SELECT id FROM origin_certificates WHERE producer_id = ?1))
                    ORDER BY received_at, id";
        self.movements(RECEIPT, cond, params![producer, from, to])
    }

    fn sales_to_buyer(&self, buyer: i64, from: i64, to: i64) -> Result<Vec<Movement>> {
        let cond = "buyer_id = ? AND sold_at BETWEEN ? AND ? AND buyer_kind <> 'vendor' ORDER BY sold_at, id";
        self.movements(SALE, cond, params![buyer, from, to])
    }

    fn movement(&self, kind: Kind, id: i64) -> Result<Option<Movement>> {
        let select = match kind {
            Kind::Inbound => RECEIPT,
            Kind::Outbound => SALE,
            _ => return Err(StoreError::Invalid(format!("{} is not an order record", kind.name()))),
        };
        Ok(self.movements(select, "id = ?", [id])?.pop())
    }

    fn party(&self, kind: Kind, id: i64) -> Result<Option<Party>> {
        let (select, id_column) = party_select(kind)?;
        let mut stmt = self.conn.prepare_cached(&format!("{select} WHERE {id_column} = ?"))?;
        Ok(stmt.query_row([id], |r| Ok(party_row(r)?.1)).optional()?)
    }

    fn certificate(&self, id: i64) -> Result<Option<Certificate>> {
        let mut stmt = self.conn.prepare_cached(&format!("{CERTIFICATE} WHERE id = ?"))?;
        Ok(stmt.query_row([id], |r| Ok(certificate_row(r)?.1)).optional()?)
    }

    fn scan_movements(&self, kind: Kind, visit: &mut dyn FnMut(&MovementRef<'_>) -> Result<()>) -> Result<()> {
        let select = match kind {
            Kind::Inbound => RECEIPT,
            Kind::Outbound => SALE,
            _ => return Err(StoreError::Invalid(format!("{} is not an order record", kind.name()))),
        };
        let mut stmt = self.conn.prepare(&format!("{select} ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let text = |i: usize| text_at(r, i);
            let req = |i: usize| text_at(r, i)?.ok_or(rusqlite::Error::InvalidColumnType(i, String::new(), Type::Null));
            let m = MovementRef {
                id: r.get(0)?,
                source: req(1)?,
                ext_id: req(2)?,
                vendor_id: r.get(3)?,
                variety_id: r.get(4)?,
                lot_code: text(5)?,
                quantity: r.get(6)?,
                unit: req(7)?,
                at: r.get(8)?,
                party_kind: req(9)?,
                party_id: r.get(10)?,
                party_name: text(11)?,
                supplier_lot: text(12)?,
                certificate_id: r.get(13)?,
                quarantine_no: text(14)?,
            };
            visit(&m)?;
        }
        Ok(())
    }

    fn scan_parties(&self, kind: Kind, visit: &mut dyn FnMut(i64, Party) -> Result<()>) -> Result<()> {
        self.scan_by_id(party_select(kind)?.0, party_row, visit)
    }

    fn scan_certificates(&self, visit: &mut dyn FnMut(i64, Certificate) -> Result<()>) -> Result<()> {
        self.scan_by_id(CERTIFICATE, certificate_row, visit)
    }

    fn movements_version(&self) -> Result<MovementsVersion> {
        // `total_changes` moves when this connection writes, the WAL index header and
        // `data_version` when another one commits: while they stand still, the last answer is
        // still right (and a trace through the index checks freshness for one `pread`).
        let changes = self.conn.total_changes();
        let last = self.version.get();
        let read_print = || self.fingerprint.borrow().as_ref().and_then(|f| f.read());
        if let Some(last) = last
            && last.changes == changes
            && last.print.is_some()
            && read_print() == last.print
        {
            return Ok(last.version);
        }
        // This connection wrote (a bulk load may have replaced the `-shm` file), or there is no
        // fingerprint yet: open the `-shm` file again.
        if last.is_none_or(|l| l.changes != changes || l.print.is_none()) {
            let path = self.conn.path().unwrap_or_default();
            self.fingerprint.replace(fingerprint::Fingerprint::open(path));
        }
        let print = read_print();
        let data_version: i64 = self.conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?;
        if let Some(last) = last
            && (last.data_version, last.changes) == (data_version, changes)
        {
            self.version.set(Some(Versioned { print, ..last }));
            return Ok(last.version);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM inbound), (SELECT COALESCE(MAX(id), 0) FROM outbound),
                    (SELECT n FROM trace_changes WHERE id = 1)",
        )?;
        let v = stmt.query_row([], |r| {
            Ok(MovementsVersion { inbound_max: r.get(0)?, outbound_max: r.get(1)?, changes: r.get(2)? })
        })?;
        self.version.set(Some(Versioned { data_version, changes, print, version: v }));
        Ok(v)
    }

    fn lot_flows(&self, market: Option<i64>, visit: &mut dyn FnMut(&LotFlow) -> Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT vendor_id, lot_code, unit, SUM(received), SUM(sold), SUM(receipts), SUM(sales) FROM (
               SELECT vendor_id, lot_code, unit, quantity AS received, 0.0 AS sold, 1 AS receipts, 0 AS sales
                 FROM inbound WHERE lot_code IS NOT NULL
               UNION ALL
               SELECT vendor_id, lot_code, unit, 0.0, quantity, 0, 1 FROM outbound WHERE lot_code IS NOT NULL
             )
             WHERE ?1 IS NULL OR vendor_id IN (SELECT id FROM vendors WHERE market_id = ?1)
             GROUP BY vendor_id, lot_code, unit ORDER BY vendor_id, lot_code, unit",
        )?;
        let mut rows = stmt.query([market])?;
        while let Some(r) = rows.next()? {
            let flow = LotFlow {
                vendor_id: r.get(0)?,
                lot_code: r.get(1)?,
                unit: r.get(2)?,
                received: r.get(3)?,
                sold: r.get(4)?,
                receipts: r.get::<_, i64>(5)? as u64,
                sales: r.get::<_, i64>(6)? as u64,
            };
            visit(&flow)?;
        }
        Ok(())
    }

    fn tested_lot(&self, kind: Kind, key: &str) -> Result<Option<TestedLot>> {
        let sql = match kind {
            Kind::RapidTest => "SELECT vendor_id, lot_code FROM rapid_tests WHERE test_no = ?",
            Kind::Sample => {
                "SELECT CASE WHEN subject_kind = 'vendor' THEN subject_id END, lot_code FROM samples WHERE sample_no = ?"
            }
            _ => return Err(StoreError::Invalid(format!("{} is not a test or a sample", kind.name()))),
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let lot = stmt.query_row([key], |r| Ok(TestedLot { vendor_id: r.get(0)?, lot_code: r.get(1)? }));
        Ok(lot.optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_passes_the_storage_contract() {
        crate::contract::run_all(&|| Box::new(SqliteStore::open(":memory:").expect("open")));
    }

    #[test]
    fn schema_has_a_column_for_every_field() {
        let store = SqliteStore::open(":memory:").unwrap();
        for kind in Kind::ALL {
            let def = kind.def();
            let stmt = store.conn.prepare(&format!("SELECT * FROM {} LIMIT 0", sql::q(def.table))).unwrap();
            let cols: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
            for field in def.fields {
                assert!(cols.contains(&field.column()), "{}.{} has no column", def.table, field.column());
            }
            assert_eq!(cols.len(), def.fields.len() + 1, "{} has columns the kind does not describe", def.table);
            drop(stmt);
        }
    }

    /// The freshness check reads the WAL index header instead of asking SQLite while it stands
    /// still: any other connection's commit must still be seen at once, and no connection can
    /// take the database out of WAL mode (where commits would not touch that header) meanwhile.
    #[test]
    fn another_connections_commit_moves_the_version_and_none_can_leave_wal_mode_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let path = path.to_str().unwrap();
        let (reader, writer) = (SqliteStore::open(path).unwrap(), SqliteStore::open(path).unwrap());
        let bump = |w: &SqliteStore| w.conn.execute("UPDATE trace_changes SET n = n + 1 WHERE id = 1", []).unwrap();
        let v0 = reader.movements_version().unwrap();
        assert_eq!(reader.movements_version().unwrap(), v0, "nothing committed");
        for round in 1..=3 {
            bump(&writer);
            let v = reader.movements_version().unwrap();
            assert_eq!(v.changes, v0.changes + round, "another connection's commit, round {round}");
            assert_eq!(reader.movements_version().unwrap(), v);
        }
        bump(&reader);
        assert_eq!(reader.movements_version().unwrap().changes, v0.changes + 4, "the reader's own commit");
        writer.conn.busy_timeout(std::time::Duration::ZERO).unwrap();
        let off = writer.conn.query_row("PRAGMA journal_mode = OFF", [], |r| r.get::<_, String>(0));
        assert!(off.is_err() || off.is_ok_and(|m| m == "wal"), "left WAL mode while another connection was open");
        bump(&writer);
        assert_eq!(reader.movements_version().unwrap().changes, v0.changes + 5, "a commit after the refused switch");
    }

    #[test]
    fn a_file_database_uses_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(path.to_str().unwrap()).unwrap();
        let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let fk: i64 = store.conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), fk), ("wal", 1));
    }
}
