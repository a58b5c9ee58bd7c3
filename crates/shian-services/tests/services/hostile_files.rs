//! Files that are not what they claim to be are refused cleanly: an error, not a panic, and
//! without reading them whole into memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use shian_domain::Kind;
use shian_store::Store;
use zip::write::SimpleFileOptions;

use crate::support::*;

const HEADER: &str = "市场编码,市场名称,市场类型,所在区划代码\n";

#[test]
fn a_binary_file_named_csv_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend((0..=255u8).cycle().take(4096));
    let path = write_file(dir.path(), "markets.csv", bytes);
    let mut store = store();

    let err = source_error(import(&mut store, Kind::Market, &path));

    assert!(err.reason.zh.contains("二进制文件"), "{}", err.reason.zh);
    assert!(err.reason.en.contains("binary file"), "{}", err.reason.en);
    assert_eq!(store.count(Kind::Market).unwrap(), 0);
}

#[test]
fn a_line_longer_than_one_mebibyte_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(2 << 20);
    let cases = [
        ("in the header", format!("{long},市场名称\n"), 1),
        ("in a row", format!("{HEADER}M1,桥西市场,批发市场,130104\nM2,{long},农贸市场,130102\n"), 3),
        ("without an end", format!("{HEADER}{long}"), 2),
    ];
    for (what, content, line) in cases {
        let path = write_file(dir.path(), "markets.csv", content);
        let mut store = store();

        let err = source_error(import(&mut store, Kind::Market, &path));

        assert_eq!(err.line, Some(line), "{what}: {err}");
        assert!(err.reason.en.contains("longer than 1048576 bytes"), "{what}: {}", err.reason.en);
        assert!(err.reason.zh.contains("超过1048576字节"), "{what}: {}", err.reason.zh);
    }
}

#[test]
fn a_quoted_cell_that_never_ends_is_refused_once_the_record_exceeds_one_mebibyte() {
    // Every physical line is short, but the open quote makes the rest of the file one record.
    let dir = tempfile::tempdir().unwrap();
    let mut content = format!("{HEADER}M1,\"桥西市场,批发市场,130104\n");
    let filler = format!("{}\n", "b".repeat(99));
    while content.len() < 3 << 20 {
        content += &filler;
    }
    let path = write_file(dir.path(), "markets.csv", content);
    let mut store = store();

    let err = source_error(import(&mut store, Kind::Market, &path));

    assert!(err.reason.en.contains("longer than 1048576 bytes"), "{}", err.reason.en);
    assert_eq!(store.count(Kind::Market).unwrap(), 0);
}

#[test]
fn quoted_cells_spanning_lines_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let csv =
        "市场编码,市场名称,市场类型,所在区划代码,地址\nM1,\"桥西\"\"蔬菜\"\"市场\",批发市场,130104,\"一楼\n二楼\"\n";
    let mut store = store();

    import_clean(&mut store, Kind::Market, &write_file(dir.path(), "markets.csv", csv));

    assert_eq!(value(&store, Kind::Market, "M1", "name"), text("桥西\"蔬菜\"市场"));
    assert_eq!(value(&store, Kind::Market, "M1", "address"), text("一楼\n二楼"));
}

#[test]
fn an_empty_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["markets.csv", "markets.jsonl"] {
        let path = write_file(dir.path(), name, "\n\n");
        let err = source_error(import(&mut store(), Kind::Market, &path));
        assert!(err.reason.en.contains("no header row"), "{name}: {}", err.reason.en);
    }
}

#[test]
fn a_file_of_unknown_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "markets.dat", HEADER);
    let err = source_error(import(&mut store(), Kind::Market, &path));
    assert!(err.reason.en.contains("unknown format"), "{}", err.reason.en);
}

#[test]
fn an_xlsx_that_is_not_a_zip_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "markets.xlsx", HEADER);

    let err = source_error(import(&mut store(), Kind::Market, &path));

    assert_eq!(err.reason.en, "not a valid XLSX file");
    assert_eq!(err.reason.zh, "不是有效的XLSX文件");
}

