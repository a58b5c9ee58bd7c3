//! The JSON API: routes, paging, filters, the error shape, sign-in, scope (a role × object
//! matrix), writes and the OpenAPI document.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Value, json};
use shian_domain::access::{Role, Scope};
use shian_domain::{Kind, Value as Cell};
use shian_services::accounts;
use shian_store::Store;
use shian_store::query::{Filter, Listed};
use shian_web::api::{Endpoint, schema_name};
use shian_web::auth::urlencode;

use crate::support::{Resp, TestApp, Who, all, text};

// ---------------------------------------------------------------- helpers

/// The items of a list answered with 200.
#[track_caller]
fn items(resp: &Resp) -> Vec<Value> {
    resp.status(200);
    resp.json()["items"].as_array().cloned().unwrap_or_else(|| panic!("no items: {}", resp.text()))
}

async fn list(app: &TestApp, path: &str, who: impl Into<Who>) -> Vec<Value> {
    items(&app.get(path, who).await)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The error shape: `{"error": {"code", "message", "message_en"}}` with text in both languages.
#[track_caller]
fn assert_error(resp: &Resp, status: u16, code: &str) -> Value {
    resp.status(status);
    let body = resp.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!s(&body["error"]["message"]).is_empty() && !s(&body["error"]["message_en"]).is_empty(), "{body}");
    body
}

/// The names of the refused fields of a 400.
#[track_caller]
fn refused_fields(resp: &Resp) -> Vec<String> {
    let body = assert_error(resp, 400, "bad_request");
    let fields = body["error"]["fields"].as_array().cloned().unwrap_or_default();
    for f in &fields {
        assert!(!s(&f["message"]).is_empty() && !s(&f["message_en"]).is_empty(), "{f}");
    }
    fields.iter().map(|f| s(&f["field"]).to_string()).collect()
}

/// Walks a list page by page; returns the ids in the order seen.
async fn walk(app: &TestApp, kind: &str, limit: usize, who: Who) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut path = format!("/api/v1/{kind}?limit={limit}");
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        let resp = app.get(&path, who.clone()).await;
        let page = items(&resp);
        assert!(page.len() <= limit);
        ids.extend(page.iter().map(|i| i["id"].as_i64().expect("id")));
        match resp.json()["next_before"].as_i64() {
            Some(next) => {
                assert_eq!(page.len(), limit, "a page with a next page is full");
                assert_eq!(Some(next), ids.last().copied(), "next_before is the last id of the page");
                before = Some(next);
            }
            None => return ids,
        }
        assert!(ids.len() < 100_000, "paging does not end");
    }
}

/// The id of the first record of a kind within a scope (with filters).
fn first(store: &dyn Store, kind: Kind, scope: &Scope, filters: Vec<Filter>) -> Listed {
    all(store, kind, scope, filters).into_iter().next().unwrap_or_else(|| panic!("no {kind:?} in {scope:?}"))
}

// ---------------------------------------------------------------- routes, paging, filters

#[tokio::test]
async fn every_route_answers() {
    let app = TestApp::new();
    let who = Role::ProvinceRegulator;
    for e in Endpoint::ALL {
        if !e.per_kind() {
            // The signed-in endpoints without a kind (ledger, inbox) have their own tests.
            if e.public() {
                app.get(e.path(), Who::Nobody).await.status(200);
            }
            continue;
        }
        for kind in Kind::ALL.into_iter().filter(|k| e.serves(*k)) {
            let path = e.path().replace("{kind}", kind.name());
            match e {
                Endpoint::List => {
                    list(&app, &format!("{path}?limit=2"), who).await;
                }
                Endpoint::Get => {
                    let page = list(&app, &format!("/api/v1/{}?limit=1", kind.name()), who).await;
                    let Some(item) = page.first() else { continue };
                    let one = app.get(&path.replace("{id}", &item["id"].to_string()), who).await;
                    assert_eq!(&one.status(200).json(), item, "a record reads the same alone and in a list");
                }
                _ => {
                    let empty = app.post_json(&path, &json!({}), who).await;
                    assert!(!refused_fields(&empty).is_empty(), "an empty {} is refused", kind.name());
                }
            }
        }
    }
    assert_error(&app.post_json("/api/v1/region", &json!({}), who).await, 405, "not_writable");
    assert_error(&app.get("/api/v1/nonsense", who).await, 404, "not_found");
    assert_error(&app.get("/api/v1/vendor/999999999", who).await, 404, "not_found");
    assert_error(&app.get("/api/v1/vendor/abc", who).await, 404, "not_found");
}

