//! The test application: a small simulated province generated once per test process, one user
//! per role, and requests sent through the real router in process (`tower::ServiceExt::oneshot`).
//!
//! Every [`TestApp`] works on its own copy of the province, so a test may write freely. Users sign
//! in through the real `POST /login` the first time a test acts as them; their CSRF token is read
//! from the session store, as a page would embed it.

#![allow(dead_code, reason = "shared by every test module; not each one uses every helper")]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use shian_domain::access::{Role, Scope};
use shian_domain::{Kind, Value as Cell};
use shian_services::accounts::{self, NewAccount};
use shian_store::Store;
use shian_store::query::{Filter, ListQuery, Listed};
use shian_web::AppState;
use tempfile::TempDir;
use tower::ServiceExt;

/// The seed of the shared province.
pub const SEED: u64 = 2026;
/// Order records in the shared province (a few seconds to generate).
pub const ORDERS: u64 = 6_000;
/// Every test user's password.
pub const PASSWORD: &str = "correct-horse-battery";

/// A record the scenario names: its id, natural key, name and region (for markets).
#[derive(Debug, Clone)]
pub struct Obj {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub region: String,
}

/// The province and who works where in it.
#[derive(Debug)]
pub struct Fixture {
    pub path: PathBuf,
    /// The market of the market-bound users; its county and city are the regulators' scopes.
    pub market_a: Obj,
    /// A market in another city, outside every scope but the province's.
    pub market_b: Obj,
    /// The supermarket chain's headquarters of the chain HQ user.
    pub chain: Obj,
    /// The county of the agriculture liaison (where some producers are).
    pub liaison_region: String,
}

impl Fixture {
    /// The user name of a role's test user (the role's code).
    pub fn username(role: Role) -> &'static str {
        role.code()
    }

    /// The region code, market code or enterprise code a role's user is given.
    pub fn scope_of(&self, role: Role) -> Option<String> {
        match role {
            Role::ProvinceRegulator | Role::Admin | Role::Auditor => None,
            Role::CityRegulator => Some(format!("{}00", &self.market_a.region[..4])),
            Role::CountyRegulator => Some(self.market_a.region.clone()),
            Role::AssignedOfficial | Role::MarketOperator | Role::MarketStaff => Some(self.market_a.code.clone()),
            Role::ChainHq => Some(self.chain.code.clone()),
            Role::AgriLiaison => Some(self.liaison_region.clone()),
        }
    }
}

/// The shared province, generated on first use into `target/tmp/shian-web-fixture-PID` (one per
/// test process, so runs side by side do not meet; those of finished processes are removed).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

const FIXTURE_PREFIX: &str = "shian-web-fixture-";

