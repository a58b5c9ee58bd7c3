//! An import stopped by a file-level error keeps what it had committed; running it again on the
//! fixed file stores the rest, without duplicates.

use shian_domain::Kind;
use shian_services::import::ImportOptions;
use shian_store::{BatchOutcome, Store};

use crate::support::*;

const BAD_LINE: usize = 9_000;
const LINES: usize = 10_000;

/// Vendors on lines 2..=LINES (so LINES - 1 of them); the vendor on `bad` has a stray byte.
fn vendors(bad: Option<usize>) -> Vec<u8> {
    let mut bytes = "销售者编码,市场编码,销售者名称,主体类型\n".as_bytes().to_vec();
    for line in 2..=LINES {
        bytes.extend_from_slice(format!("V{line:05},M1,桥西区张{line}蔬菜经营部").as_bytes());
        if bad == Some(line) {
            bytes.push(0xFF);
        }
        bytes.extend_from_slice(",个体工商户\n".as_bytes());
    }
    bytes
}

fn line_of(code: &str) -> usize {
    code[1..].parse().unwrap()
}

#[test]
fn batches_committed_before_a_file_error_survive_and_a_rerun_finishes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let path = write_file(dir.path(), "vendors.csv", vendors(Some(BAD_LINE)));
    let opts = ImportOptions { batch_size: 10, ..ImportOptions::default() };

    let err = source_error(import_with(&mut store, Kind::Vendor, &path, &opts));

    assert_eq!(err.line, Some(BAD_LINE as u64), "{err}");
    let kept = keys(&store, Kind::Vendor);
    assert!(!kept.is_empty(), "the batches read before the bad line were committed");
    assert!(kept.iter().all(|k| line_of(k) < BAD_LINE), "nothing from or after the bad line is stored");
    let expected: Vec<_> = (2..2 + kept.len()).map(|l| format!("V{l:05}")).collect();
    assert_eq!(kept, expected, "a prefix of the file, in order, with no gaps");
    let (status, ..) = last_run(&store);
    assert_eq!(status, "failed");

    std::fs::write(&path, vendors(None)).unwrap();
    let report = import_clean(&mut store, Kind::Vendor, &path);

    let n = (LINES - 1) as u64;
    let kept = kept.len() as u64;
    assert_eq!(report.outcome, BatchOutcome { inserted: n - kept, updated: 0, unchanged: kept });
    assert_eq!(store.count(Kind::Vendor).unwrap(), n);
    let all = keys(&store, Kind::Vendor);
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
    let (status, rows_read, rejected, _) = last_run(&store);
    assert_eq!((status.as_str(), rows_read, rejected), ("finished", n as i64, 0));
}

#[test]
fn an_error_early_in_a_file_refuses_it_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let mut bytes = "销售者编码,市场编码,销售者名称,主体类型\n".as_bytes().to_vec();
    for line in 2..=100 {
        bytes.extend_from_slice(format!("V{line:03},M1,桥西区张{line}蔬菜经营部").as_bytes());
        if line == 50 {
            bytes.push(0xFF);
        }
        bytes.extend_from_slice(",个体工商户\n".as_bytes());
    }
    let path = write_file(dir.path(), "vendors.csv", &bytes);
    let opts = ImportOptions { batch_size: 10, ..ImportOptions::default() };

    let err = source_error(import_with(&mut store, Kind::Vendor, &path, &opts));

    assert_eq!(err.line, Some(50), "{err}");
    assert_eq!(store.count(Kind::Vendor).unwrap(), 0, "a short file is all or nothing");

    let fixed: Vec<u8> = bytes.into_iter().filter(|&b| b != 0xFF).collect();
    std::fs::write(&path, fixed).unwrap();
    let report = import_clean(&mut store, Kind::Vendor, &path);
    assert_eq!(report.outcome.inserted, 99);
    assert_eq!(store.count(Kind::Vendor).unwrap(), 99);
}
