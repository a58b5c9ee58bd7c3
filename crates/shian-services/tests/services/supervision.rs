//! Failed results → risk-ledger entries and notices: a failed sample imported from a file reaches
//! exactly its market's people and opens an entry whose recall scope is the known recipients of a
//! hand-built chain; events survive a "kill" between the commit and the dispatch and are
//! dispatched exactly once, also by two dispatchers at the same time; the ledger is scoped.
//!
//! The fixture is a small province in a database file: markets M1 (长安区) and M2 (桥西区) with
//! their rosters and accounts, vendor W in M1 and R in M2, producer P1 with certificate C1, and a
//! chain: W receives lot LW1 from P1; W sells from LW1 to vendor R (who starts lot LR1), to
//! supermarket S1 and to consumers; R sells from LR1 to school canteen K1 and restaurant R1.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use shian_domain::access::Scope;
use shian_domain::{Kind, Value};
use shian_services::supervision::dispatch::run_once;
use shian_services::supervision::{NotifyConfig, snapshot};
use shian_store::accounts::Accounts;
use shian_store::accounts::NewUser;
use shian_store::sqlite::SqliteStore;
use shian_store::supervision::Supervision;
use shian_store::supervision::{EntryFilter, RiskEntry};
use shian_store::{Store, row};

use crate::support::{import_clean, text, write_file};

pub(crate) const T0: i64 = 1_770_000_000;
pub(crate) const HOUR: i64 = 3600;

/// The fixture province in a database file.
pub(crate) struct Province {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) s: SqliteStore,
}

pub(crate) fn put(s: &mut SqliteStore, kind: Kind, values: &[(&str, Value)]) -> i64 {
    let r = row(kind, values);
    s.write_batch(kind, std::slice::from_ref(&r), None).expect("write");
    let key: Vec<Value> = kind.def().key_positions().iter().map(|&i| r[i].clone()).collect();
    s.find(kind, &key).expect("find").expect("written")
}

fn id(s: &SqliteStore, kind: Kind, code: &str) -> i64 {
    s.resolve(kind, &[code]).expect("resolve").first().unwrap_or_else(|| panic!("no {code}")).1
}

impl Province {
    pub(crate) fn new() -> Province {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = SqliteStore::open(dir.path().join("p.db").to_str().expect("utf-8 path")).expect("open");
        let mut p = Province { dir, s };
        p.markets();
        p.accounts();
        p.parties();
        p.chain();
        p
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("p.db")
    }

    /// A second store on the same file (another process, or the same after a restart).
    pub(crate) fn reopen(&self) -> SqliteStore {
        SqliteStore::open(self.path().to_str().expect("utf-8 path")).expect("reopen")
    }

    pub(crate) fn id(&self, kind: Kind, code: &str) -> i64 {
        id(&self.s, kind, code)
    }

    fn markets(&mut self) {
        for (code, region) in [("M1", "130102"), ("M2", "130104")] {
            let values = [
                ("code", text(code)),
                ("name", text(&format!("{code}市场"))),
                ("market_kind", text("wholesale")),
                ("region", text(region)),
            ];
            put(&mut self.s, Kind::Market, &values);
        }
        for (code, market, role, name, phone) in [
            ("M1-S1", "M1", "assigned_official", "包保一", Some("13800000001")),
            ("M1-S2", "M1", "assigned_official", "包保二", Some("13800000002")),
            ("M1-S3", "M1", "director", "总监一", Some("13800000009")),
            ("M2-S1", "M2", "assigned_official", "包保三", Some("13900000003")),
        ] {
            let values = [
                ("code", text(code)),
                ("market", Value::Int(self.id(Kind::Market, market))),
                ("role", text(role)),
                ("name", text(name)),
                ("phone", phone.map(text).unwrap_or(Value::Null)),
            ];
            put(&mut self.s, Kind::MarketStaff, &values);
        }
    }

