//! `shian export`: XLSX, GB18030 and English headers, each as a user would open them.

use shian_domain::Kind;
use shian_sim::{Plan, Scale};

use crate::support::*;

#[test]
fn an_xlsx_export_is_a_workbook_that_imports_back() {
    let fixture = fixture();
    let db = Db::fresh();
    let file = db.file("markets.xlsx");

    let out = fixture.run(&["export", "market", "--format", "xlsx", "--out", file.to_str().unwrap()]);

    out.ok();
    let markets = Plan::for_scale(Scale::Small).markets as u64;
    assert!(out.stderr.contains(&format!("{markets} rows")), "{}", out.stderr);
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"), "an XLSX file is a zip archive");
    let summary = db.import("market", &file);
    assert_eq!(summary, Summary { read: markets, inserted: markets, updated: 0, unchanged: 0, rejected: 0 });
}

#[test]
fn a_gb18030_csv_export_decodes_as_gb18030_to_the_utf8_export() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vendors.csv");

    fixture.run(&["export", "vendor", "--encoding", "gb18030", "--out", file.to_str().unwrap()]).ok();

    let bytes = std::fs::read(&file).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "GB18030 text with Chinese is not valid UTF-8");
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
    assert!(!had_errors, "the file decodes as GB18030");
    assert!(text.starts_with("销售者编码,市场编码,摊位号,销售者名称,"), "{}", &text[..80.min(text.len())]);
    let utf8 = String::from_utf8(fixture.export("vendor", &[])).unwrap();
    assert!(text == utf8, "the GB18030 export holds the same text as the UTF-8 export");
}

#[test]
fn english_headers_name_the_columns_in_english() {
    let fixture = fixture();
    for kind in [Kind::Vendor, Kind::Market] {
        let text = String::from_utf8(fixture.export(kind.name(), &["--headers", "en"])).unwrap();
        let header = text.lines().next().unwrap();
        let expected: Vec<&str> = kind.def().fields.iter().map(|f| f.name).collect();
        assert_eq!(header, expected.join(","));
        let zh = String::from_utf8(fixture.export(kind.name(), &[])).unwrap();
        let zh_header: Vec<&str> = kind.def().fields.iter().map(|f| f.zh).collect();
        assert_eq!(zh.lines().next().unwrap(), zh_header.join(","), "Chinese headers by default");
    }
}
