//! `shian import` exit codes and messages, the errors file, idempotent re-import, `history`, and
//! helpful refusals of unknown kinds and formats.

use crate::support::*;

const MARKETS: &str = "市场编码,市场名称,市场类型,所在区划代码
M0001,新华路农贸市场,农贸市场,130102
M0002,胜利街农贸市场,农贸市场,999999
M0003,桥西蔬菜批发市场,批发市场,130104
";

const VENDORS: &str = "销售者编码,市场编码,销售者名称,主体类型,摊位号
V0001,M0001,张三蔬菜,个体工商户,A-01
V0002,M0001,李四鲜肉,个体工商户,B-02
V0003,M0003,王五果品有限公司,企业,C-03
";

#[test]
fn a_bad_row_exits_3_and_says_where_and_why_in_chinese_by_default() {
    let db = Db::fresh();
    let file = db.write("markets.csv", MARKETS);

    let out = db.run(&["import", "market", file.to_str().unwrap()]);

    out.code(3);
    for part in ["markets.csv:3", "[所在区划代码]", "\"999999\"", "不是有效的行政区划代码"] {
        assert!(out.stderr.contains(part), "stderr lacks {part:?}:\n{}", out.stderr);
    }
    assert!(out.stdout.contains("新增 2") && out.stdout.contains("拒绝 1"), "{}", out.stdout);
    assert_eq!(db.count("market"), 2, "the good rows are stored");
}

#[test]
fn a_bad_row_is_explained_in_english_with_lang_en_and_written_to_the_errors_file() {
    let db = Db::fresh();
    let file = db.write("markets.csv", MARKETS);
    let errors = db.file("rejected.csv");

    let out = db.run_en(&["import", "market", file.to_str().unwrap(), "--errors", errors.to_str().unwrap()]);

    out.code(3);
    for part in ["markets.csv:3", "[所在区划代码]", "\"999999\"", "not a GB/T 2260 region code"] {
        assert!(out.stderr.contains(part), "stderr lacks {part:?}:\n{}", out.stderr);
    }
    assert!(!out.stderr.contains("不是有效"), "no Chinese reason with --lang en:\n{}", out.stderr);
    assert_eq!(out.summary(), Summary { read: 3, inserted: 2, updated: 0, unchanged: 0, rejected: 1 });

    let written = std::fs::read_to_string(&errors).unwrap();
    let written = written.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 2, "the header and the one rejected row:\n{written}");
    assert!(lines[0].starts_with("市场编码,市场名称,市场类型,所在区划代码,"), "{}", lines[0]);
    assert!(lines[1].starts_with("M0002,胜利街农贸市场,农贸市场,999999,"), "the row as it was: {}", lines[1]);
    assert!(lines[1].contains("not a GB/T 2260 region code"), "with its reason: {}", lines[1]);

    // Corrected, the errors file imports as it is (its reason column is ignored).
    std::fs::write(&errors, written.replace(",999999,", ",130105,")).unwrap();
    let fixed = db.run_en(&["import", "market", errors.to_str().unwrap()]);
    assert_eq!(fixed.ok().summary(), Summary { read: 1, inserted: 1, updated: 0, unchanged: 0, rejected: 0 });
    assert_eq!(db.count("market"), 3);
}

#[test]
fn importing_a_clean_file_again_adds_nothing() {
    let db = Db::fresh();
    let markets = db.write("markets.csv", MARKETS.replace("999999", "130105"));
    let vendors = db.write("vendors.csv", VENDORS);
    assert_eq!(db.import("market", &markets).inserted, 3);
    assert_eq!(db.import("vendor", &vendors), Summary { read: 3, inserted: 3, updated: 0, unchanged: 0, rejected: 0 });
    let before = db.stats();

    let again = db.run_en(&["import", "vendor", vendors.to_str().unwrap()]);

    again.ok();
    assert!(again.stdout.contains("0 inserted"), "{}", again.stdout);
    assert_eq!(again.summary(), Summary { read: 3, inserted: 0, updated: 0, unchanged: 3, rejected: 0 });
    assert_eq!(db.stats(), before);

    let zh = db.run(&["import", "market", markets.to_str().unwrap()]);
    zh.ok();
    assert!(zh.stdout.contains("新增 0") && zh.stdout.contains("未变 3"), "{}", zh.stdout);
    assert_eq!(db.stats(), before);
}

