//! Column headers: Chinese or English are both read; a file without a required column is refused
//! before anything is written, naming the column.

use shian_domain::{Kind, Lang};
use shian_services::import::ImportError;
use shian_store::Store;

use crate::support::*;

#[test]
fn chinese_and_english_headers_store_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let zh = "市场编码,市场名称,市场类型,所在区划代码,经度,纬度,开业日期,经营状态\n\
              M1,桥西蔬菜批发市场,批发市场,130104,114.48,38.03,2010-05-01,营业\n";
    let en = "Code, Name ,Market Kind,REGION,lon,lat,opened_on,status\n\
              M1,桥西蔬菜批发市场,wholesale,130104,114.48,38.03,2010/5/1,open\n";
    let mut from_zh = store();
    let mut from_en = store();

    import_clean(&mut from_zh, Kind::Market, &write_file(dir.path(), "zh.csv", zh));
    let report = import_clean(&mut from_en, Kind::Market, &write_file(dir.path(), "en.csv", en));

    assert!(report.warnings.is_empty(), "every English header is recognised: {:?}", report.warnings);
    assert_eq!(rows(&from_zh, Kind::Market), rows(&from_en, Kind::Market));
    assert_eq!(value(&from_en, Kind::Market, "M1", "market_kind"), text("wholesale"));
    assert_eq!(value(&from_en, Kind::Market, "M1", "lat"), shian_domain::Value::Real(38.03));
}

#[test]
fn a_missing_required_column_refuses_the_file_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let path = write_file(dir.path(), "markets.csv", "市场编码,市场名称,所在区划代码\nM1,桥西市场,130104\n");

    let err = import(&mut store, Kind::Market, &path).expect_err("the market kind column is required");

    let ImportError::Header { file, reason } = &err else { panic!("expected a header error, got {err:?}") };
    assert_eq!(file, "markets.csv");
    assert!(reason.zh.contains("缺少必需的列：市场类型"), "{}", reason.zh);
    assert!(reason.en.contains("missing required columns: market_kind"), "{}", reason.en);
    assert!(err.describe(Lang::Zh).starts_with("markets.csv: 缺少必需的列：市场类型"), "{}", err.describe(Lang::Zh));
    assert_eq!(store.count(Kind::Market).unwrap(), 0, "nothing is written");
}

#[test]
fn every_missing_required_column_is_named_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let path = write_file(dir.path(), "vendors.csv", "code,name,phone\nV1,张三,13803111234\n");

    let Err(ImportError::Header { reason, .. }) = import(&mut store, Kind::Vendor, &path) else {
        panic!("expected a header error")
    };

    assert!(reason.en.contains("market, subject_kind"), "{}", reason.en);
    assert!(reason.zh.contains("市场编码、主体类型"), "{}", reason.zh);
}

#[test]
fn a_column_given_twice_refuses_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let csv = "市场编码,code,市场名称,市场类型,所在区划代码\nM1,M1,桥西市场,批发市场,130104\n";
    let path = write_file(dir.path(), "markets.csv", csv);

    let Err(ImportError::Header { reason, .. }) = import(&mut store, Kind::Market, &path) else {
        panic!("expected a header error")
    };

    assert!(reason.en.contains("\"code\" appears twice"), "{}", reason.en);
    assert_eq!(store.count(Kind::Market).unwrap(), 0);
}

#[test]
fn unknown_columns_are_ignored_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let csv = "市场编码,备注,市场名称,市场类型,所在区划代码\nM1,随便写写,桥西市场,批发市场,130104\n";

    let report = import_clean(&mut store, Kind::Market, &write_file(dir.path(), "markets.csv", csv));

    assert_eq!(report.outcome.inserted, 1);
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].zh, "未识别的列“备注”已忽略");
    assert_eq!(report.warnings[0].en, "unknown column \"备注\" ignored");
}

#[test]
fn a_computed_column_in_the_file_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_markets(dir.path());
    // The file claims 合格 for an enzyme inhibition of 62.5 %, which is positive: the verdict is fail.
    let csv = "检测编号,市场编码,品种编码,检测项目,检测方法,抑制率（%）或检测值,判定,检测时间\n\
               R1,M1,010101,有机磷和氨基甲酸酯类农药,酶抑制法,62.5,合格,2026-03-02 08:00\n\
               R2,M1,010601,有机磷和氨基甲酸酯类农药,酶抑制法,49.9,不合格,2026-03-02 08:05\n";

    let report = import_clean(&mut store, Kind::RapidTest, &write_file(dir.path(), "rapid.csv", csv));

    assert!(
        report.warnings.iter().any(|w| w.zh.contains("判定") && w.zh.contains("系统计算")),
        "{:?}",
        report.warnings
    );
    assert_eq!(value(&store, Kind::RapidTest, "R1", "verdict"), text("fail"));
    assert_eq!(value(&store, Kind::RapidTest, "R2", "verdict"), text("pass"));
}

#[test]
fn reference_data_cannot_be_imported() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let path = write_file(dir.path(), "regions.csv", "区划代码,名称,级别\n999999,乌有县,3\n");

    let err = import(&mut store, Kind::Region, &path).expect_err("regions are reference data");

    assert!(matches!(err, ImportError::NotImportable("region")), "{err:?}");
    assert!(err.describe(Lang::Zh).contains("参考数据"));
}
