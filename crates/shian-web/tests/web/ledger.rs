//! Supervision on the web: a failed sample imported into market A is dispatched once, reaches the
//! market's official and operator in their inbox, opens a ledger entry that their regulators see and
//! another county's does not (404, also through the API), is acknowledged, disposed of (hold →
//! re-test → destroy with an evidence file → close) with every step on the timeline, shows who
//! received the goods, and is found by the test-results page's verdict filter. Forms without
//! their CSRF token are refused.

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::{Value, json};
use shian_domain::Kind;
use shian_domain::access::{Role, Scope};
use shian_services::accounts::{self, NewAccount};
use shian_services::import::{ImportOptions, NoProgress, import_file};
use shian_services::supervision::dispatch::run_once;
use shian_services::supervision::{NotifyConfig, snapshot};
use shian_services::trace::{self, Start, TraceOptions};
use shian_store::Store;
use shian_web::auth::{SESSION_COOKIE, urlencode};

use crate::support::{PASSWORD, Resp, TestApp, all, text};

// ---------------------------------------------------------------- the scenario

/// A failed sample in market A and what the test knows about it.
struct Failed {
    sample_no: String,
    sample_id: i64,
    entry: i64,
}

/// A lot of market A that was sold on: (vendor code, variety code, lot code).
fn sold_lot(store: &dyn Store, market: i64) -> (String, String, String) {
    let sales = all(store, Kind::Outbound, &Scope::Market(market), vec![]);
    let s = sales
        .iter()
        .find(|s| !text(Kind::Outbound, s, "lot_code").is_empty())
        .unwrap_or_else(|| panic!("market {market} has no sale naming its lot"));
    let t = |f| text(Kind::Outbound, s, f);
    (t("vendor"), t("variety"), t("lot_code"))
}

fn import(store: &mut dyn Store, kind: Kind, dir: &std::path::Path, name: &str, csv: String) {
    let path = dir.join(name);
    std::fs::write(&path, csv).expect("write the file");
    let report = import_file(store, kind, &path, &ImportOptions::default(), &NoProgress).expect("import");
    assert_eq!(report.rejected, 0, "{name}: {report:?}");
}

/// Imports a sample of a lot sold in market A with chlorpyrifos over its limit, and dispatches.
fn failed_sample(app: &TestApp) -> Failed {
    let mut store = app.store();
    let a = &app.fixture.market_a;
    let (vendor, variety, lot) = sold_lot(store.as_ref(), a.id);
    let sample_no = "CJ-WEB-0001".to_string();
    let dir = app.db_path.parent().expect("the app's directory");
    let sample = format!(
        "抽样单编号,被抽样单位类型,被抽样单位编码,市场编码,品种编码,批次追溯码,抽样日期,检验机构\n\
         {sample_no},市场销售者,{vendor},{},{variety},{lot},2026-02-03,河北省食品检验研究院\n",
        a.code
    );
    let items = format!(
        "抽样单编号,检验项目,检测值,检测值单位,限量值,检验方法\n\
         {sample_no},毒死蜱,0.2,mg/kg,0.05,GB 23200.113-2018\n\
         {sample_no},腐霉利,0.01,mg/kg,0.2,GB 23200.113-2018\n"
    );
    import(store.as_mut(), Kind::Sample, dir, "sample.csv", sample);
    import(store.as_mut(), Kind::SampleItem, dir, "items.csv", items);
    run_once(store.as_mut(), &NotifyConfig::default()).expect("dispatch");
    let sample_id = store.resolve(Kind::Sample, &[&sample_no]).expect("resolve")[0].1;
    let entry = store.entry_for_source("sample", sample_id).expect("entry").expect("an entry was opened").id;
    Failed { sample_no, sample_id, entry }
}

/// Imports a positive enzyme-inhibition rapid test in market A and dispatches: (test no, entry).
fn failed_rapid_test(app: &TestApp) -> (String, i64) {
    let mut store = app.store();
    let a = &app.fixture.market_a;
    let (vendor, variety, lot) = sold_lot(store.as_ref(), a.id);
    let test_no = "KJ-WEB-0001";
    let csv = format!(
        "检测编号,市场编码,销售者编码,品种编码,批次追溯码,检测项目,检测方法,抑制率（%）或检测值,检测时间\n\
         {test_no},{},{vendor},{variety},{lot},有机磷和氨基甲酸酯类农药,enzyme_inhibition,62,2026-02-03 09:30:00\n",
        a.code
    );
    let dir = app.db_path.parent().expect("the app's directory");
    import(store.as_mut(), Kind::RapidTest, dir, "rapid.csv", csv);
    run_once(store.as_mut(), &NotifyConfig::default()).expect("dispatch");
    let id = store.resolve(Kind::RapidTest, &[test_no]).expect("resolve")[0].1;
    let entry = store.entry_for_source("rapid_test", id).expect("entry").expect("an entry was opened").id;
    (test_no.to_string(), entry)
}