    fn accounts(&mut self) {
        let (m1, m2) = (self.id(Kind::Market, "M1"), self.id(Kind::Market, "M2"));
        for (name, role, market, region) in [
            ("official1", "assigned_official", Some(m1), None),
            ("operator1", "market_operator", Some(m1), None),
            ("staff1", "market_staff", Some(m1), None),
            ("gone1", "market_operator", Some(m1), None),
            ("official2", "assigned_official", Some(m2), None),
            ("operator2", "market_operator", Some(m2), None),
            ("county1", "county_regulator", None, Some("130102")),
            ("county2", "county_regulator", None, Some("130104")),
            ("city", "city_regulator", None, Some("130100")),
            ("province", "province_regulator", None, None),
        ] {
            let user = NewUser {
                username: name,
                display_name: name,
                role,
                scope_region: region,
                scope_market: market,
                scope_enterprise: None,
                password_hash: "!",
                at: T0,
            };
            self.s.insert_user(&user).expect("user");
        }
        let gone = self.user("gone1");
        self.s.set_disabled(gone, true).expect("disable");
    }

    pub(crate) fn user(&self, name: &str) -> i64 {
        self.s.user_by_name(name).expect("user").unwrap_or_else(|| panic!("no user {name}")).id
    }

    fn parties(&mut self) {
        for (code, market) in [("W", "M1"), ("R", "M2")] {
            let values = [
                ("code", text(code)),
                ("market", Value::Int(self.id(Kind::Market, market))),
                ("name", text(&format!("销售者{code}"))),
                ("subject_kind", text("person")),
            ];
            put(&mut self.s, Kind::Vendor, &values);
        }
        let values = [
            ("code", text("P1")),
            ("name", text("合作社P1")),
            ("producer_kind", text("cooperative")),
            ("region", text("130123")),
        ];
        let p1 = put(&mut self.s, Kind::Producer, &values);
        let cert = [
            ("cert_no", text("C1")),
            ("producer", Value::Int(p1)),
            ("variety", Value::Int(self.id(Kind::Variety, "010101"))),
            ("quantity", Value::Real(100.0)),
            ("unit", text("kg")),
            ("origin", text("130123")),
            ("issued_on", text("2026-02-01")),
            ("basis", text("self_test")),
        ];
        put(&mut self.s, Kind::OriginCertificate, &cert);
        for (code, kind, canteen, region) in [
            ("S1", "supermarket", None, "130104"),
            ("K1", "canteen", Some("school"), "130102"),
            ("R1", "restaurant", None, "130104"),
        ] {
            let values = [
                ("code", text(code)),
                ("buyer_kind", text(kind)),
                ("canteen_kind", canteen.map(text).unwrap_or(Value::Null)),
                ("name", text(&format!("下游{code}"))),
                ("region", text(region)),
            ];
            put(&mut self.s, Kind::Buyer, &values);
        }
    }

    /// A receipt or sale of celery by `vendor` in its lot `L{vendor}1`.
    fn movement(&mut self, kind: Kind, ext: &str, vendor: &str, qty: f64, at: i64, more: &[(&str, Value)]) {
        let lot = format!("L{vendor}1");
        let time_field = if kind == Kind::Inbound { "received_at" } else { "sold_at" };
        let mut values = vec![
            ("source", text("T")),
            ("ext_id", text(ext)),
            ("vendor", Value::Int(self.id(Kind::Vendor, vendor))),
            ("variety", Value::Int(self.id(Kind::Variety, "010101"))),
            ("lot_code", text(&lot)),
            ("quantity", Value::Real(qty)),
            ("unit", text("kg")),
            (time_field, Value::Int(at)),
        ];
        values.extend(more.iter().cloned());
        put(&mut self.s, kind, &values);
    }

    fn chain(&mut self) {
        let (p1, c1) = (self.id(Kind::Producer, "P1"), self.id(Kind::OriginCertificate, "C1"));
        let from_p1 =
            [("supplier_kind", text("producer")), ("supplier", Value::Int(p1)), ("certificate", Value::Int(c1))];
        self.movement(Kind::Inbound, "I1", "W", 100.0, T0, &from_p1);
        let (r, s1, k1, r1) = (
            self.id(Kind::Vendor, "R"),
            self.id(Kind::Buyer, "S1"),
            self.id(Kind::Buyer, "K1"),
            self.id(Kind::Buyer, "R1"),
        );
        let to = |kind: &str, id: Option<i64>| {
            [("buyer_kind", text(kind)), ("buyer", id.map(Value::Int).unwrap_or(Value::Null))]
        };
        self.movement(Kind::Outbound, "O1", "W", 30.0, T0 + HOUR, &to("vendor", Some(r)));
        let from_w = [
            ("supplier_kind", text("vendor")),
            ("supplier", Value::Int(self.id(Kind::Vendor, "W"))),
            ("supplier_lot", text("LW1")),
        ];
        self.movement(Kind::Inbound, "I2", "R", 30.0, T0 + 2 * HOUR, &from_w);
        self.movement(Kind::Outbound, "O2", "W", 20.0, T0 + 2 * HOUR, &to("supermarket", Some(s1)));
        self.movement(Kind::Outbound, "O3", "W", 10.0, T0 + 3 * HOUR, &to("consumer", None));
        self.movement(Kind::Outbound, "O4", "R", 15.0, T0 + 4 * HOUR, &to("canteen", Some(k1)));
        self.movement(Kind::Outbound, "O5", "R", 5.0, T0 + 5 * HOUR, &to("restaurant", Some(r1)));
    }