#[tokio::test]
async fn the_kinds_the_tests_rely_on_have_records() {
    let app = TestApp::new();
    for kind in
        [Kind::Market, Kind::Vendor, Kind::Inbound, Kind::Outbound, Kind::RapidTest, Kind::Buyer, Kind::Producer]
    {
        assert!(!list(&app, &format!("/api/v1/{}?limit=1", kind.name()), Role::Admin).await.is_empty(), "{kind:?}");
    }
}

#[tokio::test]
async fn paging_walks_a_list_without_repeats_or_gaps() {
    let app = TestApp::new();
    let ids = walk(&app, "vendor", 7, Who::User(Role::ProvinceRegulator)).await;
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no record twice");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(ids.len() as u64, app.store().count(Kind::Vendor).expect("count"));

    let county = Scope::Region(app.fixture.market_a.region.clone());
    let ids = walk(&app, "inbound", 500, Who::User(Role::CountyRegulator)).await;
    assert_eq!(ids.len() as u64, app.store().count_in(Kind::Inbound, &county, &[]).expect("count"));
}

#[tokio::test]
async fn items_are_written_for_reading() {
    let app = TestApp::new();
    let sales = list(&app, "/api/v1/outbound?limit=50", Role::ProvinceRegulator).await;
    for sale in &sales {
        let at = s(&sale["sold_at"]);
        assert!(at.len() == 25 && at.ends_with("+08:00") && &at[10..11] == "T", "China time ISO 8601: {at}");
        if let Some(amount) = sale["amount"].as_str() {
            let (yuan, fen) = amount.split_once('.').expect("yuan.fen");
            assert!(yuan.parse::<i64>().is_ok() && fen.len() == 2, "money as yuan: {amount}");
        }
        assert!(sale["vendor_name"].is_string(), "a reference carries its name: {sale}");
        assert!(sale["quantity"].is_number());
    }
    let staff = list(&app, "/api/v1/market_staff?limit=20", Role::ProvinceRegulator).await;
    assert!(staff.iter().all(|p| p["active"].is_boolean() || p["active"].is_null()));
    let markets = list(&app, "/api/v1/market?limit=5", Role::ProvinceRegulator).await;
    assert!(markets.iter().all(|m| s(&m["region_name"]).contains('市') || s(&m["region_name"]).contains('县')));
}

