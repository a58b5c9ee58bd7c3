//! Export → import round-trips: a dataset of every importable kind, exported in each format and
//! header language, imports into a fresh store whose export is the same.

use std::path::{Path, PathBuf};

use shian_domain::{Kind, Lang, Value};
use shian_services::Format;
use shian_store::sqlite::SqliteStore;
use shian_store::{BatchOutcome, Store};

use crate::support::*;

fn importable() -> impl Iterator<Item = Kind> {
    Kind::ALL.into_iter().filter(|k| k.def().importable)
}

/// One CSV file per kind, in import order, covering every importable kind and every field type.
fn dataset() -> Vec<(Kind, String)> {
    let operator = uscc("91130104MA0CXK0Q1");
    let company = uscc("91130102MA0D1B2C3");
    let coop = uscc("93130109MA0A0B0C0");
    let chain = uscc("91130100700701234");
    let person = id_number("13010219800101123");
    vec![
        (
            Kind::Variety,
            "品种编码,品种名称,英文名称,上级品种编码,默认计量单位\n\
             0199,其他蔬菜类,Other vegetables,01,\n\
             019901,香椿,Toona sprouts,0199,kg\n"
                .into(),
        ),
        (
            Kind::Market,
            format!(
                "code,name,market_kind,region,address,lon,lat,operator,operator_credit_code,opened_on,status\n\
                 M1,桥西蔬菜批发市场,批发市场,130104,\"石家庄市桥西区中华南大街1号, 东门\",114.4823,38.0312,石家庄市场开发有限公司,{operator},2010-05-01,营业\n\
                 M2,=SUM(A1)长安农贸市场,farmers,长安区,,,,,,2015/3/8,closed\n"
            ),
        ),
        (
            Kind::MarketStaff,
            "人员编码,市场编码,角色,姓名,联系电话,单位及职务,任命日期,在岗\n\
             S1,M1,食品安全总监,王芳,13803111234,市场管理办公室主任,2024-01-02,是\n\
             S2,M1,包保干部,李强,0311-86881234,桥西区市场监管局副局长,2024-01-05,否\n\
             S3,M2,officer,赵敏,,,,\n"
                .into(),
        ),
        (
            Kind::Vendor,
            format!(
                "code,market,stall,name,subject_kind,credit_code,contact,phone,business_scope,agreement_no,agreement_start,agreement_end,agreement_status,qr_token,status\n\
                 V1,M1,A-01,张三蔬菜,自然人,{person},张三,,叶菜、根茎菜批发,XY-2024-001,2024-01-01,2026-12-31,有效,QR0001,在营\n\
                 V2,M1,A-02,河北绿源农产品有限公司,enterprise,{company},李四,13911112222,\"=HYPERLINK(\"\"http://example.com\"\")\",XY-2024-002,2024-01-01,2025-12-31,expired,QR0002,active\n\
                 V3,M2,,赵六猪肉,个体工商户,,,,,,,,,,已退场\n"
            ),
        ),
        (
            Kind::VendorVariety,
            "销售者编码,品种编码,开始经营日期,主要产地区划代码\n\
             V1,010101,2024-01-01,130109\n\
             V1,019901,,\n\
             V2,010601,2024-02-01,460200\n\
             V3,0301,,\n"
                .into(),
        ),
        (
            Kind::Producer,
            format!(
                "code,name,producer_kind,credit_code,region,address,contact,phone\n\
                 P1,藁城区宏达蔬菜种植专业合作社,农民专业合作社,{coop},130109,藁城区岗上镇,刘宏达,13700001111\n\
                 P2,王家庄养殖场,family_farm,,130104,,,\n"
            ),
        ),
        (
            Kind::Buyer,
            format!(
                "单位编码,单位类型,食堂类别,单位名称,所属超市总部编码,所在区划代码,地址,统一社会信用代码,联系人,联系电话\n\
                 B1,超市总部,,北国超市总部,,130102,,{chain},,\n\
                 B2,超市门店,,北国超市桥西店,B1,130104,自强路1号,,店长,0311-87654321\n\
                 B3,单位食堂,学校食堂,桥西区实验小学食堂,,130104,,,,\n"
            ),
        ),
        (
            Kind::OriginCertificate,
            "cert_no,producer,variety,product_name,quantity,unit,origin,issued_on,basis,commitment,self_test\n\
             C1,P1,010101,芹菜,500,kg,130109,2026-03-01,自检合格,\"我承诺对生产销售的食用农产品：\n不使用禁用农药兽药\",农残速测阴性\n\
             C2,P1,019901,,0.75,t,130109,2026-03-01,self_commitment,,\n"
                .into(),
        ),
        (
            Kind::QuarantineCertificate,
            "cert_no,quarantine_kind,producer,variety,quantity,unit,origin,issued_on,issuer,destination\n\
             Q1,动物产品检疫合格证明,P2,0301,200.5,kg,130104,2026-03-01,桥西区动物卫生监督所,石家庄桥西蔬菜批发市场\n"
                .into(),
        ),
        (
            Kind::Inbound,
            "source,ext_id,vendor,variety,lot_code,quantity,unit,received_at,supplier_kind,supplier,supplier_name,supplier_lot,certificate,quarantine,amount\n\
             pos,IN1,V1,010101,L0001,500,kg,2026-03-02 06:30,producer,P1,,,C1,,1250.50\n\
             pos,IN2,V2,010601,L0002,30.25,斤,2026-03-02 07:00:15,vendor,V1,,L0001,,,¥88\n\
             pos,IN3,V3,0301,L0003,200.5,kg,2026-03-01T21:00:00Z,other,,个体屠宰户老王,,,Q1,\n\
             pos,IN4,V2,010601,L0004,12,箱,2026-03-02 08:00,超市或其他单位,B1,,B1-778,,,-3.5\n"
                .into(),
        ),
        (
            Kind::Outbound,
            "source,ext_id,vendor,variety,lot_code,quantity,unit,sold_at,buyer_kind,buyer,buyer_name,amount\n\
             pos,-0017,V1,010101,L0001,20,kg,2026-03-02 09:00,市场销售者,V2,,40\n\
             pos,OUT2,V1,010101,L0001,100,kg,2026-03-02 10:00,supermarket,B2,,200.00\n\
             pos,OUT3,V2,010601,L0002,1.5,斤,2026-03-02 11:00,consumer,,散客,3.5\n\
             pos,OUT4,V1,010101,L0001,40,kg,2026-03-02 11:30,canteen,B3,,0.01\n"
                .into(),
        ),
        (
            Kind::RapidTest,
            "检测编号,市场编码,销售者编码,品种编码,批次追溯码,检测项目,检测方法,抑制率（%）或检测值,定性结果,检测时间,检测人员\n\
             R1,M1,V1,010101,L0001,有机磷和氨基甲酸酯类农药,酶抑制法,62.5,,2026-03-02 08:00,检测员甲\n\
             R2,M1,V2,010601,,有机磷和氨基甲酸酯类农药,enzyme_inhibition,12,,2026-03-02 08:10,\n\
             R3,M2,V3,0301,,克伦特罗,胶体金免疫层析法,,阴性,2026-03-02 08:20,\n"
                .into(),
        ),
        (
            Kind::Sample,
            "sample_no,subject_kind,subject,market,variety,lot_code,sampled_on,sampler,lab,report_no,reported_on,plan\n\
             SP1,vendor,V1,M1,010101,L0001,2026-03-03,桥西区市场监管局,河北省食品检验研究院,BG-2026-001,2026-03-10,2026年第一季度蔬菜抽检\n\
             SP2,buyer,B3,,010601,,2026-03-04,,,,,\n\
             SP3,producer,P1,,019901,,20260305,,,,,\n"
                .into(),
        ),
        (
            Kind::SampleItem,
            "sample,item,value,unit,limit,method\n\
             SP1,毒死蜱,0.08,mg/kg,0.05,GB 23200.113-2018\n\
             SP1,克百威,0,mg/kg,0.02,\n\
             SP2,腐霉利,1e-3,mg/kg,0,\n"
                .into(),
        ),
        (
            Kind::Inspection,
            "检查编号,市场编码,销售者编码,检查日期,检查人员,检查类型,发现问题数,检查发现,整改要求与情况,状态\n\
             I1,M1,V1,2026-03-05,\"张科长, 李干事\",日常检查,2,\"进货查验记录不全\n部分商品无合格证\",限期三日内整改,整改中\n\
             I2,M2,,2026-03-06,王干事,special,0,,,no_issue\n"
                .into(),
        ),
        (
            Kind::Complaint,
            "complaint_no,channel,received_at,market,vendor,variety,content,status,reply,replied_on\n\
             CP1,12315热线,2026-03-06 14:20,M1,V2,010601,\"买的豇豆有异味，怀疑农残超标\",已办结,\"经核查属实，已责令下架\",2026-03-08\n\
             CP2,qr,2026-03-07 09:00:30,,,,@店家 缺斤短两,received,,\n"
                .into(),
        ),
        (
            Kind::Case,
            "case_no,market,vendor,opened_on,violation,legal_basis,penalty,status,closed_on\n\
             CA1,M1,V1,2026-03-11,销售农药残留超标的芹菜,《中华人民共和国食品安全法》第一百二十四条,5000,已处罚,\n\
             CA2,,,2026-03-12,无证经营,,,open,\n"
                .into(),
        ),
        (
            Kind::RoutineRecord,
            "market,period,period_start,performed_by,items_checked,problems,summary,recorded_at\n\
             M1,日管控,2026-03-02,王芳,12,0,未发现问题,2026-03-02 18:00\n\
             M1,weekly,2026-03-02,王芳,30,1,+1 处标签不规范,2026-03-06 17:30\n\
             M2,monthly,2026-03-01,,,,-,\n"
                .into(),
        ),
    ]
}