/// Removes the fixtures of test processes that have ended (where `/proc` tells).
fn remove_stale_fixtures(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(FIXTURE_PREFIX)
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn build_fixture() -> Fixture {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_stale_fixtures(tmp);
    let dir = tmp.join(format!("{FIXTURE_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("fixture directory");
    let path = dir.join("province.db");
    let mut store = shian_store::open(&url_of(&path)).expect("open fixture database");
    let plan = shian_sim::Plan::tiny(ORDERS);
    shian_sim::generate(store.as_mut(), &plan, SEED, &dir.join("province.truth.json"), &|_: &str, _, _| {})
        .expect("simulate a province");
    let (market_a, market_b) = two_markets(store.as_ref());
    let fixture = Fixture {
        path,
        market_a,
        market_b,
        chain: chain_with_stores(store.as_ref()),
        liaison_region: producer_county(store.as_ref()),
    };
    for role in Role::ALL {
        let scope = fixture.scope_of(role);
        let account = NewAccount {
            username: Fixture::username(role),
            display_name: role.label(shian_domain::Lang::Zh),
            role,
            scope: scope.as_deref(),
            password: PASSWORD,
        };
        accounts::add_user(store.as_mut(), &account, "test-setup").expect("add user");
    }
    drop(store); // checkpoints the WAL, so the database is one file to copy
    fixture
}

/// `sqlite://PATH`.
pub fn url_of(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Every record of a kind within a scope, with filters (newest first).
pub fn all(store: &dyn Store, kind: Kind, scope: &Scope, filters: Vec<Filter>) -> Vec<Listed> {
    let q = ListQuery { scope, filters, before: None, limit: 1000 };
    store.list(kind, &q).expect("list")
}

/// A listed record's text field.
pub fn text(kind: Kind, l: &Listed, field: &str) -> String {
    let (i, _) = kind.def().field(field).unwrap_or_else(|| panic!("{kind:?} has no {field}"));
    match &l.values[i] {
        Cell::Text(s) => s.clone(),
        Cell::Null => String::new(),
        other => format!("{other:?}"),
    }
}

fn obj(kind: Kind, l: &Listed) -> Obj {
    let region = if kind.def().field("region").is_some() { text(kind, l, "region") } else { String::new() };
    Obj { id: l.id, code: text(kind, l, "code"), name: text(kind, l, "name"), region }
}

/// Two markets in different cities, each with vendors, receipts and rapid tests.
fn two_markets(store: &dyn Store) -> (Obj, Obj) {
    let busy: Vec<Obj> = all(store, Kind::Market, &Scope::All, vec![])
        .iter()
        .map(|l| obj(Kind::Market, l))
        .filter(|m| {
            let scope = Scope::Market(m.id);
            [Kind::Vendor, Kind::Inbound, Kind::RapidTest]
                .iter()
                .all(|k| store.count_in(*k, &scope, &[]).expect("count") > 0)
        })
        .collect();
    for a in &busy {
        if let Some(b) = busy.iter().find(|b| b.region[..4] != a.region[..4]) {
            return (a.clone(), b.clone());
        }
    }
    panic!("the simulated province has no two busy markets in different cities");
}

/// A supermarket chain's headquarters with stores.
fn chain_with_stores(store: &dyn Store) -> Obj {
    let hqs = all(store, Kind::Buyer, &Scope::All, vec![Filter::Eq("buyer_kind", Cell::Text("supermarket_hq".into()))]);
    hqs.iter()
        .map(|l| obj(Kind::Buyer, l))
        .find(|hq| store.count_in(Kind::Buyer, &Scope::Enterprise(hq.id), &[]).expect("count") > 1)
        .expect("a supermarket chain with stores")
}

/// The county of the first producer (producers lie in real producing counties).
fn producer_county(store: &dyn Store) -> String {
    let producers = all(store, Kind::Producer, &Scope::All, vec![]);
    let first = producers.first().expect("producers");
    text(Kind::Producer, first, "region")
}

/// Who a request is sent as.
#[derive(Debug, Clone)]
pub enum Who {
    Nobody,
    /// The test user of a role, signed in with a session cookie.
    User(Role),
    /// `Authorization: Bearer TOKEN`.
    Token(String),
}

impl From<Role> for Who {
    fn from(role: Role) -> Who {
        Who::User(role)
    }
}

/// A signed-in session: the cookie's value and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A response, read to the end.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }

    /// Asserts the status, showing the body if it differs.
    #[track_caller]
    pub fn status(&self, expected: u16) -> &Resp {
        assert_eq!(self.status.as_u16(), expected, "body: {}", self.text());
        self
    }
}

/// The application over a private copy of the province.
pub struct TestApp {
    pub state: AppState,
    router: Router,
    pub fixture: &'static Fixture,
    pub db_path: PathBuf,
    sessions: Mutex<HashMap<Role, Session>>,
    _dir: TempDir,
}

impl TestApp {
    pub fn new() -> TestApp {
        let fixture = fixture();
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("province.db");
        std::fs::copy(&fixture.path, &db_path).expect("copy the province");
        let state = AppState::open(&url_of(&db_path), None).expect("open the app state");
        let router = shian_web::app(state.clone());
        TestApp { state, router, fixture, db_path, sessions: Mutex::new(HashMap::new()), _dir: dir }
    }

    /// A direct connection to this app's database, for setting up and checking.
    pub fn store(&self) -> Box<dyn Store> {
        shian_store::open(&url_of(&self.db_path)).expect("open the database")
    }

    /// A new API token of a role's test user.
    pub fn token(&self, role: Role) -> String {
        accounts::create_token(self.store().as_mut(), Fixture::username(role), "test", "test-setup").expect("token")
    }

    /// Sends a request as it is; the client address is set as a real server would set it.
    pub async fn send(&self, mut req: Request<Body>) -> Resp {
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        let response = self.router.clone().oneshot(req).await.expect("the router answers");
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.expect("read the body").to_vec();
        Resp { status: parts.status, headers: parts.headers, body }
    }

    /// The session of a role's test user, signing in through `POST /login` the first time.
    pub async fn session(&self, role: Role) -> Session {
        if let Some(s) = self.sessions.lock().expect("sessions").get(&role) {
            return s.clone();
        }
        let form = format!("username={}&password={PASSWORD}", Fixture::username(role));
        let req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        let resp = self.send(req).await;
        let cookie = session_cookie(&resp.headers)
            .unwrap_or_else(|| panic!("login as {role:?} sets no session cookie: {} {}", resp.status, resp.text()));
        let active = accounts::session(self.store().as_mut(), &cookie).expect("session").expect("a live session");
        let session = Session { cookie, csrf: active.csrf };
        self.sessions.lock().expect("sessions").insert(role, session.clone());
        session
    }

    /// A request with the credentials of `who` (and, for a session, its CSRF token).
    pub async fn request(&self, method: Method, path: &str, who: impl Into<Who>) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(path);
        match who.into() {
            Who::Nobody => {}
            Who::User(role) => {
                let s = self.session(role).await;
                b = b
                    .header(header::COOKIE, format!("{}={}", shian_web::auth::SESSION_COOKIE, s.cookie))
                    .header(shian_web::api::CSRF_HEADER, s.csrf);
            }
            Who::Token(t) => b = b.header(header::AUTHORIZATION, format!("Bearer {t}")),
        }
        b
    }

    pub async fn get(&self, path: &str, who: impl Into<Who>) -> Resp {
        let req = self.request(Method::GET, path, who).await.body(Body::empty()).expect("request");
        self.send(req).await
    }

    pub async fn post_json(&self, path: &str, body: &Value, who: impl Into<Who>) -> Resp {
        let req = self
            .request(Method::POST, path, who)
            .await
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req).await
    }

    pub async fn post_form(&self, path: &str, form: &str, who: impl Into<Who>) -> Resp {
        let req = self
            .request(Method::POST, path, who)
            .await
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .expect("request");
        self.send(req).await
    }
}

/// The value of the session cookie a response sets.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let prefix = format!("{}=", shian_web::auth::SESSION_COOKIE);
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix(prefix.as_str()))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .find(|v| !v.is_empty())
}