#[tokio::test]
async fn filters_narrow_lists() {
    let app = TestApp::new();
    let (f, who) = (app.fixture, Role::ProvinceRegulator);
    let vendors = list(&app, &format!("/api/v1/vendor?market={}&limit=500", f.market_a.code), who).await;
    assert!(!vendors.is_empty() && vendors.iter().all(|v| v["market"] == f.market_a.code.as_str()));
    let expected = app.store().count_in(Kind::Vendor, &Scope::Market(f.market_a.id), &[]).expect("count");
    assert_eq!(vendors.len() as u64, expected);

    let city = &f.market_a.region[..4];
    let markets = list(&app, &format!("/api/v1/market?region={city}"), who).await;
    assert!(!markets.is_empty() && markets.iter().all(|m| s(&m["region"]).starts_with(city)));

    let farmers = list(&app, &format!("/api/v1/market?market_kind={}", urlencode("农贸市场")), who).await;
    assert!(!farmers.is_empty() && farmers.iter().all(|m| m["market_kind"] == "farmers"), "enum values in Chinese");

    let active = list(&app, "/api/v1/market_staff?active=true&limit=100", who).await;
    assert!(!active.is_empty() && active.iter().all(|p| p["active"] == true));

    let code = s(&vendors[0]["code"]).to_string();
    let found = list(&app, &format!("/api/v1/vendor?q={code}"), who).await;
    assert!(found.iter().any(|v| v["code"] == code.as_str()), "search by code");
    let receipts = list(&app, &format!("/api/v1/inbound?vendor={code}&limit=500"), who).await;
    assert!(receipts.iter().all(|r| r["vendor"] == code.as_str()), "equality on a reference");

    let latest = list(&app, "/api/v1/outbound?limit=1", who).await;
    let day = &s(&latest[0]["sold_at"])[..10];
    let sales = list(&app, &format!("/api/v1/outbound?from={day}&to={day}&limit=500"), who).await;
    assert!(!sales.is_empty() && sales.iter().all(|x| s(&x["sold_at"]).starts_with(day)), "from/to on the time field");

    let failed = list(&app, "/api/v1/rapid_test?verdict=fail&limit=500", who).await;
    assert!(failed.iter().all(|t| t["verdict"] == "fail"));
}

#[tokio::test]
async fn bad_parameters_answer_400_naming_each_one() {
    let app = TestApp::new();
    let who = Role::ProvinceRegulator;
    let resp = app.get("/api/v1/vendor?limit=0&colour=red&before=x", who).await;
    assert_eq!(refused_fields(&resp), ["limit", "colour", "before"]);
    let message = resp.json()["error"]["message_en"].as_str().unwrap_or("").to_string();
    assert!(message.contains("colour") && message.contains("limit"), "{message}");
    for (query, field) in [
        ("vendor?limit=501", "limit"),
        ("vendor?from=2026-01-01", "from"),
        ("outbound?to=yesterday", "to"),
        ("market?region=abc", "region"),
        ("variety?region=13", "region"),
        ("market?market_kind=castle", "market_kind"),
        ("vendor?market=A&market=B", "market"),
        ("vendor?supplier=x", "supplier"),
        ("vendor?q=", "q"),
    ] {
        let resp = app.get(&format!("/api/v1/{query}"), who).await;
        assert_eq!(refused_fields(&resp), [field], "{query}");
    }
}

#[tokio::test]
async fn without_sign_in_the_api_answers_401_in_json() {
    let app = TestApp::new();
    assert_error(&app.get("/api/v1/market", Who::Nobody).await, 401, "unauthorized");
    assert_error(&app.get("/api/v1/market/1", Who::Nobody).await, 401, "unauthorized");
    assert_error(&app.post_json("/api/v1/market", &json!({}), Who::Nobody).await, 401, "unauthorized");
    let bogus = Who::Token("shian_0123456789abcdef0123456789abcdef0123456789abcdef".into());
    assert_error(&app.get("/api/v1/market", bogus).await, 401, "unauthorized");
}

// ---------------------------------------------------------------- scope

/// A record a test tries to read, with text that must not leak when it is refused.
#[derive(Debug, Clone)]
struct Target {
    kind: Kind,
    id: i64,
    /// The natural key's last part (a code, a test number, a receipt's external id).
    code: String,
    secrets: Vec<String>,
}

impl Target {
    fn of(kind: Kind, l: &Listed) -> Target {
        let def = kind.def();
        let names = def.key.iter().copied().filter(|k| *k != "source").chain(def.field("name").map(|_| "name"));
        let secrets: Vec<String> = names.map(|n| text(kind, l, n)).filter(|t| t.len() >= 4).collect();
        let code = text(kind, l, def.key[def.key.len() - 1]);
        Target { kind, id: l.id, code, secrets }
    }

    fn path(&self) -> String {
        format!("/api/v1/{}/{}", self.kind.name(), self.id)
    }
}

/// The records of the matrix, by name.
struct Targets(HashMap<String, Target>);

