//! A file with some bad rows: the good rows are stored, every bad one is reported where it is and
//! why, and the errors file can be corrected and imported.

use shian_domain::{Kind, Lang};
use shian_services::import::{ImportOptions, RowError};
use shian_store::Store;

use crate::support::*;

/// Header line 1; the vendors are on lines 2–9. Only V1 and V8 are good.
const VENDORS: &str = "\
销售者编码,市场编码,销售者名称,主体类型,Phone,协议开始日期
V1,M1,张三蔬菜,自然人,13803111234,2024-01-01
V2,NOPE,李四水果,个体工商户,,2024-01-01
V3,M1,王五粮油,企业,12345,2024-01-01
V4,M2,赵六猪肉,个体工商户,,2024-02-30
V5,M1,,自然人,,
V6,M2,孙七禽蛋,公司,,
V7,M1,周八豆制品
V8,M2,吴九干货,自然人,0311-86881234,2024/3/5
";

/// (line, column as written in the file, value, a piece of the Chinese reason, a piece of the English one)
const EXPECTED: &[(u64, &str, &str, &str, &str)] = &[
    (
        3,
        "市场编码",
        "NOPE",
        "集中交易市场“NOPE”不存在，请先导入集中交易市场",
        "no Market with code \"NOPE\": import it first",
    ),
    (4, "Phone", "12345", "不是有效的手机或固定电话号码", "not a valid mobile or landline number"),
    (5, "协议开始日期", "2024-02-30", "日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD"),
    (6, "销售者名称", "", "必填项为空", "required value is empty"),
    (
        7,
        "主体类型",
        "公司",
        "取值应为：企业、个体工商户、自然人",
        "must be one of: enterprise, individual_business, person",
    ),
    (8, "", "", "列数为3，与表头的6列不符", "3 cells where the header has 6"),
];

fn sorted(errors: &[RowError]) -> Vec<RowError> {
    let mut errors = errors.to_vec();
    errors.sort_by_key(|e| e.line);
    errors
}

#[test]
fn good_rows_are_stored_and_each_bad_row_is_reported_with_file_line_column_value_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let path = write_file(dir.path(), "vendors.csv", VENDORS);

    let report = import(&mut store, Kind::Vendor, &path).expect("a file with bad rows is still imported");

    assert_eq!(keys(&store, Kind::Vendor), ["V1", "V8"]);
    assert_eq!((report.rows_read, report.rejected, report.outcome.inserted), (8, 6, 2));
    assert_eq!(value(&store, Kind::Vendor, "V8", "phone"), text("031186881234"));
    assert_eq!(value(&store, Kind::Vendor, "V8", "agreement_start"), text("2024-03-05"));

    let errors = sorted(&report.errors);
    assert_eq!(errors.len(), EXPECTED.len(), "{:#?}", described(&report));
    for (e, &(line, column, value, zh, en)) in errors.iter().zip(EXPECTED) {
        assert_eq!(e.file, "vendors.csv");
        assert_eq!((e.line, e.column.as_str(), e.value.as_str()), (line, column, value), "{e:?}");
        assert!(e.reason.zh.contains(zh), "line {line}: {:?} should say {zh:?}", e.reason.zh);
        assert!(e.reason.en.contains(en), "line {line}: {:?} should say {en:?}", e.reason.en);
    }
    let phone = errors.iter().find(|e| e.line == 4).unwrap();
    assert_eq!(phone.describe(Lang::Zh), "vendors.csv:4 [Phone] \"12345\": 不是有效的手机或固定电话号码");
    assert_eq!(phone.describe(Lang::En), "vendors.csv:4 [Phone] \"12345\": not a valid mobile or landline number");

    let (status, rows_read, rejected, inserted) = last_run(&store);
    assert_eq!((status.as_str(), rows_read, rejected, inserted), ("finished_with_rejections", 8, 6, 2));
}

#[test]
fn a_row_with_several_bad_cells_reports_each_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let csv = "code,market,name,subject_kind,phone\nV1,M1,张三,someone,999\n";
    let path = write_file(dir.path(), "vendors.csv", csv);

    let report = import(&mut store, Kind::Vendor, &path).unwrap();

    assert_eq!(report.rejected, 1, "one row");
    let mut cells: Vec<_> = report.errors.iter().map(|e| (e.line, e.column.as_str(), e.value.as_str())).collect();
    cells.sort();
    assert_eq!(cells, [(2, "phone", "999"), (2, "subject_kind", "someone")]);
    assert_eq!(store.count(Kind::Vendor).unwrap(), 0);
}

