//! Text encodings: GB18030 (what Excel on a Chinese Windows saves) and UTF-8 with or without a BOM
//! are read; text that is neither is refused at the line where it goes wrong.

use shian_domain::{Kind, Lang};
use shian_services::export::ExportOptions;
use shian_services::import::ImportOptions;
use shian_services::{Encoding, Format};
use shian_store::Store;

use crate::support::*;

const MARKETS_ZH: &str = "\
市场编码,市场名称,市场类型,所在区划代码,地址,开办者名称
M1,桥西蔬菜批发市场,批发市场,130104,石家庄市桥西区中华南大街1号,石家庄市场开发有限公司
M2,长安区𠀋農貿市場,农贸市场,长安区,,
";

fn gb18030(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable, "GB18030 encodes all of Unicode");
    bytes.into_owned()
}

#[test]
fn a_gb18030_csv_with_chinese_names_is_detected_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = gb18030(MARKETS_ZH);
    assert!(std::str::from_utf8(&bytes).is_err(), "the test file must not be UTF-8");
    let path = write_file(dir.path(), "markets.csv", bytes);

    for encoding in [Encoding::Auto, Encoding::Gb18030] {
        let mut store = store();
        let opts = ImportOptions { encoding, ..ImportOptions::default() };
        let report = import_with(&mut store, Kind::Market, &path, &opts).unwrap();

        assert_eq!((report.encoding, report.rejected, report.outcome.inserted), ("GB18030", 0, 2), "{encoding:?}");
        assert_eq!(value(&store, Kind::Market, "M1", "name"), text("桥西蔬菜批发市场"));
        assert_eq!(value(&store, Kind::Market, "M1", "market_kind"), text("wholesale"));
        assert_eq!(value(&store, Kind::Market, "M1", "operator"), text("石家庄市场开发有限公司"));
        assert_eq!(value(&store, Kind::Market, "M2", "name"), text("长安区𠀋農貿市場"), "four-byte GB18030 too");
        assert_eq!(value(&store, Kind::Market, "M2", "region"), text("130102"), "region given by its name");
    }
}

#[test]
fn a_utf8_csv_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "markets.csv", format!("\u{feff}{MARKETS_ZH}"));
    let mut store = store();

    let report = import_clean(&mut store, Kind::Market, &path);

    assert_eq!(report.encoding, "UTF-8");
    assert!(report.warnings.is_empty(), "the BOM is not part of the first header: {:?}", report.warnings);
    assert_eq!(keys(&store, Kind::Market), ["M1", "M2"]);
    assert_eq!(value(&store, Kind::Market, "M1", "name"), text("桥西蔬菜批发市场"));
}

/// 100 lines of ASCII markets with, on line 50, a byte that is neither UTF-8 nor GB18030.
fn markets_with_a_bad_byte_on_line_50() -> Vec<u8> {
    let mut bytes = b"code,name,market_kind,region\n".to_vec();
    for i in 2..=100 {
        bytes.extend_from_slice(format!("M{i:03},Market {i}").as_bytes());
        if i == 50 {
            bytes.push(0xFF);
        }
        bytes.extend_from_slice(b",farmers,130102\n");
    }
    bytes
}

#[test]
fn text_valid_in_neither_encoding_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "markets.csv", markets_with_a_bad_byte_on_line_50());

    for (encoding, name) in [(Encoding::Auto, "GB18030"), (Encoding::Utf8, "UTF-8"), (Encoding::Gb18030, "GB18030")] {
        let mut store = store();
        let opts = ImportOptions { encoding, ..ImportOptions::default() };

        let err = source_error(import_with(&mut store, Kind::Market, &path, &opts));

        assert_eq!(err.line, Some(50), "{encoding:?}: {err}");
        assert!(err.file.ends_with("markets.csv"), "{}", err.file);
        assert!(err.reason.zh.starts_with(&format!("第50行不是有效的{name}文本")), "{}", err.reason.zh);
        assert!(err.reason.en.contains(&format!("line 50 is not valid {name} text")), "{}", err.reason.en);
        assert_eq!(store.count(Kind::Market).unwrap(), 0);
    }
}

#[test]
fn a_gb18030_file_read_as_utf8_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "markets.csv", gb18030(MARKETS_ZH));
    let mut store = store();
    let opts = ImportOptions { encoding: Encoding::Utf8, ..ImportOptions::default() };

    let err = source_error(import_with(&mut store, Kind::Market, &path, &opts));

    assert_eq!(err.line, Some(1), "the Chinese header is the first thing that is not UTF-8");
    assert!(err.reason.zh.contains("--encoding"), "{}", err.reason.zh);
    assert!(err.reason.en.contains("wrong encoding?"), "{}", err.reason.en);
}

fn many_vendors(n: usize) -> String {
    let mut csv = String::from("销售者编码,市场编码,摊位号,销售者名称,主体类型,经营范围\n");
    for i in 0..n {
        csv += &format!(
            "V{i:05},M{},东区{i}号,石家庄市桥西区张{i}蔬菜经营部,个体工商户,蔬菜、水果、豆制品零售\n",
            1 + i % 2
        );
    }
    csv
}

#[test]
fn a_large_gb18030_export_is_whole_and_imports_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut source = store_with_markets(dir.path());
    import_clean(&mut source, Kind::Vendor, &write_file(dir.path(), "vendors.csv", many_vendors(3000)));
    let utf8 = export_to_vec(&source, Kind::Vendor, Format::Csv, Lang::Zh);
    assert!(utf8.len() > 4 << 16, "large enough to pass through the CSV writer's buffer several times");

    let opts = ExportOptions { format: Format::Csv, headers: Lang::Zh, encoding: Encoding::Gb18030 };
    let gb = export_with(&source, Kind::Vendor, opts);

    let (decoded, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&gb);
    assert!(!had_errors);
    assert_eq!(decoded.as_bytes(), &utf8[..], "the GB18030 export says what the UTF-8 one says");

    let mut target = store_with_markets(dir.path());
    let report = import_clean(&mut target, Kind::Vendor, &write_file(dir.path(), "gb.csv", &gb));
    assert_eq!((report.encoding, report.outcome.inserted), ("GB18030", 3000));
    assert_eq!(export_to_vec(&target, Kind::Vendor, Format::Csv, Lang::Zh), utf8);
}

#[test]
fn a_utf8_export_with_bom_starts_with_it_and_imports_back() {
    let dir = tempfile::tempdir().unwrap();
    let source = store_with_markets(dir.path());
    let opts = ExportOptions { format: Format::Csv, headers: Lang::Zh, encoding: Encoding::Utf8Bom };
    let bom = export_with(&source, Kind::Market, opts);
    assert!(bom.starts_with("\u{feff}市场编码,".as_bytes()));

    let mut target = store();
    let report = import_clean(&mut target, Kind::Market, &write_file(dir.path(), "bom.csv", &bom));

    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(rows(&target, Kind::Market), rows(&source, Kind::Market));
}
