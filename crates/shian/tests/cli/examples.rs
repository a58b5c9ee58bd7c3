//! The committed example files and the written data standard, against the binary that made them.

use std::collections::BTreeSet;

use shian_domain::Kind;

use crate::support::*;

const VARIANTS: [(&str, &str); 3] =
    [("vendor", "vendor.gb18030.csv"), ("market", "market.xlsx"), ("outbound", "outbound.en.jsonl")];

fn importable() -> impl Iterator<Item = Kind> {
    Kind::ALL.into_iter().filter(|k| k.def().importable)
}

#[test]
fn the_examples_folder_holds_a_file_per_importable_kind_and_the_variants() {
    let dir = workspace().join("examples");
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run `shian examples --out examples`)", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> =
        importable().map(|k| format!("{}.csv", k.name())).chain(VARIANTS.iter().map(|v| v.1.to_string())).collect();
    assert_eq!(found, expected, "examples/ against `shian examples`");
}

#[test]
fn every_example_file_imports_into_a_fresh_database_in_kind_order() {
    let dir = workspace().join("examples");
    let db = Db::fresh();
    let mut read = Vec::new();
    for kind in importable() {
        let file = dir.join(format!("{}.csv", kind.name()));
        assert!(file.exists(), "{} is missing", file.display());
        let s = db.import(kind.name(), &file);
        assert!(s.read > 0, "examples/{}.csv has no rows", kind.name());
        assert_eq!(s.rejected, 0, "examples/{}.csv: rows rejected", kind.name());
        assert_eq!(s.inserted + s.updated + s.unchanged, s.read, "examples/{}.csv: every row stored", kind.name());
        if kind != Kind::Variety {
            // Varieties are seeded with the catalogue; every other kind starts empty.
            assert_eq!(s.inserted, s.read, "examples/{}.csv: every row new", kind.name());
            read.push((kind.name(), s.read));
        }
    }
    let stats = db.stats();
    let stored: Vec<(&str, u64)> = read.iter().map(|(k, _)| (*k, stats[*k])).collect();
    assert_eq!(stored, read, "the database holds each file's rows");

    for (kind, name) in VARIANTS {
        let s = db.import(kind, &dir.join(name));
        assert!(s.read > 0, "examples/{name} has no rows");
        assert_eq!(s, Summary { read: s.read, inserted: 0, updated: 0, unchanged: s.read, rejected: 0 }, "{name}");
    }
    assert_eq!(db.stats(), stats, "the variants hold the same records");
}

#[test]
fn docs_data_standard_is_what_shian_schema_prints() {
    let path = workspace().join("docs/data-standard.md");
    let written = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out = shian(&["schema", "--markdown"]);
    out.ok();
    if written != out.stdout {
        let line = written.lines().zip(out.stdout.lines()).position(|(a, b)| a != b).unwrap_or(0) + 1;
        panic!(
            "docs/data-standard.md differs from `shian schema --markdown` from line {line}; \
             regenerate it with `shian schema --markdown > docs/data-standard.md`"
        );
    }
}

#[test]
fn the_committed_examples_are_what_shian_examples_writes_now() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("examples");
    shian(&["examples", "--out", out.to_str().unwrap()]).ok();
    let committed = workspace().join("examples");
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".xlsx") {
            continue; // a workbook carries the time it was written
        }
        let fresh = std::fs::read(out.join(&name)).unwrap();
        let old = std::fs::read(committed.join(&name)).unwrap_or_default();
        assert!(fresh == old, "examples/{name} is stale: regenerate with `shian examples --out examples`");
    }
}