/// A zip entry: its name and what writes its content.
type Entry<'a> = (&'a str, &'a dyn Fn(&mut dyn Write));

/// Writes a zip archive of the given entries, each deflated.
fn zip_file(dir: &Path, name: &str, entries: &[Entry<'_>]) -> PathBuf {
    let path = dir.join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (entry, content) in entries {
        zip.start_file(*entry, opts).unwrap();
        content(&mut zip);
    }
    zip.finish().unwrap();
    path
}

#[test]
fn a_zip_without_a_workbook_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = zip_file(dir.path(), "markets.xlsx", &[("readme.txt", &|w| w.write_all(b"hello").unwrap())]);

    let err = source_error(import(&mut store(), Kind::Market, &path));

    assert_eq!(err.reason.en, "not a valid XLSX file");
}

#[test]
fn an_xlsx_zip_bomb_is_refused_before_it_is_inflated() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 1 << 20];
    let path = zip_file(
        dir.path(),
        "markets.xlsx",
        &[
            ("[Content_Types].xml", &|w| w.write_all(b"<Types/>").unwrap()),
            ("xl/workbook.xml", &|w| w.write_all(b"<workbook/>").unwrap()),
            ("xl/worksheets/sheet1.xml", &|w| {
                for _ in 0..50 {
                    w.write_all(&zeros).unwrap();
                }
            }),
        ],
    );
    let packed = std::fs::metadata(&path).unwrap().len();
    assert!(packed < 1 << 20, "50 MiB of zeros pack into {packed} bytes");

    let err = source_error(import(&mut store(), Kind::Market, &path));

    assert!(err.reason.en.contains("xl/worksheets/sheet1.xml inflates"), "{}", err.reason.en);
    assert!(err.reason.en.contains("zip bomb"), "{}", err.reason.en);
    assert!(err.reason.zh.contains("压缩炸弹"), "{}", err.reason.zh);
}

#[test]
fn an_xlsx_with_a_garbled_workbook_is_refused_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: &dyn Fn(&mut dyn Write) = &|w| w.write_all(b"<<<not xml at all \x01\x02").unwrap();
    let path = zip_file(
        dir.path(),
        "markets.xlsx",
        &[("[Content_Types].xml", garbage), ("xl/workbook.xml", garbage), ("xl/_rels/workbook.xml.rels", garbage)],
    );

    let err = source_error(import(&mut store(), Kind::Market, &path));

    assert!(err.reason.en.starts_with("cannot read XLSX"), "{}", err.reason.en);
}

#[test]
fn a_jsonl_line_that_is_not_an_object_is_a_row_error_not_a_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = r#"{"code":"M1","name":"甲市场","market_kind":"wholesale","region":"130102"}
[1,2,3]
"just a string"
{"code":"M3","name":
{"code":"M4","name":{"zh":"丁"},"market_kind":"wholesale","region":"130102"}
{"code":"M5","name":"戊市场","market_kind":"wholesale","region":"130102","extra":1}

{"region":"130104", "market_kind":"farmers", "name":"乙市场", "code":"M2"}
"#;
    let path = write_file(dir.path(), "markets.jsonl", jsonl);
    let mut store = store();

    let report = import(&mut store, Kind::Market, &path).expect("bad lines do not stop the import");

    assert_eq!(keys(&store, Kind::Market), ["M1", "M2"]);
    assert_eq!((report.rows_read, report.rejected), (7, 5));
    let mut errors: Vec<_> = report.errors.iter().map(|e| (e.line, e.reason.en.to_string())).collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            (2, "not a JSON object".to_string()),
            (3, "not a JSON object".to_string()),
            (4, "not a JSON object".to_string()),
            (5, "name must not be an array or object".to_string()),
            (6, "key not in the first line: extra".to_string()),
        ]
    );
}