/// A store holding the dataset, every row of it accepted.
fn source_store(dir: &Path) -> SqliteStore {
    let mut store = store();
    for (kind, csv) in dataset() {
        import_clean(&mut store, kind, &write_file(dir, &format!("{}.csv", kind.name()), csv));
    }
    store
}

#[test]
fn the_dataset_covers_every_importable_kind_and_is_imported_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = source_store(dir.path());

    for kind in importable() {
        assert!(store.count(kind).unwrap() > 0, "{kind:?} has records");
    }
    assert_eq!(value(&store, Kind::RapidTest, "R1", "verdict"), text("fail"), "62.5 % inhibition is positive");
    assert_eq!(value(&store, Kind::RapidTest, "R2", "verdict"), text("pass"));
    assert_eq!(value(&store, Kind::RapidTest, "R3", "verdict"), text("pass"));
    assert_eq!(value(&store, Kind::SampleItem, "SP1", "verdict"), text("fail"), "0.08 > 0.05");
    assert_eq!(value(&store, Kind::Buyer, "B2", "chain"), text("B1"));
    assert_eq!(value(&store, Kind::Inbound, "pos", "supplier"), text("P1"));
    assert_eq!(value(&store, Kind::Inbound, "pos", "certificate"), text("C1"));
    assert_eq!(value(&store, Kind::Inbound, "pos", "amount"), Value::Int(125_050), "money in fen");
    let outbound = rows(&store, Kind::Outbound);
    let (kind_at, buyer_at) = (8, 9);
    let buyers: Vec<_> = outbound.iter().map(|r| (r[kind_at].clone(), r[buyer_at].clone())).collect();
    assert_eq!(
        buyers,
        [
            (text("vendor"), text("V2")),
            (text("supermarket"), text("B2")),
            (text("consumer"), Value::Null),
            (text("canteen"), text("B3")),
        ]
    );
    assert_eq!(value(&store, Kind::Market, "M2", "name"), text("=SUM(A1)长安农贸市场"));
}