impl Targets {
    fn load(app: &TestApp) -> Targets {
        let store = app.store();
        let st = store.as_ref();
        let f = app.fixture;
        let (a, b) = (Scope::Market(f.market_a.id), Scope::Market(f.market_b.id));
        let mut t = HashMap::new();
        for (name, market) in [("market_a", &f.market_a), ("market_b", &f.market_b)] {
            let secrets = vec![market.code.clone(), market.name.clone()];
            t.insert(
                name.to_string(),
                Target { kind: Kind::Market, id: market.id, code: market.code.clone(), secrets },
            );
        }
        for (suffix, scope) in [("a", &a), ("b", &b)] {
            for (kind, name) in [(Kind::Vendor, "vendor"), (Kind::Inbound, "inbound"), (Kind::RapidTest, "rapid_test")]
            {
                t.insert(format!("{name}_{suffix}"), Target::of(kind, &first(st, kind, scope, vec![])));
            }
        }
        let chain = Scope::Enterprise(f.chain.id);
        let store_of_chain = all(st, Kind::Buyer, &chain, vec![]).into_iter().find(|l| l.id != f.chain.id);
        t.insert("chain_store".into(), Target::of(Kind::Buyer, &store_of_chain.expect("a store of the chain")));
        let outsider = all(st, Kind::Buyer, &Scope::All, vec![])
            .into_iter()
            .find(|l| l.id != f.chain.id && text(Kind::Buyer, l, "chain") != f.chain.code);
        t.insert("other_buyer".into(), Target::of(Kind::Buyer, &outsider.expect("a buyer outside the chain")));
        let liaison = Scope::Region(f.liaison_region.clone());
        t.insert("producer_in".into(), Target::of(Kind::Producer, &first(st, Kind::Producer, &liaison, vec![])));
        let prefix = Scope::region_prefix(&f.liaison_region).to_string();
        let far = all(st, Kind::Producer, &Scope::All, vec![])
            .into_iter()
            .find(|l| !text(Kind::Producer, l, "region").starts_with(&prefix));
        t.insert("producer_out".into(), Target::of(Kind::Producer, &far.expect("a producer elsewhere")));
        Targets(t)
    }

    fn get(&self, name: &str) -> &Target {
        self.0.get(name).unwrap_or_else(|| panic!("no target {name}"))
    }
}

/// For each role: the targets it must not read, and those it must.
fn matrix(role: Role) -> (Vec<&'static str>, Vec<&'static str>) {
    const A: [&str; 4] = ["market_a", "vendor_a", "inbound_a", "rapid_test_a"];
    const B: [&str; 4] = ["market_b", "vendor_b", "inbound_b", "rapid_test_b"];
    const EVERYTHING: [&str; 12] = [
        "market_a",
        "vendor_a",
        "inbound_a",
        "rapid_test_a",
        "market_b",
        "vendor_b",
        "inbound_b",
        "rapid_test_b",
        "chain_store",
        "other_buyer",
        "producer_in",
        "producer_out",
    ];
    match role {
        Role::ProvinceRegulator | Role::Admin | Role::Auditor => (vec![], EVERYTHING.to_vec()),
        Role::CityRegulator | Role::CountyRegulator => (B.to_vec(), A.to_vec()),
        Role::AssignedOfficial | Role::MarketOperator | Role::MarketStaff => {
            ([&B[..], &["other_buyer", "producer_out"]].concat(), A.to_vec())
        }
        Role::ChainHq => {
            (["market_a", "vendor_a", "inbound_a", "other_buyer", "producer_in"].to_vec(), vec!["chain_store"])
        }
        Role::AgriLiaison => (["market_a", "vendor_a", "rapid_test_b", "producer_out"].to_vec(), vec!["producer_in"]),
    }
}