/// A county regulator of market B's county, signed in: (session cookie, CSRF token).
async fn other_county(app: &TestApp) -> (String, String) {
    let region = app.fixture.market_b.region.clone();
    let account = NewAccount {
        username: "county_b",
        display_name: "外县监管员",
        role: Role::CountyRegulator,
        scope: Some(&region),
        password: PASSWORD,
    };
    accounts::add_user(app.store().as_mut(), &account, "test-setup").expect("add user");
    let login = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("username=county_b&password={PASSWORD}")))
        .expect("request");
    let resp = app.send(login).await;
    let cookie = resp
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{SESSION_COOKIE}=")).map(|v| v.split(';').next().unwrap_or("").to_string())
        })
        .expect("a session cookie");
    let csrf = accounts::session(app.store().as_mut(), &cookie).expect("session").expect("live").csrf;
    (cookie, csrf)
}

async fn get_as(app: &TestApp, cookie: &str, path: &str) -> Resp {
    let req = Request::get(path)
        .header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        .body(Body::empty())
        .expect("request");
    app.send(req).await
}

/// A form post as a role's user, with the given CSRF token (or none).
async fn post_form(app: &TestApp, path: &str, role: Role, fields: &[(&str, &str)]) -> Resp {
    let session = app.session(role).await;
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    let req = Request::post(path)
        .header(header::COOKIE, format!("{SESSION_COOKIE}={}", session.cookie))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.join("&")))
        .expect("request");
    app.send(req).await
}

/// The action form, as a browser sends it (multipart, optional evidence file).
async fn act(app: &TestApp, entry: i64, role: Role, fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Resp {
    let session = app.session(role).await;
    let boundary = "----shian-ledger-test";
    let mut body = Vec::new();
    let csrf = [("csrf", session.csrf.as_str())];
    for (name, value) in csrf.iter().chain(fields) {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"; filename=\"{name}\"\r\n\
             Content-Type: text/plain\r\n\r\n"
        );
        body.extend(head.bytes());
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    let req = Request::post(format!("/ledger/{entry}/act"))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={}", session.cookie))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .expect("request");
    app.send(req).await
}

fn location(resp: &Resp) -> String {
    resp.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

fn state_of(app: &TestApp, entry: i64) -> String {
    app.store().entry(entry).expect("entry").expect("stored").state
}

// ---------------------------------------------------------------- inbox, board, scope

#[tokio::test]
async fn the_markets_people_are_told_and_another_countys_regulator_never_sees_the_entry() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let href = format!("/ledger/{}", f.entry);
    for role in [Role::AssignedOfficial, Role::MarketOperator] {
        let inbox = app.get("/inbox", role).await;
        assert!(inbox.status(200).text().contains(&format!("href=\"{href}\"")), "{role:?}'s inbox links the entry");
        let board = app.get("/ledger", role).await.status(200).text();
        assert!(board.contains(&format!("data-entry=\"{}\"", f.entry)), "{role:?} sees it on the board");
    }
    for role in [Role::CountyRegulator, Role::CityRegulator, Role::ProvinceRegulator] {
        let page = app.get(&href, role).await;
        assert!(page.status(200).text().contains(&f.sample_no), "{role:?} opens the entry");
    }
    for role in [Role::ChainHq, Role::AgriLiaison] {
        app.get(&href, role).await.status(404);
    }

    let (cookie, _) = other_county(&app).await;
    let page = get_as(&app, &cookie, &href).await;
    assert_eq!(page.status.as_u16(), 404, "another county's regulator: not found");
    assert!(!page.text().contains(&f.sample_no));
    let board = get_as(&app, &cookie, "/ledger?q=CJ-WEB").await.status(200).text();
    assert!(!board.contains(&format!("data-entry=\"{}\"", f.entry)), "nor on the board");
    assert_eq!(get_as(&app, &cookie, &format!("/api/v1/ledger/{}", f.entry)).await.status.as_u16(), 404);
    let listed = get_as(&app, &cookie, "/api/v1/ledger?limit=500").await.json();
    assert!(listed["items"].as_array().expect("items").iter().all(|i| i["id"] != f.entry));
    let evidence = get_as(&app, &cookie, &format!("{href}/evidence/1")).await;
    assert_eq!(evidence.status.as_u16(), 404);
}

#[tokio::test]
async fn the_board_filters_by_source_level_state_and_search() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let row = format!("data-entry=\"{}\"", f.entry);
    let county = Role::CountyRegulator;
    for (query, shown) in [
        ("source=sample", true),
        ("source=rapid_test", false),
        ("level=general", true),
        ("level=serious", false),
        ("state=active", true),
        ("state=verified_closed", false),
        ("q=CJ-WEB-0001", true),
        ("q=no-such-thing", false),
        (&format!("market={}", app.fixture.market_a.code) as &str, true),
    ] {
        let html = app.get(&format!("/ledger?{query}"), county).await.status(200).text();
        assert_eq!(html.contains(&row), shown, "/ledger?{query}");
    }
    app.get("/ledger?level=huge", county).await.status(400);
    let page = app.get("/ledger?source=sample&limit=1", county).await.status(200).text();
    assert!(page.contains("处置期限"), "Chinese by default");
}