#[test]
fn history_shows_the_value_a_reimport_replaced() {
    let db = Db::fresh();
    let markets = db.write("markets.csv", MARKETS.replace("999999", "130105"));
    let vendors = db.write("vendors.csv", VENDORS);
    db.import("market", &markets);
    db.import("vendor", &vendors);
    let none = db.run_en(&["history", "vendor", "V0001"]);
    assert!(none.ok().stdout.contains("no previous versions"), "{}", none.stdout);

    let changed = db.write("vendors.csv", VENDORS.replace("张三蔬菜,", "张三蔬菜经营部,"));
    assert_eq!(db.import("vendor", &changed), Summary { read: 3, inserted: 0, updated: 1, unchanged: 2, rejected: 0 });

    let out = db.run(&["history", "vendor", "V0001"]);
    out.ok();
    assert_eq!(out.stdout.lines().count(), 1, "one previous version:\n{}", out.stdout);
    assert!(out.stdout.contains("\"name\":\"张三蔬菜\""), "the previous name:\n{}", out.stdout);
    assert!(!out.stdout.contains("张三蔬菜经营部"), "not the current one:\n{}", out.stdout);
    let current = String::from_utf8(db.export("vendor", &[])).unwrap();
    assert!(current.contains("V0001,M0001,A-01,张三蔬菜经营部,"), "{current}");
    let untouched = db.run_en(&["history", "vendor", "V0002"]);
    assert!(untouched.ok().stdout.contains("no previous versions"), "{}", untouched.stdout);

    let missing = db.run_en(&["history", "vendor", "V9999"]);
    missing.code(1);
    assert!(missing.stderr.contains("no vendor V9999"), "{}", missing.stderr);
}

#[test]
fn an_unknown_kind_is_refused_with_the_list_of_kinds() {
    let db = Db::fresh();
    let file = db.write("markets.csv", MARKETS);
    for (lang, words) in
        [("zh", ["未知的记录类型“vendorz”", "可用"]), ("en", ["unknown record kind \"vendorz\"", "one of"])]
    {
        for args in [vec!["import", "vendorz", file.to_str().unwrap()], vec!["export", "vendorz"]] {
            let mut all = vec!["--lang", lang];
            all.extend(args);
            let out = db.run(&all);
            out.code(1);
            for word in words.iter().chain(&["vendor", "outbound", "routine_record"]) {
                assert!(out.stderr.contains(word), "`shian {}`: stderr lacks {word:?}:\n{}", out.args, out.stderr);
            }
        }
    }
    let history = db.run_en(&["history", "vendorz", "V1"]);
    history.code(1);
    assert!(history.stderr.contains("unknown record kind \"vendorz\""), "{}", history.stderr);
    assert!(!db.path.exists(), "a mistyped command does not create the database");
}

#[test]
fn an_unknown_file_format_is_refused_with_the_formats_that_work() {
    let db = Db::fresh();
    let file = db.write("markets.dat", MARKETS);

    let zh = db.run(&["import", "market", file.to_str().unwrap()]);
    zh.code(1);
    assert!(zh.stderr.contains("无法判断文件格式") && zh.stderr.contains(".csv"), "{}", zh.stderr);
    let en = db.run_en(&["import", "market", file.to_str().unwrap()]);
    en.code(1);
    assert!(en.stderr.contains("markets.dat"), "names the file: {}", en.stderr);
    assert!(en.stderr.contains("unknown format: use .csv, .xlsx or .jsonl"), "{}", en.stderr);

    let named = db.run_en(&["import", "market", file.to_str().unwrap(), "--format", "pdf"]);
    named.code(1);
    assert!(named.stderr.contains("unknown format \"pdf\""), "{}", named.stderr);
    let export = db.run_en(&["export", "market", "--format", "pdf"]);
    export.code(1);
    assert!(export.stderr.contains("unknown format \"pdf\""), "{}", export.stderr);

    let missing = db.run_en(&["import", "market", db.file("nowhere.csv").to_str().unwrap()]);
    missing.code(1);
    assert!(missing.stderr.contains("nowhere.csv") && missing.stderr.contains("cannot open"), "{}", missing.stderr);
    assert_eq!(db.count("market"), 0);
}

#[test]
fn reading_commands_refuse_a_database_that_does_not_exist_and_create_none() {
    let db = Db::fresh();
    for args in [&["stats"][..], &["export", "vendor"], &["history", "vendor", "V1"], &["trace", "back", "T1"]] {
        let out = db.run_en(args);
        out.code(1);
        assert!(out.stderr.contains("does not exist"), "{args:?}: {}", out.stderr);
        assert!(!db.path.exists(), "{args:?} created {}", db.path.display());
    }
    let zh = db.run(&["stats"]);
    zh.code(1);
    assert!(zh.stderr.contains("不存在"), "{}", zh.stderr);
}