#[test]
fn exported_csv_defuses_formulas_and_the_import_restores_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = source_store(dir.path());

    let csv = String::from_utf8(export_to_vec(&store, Kind::Market, Format::Csv, Lang::Zh)).unwrap();
    assert!(csv.contains("\nM2,'=SUM(A1)长安农贸市场,"), "{csv}");
    assert!(!csv.contains(",=SUM"), "no cell starts with =: {csv}");
    let vendors = String::from_utf8(export_to_vec(&store, Kind::Vendor, Format::Csv, Lang::En)).unwrap();
    assert!(vendors.contains(",\"'=HYPERLINK(\"\"http://example.com\"\")\","), "{vendors}");
    let routine = String::from_utf8(export_to_vec(&store, Kind::RoutineRecord, Format::Csv, Lang::Zh)).unwrap();
    assert!(routine.contains(",'+1 处标签不规范,"), "{routine}");
    assert!(routine.contains(",'-,"), "{routine}");
    let complaints = String::from_utf8(export_to_vec(&store, Kind::Complaint, Format::Csv, Lang::Zh)).unwrap();
    assert!(complaints.contains(",'@店家 缺斤短两,"), "{complaints}");

    let mut target = store_with_markets(dir.path());
    let path = write_file(dir.path(), "exported-markets.csv", &csv);
    import_clean(&mut target, Kind::Market, &path);
    assert_eq!(value(&target, Kind::Market, "M2", "name"), text("=SUM(A1)长安农贸市场"));
}

