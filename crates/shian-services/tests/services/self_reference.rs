//! Records that refer to records of their own kind earlier in the same file: a variety under a new
//! class, a supermarket store under its chain's head office.

use shian_domain::{Kind, Value};
use shian_services::import::ImportOptions;
use shian_store::Store;

use crate::support::*;

#[test]
fn a_variety_whose_parent_is_earlier_in_the_same_file_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let csv = "品种编码,品种名称,英文名称,上级品种编码,默认计量单位\n\
               0199,其他蔬菜类,Other vegetables,01,\n\
               019901,香椿,Toona sprouts,0199,kg\n\
               019902,蕨菜,Bracken,0199,斤\n";
    let before = store.count(Kind::Variety).unwrap();

    let report = import_clean(&mut store, Kind::Variety, &write_file(dir.path(), "varieties.csv", csv));

    assert_eq!(report.outcome.inserted, 3);
    assert_eq!(store.count(Kind::Variety).unwrap(), before + 3);
    assert_eq!(value(&store, Kind::Variety, "019901", "parent"), text("0199"));
    assert_eq!(value(&store, Kind::Variety, "019902", "unit"), text("jin"));
    assert_eq!(value(&store, Kind::Variety, "0199", "parent"), text("01"), "a parent from the catalogue");
}

const BUYERS: &str = "\
单位编码,单位类型,单位名称,所属超市总部编码,所在区划代码
B1,超市总部,北国超市总部,,130102
B2,超市总部,保龙仓总部,,130104
B3,超市门店,北国超市桥西店,B1,130104
B4,超市门店,保龙仓长安店,B2,130102
B5,单位食堂,桥西区实验小学食堂,,130104
";

#[test]
fn supermarket_stores_whose_head_office_is_earlier_in_the_same_file_are_imported() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let path = write_file(dir.path(), "buyers.csv", BUYERS);

    import_clean(&mut store, Kind::Buyer, &path);

    assert_eq!(value(&store, Kind::Buyer, "B3", "chain"), text("B1"));
    assert_eq!(value(&store, Kind::Buyer, "B4", "chain"), text("B2"));
    assert_eq!(value(&store, Kind::Buyer, "B5", "chain"), Value::Null);
    let again = import_clean(&mut store, Kind::Buyer, &path);
    assert_eq!(again.outcome.unchanged, 5, "and importing the file again changes nothing");
}

#[test]
fn a_store_under_an_unknown_head_office_does_not_hold_back_the_next_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let csv = BUYERS.replace("B3,超市门店,北国超市桥西店,B1,", "B3,超市门店,北国超市桥西店,B9,");

    let report = import(&mut store, Kind::Buyer, &write_file(dir.path(), "buyers.csv", csv)).unwrap();

    assert_eq!(report.rejected, 1, "{:#?}", described(&report));
    assert_eq!((report.errors[0].line, report.errors[0].value.as_str()), (4, "B9"));
    assert_eq!(keys(&store, Kind::Buyer), ["B1", "B2", "B4", "B5"]);
    assert_eq!(value(&store, Kind::Buyer, "B4", "chain"), text("B2"));
}

#[test]
fn a_head_office_in_an_earlier_batch_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store();
    let mut csv = String::from("code,buyer_kind,name,chain,region\n");
    for i in 0..5000 {
        csv += &format!("HQ{i},supermarket_hq,总部{i},,130102\n");
    }
    for i in 0..5000 {
        csv += &format!("S{i},supermarket,门店{i},HQ{},130104\n", 4999 - i);
    }
    let opts = ImportOptions { batch_size: 1000, ..ImportOptions::default() };

    let report = import_with(&mut store, Kind::Buyer, &write_file(dir.path(), "buyers.csv", csv), &opts).unwrap();

    assert_eq!((report.rejected, report.outcome.inserted), (0, 10_000), "{:#?}", described(&report));
    assert_eq!(value(&store, Kind::Buyer, "S0", "chain"), text("HQ4999"));
    assert_eq!(value(&store, Kind::Buyer, "S4999", "chain"), text("HQ0"));
}