#[tokio::test]
async fn each_role_reads_inside_its_scope_and_nothing_outside() {
    let app = TestApp::new();
    let targets = Targets::load(&app);
    for role in Role::ALL {
        let (outside, inside) = matrix(role);
        for name in outside {
            let t = targets.get(name);
            let resp = app.get(&t.path(), role).await;
            assert!(matches!(resp.status.as_u16(), 403 | 404), "{role:?} reads {name}: {}", resp.status);
            assert!(resp.json()["error"]["code"].is_string(), "{role:?} {name}: the error shape");
            let body = resp.text();
            for secret in &t.secrets {
                assert!(!body.contains(secret.as_str()), "{role:?} sees {secret:?} of {name}: {body}");
            }
        }
        for name in inside {
            let t = targets.get(name);
            let resp = app.get(&t.path(), role).await;
            assert_eq!(resp.status(200).json()["id"], t.id, "{role:?} reads {name}");
        }
    }
}

/// The market codes within a role's scope, by the markets' own region codes.
fn markets_of(app: &TestApp, role: Role) -> BTreeSet<String> {
    let f = app.fixture;
    let markets = all(app.store().as_ref(), Kind::Market, &Scope::All, vec![]);
    let region = |l: &Listed| text(Kind::Market, l, "region");
    let code = |l: &Listed| text(Kind::Market, l, "code");
    match role {
        Role::CityRegulator => markets.iter().filter(|l| region(l)[..4] == f.market_a.region[..4]).map(code).collect(),
        Role::CountyRegulator => markets.iter().filter(|l| region(l) == f.market_a.region).map(code).collect(),
        _ => BTreeSet::from([f.market_a.code.clone()]),
    }
}

#[tokio::test]
async fn lists_hold_only_rows_within_the_scope() {
    let app = TestApp::new();
    let vendor_market: HashMap<String, String> = all(app.store().as_ref(), Kind::Vendor, &Scope::All, vec![])
        .iter()
        .map(|l| (text(Kind::Vendor, l, "code"), text(Kind::Vendor, l, "market")))
        .collect();
    let market_roles =
        [Role::CityRegulator, Role::CountyRegulator, Role::AssignedOfficial, Role::MarketOperator, Role::MarketStaff];
    for role in market_roles {
        let mine = markets_of(&app, role);
        let within = |code: &str| mine.contains(code);
        let markets = list(&app, "/api/v1/market?limit=500", role).await;
        assert!(!markets.is_empty() && markets.iter().all(|m| within(s(&m["code"]))), "{role:?} markets");
        let vendors = list(&app, "/api/v1/vendor?limit=500", role).await;
        assert!(!vendors.is_empty() && vendors.iter().all(|v| within(s(&v["market"]))), "{role:?} vendors");
        let tests = list(&app, "/api/v1/rapid_test?limit=500", role).await;
        assert!(tests.iter().all(|t| within(s(&t["market"]))), "{role:?} rapid tests");
        let receipts = list(&app, "/api/v1/inbound?limit=500", role).await;
        let market_of = |r: &Value| vendor_market.get(s(&r["vendor"])).cloned().unwrap_or_default();
        assert!(!receipts.is_empty() && receipts.iter().all(|r| within(&market_of(r))), "{role:?} receipts");
    }
    let f = app.fixture;
    let buyers = list(&app, "/api/v1/buyer?limit=500", Role::ChainHq).await;
    let ours = |b: &Value| b["code"] == f.chain.code.as_str() || b["chain"] == f.chain.code.as_str();
    assert!(buyers.len() > 1 && buyers.iter().all(ours), "the chain sees its own stores");
    assert!(list(&app, "/api/v1/market", Role::ChainHq).await.is_empty());
    let prefix = Scope::region_prefix(&f.liaison_region).to_string();
    let producers = list(&app, "/api/v1/producer?limit=500", Role::AgriLiaison).await;
    assert!(!producers.is_empty() && producers.iter().all(|p| s(&p["region"]).starts_with(&prefix)));
    assert_error(&app.get("/api/v1/market", Role::AgriLiaison).await, 403, "forbidden");
}

// ---------------------------------------------------------------- writes

fn new_vendor(code: &str, market: &str) -> Value {
    json!({"code": code, "market": market, "name": "接口测试销售者", "subject_kind": "individual_business"})
}