#[tokio::test]
async fn acknowledging_marks_the_notice_read_and_forms_need_their_token() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let store = app.store();
    let official = store.user_by_name("assigned_official").expect("user").expect("exists");
    let notice = store.inbox(official.id, true, 100).expect("inbox").into_iter().find(|n| n.entry_id == Some(f.entry));
    let notice = notice.expect("the official has an unread notice about the entry");
    let path = format!("/inbox/{}/ack", notice.id);

    let forged = post_form(&app, &path, Role::AssignedOfficial, &[("csrf", "forged")]).await;
    assert_eq!(forged.status.as_u16(), 403);
    let csrf = app.session(Role::AssignedOfficial).await.csrf;
    let done = post_form(&app, &path, Role::AssignedOfficial, &[("csrf", &csrf)]).await;
    assert_eq!((done.status.as_u16(), location(&done).as_str()), (303, "/inbox"));
    let read = app.store().inbox(official.id, true, 100).expect("inbox");
    assert!(read.iter().all(|n| n.id != notice.id), "no longer unread");
    let log = app.store().audit_log(Some("assigned_official"), None, 20).expect("audit");
    assert!(log.iter().any(|a| a.action == "inbox.acknowledge"), "audited");

    let operator_csrf = app.session(Role::MarketOperator).await.csrf;
    let other = post_form(&app, &path, Role::MarketOperator, &[("csrf", &operator_csrf)]).await;
    assert_eq!(other.status.as_u16(), 404, "someone else's notice is not found");
    let html = app.get("/inbox", Role::AssignedOfficial).await.status(200).text();
    assert!(html.contains("已读于"), "shown among the read ones");
}

// ---------------------------------------------------------------- disposal

