//! XLSX files as people make them in Excel or WPS: numbers where codes are meant, real date cells,
//! blank rows, a second sheet. Line numbers are the row numbers the spreadsheet shows.

use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};
use shian_domain::{Kind, Value};
use shian_store::Store;

use crate::support::*;

#[test]
fn a_hand_made_workbook_is_read_with_spreadsheet_types_and_row_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let path = dir.path().join("vendors.xlsx");
    let mut book = Workbook::new();
    let date = CellFormat::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet().set_name("销售者").unwrap();
    sheet
        .write_row(0, 0, ["销售者编码", "市场编码", "销售者名称", "主体类型", "联系电话", "协议开始日期", "摊位号"])
        .unwrap();
    // Row 2 as Excel numbers it: a number for the phone and the stall, a real date.
    sheet.write_row(1, 0, ["V1", "M1", "张三蔬菜", "自然人"]).unwrap();
    sheet.write_number(1, 4, 13803111234.0).unwrap();
    sheet.write_datetime_with_format(1, 5, ExcelDateTime::from_ymd(2024, 1, 1).unwrap(), &date).unwrap();
    sheet.write_number(1, 6, 12).unwrap();
    // Row 3 is left blank. Row 4 names an unknown market, row 5 has a bad phone.
    sheet.write_row(3, 0, ["V2", "M9", "李四水果", "个体工商户"]).unwrap();
    sheet.write_row(4, 0, ["V3", "M2", "王五粮油", "企业", "12345"]).unwrap();
    // Row 6 has a date typed as text and nothing in the optional columns.
    sheet.write_row(5, 0, ["V4", "M2", "赵六猪肉", "个体工商户", "", "2024/3/5"]).unwrap();
    // Row 7 has something beyond the last header.
    sheet.write_row(6, 0, ["V5", "M2", "孙七禽蛋", "自然人"]).unwrap();
    sheet.write_string(6, 9, "备注").unwrap();
    let other = book.add_worksheet().set_name("说明").unwrap();
    other.write_string(0, 0, "这张表不导入").unwrap();
    book.save(&path).unwrap();

    let report = import(&mut store, Kind::Vendor, &path).unwrap();

    assert_eq!(report.encoding, "XLSX");
    assert_eq!(keys(&store, Kind::Vendor), ["V1", "V4"], "{:#?}", described(&report));
    assert_eq!(value(&store, Kind::Vendor, "V1", "phone"), text("13803111234"));
    assert_eq!(value(&store, Kind::Vendor, "V1", "agreement_start"), text("2024-01-01"));
    assert_eq!(value(&store, Kind::Vendor, "V1", "stall"), text("12"));
    assert_eq!(value(&store, Kind::Vendor, "V4", "agreement_start"), text("2024-03-05"));
    assert_eq!(value(&store, Kind::Vendor, "V4", "phone"), Value::Null);
    let mut errors: Vec<_> = report.errors.iter().map(|e| (e.line, e.column.as_str(), e.value.as_str())).collect();
    errors.sort();
    assert_eq!(errors, [(4, "市场编码", "M9"), (5, "联系电话", "12345"), (7, "", "")]);
    assert_eq!((report.rows_read, report.rejected), (5, 3));
}

#[test]
fn numbers_in_a_workbook_are_read_as_the_codes_and_values_they_show() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let path = dir.path().join("markets.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_row(0, 0, ["code", "name", "market_kind", "region", "lon", "lat"]).unwrap();
    sheet.write_number(1, 0, 1001).unwrap();
    sheet.write_row(1, 1, ["桥西蔬菜批发市场", "批发市场"]).unwrap();
    sheet.write_number(1, 3, 130104).unwrap();
    sheet.write_number(1, 4, 114.4823).unwrap();
    sheet.write_number(1, 5, 38.0312).unwrap();
    book.save(&path).unwrap();

    import_clean(&mut store, Kind::Market, &path);

    assert_eq!(keys(&store, Kind::Market), ["1001"]);
    assert_eq!(value(&store, Kind::Market, "1001", "region"), text("130104"));
    assert_eq!(value(&store, Kind::Market, "1001", "lon"), Value::Real(114.4823));
    assert_eq!(value(&store, Kind::Market, "1001", "lat"), Value::Real(38.0312));
    assert_eq!(store.count(Kind::Market).unwrap(), 1);
}

#[test]
fn continuation_sheets_with_the_same_header_are_read_and_other_sheets_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    let path = dir.path().join("vendors.xlsx");
    let header = ["销售者编码", "市场编码", "销售者名称", "主体类型"];
    let mut book = Workbook::new();
    let first = book.add_worksheet().set_name("入场销售者").unwrap();
    first.write_row(0, 0, header).unwrap();
    first.write_row(1, 0, ["V1", "M1", "张三蔬菜", "自然人"]).unwrap();
    // What `shian export --format xlsx` writes past 1,048,575 rows: the same header, more data.
    let second = book.add_worksheet().set_name("入场销售者2").unwrap();
    second.write_row(0, 0, header).unwrap();
    second.write_row(1, 0, ["V2", "M2", "李四水果", "自然人"]).unwrap();
    let notes = book.add_worksheet().set_name("说明").unwrap();
    notes.write_row(0, 0, ["说明", "", "", ""]).unwrap();
    notes.write_row(1, 0, ["V3", "M1", "不是数据", "自然人"]).unwrap();
    book.save(&path).unwrap();

    let report = import(&mut store, Kind::Vendor, &path).unwrap();

    assert_eq!((report.rows_read, report.rejected), (2, 0));
    assert_eq!(keys(&store, Kind::Vendor), ["V1", "V2"]);
}
