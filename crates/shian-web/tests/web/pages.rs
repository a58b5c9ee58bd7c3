//! The server-rendered pages: sign-in and sessions, the dashboard, the archives within each
//! role's scope, the audit log, the language switch, escaping, and the operations endpoints.

use axum::body::Body;
use axum::http::{Request, header};
use shian_domain::Kind;
use shian_domain::access::{Role, Scope};
use shian_store::query::Filter;

use crate::support::{Fixture, PASSWORD, TestApp, Who, all, text};

fn login_form(user: &str, password: &str) -> Request<Body> {
    Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("username={user}&password={password}")))
        .expect("request")
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_lands_on_the_dashboard() {
    let app = TestApp::new();
    let resp = app.send(login_form("county_regulator", PASSWORD)).await;
    assert_eq!(resp.status.as_u16(), 303, "{}", resp.text());
    let cookie = resp.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("a cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let page = app.get("/", Role::CountyRegulator).await;
    page.status(200);
    let html = page.text();
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains("data-figure=\"markets\""));
    assert!(html.contains("集中交易市场"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_five_lock_the_account() {
    let app = TestApp::new();
    let resp = app.send(login_form("county_regulator", "wrong-password")).await;
    assert_eq!(resp.status.as_u16(), 401);
    assert!(resp.text().contains("class=\"error\""));
    assert!(resp.headers.get(header::SET_COOKIE).is_none());
    for _ in 0..4 {
        app.send(login_form("county_regulator", "wrong-password")).await;
    }
    let locked = app.send(login_form("county_regulator", PASSWORD)).await;
    assert_eq!(locked.status.as_u16(), 401, "the right password is refused while locked");
    assert!(locked.text().contains("锁定"));
    let log = app.store().audit_log(Some("county_regulator"), None, 20).expect("audit");
    assert!(log.iter().filter(|e| e.action == "login.failed").count() >= 5);
}

#[tokio::test]
async fn pages_need_a_session_and_send_strangers_to_the_login_page() {
    let app = TestApp::new();
    for path in ["/", "/records/vendor", "/record/market/1", "/audit"] {
        let resp = app.get(path, Who::Nobody).await;
        assert_eq!(resp.status.as_u16(), 303, "{path}");
        let location = resp.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(location.starts_with("/login?next="), "{path} → {location}");
    }
}

/// Roles that see the whole province.
fn province_wide(role: Role) -> bool {
    matches!(role, Role::ProvinceRegulator | Role::Admin | Role::Auditor)
}

#[tokio::test]
async fn every_role_sees_the_other_citys_market_and_vendor_only_if_province_wide() {
    let app = TestApp::new();
    let b = &app.fixture.market_b;
    let store = app.store();
    let vendor_b = all(store.as_ref(), Kind::Vendor, &Scope::Market(b.id), vec![]).remove(0);
    let vendor_b_name = text(Kind::Vendor, &vendor_b, "name");
    for role in Role::ALL {
        for (path, secret) in
            [(format!("/record/market/{}", b.id), &b.name), (format!("/record/vendor/{}", vendor_b.id), &vendor_b_name)]
        {
            let resp = app.get(&path, role).await;
            if province_wide(role) {
                assert_eq!(resp.status.as_u16(), 200, "{role:?} {path}");
                assert!(resp.text().contains(secret.as_str()));
            } else {
                assert!(matches!(resp.status.as_u16(), 403 | 404), "{role:?} {path}: {}", resp.status);
                assert!(!resp.text().contains(secret.as_str()), "{role:?} {path} leaked {secret}");
            }
        }
    }
}

#[tokio::test]
async fn market_bound_and_regional_roles_see_their_own_market() {
    let app = TestApp::new();
    let a = &app.fixture.market_a;
    for role in [
        Role::CityRegulator,
        Role::CountyRegulator,
        Role::AssignedOfficial,
        Role::MarketOperator,
        Role::MarketStaff,
        Role::ProvinceRegulator,
    ] {
        let resp = app.get(&format!("/record/market/{}", a.id), role).await;
        resp.status(200);
        let html = resp.text();
        assert!(html.contains(&a.name), "{role:?}");
        // The market page lists the market's vendors.
        assert!(html.contains(Kind::Vendor.def().zh), "{role:?}");
    }
    for role in [Role::ChainHq, Role::AgriLiaison] {
        let resp = app.get(&format!("/record/market/{}", a.id), role).await;
        assert_eq!(resp.status.as_u16(), 404, "{role:?}");
    }
}

#[tokio::test]
async fn a_county_list_holds_only_that_countys_vendors() {
    let app = TestApp::new();
    let store = app.store();
    let county = Scope::Region(app.fixture.market_a.region.clone());
    let outside: Vec<String> = all(store.as_ref(), Kind::Vendor, &Scope::Market(app.fixture.market_b.id), vec![])
        .iter()
        .map(|v| text(Kind::Vendor, v, "code"))
        .collect();
    let inside = store.count_in(Kind::Vendor, &county, &[]).expect("count");
    let html = app.get("/records/vendor", Role::CountyRegulator).await.status(200).text();
    assert!(html.contains(&format!("共 {inside}")), "the total is the county's");
    for code in &outside {
        assert!(!html.contains(&format!(">{code}<")), "another city's vendor {code} is listed");
    }
}

#[tokio::test]
async fn lists_filter_and_page_without_repeats() {
    let app = TestApp::new();
    let first = app.get("/records/inbound", Role::ProvinceRegulator).await.status(200).text();
    let next = first.split("rel=\"next\" href=\"").nth(1).and_then(|s| s.split('"').next()).expect("a next page");
    let second = app.get(&next.replace("&amp;", "&"), Role::ProvinceRegulator).await.status(200).text();
    let ids = |html: &str| -> Vec<String> {
        html.split("href=\"/record/inbound/").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(a.len(), 50);
    assert!(a.iter().all(|id| !b.contains(id)), "pages overlap");
    let bad = app.get("/records/rapid_test?verdict=maybe", Role::ProvinceRegulator).await;
    assert_eq!(bad.status.as_u16(), 400);
    assert!(bad.text().contains("无效"));
    let fails = app.get("/records/rapid_test?verdict=fail", Role::ProvinceRegulator).await.status(200).text();
    let n = app
        .store()
        .count_in(Kind::RapidTest, &Scope::All, &[Filter::Eq("verdict", shian_domain::Value::Text("fail".into()))])
        .expect("count");
    assert!(fails.contains(&format!("共 {n}")));
}

#[tokio::test]
async fn the_agriculture_liaison_sees_producers_but_no_market_records() {
    let app = TestApp::new();
    app.get("/records/producer", Role::AgriLiaison).await.status(200);
    for kind in ["vendor", "inbound", "rapid_test", "market"] {
        let resp = app.get(&format!("/records/{kind}"), Role::AgriLiaison).await;
        assert_eq!(resp.status.as_u16(), 404, "{kind}");
    }
}

#[tokio::test]
async fn only_auditors_and_administrators_read_the_audit_log() {
    let app = TestApp::new();
    app.session(Role::CountyRegulator).await;
    let html = app.get("/audit", Role::Auditor).await.status(200).text();
    assert!(html.contains("county_regulator") && html.contains("login"));
    app.get("/audit", Role::Admin).await.status(200);
    for role in [Role::ProvinceRegulator, Role::CountyRegulator, Role::MarketOperator] {
        assert_eq!(app.get("/audit", role).await.status.as_u16(), 403, "{role:?}");
    }
    // Nobody can change it, not even with direct access to the database file.
    let store = app.store();
    let sqlite = shian_store::sqlite::SqliteStore::open(app.db_path.to_str().expect("path")).expect("open");
    assert!(sqlite.connection().execute("DELETE FROM audit_log", []).is_err());
    assert!(sqlite.connection().execute("UPDATE audit_log SET actor = 'x'", []).is_err());
    drop(store);
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token_and_ends_the_session() {
    let app = TestApp::new();
    let s = app.session(Role::CountyRegulator).await;
    let cookie = format!("{}={}", shian_web::auth::SESSION_COOKIE, s.cookie);
    let post = |body: String| {
        Request::post("/logout")
            .header(header::COOKIE, cookie.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request")
    };
    assert_eq!(app.send(post("csrf=wrong".into())).await.status.as_u16(), 403);
    assert_eq!(app.send(post(format!("csrf={}", s.csrf))).await.status.as_u16(), 303);
    let after = Request::get("/").header(header::COOKIE, cookie.clone()).body(Body::empty()).expect("request");
    assert_eq!(app.send(after).await.status.as_u16(), 303, "the old cookie no longer works");
}

#[tokio::test]
async fn the_language_switch_turns_pages_english_and_back() {
    let app = TestApp::new();
    let resp = app.get("/lang/en?back=/records/market", Role::ProvinceRegulator).await;
    assert_eq!(resp.status.as_u16(), 303);
    assert_eq!(resp.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("/records/market"));
    let set = resp.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("cookie").to_string();
    let lang = set.split(';').next().expect("pair").to_string();
    let s = app.session(Role::ProvinceRegulator).await;
    let req = Request::get("/records/market")
        .header(header::COOKIE, format!("{lang}; {}={}", shian_web::auth::SESSION_COOKIE, s.cookie))
        .body(Body::empty())
        .expect("request");
    let html = app.send(req).await.text();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("Market"));
    // An open redirect is refused.
    let resp = app.get("/lang/zh?back=//evil.example", Role::ProvinceRegulator).await;
    assert_eq!(resp.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("/"));
}

#[tokio::test]
async fn stored_markup_is_shown_as_text() {
    let app = TestApp::new();
    let mut store = app.store();
    let id = all(store.as_ref(), Kind::Vendor, &Scope::Market(app.fixture.market_a.id), vec![]).remove(0).id;
    shian_store::sqlite::SqliteStore::open(app.db_path.to_str().expect("path"))
        .expect("open")
        .connection()
        .execute("UPDATE vendors SET name = '<script>alert(1)</script>' WHERE id = ?", [id])
        .expect("update");
    let html = app.get(&format!("/record/vendor/{id}"), Role::ProvinceRegulator).await.status(200).text();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
    let _ = store.as_mut();
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::new();
    app.get("/healthz", Who::Nobody).await.status(200);
    // Readiness waits for the dashboard figures; a dashboard view computes them.
    app.get("/", Role::ProvinceRegulator).await.status(200);
    app.get("/readyz", Who::Nobody).await.status(200);
    let metrics = app.get("/metrics", Who::Nobody).await.status(200).text();
    assert!(metrics.contains("shian_http_requests_total{class=\"2xx\"}"));
    assert!(metrics.contains("shian_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn the_dashboard_counts_the_scope_from_the_database() {
    let app = TestApp::new();
    let store = app.store();
    let county = Scope::Region(app.fixture.market_a.region.clone());
    let markets = store.count_in(Kind::Market, &county, &[]).expect("count");
    let vendors = store.count_in(Kind::Vendor, &county, &[]).expect("count");
    let html = app.get("/", Role::CountyRegulator).await.status(200).text();
    assert!(html.contains(&format!("data-figure=\"markets\">{markets}<")), "markets {markets}");
    assert!(html.contains(&format!("data-figure=\"vendors\">{vendors}<")), "vendors {vendors}");
    let _ = Fixture::username(Role::CountyRegulator);
}

#[tokio::test]
async fn a_revoked_api_token_no_longer_opens_the_api() {
    let app = TestApp::new();
    let token = app.token(Role::ProvinceRegulator);
    app.get("/api/v1/market?limit=1", Who::Token(token.clone())).await.status(200);
    let n = shian_services::accounts::revoke_tokens(app.store().as_mut(), "province_regulator", Some("test"), "test")
        .expect("revoke");
    assert_eq!(n, 1);
    app.get("/api/v1/market?limit=1", Who::Token(token)).await.status(401);
}

#[tokio::test]
async fn the_routine_page_shows_a_market_that_stopped_recording_as_not_compliant() {
    let app = TestApp::new();
    let b = &app.fixture.market_b;
    shian_store::sqlite::SqliteStore::open(app.db_path.to_str().expect("path"))
        .expect("open")
        .connection()
        .execute("DELETE FROM routine_records WHERE market_id = ? AND period = 'daily'", [b.id])
        .expect("delete");
    let html = app.get("/routine?days=30", Role::ProvinceRegulator).await.status(200).text();
    let row = html.split("<tr data-grade=").find(|r| r.contains(&format!("/record/market/{}\"", b.id))).expect("row");
    assert!(row.starts_with("\"poor\""), "{row}");
    assert!(row.contains("0/30"), "{row}");
    // A county regulator sees only the county's markets.
    let county = app.get("/routine", Role::CountyRegulator).await.status(200).text();
    assert!(!county.contains(&format!("/record/market/{}\"", b.id)));
    assert!(county.contains(&format!("/record/market/{}\"", app.fixture.market_a.id)));
    assert_eq!(app.get("/routine", Role::AgriLiaison).await.status.as_u16(), 404);
    assert_eq!(app.get("/routine?days=0", Role::ProvinceRegulator).await.status.as_u16(), 400);
}

#[tokio::test]
async fn administrators_change_a_limit_and_the_previous_version_is_kept() {
    let app = TestApp::new();
    let items = app.store().test_items().expect("items");
    let celery = items.iter().find(|i| i.code == "chlorpyrifos").expect("chlorpyrifos on celery");
    assert_eq!(celery.limit_mg_kg, 0.05);
    assert!(celery.clause.contains("GB 2763-2021") && !celery.method.is_empty());
    let html = app.get("/catalogue", Role::CountyRegulator).await.status(200).text();
    assert!(html.contains("毒死蜱") && html.contains("不得检出"));
    let path = format!("/catalogue/{}", celery.id);
    let form = |csrf: &str, limit: &str| {
        format!("csrf={csrf}&limit_mg_kg={limit}&method=GB+23200.113-2018&basis=GB+2763-2021&clause=GB+2763-2021+test")
    };
    // Not an administrator: refused, nothing changed.
    let county = app.session(Role::CountyRegulator).await;
    assert_eq!(app.post_form(&path, &form(&county.csrf, "0.5"), Role::CountyRegulator).await.status.as_u16(), 403);
    // Without the CSRF token: refused.
    assert_eq!(app.post_form(&path, &form("x", "0.5"), Role::Admin).await.status.as_u16(), 403);
    // A bad value: the form again with the reason.
    let admin = app.session(Role::Admin).await;
    let bad = app.post_form(&path, &form(&admin.csrf, "-1"), Role::Admin).await;
    assert_eq!(bad.status.as_u16(), 400);
    assert!(bad.text().contains("不小于 0"));
    assert_eq!(app.store().test_item(celery.id).expect("item").expect("exists").limit_mg_kg, 0.05);
    // The administrator's change is stored, its previous version kept and audited.
    assert_eq!(app.post_form(&path, &form(&admin.csrf, "0.1"), Role::Admin).await.status.as_u16(), 303);
    let store = app.store();
    assert_eq!(store.test_item(celery.id).expect("item").expect("exists").limit_mg_kg, 0.1);
    let history = store.test_item_history(celery.id).expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].previous["limit_mg_kg"], 0.05);
    let page = app.get(&path, Role::Admin).await.status(200).text();
    assert!(page.contains("0.1 mg/kg") && page.contains("0.05"));
    let log = store.audit_log(Some("admin"), None, 10).expect("audit");
    assert!(
        log.iter().any(|e| e.action == "catalogue.update" && e.before.as_deref().is_some_and(|b| b.contains("0.05")))
    );
}

#[tokio::test]
async fn a_variety_page_shows_its_sources_volumes_and_tests_and_a_market_page_its_routine() {
    let app = TestApp::new();
    let store = app.store();
    let receipts = all(store.as_ref(), Kind::Inbound, &Scope::All, vec![]);
    let variety_code = text(Kind::Inbound, &receipts[0], "variety");
    let variety =
        store.find(Kind::Variety, &[shian_domain::Value::Text(variety_code.clone())]).expect("find").expect("id");
    let html = app.get(&format!("/record/variety/{variety}"), Role::ProvinceRegulator).await.status(200).text();
    assert!(html.contains("来源产地") && html.contains("月度进货量") && html.contains("检测情况"), "{variety_code}");
    let flows = store.variety_flows(variety, &Scope::All).expect("flows");
    let receipts_of_variety: u64 = flows.months.iter().map(|m| m.2).sum();
    let counted = store.count_in(Kind::Inbound, &Scope::All, &[Filter::RefId("variety", variety)]).expect("count");
    assert_eq!(receipts_of_variety, counted, "every receipt of the variety is in one month");
    let a = &app.fixture.market_a;
    let market = app.get(&format!("/record/market/{}", a.id), Role::CountyRegulator).await.status(200).text();
    assert!(market.contains("日常管理合规") && market.contains("日管控"));
}

#[tokio::test]
async fn the_dashboard_counts_samples_taken_outside_markets_too() {
    let app = TestApp::new();
    let samples = app.store().count_in(Kind::Sample, &Scope::All, &[]).expect("count");
    let html = app.get("/", Role::ProvinceRegulator).await.status(200).text();
    let shown: String = html
        .split("data-figure=\"samples\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the samples figure")
        .replace(',', "");
    assert_eq!(shown, samples.to_string());
}