fn find(store: &dyn Store, kind: Kind, code: &str) -> Option<i64> {
    store.find(kind, &[Cell::Text(code.into())]).expect("find")
}

#[tokio::test]
async fn a_write_inside_the_scope_is_stored_audited_and_kept_in_history() {
    let app = TestApp::new();
    let (f, op) = (app.fixture, Role::MarketOperator);
    let created = app.post_json("/api/v1/vendor", &new_vendor("API-V-001", &f.market_a.code), op).await;
    let item = created.status(201).json();
    assert_eq!((s(&item["market"]), s(&item["market_name"])), (f.market_a.code.as_str(), f.market_a.name.as_str()));
    let id = item["id"].as_i64().expect("id");
    assert_eq!(app.get(&format!("/api/v1/vendor/{id}"), op).await.status(200).json(), item);

    let mut changed = new_vendor("API-V-001", &f.market_a.code);
    changed["stall"] = json!("A-001");
    let updated = app.post_json("/api/v1/vendor", &changed, op).await.status(200).json();
    assert_eq!((updated["id"].as_i64(), s(&updated["stall"])), (Some(id), "A-001"));

    let store = app.store();
    let history = store.history(Kind::Vendor, id).expect("history");
    assert_eq!(history.len(), 1, "the replaced version is kept");
    assert_eq!((&history[0].previous["stall"], &history[0].previous["name"]), (&Value::Null, &json!("接口测试销售者")));
    let log = store.audit_log(Some("market_operator"), None, 50).expect("audit log");
    let create = log.iter().find(|e| e.action == "api.create").expect("api.create audited");
    assert_eq!((create.kind.as_deref(), create.record_key.as_deref()), (Some("vendor"), Some("API-V-001")));
    assert!(create.before.is_none() && create.after.as_deref().is_some_and(|a| a.contains("接口测试销售者")));
    let update = log.iter().find(|e| e.action == "api.update").expect("api.update audited");
    assert!(update.before.as_deref().is_some_and(|b| !b.contains("A-001")));
    assert!(update.after.as_deref().is_some_and(|a| a.contains("A-001")));
}

#[tokio::test]
async fn writes_parse_and_derive_as_import_does() {
    let app = TestApp::new();
    let variety = text(Kind::Variety, &first(app.store().as_ref(), Kind::Variety, &Scope::All, vec![]), "code");
    let test = json!({
        "test_no": "API-RT-001", "market": app.fixture.market_a.code, "variety": variety, "item": "有机磷和氨基甲酸酯类",
        "method": "酶抑制法", "value": 62.5, "tested_at": "2026-03-05 09:30", "verdict": "pass",
    });
    let item = app.post_json("/api/v1/rapid_test", &test, Role::CountyRegulator).await.status(201).json();
    assert_eq!(item["method"], "enzyme_inhibition");
    assert_eq!(item["verdict"], "fail", "an inhibition rate of 62.5 % fails, whatever the client says");
    assert_eq!(item["tested_at"], "2026-03-05T09:30:00+08:00");
}

#[tokio::test]
async fn invalid_bodies_answer_400_listing_each_field() {
    let app = TestApp::new();
    let op = Role::MarketOperator;
    let bad = json!({"code": "bad code!", "phone": "12", "colour": "red", "market": {"x": 1}});
    let mut fields = refused_fields(&app.post_json("/api/v1/vendor", &bad, op).await);
    fields.sort();
    assert_eq!(fields, ["code", "colour", "market", "name", "phone", "subject_kind"]);
    let unknown = app.post_json("/api/v1/vendor", &new_vendor("API-V-009", "NOPE-1"), op).await;
    assert_eq!(refused_fields(&unknown), ["market"]);
    assert!(unknown.text().contains("NOPE-1"));
    assert_eq!(refused_fields(&app.post_json("/api/v1/vendor", &json!([1, 2]), op).await), ["body"]);
    assert!(find(app.store().as_ref(), Kind::Vendor, "API-V-009").is_none());
}