    /// A positive rapid test of W's lot LW1 (enzyme inhibition 62 %), stored as any writer would.
    pub(crate) fn positive_rapid_test(&mut self, test_no: &str, tested_at: i64) -> i64 {
        let mut r = row(
            Kind::RapidTest,
            &[
                ("test_no", text(test_no)),
                ("market", Value::Int(self.id(Kind::Market, "M1"))),
                ("vendor", Value::Int(self.id(Kind::Vendor, "W"))),
                ("variety", Value::Int(self.id(Kind::Variety, "010101"))),
                ("lot_code", text("LW1")),
                ("item", text("有机磷和氨基甲酸酯类农药")),
                ("method", text("enzyme_inhibition")),
                ("value", Value::Real(62.0)),
                ("tested_at", Value::Int(tested_at)),
            ],
        );
        Kind::RapidTest.def().derive(&mut r).expect("verdict");
        self.s.write_batch(Kind::RapidTest, &[r], None).expect("write the test");
        self.id(Kind::RapidTest, test_no)
    }

    /// Imports a sample of W's lot LW1 with a failed and a passed item from CSV files.
    pub(crate) fn import_failed_sample(&mut self) {
        let dir = self.dir.path().to_path_buf();
        import_sample_files(&mut self.s, &dir, "CJ1", "W", "M1", "LW1");
    }
}

/// Imports `sample_no` (of `vendor` in `market`, lot `lot`) and its items: chlorpyrifos 0.2 mg/kg
/// over its 0.05 limit (fail) and procymidone below its limit (pass).
pub(crate) fn import_sample_files(
    s: &mut SqliteStore,
    dir: &Path,
    sample_no: &str,
    vendor: &str,
    market: &str,
    lot: &str,
) {
    let sample = format!(
        "抽样单编号,被抽样单位类型,被抽样单位编码,市场编码,品种编码,批次追溯码,抽样日期,检验机构\n\
         {sample_no},市场销售者,{vendor},{market},010101,{lot},2026-02-03,河北省食品检验研究院\n"
    );
    let items = format!(
        "抽样单编号,检验项目,检测值,检测值单位,限量值,检验方法\n\
         {sample_no},毒死蜱,0.2,mg/kg,0.05,GB 23200.113-2018\n\
         {sample_no},腐霉利,0.01,mg/kg,0.2,GB 23200.113-2018\n"
    );
    import_clean(s, Kind::Sample, &write_file(dir, &format!("{sample_no}.csv"), sample));
    import_clean(s, Kind::SampleItem, &write_file(dir, &format!("{sample_no}-items.csv"), items));
}

pub(crate) fn inbox_only() -> NotifyConfig {
    NotifyConfig::default()
}

pub(crate) fn all_entries(s: &dyn Store) -> Vec<RiskEntry> {
    let filter =
        EntryFilter { scope: &Scope::All, state: None, market_id: None, source_kind: None, before: None, limit: 1000 };
    s.entries(&filter).expect("entries")
}