#[tokio::test]
async fn hold_retest_destroy_and_close_move_the_states_and_show_on_the_timeline() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let id = f.entry;
    let official = Role::AssignedOfficial;
    assert_eq!(state_of(&app, id), "open");

    let held = act(&app, id, official, &[("action", "hold"), ("note", "现场封存 20 kg")], None).await;
    assert_eq!((held.status.as_u16(), location(&held)), (303, format!("/ledger/{id}#timeline")));
    assert_eq!(state_of(&app, id), "in_disposal");

    let rapid =
        act(&app, id, official, &[("action", "retest"), ("method", "enzyme_inhibition"), ("result", "fail")], None);
    let refused = rapid.await;
    assert_eq!(refused.status.as_u16(), 400, "a rapid method cannot re-test");
    assert!(refused.text().contains("实验室"), "{}", refused.text());
    let lab = [("action", "retest"), ("method", "GB 23200.113-2018"), ("result", "fail"), ("note", "复检仍超标")];
    act(&app, id, official, &lab, None).await.status(303);
    assert_eq!(state_of(&app, id), "in_disposal", "a failed re-test leaves the goods to destroy");

    let proof = "销毁记录：20 kg 芹菜已无害化处理".as_bytes();
    let destroyed =
        act(&app, id, official, &[("action", "destroy"), ("note", "无害化销毁")], Some(("销毁记录.txt", proof)));
    destroyed.await.status(303);
    assert_eq!(state_of(&app, id), "disposed");

    let forged = [("csrf", "wrong")];
    assert_eq!(
        post_form(&app, &format!("/ledger/{id}/close"), Role::CountyRegulator, &forged).await.status.as_u16(),
        403
    );
    let csrf = app.session(Role::CountyRegulator).await.csrf;
    let close = [("csrf", csrf.as_str()), ("note", "核查无误")];
    post_form(&app, &format!("/ledger/{id}/close"), Role::CountyRegulator, &close).await.status(303);
    assert_eq!(state_of(&app, id), "verified_closed");

    let html = app.get(&format!("/ledger/{id}"), Role::CountyRegulator).await.status(200).text();
    for step in ["暂扣封存", "复检", "GB 23200.113-2018", "销毁", "核查办结", "站内通知", "已核查办结"]
    {
        assert!(html.contains(step), "the timeline shows {step}");
    }
    let timeline = &html[html.find("id=\"timeline\"").expect("timeline")..];
    let order: Vec<usize> = ["现场封存", "复检仍超标", "无害化销毁", "核查无误"]
        .iter()
        .map(|s| timeline.find(s).unwrap_or_else(|| panic!("{s} on the timeline")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "in time order: {order:?}");
    assert!(!html.contains("id=\"act\""), "a closed entry takes no more actions");

    let link = timeline.split("href=\"").nth(1).and_then(|s| s.split('"').next()).expect("an evidence link");
    assert!(link.starts_with(&format!("/ledger/{id}/evidence/")), "{link}");
    let file = app.get(link, Role::AssignedOfficial).await;
    assert_eq!(file.status(200).body, proof);
    let disposition = file.headers.get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let log = app.store().audit_log(None, None, 50).expect("audit");
    assert!(log.iter().filter(|a| a.action == "ledger.act").count() >= 4, "every step audited");
}

#[tokio::test]
async fn read_only_roles_see_no_forms_and_cannot_act() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let html = app.get(&format!("/ledger/{}", f.entry), Role::Auditor).await.status(200).text();
    assert!(!html.contains("id=\"act\"") && !html.contains("id=\"close\""));
    let resp = act(&app, f.entry, Role::Auditor, &[("action", "note"), ("note", "看看")], None).await;
    assert_eq!(resp.status.as_u16(), 403);
    let held = act(&app, f.entry, Role::AssignedOfficial, &[("action", "hold")], None).await;
    assert_eq!(held.status.as_u16(), 303, "the real token works");
    let session = app.session(Role::AssignedOfficial).await;
    let req = Request::post(format!("/ledger/{}/act", f.entry))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={}", session.cookie))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body(Body::from("--x\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nnote\r\n--x--\r\n"))
        .expect("request");
    assert_eq!(app.send(req).await.status.as_u16(), 403, "no token, no write");
}

// ---------------------------------------------------------------- recall scope, results, dashboard

#[tokio::test]
async fn the_entry_lists_who_received_the_lot_and_links_the_trace_and_the_recall_list() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let store = app.store();
    let tree = trace::forward(store.as_ref(), &Start::Sample(f.sample_no.clone()), &TraceOptions::default())
        .expect("forward trace");
    let expected = snapshot::recall_scope(&tree);
    assert!(!expected.recipients.is_empty(), "the lot was sold on");
    let html = app.get(&format!("/ledger/{}", f.entry), Role::CountyRegulator).await.status(200).text();
    let recall =
        &html[html.find("id=\"recall\"").expect("recall section")..html.find("id=\"origins\"").expect("origins")];
    assert!(recall.contains(&format!("id=\"recall-count\">{}<", expected.recipients.len())), "{recall}");
    for r in expected.recipients.iter().filter_map(|r| r.name.as_ref()) {
        assert!(recall.contains(r.as_str()), "{r} is in the recall scope");
    }
    assert!(
        recall.contains(&format!("/trace/export?q={}&#38;start=sample&#38;dir=forward&#38;format=recall", f.sample_no))
    );
    assert!(recall.contains(&format!("/trace?q={}&#38;start=sample&#38;dir=back", f.sample_no)));
    let export = app
        .get(&format!("/trace/export?q={}&start=sample&dir=forward&format=recall", f.sample_no), Role::CountyRegulator)
        .await;
    assert!(export.status(200).body.starts_with(b"PK"), "the recall list is an XLSX file");
}

