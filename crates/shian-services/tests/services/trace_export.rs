//! Exports of a trace over a hand-built chain, read back with calamine: the recall list (召回清单)
//! and the FSMA 204 sortable spreadsheet — headers, rows, Chinese text, text never a formula.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use shian_domain::{Kind, Lang};
use shian_services::trace::{self, Start, TraceOptions};
use shian_services::trace_export::{self, Event};

use crate::support::text;
use crate::trace::{Chain, DAY, HOUR, T0, put};

/// W (M1) receives lot L1 from P1 with certificate C1 and sells it to vendor R (M2), who starts
/// lot L2 and sells to the school canteen K1; W also sells to a restaurant whose name looks like a
/// formula, and, naming no lot, to the supermarket S1 (an inferred link).
fn chain() -> Chain {
    let mut c = Chain::new();
    let values = [
        ("code", text("EV")),
        ("buyer_kind", text("restaurant")),
        ("name", text("=HYPERLINK(\"http://x\",\"点我\")")),
        ("region", text("130102")),
    ];
    put(&mut c.s, Kind::Buyer, &values);
    c.receive_from_producer("W", "L1", 100.0, T0);
    c.sale("W", Some("L1"), 20.0, T0 + HOUR, ("vendor", Some("R")));
    c.receive_from_vendor("R", "L2", "W", Some("L1"), T0 + 2 * HOUR);
    c.sale("R", Some("L2"), 10.0, T0 + 3 * HOUR, ("canteen", Some("K1")));
    c.sale("W", Some("L1"), 5.0, T0 + HOUR, ("restaurant", Some("EV")));
    c.sale("W", None, 3.0, T0 + DAY, ("supermarket", Some("S1")));
    c
}

fn book(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
    Xlsx::new(Cursor::new(bytes)).expect("a readable XLSX")
}

fn sheet(book: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> Vec<Vec<Data>> {
    let range = book.worksheet_range(name).unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    let formulas = book.worksheet_formula(name).expect("formulas");
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no cell of {name} is a formula");
    range.rows().map(|r| r.to_vec()).collect()
}

fn s(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("expected text, found {other:?}"),
    }
}

fn column(rows: &[Vec<Data>], name: &str) -> usize {
    rows[0].iter().position(|h| s(h) == name).unwrap_or_else(|| panic!("no column {name}: {:?}", rows[0]))
}

/// The row whose `col` is `value`.
fn row_with<'a>(rows: &'a [Vec<Data>], col: usize, value: &str) -> &'a [Data] {
    rows.iter().find(|r| s(&r[col]) == value).unwrap_or_else(|| panic!("no row with {value}"))
}

#[test]
fn the_recall_list_has_one_row_per_recipient_in_chinese() {
    let c = chain();
    let tree = trace::forward(&c.s, &Start::Lot("L1".into()), &TraceOptions::default()).unwrap();
    let mut out = Vec::new();
    let n = trace_export::recall_xlsx(&tree, Lang::Zh, &mut out).expect("recall list");
    assert_eq!(n, 4);
    let mut book = book(out);
    let rows = sheet(&mut book, "召回清单");
    assert_eq!(rows[0].iter().map(s).collect::<Vec<_>>(), trace_export::recall_headers(Lang::Zh));
    assert_eq!(rows.len(), 5, "a header and four recipients");

    let (code, kind, from, depth, link, school, qty, market, region, name) = (
        column(&rows, "编码"),
        column(&rows, "去向类型"),
        column(&rows, "来源批次"),
        column(&rows, "追溯层级"),
        column(&rows, "关联"),
        column(&rows, "学校/幼儿园食堂"),
        column(&rows, "数量"),
        column(&rows, "所在市场"),
        column(&rows, "所在地区"),
        column(&rows, "名称"),
    );
    let canteen = row_with(&rows, code, "K1");
    assert_eq!(
        (s(&canteen[kind]), s(&canteen[from]), s(&canteen[school])),
        ("学校食堂".into(), "L2".into(), "是".into())
    );
    assert_eq!((&canteen[depth], &canteen[qty]), (&Data::Float(2.0), &Data::Float(10.0)));
    let vendor = row_with(&rows, code, "R");
    assert_eq!((s(&vendor[kind]), s(&vendor[market]), s(&vendor[link])), ("销售者".into(), "M2".into(), "确认".into()));
    let expected_region = shian_domain::region::by_code("130102").unwrap().name;
    assert_eq!(s(&vendor[region]), expected_region);
    let inferred = row_with(&rows, code, "S1");
    assert_eq!(s(&inferred[link]), "推断");
    assert!(s(&inferred[column(&rows, "推断依据")]).contains("先进先出"));
    let hostile = row_with(&rows, code, "EV");
    assert_eq!(s(&hostile[name]), "'=HYPERLINK(\"http://x\",\"点我\")", "formula-like text is defused");

    let totals = sheet(&mut book, "合计");
    let canteens = row_with(&totals, 0, "食堂");
    assert_eq!((&canteens[1], &canteens[5]), (&Data::Float(1.0), &Data::Float(1.0)));
}