#[test]
fn enumerations_are_exported_in_the_language_of_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    let store = source_store(dir.path());

    let zh = parse_csv(&export_to_vec(&store, Kind::Market, Format::Csv, Lang::Zh));
    let en = parse_csv(&export_to_vec(&store, Kind::Market, Format::Csv, Lang::En));

    assert_eq!(&zh[0][..4], ["市场编码", "市场名称", "市场类型", "所在区划代码"]);
    assert_eq!(&en[0][..4], ["code", "name", "market_kind", "region"]);
    assert_eq!((zh[1][2].as_str(), zh[1][10].as_str()), ("批发市场", "营业"));
    assert_eq!((en[1][2].as_str(), en[1][10].as_str()), ("wholesale", "open"));
}

fn export_all(store: &SqliteStore, dir: &Path, format: Format, lang: Lang) -> Vec<(Kind, PathBuf)> {
    importable()
        .map(|kind| {
            let path = write_file(
                dir,
                &format!("{}.{}", kind.name(), format.extension()),
                export_to_vec(store, kind, format, lang),
            );
            (kind, path)
        })
        .collect()
}

/// The cells of an XLSX file's first sheet, as text.
fn xlsx_cells(path: &Path) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    let range = book.worksheet_range_at(0).expect("a sheet").unwrap();
    range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

fn round_trip(format: Format, lang: Lang) {
    let dir = tempfile::tempdir().unwrap();
    let source = source_store(dir.path());
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let exported = export_all(&source, first.path(), format, lang);

    let mut target = store();
    for (kind, path) in &exported {
        let report = import_clean(&mut target, *kind, path);
        assert_eq!(report.rows_read, source.count(*kind).unwrap(), "{kind:?}");
    }
    let again = export_all(&target, second.path(), format, lang);

    for ((kind, a), (_, b)) in exported.iter().zip(&again) {
        let (a_bytes, b_bytes) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        match format {
            Format::Csv | Format::Jsonl => assert!(
                a_bytes == b_bytes,
                "{kind:?} differs after the round trip:\n{}\n---\n{}",
                String::from_utf8_lossy(&a_bytes),
                String::from_utf8_lossy(&b_bytes)
            ),
            Format::Xlsx => {
                assert_eq!(xlsx_cells(a), xlsx_cells(b), "{kind:?}");
                for lang in [Lang::Zh, Lang::En] {
                    assert_eq!(
                        String::from_utf8(export_to_vec(&source, *kind, Format::Csv, lang)).unwrap(),
                        String::from_utf8(export_to_vec(&target, *kind, Format::Csv, lang)).unwrap(),
                        "{kind:?}"
                    );
                }
            }
        }
        assert_eq!(rows(&source, *kind), rows(&target, *kind), "{kind:?}: the stored records are the same");
    }

    // The exports are themselves idempotent input.
    for (kind, path) in &exported {
        let report = import_clean(&mut target, *kind, path);
        let n = target.count(*kind).unwrap();
        assert_eq!(report.outcome, BatchOutcome { inserted: 0, updated: 0, unchanged: n }, "{kind:?}");
    }
}

#[test]
fn csv_with_chinese_headers_round_trips() {
    round_trip(Format::Csv, Lang::Zh);
}

#[test]
fn csv_with_english_headers_round_trips() {
    round_trip(Format::Csv, Lang::En);
}

#[test]
fn xlsx_with_chinese_headers_round_trips() {
    round_trip(Format::Xlsx, Lang::Zh);
}

#[test]
fn xlsx_with_english_headers_round_trips() {
    round_trip(Format::Xlsx, Lang::En);
}

#[test]
fn jsonl_with_chinese_keys_round_trips() {
    round_trip(Format::Jsonl, Lang::Zh);
}

#[test]
fn jsonl_with_english_keys_round_trips() {
    round_trip(Format::Jsonl, Lang::En);
}
