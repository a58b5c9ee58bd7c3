//! `shian import` of a failed rapid test notifies and opens a ledger entry; `shian ledger`,
//! `shian inbox` and `shian notify` as a market's official and a regulator use them: the entry
//! with its hold and re-test window, a re-test refused for a rapid method, destruction with an
//! evidence file, closing, the inbox acknowledged; another market's people are not told.

use crate::support::*;

const MARKETS: &str = "市场编码,市场名称,市场类型,所在区划代码\n\
    M1,长安农贸市场,农贸市场,130102\n\
    M2,桥西农贸市场,农贸市场,130104\n";

const STAFF: &str = "人员编码,市场编码,角色,姓名,联系电话\n\
    M1-S1,M1,包保干部,王包保,13800000001\n\
    M2-S1,M2,包保干部,李包保,13900000002\n";

const VENDORS: &str = "销售者编码,市场编码,销售者名称,主体类型\n\
    V1,M1,张三,自然人\n\
    V2,M2,李四,自然人\n";

const RAPID: &str = "检测编号,市场编码,销售者编码,品种编码,批次追溯码,检测项目,检测方法,抑制率（%）或检测值,定性结果,检测时间\n\
    KJ1,M1,V1,010101,T1,有机磷和氨基甲酸酯类农药,酶抑制法,71.5,,2026-02-03 09:00:00\n\
    KJ2,M2,V2,010101,T2,有机磷和氨基甲酸酯类农药,酶抑制法,10.0,,2026-02-03 09:00:00\n";

/// A database with two markets, their rosters and vendors, and accounts for their people.
fn province() -> Db {
    let db = Db::fresh();
    for (kind, name, text) in
        [("market", "m.csv", MARKETS), ("market_staff", "s.csv", STAFF), ("vendor", "v.csv", VENDORS)]
    {
        db.import(kind, &db.write(name, text));
    }
    for (user, role, scope) in [
        ("official1", "assigned_official", "M1"),
        ("operator1", "market_operator", "M1"),
        ("official2", "assigned_official", "M2"),
    ] {
        let args = ["user", "add", user, "--role", role, "--scope", scope];
        let out = Out::of(&args, db.command(&args).env("SHIAN_PASSWORD", "a-long-password-1").output().unwrap());
        out.ok();
    }
    db
}

fn json(out: &Out) -> serde_json::Value {
    out.ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("`shian {}`: {e}: {}", out.args, out.stdout))
}

#[test]
fn an_imported_positive_rapid_test_is_followed_from_the_inbox_to_a_closed_entry() {
    let db = province();
    let out = db.run_en(&["import", "rapid_test", db.write("kj.csv", RAPID).to_str().unwrap()]);
    out.ok();
    assert!(out.stdout.contains("1 risk-ledger entries opened"), "{}", out.stdout);

    let inbox = json(&db.run(&["inbox", "official1", "--json"]));
    let notices = inbox.as_array().unwrap();
    assert_eq!(notices.len(), 1, "{inbox}");
    assert!(notices[0]["title"].as_str().unwrap().contains("不合格预警"), "{inbox}");
    assert_eq!(json(&db.run(&["inbox", "operator1", "--json"])).as_array().unwrap().len(), 1);
    assert!(json(&db.run(&["inbox", "official2", "--json"])).as_array().unwrap().is_empty(), "M2 is not told");

    let entries = json(&db.run(&["ledger", "list", "--json"]));
    let id = entries[0]["id"].as_i64().unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(notices[0]["entry_id"].as_i64(), Some(id));
    assert_eq!(entries[0]["owner"], "王包保");
    let show = json(&db.run(&["ledger", "show", &id.to_string(), "--json"]));
    assert_eq!(show["actions"][0]["action"], "hold");
    assert!(show["retest_due"].as_i64().is_some(), "{show}");
    let text = db.run(&["ledger", "show", &id.to_string()]);
    text.ok();
    assert!(text.stdout.contains("复检") && text.stdout.contains("暂扣封存"), "{}", text.stdout);

    let id = id.to_string();
    let rapid = db.run_en(&["ledger", "act", &id, "--action", "retest", "--method", "胶体金", "--result", "pass"]);
    rapid.code(1);
    assert!(rapid.stderr.contains("laboratory method"), "{}", rapid.stderr);
    db.run(&["ledger", "act", &id, "--action", "retest", "--method", "GB 23200.113-2018", "--result", "fail"]).ok();
    let photo = db.write("destroyed.jpg", [0xFF, 0xD8, 0xFF, 0xE0]);
    let destroy = ["ledger", "act", &id, "--action", "destroy", "--note", "现场销毁 30 公斤", "--evidence"];
    let mut args = destroy.to_vec();
    args.push(photo.to_str().unwrap());
    db.run(&args).ok();
    db.run(&["ledger", "close", &id, "--note", "核查无误"]).ok();
    let closed = json(&db.run(&["ledger", "show", &id, "--json"]));
    assert_eq!(closed["entry"]["state"], "verified_closed");
    assert!(closed["actions"].as_array().unwrap().iter().any(|a| a["evidence_id"].as_i64().is_some()), "{closed}");
    assert_eq!(json(&db.run(&["ledger", "list", "--state", "open", "--json"])).as_array().unwrap().len(), 0);

    let notice = notices[0]["id"].as_i64().unwrap().to_string();
    db.run(&["inbox", "official1", "--ack", &notice]).ok();
    db.run(&["inbox", "official1", "--ack", &notice]).code(1);
    assert!(json(&db.run(&["inbox", "official1", "--json"])).as_array().unwrap().is_empty(), "read now");
    assert_eq!(json(&db.run(&["inbox", "official1", "--all", "--json"])).as_array().unwrap().len(), 1);

    let again = json(&db.run(&["notify", "run", "--json"]));
    assert_eq!(again["opened"], 0, "the import dispatched already: {again}");
}

#[test]
fn ledger_commands_refuse_what_does_not_exist() {
    let db = province();
    let out = db.run_en(&["ledger", "show", "42"]);
    out.code(1);
    assert!(out.stderr.contains("no ledger entry 42"), "{}", out.stderr);
    db.run(&["ledger", "list", "--state", "half_done"]).code(1);
    db.run(&["ledger", "act", "1", "--action", "burn"]).code(1);
    db.run(&["inbox", "nobody"]).code(1);
    let opened = db.run(&["ledger", "open", "--title", "市场冷库温度异常", "--market", "M2", "--level", "major"]);
    opened.ok();
    assert_eq!(json(&db.run(&["inbox", "official2", "--json"])).as_array().unwrap().len(), 1);
    let status = json(&db.run(&["notify", "status", "--json"]));
    assert_eq!(status["events_waiting"], 0);
}