#[test]
fn the_recall_list_speaks_english_and_refuses_a_backward_trace() {
    let c = chain();
    let tree = trace::forward(&c.s, &Start::Lot("L1".into()), &TraceOptions::default()).unwrap();
    let mut out = Vec::new();
    trace_export::recall_xlsx(&tree, Lang::En, &mut out).unwrap();
    let rows = sheet(&mut book(out), "Recall list");
    assert_eq!(s(&rows[0][0]), "Recipient kind");
    assert_eq!(s(&row_with(&rows, 1, "K1")[0]), "school canteen");

    let back = trace::backward(&c.s, &Start::Lot("L2".into()), &TraceOptions::default()).unwrap();
    assert!(matches!(
        trace_export::recall_xlsx(&back, Lang::Zh, &mut Vec::new()),
        Err(trace_export::TraceExportError::NotForward)
    ));
}

#[test]
fn the_fsma_204_spreadsheet_has_one_row_per_shipping_and_receiving_event() {
    let c = chain();
    let tree = trace::forward(&c.s, &Start::Lot("L1".into()), &TraceOptions::default()).unwrap();
    let events = trace_export::fsma204_rows(&c.s, &tree, Lang::En).unwrap();
    // Receipts: L1 from P1, L2 from W. Sales: W→R, W→EV, W→S1 (inferred), R→K1.
    let shipping = events.iter().filter(|e| e.event == Event::Shipping).count();
    let receiving = events.iter().filter(|e| e.event == Event::Receiving).count();
    assert_eq!((shipping, receiving), (4, 2), "{events:#?}");

    let mut out = Vec::new();
    assert_eq!(trace_export::fsma204_xlsx(&c.s, &tree, Lang::En, &mut out).unwrap(), 6);
    let rows = sheet(&mut book(out), "FSMA 204");
    assert_eq!(rows[0].iter().map(s).collect::<Vec<_>>(), trace_export::fsma204_headers(Lang::En));
    let col = |name: &str| column(&rows, name);
    let (tlc, doc_type, doc_no, from, to, ship, receive, source, product, unit) = (
        col("Traceability Lot Code"),
        col("Reference Document Type"),
        col("Reference Document Number"),
        col("Ship-From Location"),
        col("Ship-To Location"),
        col("Ship Date"),
        col("Receive Date"),
        col("Traceability Lot Code Source"),
        col("Product Description"),
        col("Unit of Measure"),
    );
    let first = row_with(&rows, doc_no, "C1");
    assert_eq!((s(&first[tlc]), s(&first[doc_type])), ("L1".into(), "Origin certificate".into()));
    assert!(s(&first[from]).starts_with("P1 (P1)"), "{}", s(&first[from]));
    assert!(s(&first[to]).starts_with("W (W), M1"), "{}", s(&first[to]));
    assert_eq!((s(&first[ship]), s(&first[receive]).len()), (String::new(), 10));
    assert_eq!((s(&first[product]), s(&first[unit])), ("Celery".into(), "kg".into()));

    let to_canteen = rows.iter().find(|r| s(&r[to]).starts_with("K1")).expect("the sale to the school canteen");
    assert_eq!((s(&to_canteen[tlc]), s(&to_canteen[doc_type])), ("L2".into(), "Sales record".into()));
    assert!(s(&to_canteen[source]).starts_with("R (R), M2"));
    assert_eq!(s(&to_canteen[receive]), "");
    let inferred = rows.iter().find(|r| s(&r[to]).starts_with("S1")).expect("the inferred sale");
    assert_eq!((s(&inferred[tlc]), s(&inferred[col("Link")])), ("L1".into(), "inferred".into()));
    let hostile = rows.iter().find(|r| s(&r[to]).contains("HYPERLINK")).expect("the sale to EV");
    assert!(s(&hostile[to]).starts_with("'="), "defused: {}", s(&hostile[to]));

    let mut zh = Vec::new();
    trace_export::fsma204_xlsx(&c.s, &tree, Lang::Zh, &mut zh).unwrap();
    let rows = sheet(&mut book(zh), "FSMA 204");
    assert_eq!(s(&rows[0][1]), "追溯批次码");
    let cert = row_with(&rows, column(&rows, "参考单据编号"), "C1");
    assert_eq!(s(&cert[column(&rows, "参考单据类型")]), "合格证");
    assert_eq!(s(&cert[column(&rows, "产品描述")]), "芹菜");
    assert_eq!(s(&cert[column(&rows, "计量单位")]), "千克");
}