#[tokio::test]
async fn the_results_page_filters_by_verdict_and_links_failures_to_their_entries() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let county = Role::CountyRegulator;
    let failed = app.get("/sampling?tab=sample&verdict=fail", county).await.status(200).text();
    assert!(failed.contains(&f.sample_no) && failed.contains(&format!("href=\"/ledger/{}\"", f.entry)));
    assert!(!failed.contains("data-verdict=\"pass\""));
    let passed = app.get("/sampling?tab=sample&verdict=pass", county).await.status(200).text();
    assert!(!passed.contains(&f.sample_no));
    let by_item = app.get("/sampling?tab=sample&item=毒死蜱", county).await.status(200).text();
    assert!(by_item.contains(&f.sample_no));
    let (test_no, rapid_entry) = failed_rapid_test(&app);
    let rapid = app.get("/sampling?verdict=fail", county).await.status(200).text();
    assert!(rapid.contains(&test_no) && rapid.contains(&format!("href=\"/ledger/{rapid_entry}\"")));
    assert!(!rapid.contains("data-verdict=\"pass\""), "rapid tests: failures only");
    let rapid_pass = app.get("/sampling?verdict=pass", county).await.status(200).text();
    assert!(rapid_pass.contains("data-verdict=\"pass\"") && !rapid_pass.contains(&test_no));
    assert!(!rapid_pass.contains("data-verdict=\"fail\""));
    let entry = app.get(&format!("/ledger/{rapid_entry}"), county).await.status(200).text();
    assert!(entry.contains("以实验室方法复检") && entry.contains("复检期限"), "the 4-hour laboratory re-test is due");
    assert!(entry.contains("<td>系统</td>"), "the dispatcher held the goods");
    app.get("/sampling?verdict=maybe", county).await.status(400);
    let elsewhere = app.get(&format!("/sampling?tab=sample&market={}", app.fixture.market_b.code), county).await;
    assert!(!elsewhere.status(200).text().contains(&f.sample_no));
    assert!(app.store().get(Kind::Sample, f.sample_id, &Scope::All).expect("get").is_some());
}

#[tokio::test]
async fn the_dashboard_counts_active_entries_by_level_and_links_the_board() {
    let app = TestApp::new();
    failed_sample(&app);
    let html = app.get("/", Role::CountyRegulator).await.status(200).text();
    assert!(html.contains("/ledger?state=active&#38;level=general"), "{html}");
    assert!(html.contains("/ledger?state=active&#38;overdue=1"));
    assert!(html.contains("条一般风险待处置"));
    assert!(html.contains("投诉举报"), "complaints are still counted");
}

#[tokio::test]
async fn a_manual_entry_is_opened_within_the_writers_scope() {
    let app = TestApp::new();
    let csrf = app.session(Role::AssignedOfficial).await.csrf;
    let form = [("csrf", csrf.as_str()), ("source", "manual"), ("level", "major"), ("title", "摊位冷柜温度异常")];
    let resp = post_form(&app, "/ledger/new", Role::AssignedOfficial, &form).await;
    assert_eq!(resp.status.as_u16(), 303, "{}", resp.text());
    let href = location(&resp);
    let page = app.get(&href, Role::CountyRegulator).await.status(200).text();
    assert!(
        page.contains("摊位冷柜温度异常") && page.contains(&app.fixture.market_a.name),
        "placed in the official's market"
    );

    let csrf = app.session(Role::CountyRegulator).await.csrf;
    let elsewhere = [
        ("csrf", csrf.as_str()),
        ("source", "manual"),
        ("level", "general"),
        ("title", "越权"),
        ("market", app.fixture.market_b.code.as_str()),
    ];
    let refused = post_form(&app, "/ledger/new", Role::CountyRegulator, &elsewhere).await;
    assert_eq!(refused.status.as_u16(), 400, "another city's market is refused");
    app.get("/ledger/new", Role::Auditor).await.status(403);
}

// ---------------------------------------------------------------- API