#[test]
fn the_errors_file_holds_the_rejected_rows_with_reasons_and_imports_once_corrected() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let path = write_file(dir.path(), "vendors.csv", VENDORS);
    let errors_path = dir.path().join("vendors.errors.csv");
    let opts = ImportOptions { errors_path: Some(errors_path.clone()), ..ImportOptions::default() };

    let report = import_with(&mut store, Kind::Vendor, &path, &opts).expect("import with an errors file");
    assert_eq!(report.rejected, 6);

    let bytes = std::fs::read(&errors_path).unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "a BOM, so that Excel reads the file as UTF-8");
    let mut table = parse_csv(&bytes);
    let header = table.remove(0);
    assert_eq!(header, ["销售者编码", "市场编码", "销售者名称", "主体类型", "Phone", "协议开始日期", "错误说明"]);
    table.sort();
    let codes: Vec<_> = table.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(codes, ["V2", "V3", "V4", "V5", "V6", "V7"], "exactly the rejected rows");
    for row in &table {
        assert_eq!(row.len(), header.len(), "every row has its cells under the headers and the reason last: {row:?}");
        let original = VENDORS.lines().find(|l| l.starts_with(&format!("{},", row[0]))).unwrap();
        let cells: Vec<_> = original.split(',').collect();
        assert_eq!(&row[..cells.len()], &cells[..], "the row as it was in the file");
    }
    assert_eq!(table[1][6], "Phone: 不是有效的手机或固定电话号码");
    assert!(table[0][6].contains("市场编码: 集中交易市场“NOPE”不存在"), "{}", table[0][6]);
    assert!(table[5][6].contains("列数为3"), "{}", table[5][6]);

    // The person corrects the values in place and imports the errors file itself.
    let fixes: &[(&str, usize, &str)] = &[
        ("V2", 1, "M2"),
        ("V3", 4, "139 1234 5678"),
        ("V4", 5, "2024-02-28"),
        ("V5", 2, "钱五"),
        ("V6", 3, "个体工商户"),
        ("V7", 3, "自然人"),
    ];
    for (code, col, fixed) in fixes {
        let row = table.iter_mut().find(|r| r[0] == *code).unwrap();
        row[*col] = fixed.to_string();
    }
    let mut corrected = vec![header];
    corrected.extend(table);
    let corrected_path = write_file(dir.path(), "vendors.errors.corrected.csv", to_csv(&corrected));

    let again = import_clean(&mut store, Kind::Vendor, &corrected_path);

    assert_eq!(again.outcome.inserted, 6);
    assert!(
        again.warnings.iter().any(|w| w.zh.contains("错误说明") && w.en.contains("ignored")),
        "the reason column is ignored with a warning: {:?}",
        again.warnings
    );
    assert_eq!(keys(&store, Kind::Vendor), ["V1", "V8", "V2", "V3", "V4", "V5", "V6", "V7"]);
    assert_eq!(value(&store, Kind::Vendor, "V3", "phone"), text("13912345678"));
    assert_eq!(value(&store, Kind::Vendor, "V5", "name"), text("钱五"));
    assert_eq!(value(&store, Kind::Vendor, "V2", "market"), text("M2"));
}

#[test]
fn the_errors_file_speaks_english_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let path = write_file(dir.path(), "vendors.csv", VENDORS);
    let errors_path = dir.path().join("errors.csv");
    let opts = ImportOptions { errors_path: Some(errors_path.clone()), lang: Lang::En, ..ImportOptions::default() };

    import_with(&mut store, Kind::Vendor, &path, &opts).unwrap();

    let table = parse_csv(&std::fs::read(&errors_path).unwrap());
    assert_eq!(table[0].last().unwrap(), "error");
    let v3 = table.iter().find(|r| r[0] == "V3").unwrap();
    assert_eq!(v3.last().unwrap(), "Phone: not a valid mobile or landline number");
}

#[test]
fn jsonl_rows_that_are_not_objects_are_row_errors_in_the_errors_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let jsonl = "[1, 2]\n\
        {\"code\":\"M1\",\"name\":\"甲市场\",\"market_kind\":\"wholesale\",\"region\":\"130102\"}\n\
        {\"code\":\"M2\",\"name\":\"乙市场\",\"market_kind\":\"批发\",\"region\":\"130102\"}\n";
    let path = write_file(dir.path(), "markets.jsonl", jsonl);
    let errors_path = dir.path().join("errors.csv");
    let opts = ImportOptions { errors_path: Some(errors_path.clone()), ..ImportOptions::default() };

    let report = import_with(&mut store, Kind::Market, &path, &opts).expect("row errors do not stop the import");

    assert_eq!(keys(&store, Kind::Market), ["M1"]);
    let lines: Vec<_> = sorted(&report.errors).iter().map(|e| (e.line, e.column.clone())).collect();
    assert_eq!(lines, [(1, String::new()), (3, "market_kind".to_string())]);
    let table = parse_csv(&std::fs::read(&errors_path).unwrap());
    assert_eq!(table.len(), 3, "header and two rejected rows: {table:?}");
    assert!(table.iter().all(|r| r.len() == table[0].len()), "{table:?}");
    assert!(table.iter().any(|r| r.last().unwrap() == "不是一个JSON对象"), "{table:?}");
}

#[test]
fn a_row_with_too_many_cells_goes_to_the_errors_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let csv = "code,market,name,subject_kind\nV1,M1,张三,person,多出来的\nV2,M1,李四,person\n";
    let path = write_file(dir.path(), "vendors.csv", csv);
    let errors_path = dir.path().join("errors.csv");
    let opts = ImportOptions { errors_path: Some(errors_path.clone()), lang: Lang::En, ..ImportOptions::default() };

    let report = import_with(&mut store, Kind::Vendor, &path, &opts).expect("a long row is a row error");

    assert_eq!(keys(&store, Kind::Vendor), ["V2"]);
    assert_eq!(report.errors[0].reason.en, "5 cells where the header has 4");
    let table = parse_csv(&std::fs::read(&errors_path).unwrap());
    assert_eq!(table[1], ["V1", "M1", "张三", "person", "多出来的", "5 cells where the header has 4"]);
}