/// The user names an entry's inbox rows went to.
pub(crate) fn notified(s: &dyn Store, entry: i64) -> BTreeSet<String> {
    let users = s.users().expect("users");
    let name = |id: i64| users.iter().find(|u| u.id == id).map(|u| u.username.clone()).unwrap_or_default();
    s.notifications_of(entry).expect("notifications").into_iter().map(|n| name(n.user_id)).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_failed_sample_imported_from_a_file_notifies_its_market_and_opens_an_entry_with_the_recall_scope() {
    let mut p = Province::new();
    p.import_failed_sample();
    let report = run_once(&mut p.s, &inbox_only()).expect("dispatch");
    assert_eq!((report.opened, report.traced), (1, 1), "{report:?}");

    let entries = all_entries(&p.s);
    assert_eq!(entries.len(), 1, "one sample, one entry (not one per item)");
    let e = p.s.entry(entries[0].id).expect("entry").expect("stored");
    assert_eq!((e.source_kind.as_str(), e.source_key.as_deref()), ("sample", Some("CJ1")));
    assert_eq!(
        (e.market_code.as_deref(), e.vendor_code.as_deref(), e.lot_code.as_deref()),
        (Some("M1"), Some("W"), Some("LW1"))
    );
    assert_eq!((e.state.as_str(), e.level.as_str()), ("open", "general"), "chlorpyrifos is a pesticide");
    assert_eq!((e.owner_role.as_str(), e.owner_name.as_deref()), ("assigned_official", Some("包保一")));
    assert_eq!(e.owner_user, Some(p.user("official1")));
    assert_eq!(e.region.as_deref(), Some("130102"));

    assert_eq!(notified(&p.s, e.id), set(&["official1", "operator1", "staff1"]), "M1's people only, not M2's");
    let inbox = p.s.inbox(p.user("official1"), true, 10).expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].title.contains("不合格") && inbox[0].body.contains("毒死蜱"), "{:?}", inbox[0]);
    assert!(inbox[0].body.contains(&format!("#{}", e.id)), "the notice names the entry: {}", inbox[0].body);

    let recall = snapshot::stored_recall(&e).expect("recall scope attached");
    let reached: BTreeSet<(String, Option<String>)> =
        recall.recipients.iter().map(|r| (r.kind.clone(), r.code.clone())).collect();
    let expected: BTreeSet<(String, Option<String>)> = [
        ("vendor", Some("R")),
        ("supermarket", Some("S1")),
        ("consumer", None),
        ("canteen", Some("K1")),
        ("restaurant", Some("R1")),
    ]
    .into_iter()
    .map(|(k, c)| (k.to_string(), c.map(String::from)))
    .collect();
    assert_eq!(reached, expected);
    assert_eq!(recall.school_canteens, 1);
    assert!(recall.recipients.iter().all(|r| !r.inferred), "every link of the chain names its lot");
    let k1 = recall.recipients.iter().find(|r| r.code.as_deref() == Some("K1")).expect("K1");
    assert_eq!((k1.depth, k1.quantity, k1.school), (2, 15.0, true));

    let origins = snapshot::stored_origins(&e).expect("origins attached");
    let found: Vec<_> = origins.origins.iter().map(|o| (o.code.as_deref(), o.certificate.as_deref())).collect();
    assert_eq!(found, [(Some("P1"), Some("C1"))]);
}

#[test]
fn a_kill_between_the_commit_and_the_dispatch_loses_nothing_and_dispatches_once() {
    let mut p = Province::new();
    p.positive_rapid_test("KJ1", T0 + HOUR);
    p.import_failed_sample();
    // "Kill": the process ends with the results committed and nothing dispatched.
    let events = p.s.pending_events(10).expect("events");
    assert_eq!(events.len(), 2, "the triggers wrote the events with the results");
    drop(std::mem::replace(&mut p.s, SqliteStore::open(":memory:").expect("placeholder")));

    let mut s = p.reopen();
    let first = run_once(&mut s, &inbox_only()).expect("dispatch after the restart");
    assert_eq!(first.opened, 2);
    let again = run_once(&mut s, &inbox_only()).expect("dispatch again");
    assert_eq!((again.opened, again.skipped, again.traced), (0, 0, 0), "a second dispatch does nothing");

    let entries = all_entries(&s);
    assert_eq!(entries.len(), 2);
    for e in &entries {
        let notices = s.notifications_of(e.id).expect("notices");
        assert_eq!(notices.len(), 3, "one notice per person of M1: {notices:?}");
        assert_eq!(notified(&s, e.id), set(&["official1", "operator1", "staff1"]));
    }
    assert!(s.pending_events(10).expect("events").is_empty());
}

