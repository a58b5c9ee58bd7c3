//! Helpers shared by the test modules: stores, files, imports and exports.

use std::path::{Path, PathBuf};

use shian_domain::{Kind, Lang, Value, ids};
use shian_services::export::{self, ExportOptions};
use shian_services::import::{self, ImportError, ImportOptions, ImportReport, NoProgress};
use shian_services::{Encoding, Format};
use shian_store::Store;
use shian_store::sqlite::SqliteStore;

/// A fresh in-memory store, seeded with the regions and the variety catalogue.
pub fn store() -> SqliteStore {
    SqliteStore::open(":memory:").expect("open an in-memory store")
}

pub fn write_file(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a test file");
    path
}

pub fn import(store: &mut dyn Store, kind: Kind, path: &Path) -> Result<ImportReport, ImportError> {
    import_with(store, kind, path, &ImportOptions::default())
}

pub fn import_with(
    store: &mut dyn Store,
    kind: Kind,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    import::import_file(store, kind, path, opts, &NoProgress)
}

/// The errors of a report, one line each, for assertion messages.
pub fn described(report: &ImportReport) -> Vec<String> {
    report.errors.iter().map(|e| e.describe(Lang::En)).collect()
}

/// Imports a file that must be read whole with no row rejected.
pub fn import_clean(store: &mut dyn Store, kind: Kind, path: &Path) -> ImportReport {
    let report = import(store, kind, path).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.describe(Lang::En)));
    assert_eq!(report.rejected, 0, "{}: {:#?}", path.display(), described(&report));
    report
}

/// The source error of a refused import (panics if the import ran or failed otherwise).
pub fn source_error(result: Result<ImportReport, ImportError>) -> shian_services::source::SourceError {
    match result {
        Err(ImportError::Source(e)) => e,
        Err(other) => panic!("expected the file to be refused as unreadable, got {other:?}"),
        Ok(report) => panic!("expected the file to be refused, but it was imported: {report:?}"),
    }
}

pub fn export_with(store: &dyn Store, kind: Kind, opts: ExportOptions) -> Vec<u8> {
    let mut out = Vec::new();
    export::export(store, kind, opts, &mut out).unwrap_or_else(|e| panic!("export {}: {e}", kind.name()));
    out
}

pub fn export_to_vec(store: &dyn Store, kind: Kind, format: Format, headers: Lang) -> Vec<u8> {
    export_with(store, kind, ExportOptions { format, headers, encoding: Encoding::Utf8 })
}

/// Every record of a kind as the store scans it (references as natural keys).
pub fn rows(store: &dyn Store, kind: Kind) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    store
        .scan(kind, &mut |row| {
            out.push(row.to_vec());
            Ok(())
        })
        .expect("scan");
    out
}

/// The value of `field` in the record of `kind` whose first key field is `key`.
pub fn value(store: &dyn Store, kind: Kind, key: &str, field: &str) -> Value {
    let def = kind.def();
    let k = def.key_positions()[0];
    let (f, _) = def.field(field).unwrap_or_else(|| panic!("{} has no field {field}", def.name));
    rows(store, kind)
        .into_iter()
        .find(|r| r[k].as_text() == Some(key))
        .unwrap_or_else(|| panic!("no {} with key {key}", def.name))
        .swap_remove(f)
}

/// The keys (first key field) of every record of a kind, in id order.
pub fn keys(store: &dyn Store, kind: Kind) -> Vec<String> {
    let k = kind.def().key_positions()[0];
    rows(store, kind).into_iter().map(|r| r[k].as_text().unwrap_or_default().to_string()).collect()
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// A valid unified social credit code from its first 17 characters.
pub fn uscc(first17: &str) -> String {
    format!("{first17}{}", ids::uscc_check_char(first17).expect("credit code alphabet"))
}

/// A valid resident identity number from its first 17 digits.
pub fn id_number(first17: &str) -> String {
    format!("{first17}{}", ids::id_check_char(first17).expect("digits"))
}

/// Parses CSV text (after an optional byte-order mark) into rows of cells, header included.
pub fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("well-formed CSV").iter().map(String::from).collect())
        .collect()
}

/// Writes rows of cells as CSV.
pub fn to_csv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    for r in rows {
        w.write_record(r).expect("write CSV");
    }
    w.into_inner().expect("flush CSV")
}

/// Two markets, M1 and M2, in a CSV with Chinese headers.
pub const MARKETS: &str = "\
市场编码,市场名称,市场类型,所在区划代码,地址
M1,桥西蔬菜批发市场,批发市场,130104,石家庄市桥西区中华南大街1号
M2,长安农贸市场,农贸市场,130102,
";

/// A store holding the markets of [`MARKETS`].
pub fn store_with_markets(dir: &Path) -> SqliteStore {
    let mut s = store();
    let path = write_file(dir, "markets.csv", MARKETS);
    import_clean(&mut s, Kind::Market, &path);
    s
}

/// The status, rows read, rows rejected and rows inserted of the latest import run.
pub fn last_run(store: &SqliteStore) -> (String, i64, i64, i64) {
    store
        .connection()
        .query_row("SELECT status, rows_read, rejected, inserted FROM import_runs ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .expect("an import run is recorded")
}