#[test]
fn a_backward_trace_exports_its_receipts() {
    let c = chain();
    let tree = trace::backward(&c.s, &Start::Lot("L2".into()), &TraceOptions::default()).unwrap();
    let events = trace_export::fsma204_rows(&c.s, &tree, Lang::En).unwrap();
    let lots: Vec<(&str, Event)> = events.iter().map(|e| (e.lot_code.as_str(), e.event)).collect();
    assert_eq!(lots, [("L1", Event::Receiving), ("L2", Event::Receiving)], "{events:#?}");
}

/// The sheets of `file` as LibreOffice reads them: Calc, headless, writes each sheet as UTF-8 CSV
/// (`{stem}-{sheet}.csv`), read back with the csv crate. LibreOffice (`soffice`, Debian's
/// `libreoffice-calc`) is installed by scripts/setup.
fn opened_in_libreoffice(dir: &std::path::Path, file: &str) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    let out = dir.join("csv");
    // Its own profile: two instances sharing one would wait for each other's lock.
    let profile = format!("-env:UserInstallation=file://{}", dir.join("profile").display());
    let status = std::process::Command::new("soffice")
        .args([&profile, "--headless", "--convert-to"])
        // UTF-8 (76), comma-separated, double quotes; every sheet (-1), each to its own file.
        .arg("csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1")
        .arg(dir.join(file))
        .arg("--outdir")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("LibreOffice (soffice) runs: scripts/setup installs libreoffice-calc");
    assert!(status.success(), "soffice converted {file}: {status}");
    let stem = file.trim_end_matches(".xlsx");
    let mut sheets = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&out).expect("LibreOffice wrote CSV files") {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let Some(sheet) = name.strip_prefix(&format!("{stem}-")) else { continue };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(&path).unwrap();
        let rows = reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
        sheets.insert(sheet.to_string(), rows);
    }
    sheets
}

#[test]
fn both_exports_open_in_libreoffice_with_their_chinese_text() {
    let c = chain();
    let tree = trace::forward(&c.s, &Start::Lot("L1".into()), &TraceOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut recall = Vec::new();
    trace_export::recall_xlsx(&tree, Lang::Zh, &mut recall).unwrap();
    std::fs::write(dir.path().join("recall.xlsx"), recall).unwrap();
    let mut fsma = Vec::new();
    trace_export::fsma204_xlsx(&c.s, &tree, Lang::Zh, &mut fsma).unwrap();
    std::fs::write(dir.path().join("fsma204.xlsx"), fsma).unwrap();

    let sheets = opened_in_libreoffice(dir.path(), "recall.xlsx");
    assert_eq!(sheets.keys().collect::<Vec<_>>(), ["召回清单", "合计"], "the recall list's sheets");
    let rows = &sheets["召回清单"];
    assert_eq!(rows[0], trace_export::recall_headers(Lang::Zh), "the recall list's Chinese headers");
    assert_eq!(rows.len(), 5, "a header and four recipients: {rows:?}");
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let canteen = rows.iter().find(|r| r[col("编码")] == "K1").expect("the school canteen");
    assert_eq!(
        (canteen[col("去向类型")].as_str(), canteen[col("学校/幼儿园食堂")].as_str(), canteen[col("数量")].as_str()),
        ("学校食堂", "是", "10")
    );
    let hostile = rows.iter().find(|r| r[col("编码")] == "EV").expect("the restaurant");
    assert_eq!(hostile[col("名称")], "'=HYPERLINK(\"http://x\",\"点我\")", "text, not a formula LibreOffice ran");
    assert!(sheets["合计"].iter().any(|r| r[0] == "食堂"), "the totals per kind: {:?}", sheets["合计"]);

    let sheets = opened_in_libreoffice(dir.path(), "fsma204.xlsx");
    let rows = &sheets["FSMA 204"];
    assert_eq!(rows[0], trace_export::fsma204_headers(Lang::Zh), "the FSMA 204 spreadsheet's Chinese headers");
    assert_eq!(rows.len(), 7, "a header and six events: {rows:?}");
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let cert = rows.iter().find(|r| r[col("参考单据编号")] == "C1").expect("the receipt with the certificate");
    assert_eq!(
        (cert[col("关键追踪事件")].as_str(), cert[col("产品描述")].as_str(), cert[col("计量单位")].as_str()),
        ("收货", "芹菜", "千克")
    );
}