#[tokio::test]
async fn writes_outside_the_scope_are_refused_and_store_nothing() {
    let app = TestApp::new();
    let f = app.fixture;
    let targets = Targets::load(&app);
    let op = Role::MarketOperator;
    let into_b = app.post_json("/api/v1/vendor", &new_vendor("API-V-002", &f.market_b.code), op).await;
    assert_error(&into_b, 403, "out_of_scope");
    assert!(find(app.store().as_ref(), Kind::Vendor, "API-V-002").is_none(), "nothing stored");

    let theirs = targets.get("vendor_b");
    let takeover = new_vendor(&theirs.code, &f.market_a.code);
    assert_error(&app.post_json("/api/v1/vendor", &takeover, op).await, 403, "out_of_scope");
    let still = app.store().get(Kind::Vendor, theirs.id, &Scope::All).expect("get").expect("still there");
    assert_eq!(text(Kind::Vendor, &still, "market"), f.market_b.code, "another market's vendor cannot be taken over");

    let market =
        json!({"code": "API-M-001", "name": "接口测试市场", "market_kind": "farmers", "region": f.market_b.region});
    assert_error(&app.post_json("/api/v1/market", &market, Role::CountyRegulator).await, 403, "out_of_scope");
    assert!(find(app.store().as_ref(), Kind::Market, "API-M-001").is_none());

    let restaurant =
        json!({"code": "API-B-002", "buyer_kind": "restaurant", "name": "接口测试餐馆", "region": f.market_a.region});
    assert_error(&app.post_json("/api/v1/buyer", &restaurant, Role::ChainHq).await, 403, "out_of_scope");
    let store = json!({"code": "API-B-001", "buyer_kind": "supermarket", "name": "接口测试门店",
        "chain": f.chain.code, "region": f.market_a.region});
    app.post_json("/api/v1/buyer", &store, Role::ChainHq).await.status(201);
}

#[tokio::test]
async fn read_only_roles_and_forms_without_csrf_cannot_write() {
    let app = TestApp::new();
    let f = app.fixture;
    for role in [Role::Auditor, Role::AgriLiaison] {
        let resp = app.post_json("/api/v1/vendor", &new_vendor("API-V-003", &f.market_a.code), role).await;
        assert_error(&resp, 403, "forbidden");
    }
    let producer = json!({"code": "API-P-001", "name": "接口测试合作社", "producer_kind": "cooperative", "region": f.liaison_region});
    assert_error(&app.post_json("/api/v1/producer", &producer, Role::AgriLiaison).await, 403, "forbidden");

    let session = app.session(Role::MarketOperator).await;
    let req = axum::http::Request::post("/api/v1/vendor")
        .header("cookie", format!("shian_session={}", session.cookie))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(new_vendor("API-V-003", &f.market_a.code).to_string()))
        .expect("request");
    assert_error(&app.send(req).await, 403, "csrf");
    let store = app.store();
    assert!(find(store.as_ref(), Kind::Vendor, "API-V-003").is_none());
    assert!(find(store.as_ref(), Kind::Producer, "API-P-001").is_none());
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn bearer_tokens_act_as_their_user_until_the_user_is_disabled() {
    let app = TestApp::new();
    let f = app.fixture;
    let token = app.token(Role::CountyRegulator);
    let markets = list(&app, "/api/v1/market", Who::Token(token.clone())).await;
    assert!(!markets.is_empty() && markets.iter().all(|m| m["region"] == f.market_a.region.as_str()));
    let body = new_vendor("API-V-004", &f.market_a.code);
    app.post_json("/api/v1/vendor", &body, Who::Token(token.clone())).await.status(201);
    let log = app.store().audit_log(Some("county_regulator"), None, 10).expect("audit");
    assert!(log.iter().any(|e| e.action == "api.create" && e.client.as_deref() == Some("api:token")));

    accounts::set_disabled(app.store().as_mut(), "county_regulator", true, "test").expect("disable");
    assert_error(&app.get("/api/v1/market", Who::Token(token)).await, 401, "unauthorized");
}