#[test]
fn two_dispatchers_at_once_open_one_entry_per_event() {
    let mut p = Province::new();
    for i in 0..20 {
        p.positive_rapid_test(&format!("KJ{i}"), T0 + HOUR);
    }
    let (mut a, mut b) = (p.reopen(), p.reopen());
    let (ra, rb) = std::thread::scope(|scope| {
        let ta = scope.spawn(move || run_once(&mut a, &inbox_only()).expect("dispatcher a"));
        let tb = scope.spawn(move || run_once(&mut b, &inbox_only()).expect("dispatcher b"));
        (ta.join().expect("a"), tb.join().expect("b"))
    });
    assert_eq!(ra.opened + rb.opened, 20, "{ra:?} {rb:?}");
    assert_eq!(all_entries(&p.s).len(), 20);
    let notices: usize = all_entries(&p.s).iter().map(|e| p.s.notifications_of(e.id).expect("n").len()).sum();
    assert_eq!(notices, 60);
}

#[test]
fn a_passed_result_or_an_unchanged_re_import_opens_nothing() {
    let mut p = Province::new();
    p.import_failed_sample();
    run_once(&mut p.s, &inbox_only()).expect("dispatch");
    // The same files again: nothing changes, so no event and no second entry.
    p.import_failed_sample();
    let r = run_once(&mut p.s, &inbox_only()).expect("dispatch");
    assert_eq!(r.opened, 0);
    let mut pass = row(
        Kind::RapidTest,
        &[
            ("test_no", text("KJ-OK")),
            ("market", Value::Int(p.id(Kind::Market, "M1"))),
            ("variety", Value::Int(p.id(Kind::Variety, "010101"))),
            ("item", text("有机磷和氨基甲酸酯类农药")),
            ("method", text("enzyme_inhibition")),
            ("value", Value::Real(12.0)),
            ("tested_at", Value::Int(T0)),
        ],
    );
    Kind::RapidTest.def().derive(&mut pass).expect("verdict");
    p.s.write_batch(Kind::RapidTest, &[pass], None).expect("write");
    assert!(p.s.pending_events(10).expect("events").is_empty(), "a pass is no event");
    assert_eq!(all_entries(&p.s).len(), 1);
}

#[test]
fn an_entry_is_seen_only_inside_its_region_or_market() {
    let mut p = Province::new();
    p.import_failed_sample();
    run_once(&mut p.s, &inbox_only()).expect("dispatch");
    let (m1, m2) = (p.id(Kind::Market, "M1"), p.id(Kind::Market, "M2"));
    let count = |scope: Scope| {
        let f = EntryFilter { scope: &scope, state: None, market_id: None, source_kind: None, before: None, limit: 10 };
        p.s.entries(&f).expect("entries").len()
    };
    assert_eq!(count(Scope::All), 1);
    assert_eq!(count(Scope::Region("130102".into())), 1, "its county");
    assert_eq!(count(Scope::Region("130100".into())), 1, "its city");
    assert_eq!(count(Scope::Market(m1)), 1, "its market");
    assert_eq!(count(Scope::Region("130104".into())), 0, "another county");
    assert_eq!(count(Scope::Region("130200".into())), 0, "another city");
    assert_eq!(count(Scope::Market(m2)), 0, "another market");
    assert_eq!(count(Scope::Enterprise(1)), 0, "a supermarket chain");
}

#[test]
fn the_background_work_dispatches_and_traces_a_new_failure_by_itself() {
    use shian_services::supervision::background::{Background, Intervals};
    use std::time::{Duration, Instant};

    let mut p = Province::new();
    let bg = Background::start_with(&p.s, inbox_only(), Intervals::default()).expect("start");
    p.positive_rapid_test("KJ1", T0);
    let started = Instant::now();
    let traced = |s: &SqliteStore| all_entries(s).first().is_some_and(|e| e.trace_status == "done");
    // Wait on the database itself (what a user would see), up to a generous bound for a busy machine.
    while !traced(&p.s) {
        assert!(started.elapsed() < Duration::from_secs(20), "not dispatched and traced by the background work");
        std::thread::sleep(Duration::from_millis(10));
    }
    bg.stop();
    let e = &all_entries(&p.s)[0];
    assert_eq!(notified(&p.s, e.id), set(&["official1", "operator1", "staff1"]));
    assert!(p.s.pending_events(10).expect("events").is_empty());
}