#[tokio::test]
async fn the_api_lists_reads_and_acts_within_scope() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let county = Role::CountyRegulator;
    let page = app.get("/api/v1/ledger?source=sample&limit=500", county).await.status(200).json();
    let item = page["items"].as_array().expect("items").iter().find(|i| i["id"] == f.entry).cloned();
    let item = item.expect("the entry is listed");
    assert_eq!((item["level"].as_str(), item["state"].as_str()), (Some("general"), Some("open")));
    app.get("/api/v1/ledger?nonsense=1", county).await.status(400);
    app.get("/api/v1/ledger", Role::ChainHq).await.status(403);

    let csrf = app.session(Role::AssignedOfficial).await.csrf;
    let form = [("csrf", csrf.as_str()), ("source", "manual"), ("level", "general"), ("title", "第二条")];
    post_form(&app, "/ledger/new", Role::AssignedOfficial, &form).await.status(303);
    let two = app.get("/api/v1/ledger?limit=1", Role::ProvinceRegulator).await.status(200).json();
    let before = two["next_before"].as_i64().expect("a next page");
    let next = app.get(&format!("/api/v1/ledger?limit=1&before={before}"), Role::ProvinceRegulator).await.json();
    let ids: Vec<i64> = next["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_i64()).collect();
    assert!(!ids.is_empty() && ids.iter().all(|i| *i < before), "{ids:?} below {before}");

    let detail = app.get(&format!("/api/v1/ledger/{}", f.entry), county).await.status(200).json();
    assert_eq!(detail["entry"]["id"], json!(f.entry));
    assert!(detail["recall"]["recipients"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(detail["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["kind"] == "notice")));
    assert!(detail["items"].as_array().is_some_and(|i| i.iter().any(|x| x["item"] == "毒死蜱")));

    let path = format!("/api/v1/ledger/{}/actions", f.entry);
    let held = app.post_json(&path, &json!({"action": "hold", "note": "API 封存"}), county).await;
    assert_eq!(held.status(201).json()["entry"]["state"], "in_disposal");
    let bad = app.post_json(&path, &json!({"action": "close"}), county).await;
    assert_eq!(bad.status(400).json()["error"]["code"], "refused");
    let token = app.token(county);
    let by_token =
        app.post_json(&path, &json!({"action": "note", "note": "令牌备注"}), crate::support::Who::Token(token)).await;
    by_token.status(201);
    let no_header = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(header::COOKIE, format!("{SESSION_COOKIE}={}", app.session(county).await.cookie))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"action": "note", "note": "x"}).to_string()))
        .expect("request");
    let refused = app.send(no_header).await;
    assert_eq!((refused.status.as_u16(), refused.json()["error"]["code"].clone()), (403, json!("csrf")));

    let (cookie, csrf) = other_county(&app).await;
    let foreign = Request::post(&path)
        .header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
        .header(shian_web::api::CSRF_HEADER, csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"action": "note", "note": "越界"}).to_string()))
        .expect("request");
    assert_eq!(app.send(foreign).await.status.as_u16(), 404);
}

#[tokio::test]
async fn the_api_inbox_counts_unread_and_acknowledges() {
    let app = TestApp::new();
    let f = failed_sample(&app);
    let who = Role::MarketOperator;
    let inbox = app.get("/api/v1/inbox?unread=true", who).await.status(200).json();
    let unread = inbox["unread"].as_u64().expect("unread count");
    let notice: Value = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|n| n["entry_id"] == json!(f.entry))
        .cloned()
        .expect("a notice about the entry");
    let count_only = app.get("/api/v1/inbox?limit=0", who).await.status(200).json();
    assert_eq!((count_only["unread"].as_u64(), count_only["items"].as_array().map(Vec::len)), (Some(unread), Some(0)));
    let ack = format!("/api/v1/inbox/{}/ack", notice["id"]);
    assert_eq!(app.post_json(&ack, &json!({}), who).await.status(200).json()["acknowledged"], true);
    assert_eq!(app.post_json(&ack, &json!({}), who).await.status(200).json()["acknowledged"], false, "read already");
    let after = app.get("/api/v1/inbox?limit=0", who).await.json();
    assert_eq!(after["unread"].as_u64(), Some(unread - 1));
    app.post_json(&ack, &json!({}), Role::CountyRegulator).await.status(404);
    let doc = app.get("/api/openapi.json", crate::support::Who::Nobody).await.json();
    for path in [
        "/api/v1/ledger",
        "/api/v1/ledger/{id}",
        "/api/v1/ledger/{id}/actions",
        "/api/v1/inbox",
        "/api/v1/inbox/{id}/ack",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}