// ---------------------------------------------------------------- OpenAPI and docs

/// Every `$ref` in a document.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|x| refs(x, out));
        }
        Value::Array(xs) => xs.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// A value with its `$ref` followed.
fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => doc.pointer(&r[1..]).unwrap_or_else(|| panic!("unresolved {r}")),
        None => v,
    }
}

#[track_caller]
fn check_operation(doc: &Value, path: &str, op: &Value) {
    let params: Vec<&Value> =
        op["parameters"].as_array().map(|p| p.iter().map(|x| deref(doc, x)).collect()).unwrap_or_default();
    for p in &params {
        assert!(p["name"].is_string() && p["in"].is_string() && p["schema"].is_object(), "{path}: parameter {p}");
    }
    for segment in path.split('/').filter(|x| x.starts_with('{')) {
        let name = segment.trim_matches(['{', '}']);
        assert!(
            params.iter().any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
            "{path}: {name}"
        );
    }
    let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{path}: no responses"));
    assert!(responses.keys().any(|k| k.starts_with('2')), "{path}: no success response");
    for (status, r) in responses {
        let r = deref(doc, r);
        assert!(r["description"].is_string(), "{path} {status}");
        for media in r["content"].as_object().into_iter().flat_map(|c| c.values()) {
            assert!(deref(doc, &media["schema"]).is_object(), "{path} {status}: schema");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_is_complete_and_every_reference_resolves() {
    let app = TestApp::new();
    let doc = app.get("/api/openapi.json", Who::Nobody).await.status(200).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut all_refs = Vec::new();
    refs(&doc, &mut all_refs);
    assert!(!all_refs.is_empty());
    for r in &all_refs {
        assert!(r.starts_with("#/") && doc.pointer(&r[1..]).is_some(), "unresolved {r}");
    }
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (verb, op) in item.as_object().expect("path item") {
            check_operation(&doc, &format!("{verb} {path}"), op);
        }
    }
    for e in Endpoint::ALL {
        let kinds: Vec<Option<Kind>> =
            if e.per_kind() { Kind::ALL.into_iter().filter(|k| e.serves(*k)).map(Some).collect() } else { vec![None] };
        for kind in kinds {
            let path = kind.map_or(e.path().to_string(), |k| e.path().replace("{kind}", k.name()));
            assert!(paths.get(&path).is_some_and(|p| p[e.verb().lower()].is_object()), "{path} is documented");
        }
    }
    let schemas = &doc["components"]["schemas"];
    for kind in Kind::ALL {
        let schema = &schemas[schema_name(kind)];
        for field in kind.def().fields {
            let prop = &schema["properties"][field.name];
            assert!(s(&prop["description"]).contains(field.zh), "{kind:?}.{} has its Chinese name", field.name);
        }
    }
    assert!(schemas["Error"].is_object());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        (schemes["bearer"]["scheme"].as_str(), schemes["session"]["in"].as_str()),
        (Some("bearer"), Some("cookie"))
    );
}

#[tokio::test]
async fn the_docs_page_lists_every_endpoint_and_field_without_scripts() {
    let app = TestApp::new();
    let resp = app.get("/api/docs", Who::Nobody).await;
    let html = resp.status(200).text();
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("食安平台接口说明"), "Chinese by default");
    let english = axum::http::Request::get("/api/docs")
        .header("cookie", "shian_lang=en")
        .body(axum::body::Body::empty())
        .expect("request");
    assert!(app.send(english).await.status(200).text().contains("Record kinds and their fields"));
    for e in Endpoint::ALL {
        assert!(html.contains(e.path()), "{}", e.path());
    }
    for kind in Kind::ALL {
        assert!(html.contains(&format!("/api/v1/{}", kind.name())) && html.contains(kind.def().zh));
        for field in kind.def().fields {
            assert!(html.contains(&format!("<code>{}</code>", field.name)), "{kind:?}.{}", field.name);
        }
    }
}
