//! The risk ledger's rules over the fixture province of [`crate::supervision`]: a positive rapid
//! test is held at once with a 4-hour laboratory re-test window, then destroyed, returned or
//! released; states only move forward; evidence is kept with its limit; overdue entries go up one
//! level at a time to the province; entries from complaints; everything audited.

use shian_services::supervision::dispatch::run_once;
use shian_services::supervision::escalate::escalate_overdue;
use shian_services::supervision::ledger::{self, ActRequest, EvidenceFile, ManualEntry};
use shian_services::supervision::rules::{Action, Level, RETEST_WINDOW_SECS};
use shian_services::supervision::{SupervisionError, now};
use shian_store::accounts::Accounts;
use shian_store::supervision::Supervision;

use crate::supervision::{HOUR, Province, T0, all_entries, inbox_only, notified};

fn retest(method: &str, result: &str) -> ActRequest {
    ActRequest {
        action: Action::Retest,
        note: None,
        method: Some(method.into()),
        result: Some(result.into()),
        evidence: None,
    }
}

/// A province with one dispatched positive rapid test; returns it and the entry's id.
fn rapid_entry(tested_at: i64) -> (Province, i64) {
    let mut p = Province::new();
    p.positive_rapid_test("KJ1", tested_at);
    run_once(&mut p.s, &inbox_only()).expect("dispatch");
    let id = all_entries(&p.s)[0].id;
    (p, id)
}

fn refused(r: Result<i64, SupervisionError>) -> String {
    match r {
        Err(SupervisionError::Refused(m)) => m.en.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_positive_rapid_test_is_held_at_once_with_a_four_hour_laboratory_re_test_window() {
    let tested_at = now() - HOUR;
    let (p, id) = rapid_entry(tested_at);
    let v = ledger::view(&p.s, id, now()).expect("view");
    assert_eq!(v.entry.retest_due, Some(tested_at + RETEST_WINDOW_SECS));
    assert_eq!(RETEST_WINDOW_SECS, 4 * HOUR);
    let hold = &v.actions[0];
    assert_eq!((hold.action.as_str(), hold.actor.as_str()), ("hold", "system"), "held at once");
    assert_eq!(v.entry.state, "open");
    let due: Vec<_> = v.due.iter().map(|d| (d.what.en.to_string(), d.by, d.overdue)).collect();
    assert_eq!(due.len(), 2, "{due:?}");
    assert!(due[0].0.contains("laboratory") && due[0].1 == Some(tested_at + 4 * HOUR) && !due[0].2, "{due:?}");
    assert!(due[1].0.contains("destroy or return"), "{due:?}");
    assert!(v.notifications[0].body.contains("复检"), "the notice says the re-test is due");

    let late = ledger::view(&p.s, id, tested_at + 4 * HOUR + 1).expect("view");
    assert!(late.due[0].overdue, "the window has passed: {:?}", late.due);
}

#[test]
fn a_re_test_must_use_a_laboratory_method_and_a_pass_releases_the_goods() {
    let (mut p, id) = rapid_entry(now() - HOUR);
    let why = refused(ledger::act(&mut p.s, id, &retest("enzyme_inhibition", "pass"), "official1", 1024));
    assert!(why.contains("laboratory"), "{why}");
    refused(ledger::act(&mut p.s, id, &retest("胶体金免疫层析法", "fail"), "official1", 1024));
    refused(ledger::act(&mut p.s, id, &ActRequest::new(Action::Close, None), "official1", 1024));
    refused(ledger::act(&mut p.s, id, &ActRequest::new(Action::Dispose, None), "official1", 1024));

    ledger::act(&mut p.s, id, &retest("GB 23200.113-2018", "pass"), "official1", 1024).expect("lab re-test");
    let v = ledger::view(&p.s, id, now()).expect("view");
    assert_eq!(v.entry.state, "disposed", "a passing laboratory re-test releases the goods");
    assert_eq!(v.due.len(), 1, "only the verification is left: {:?}", v.due);
    ledger::close(&mut p.s, id, Some("核查无误".into()), "county1").expect("close");
    let closed = p.s.entry(id).expect("entry").expect("stored");
    assert_eq!(closed.state, "verified_closed");
    assert!(closed.closed_at.is_some());
    refused(ledger::act(&mut p.s, id, &ActRequest::new(Action::Note, Some("再记一笔".into())), "x", 1024));

    let log = p.s.audit_log(None, None, 50).expect("audit");
    let actions: Vec<_> =
        log.iter().filter(|a| a.kind.as_deref() == Some("risk_entry")).map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["ledger.act", "ledger.act", "ledger.open"], "newest first; refused writes are not written");
    assert!(
        log.iter().any(|a| a.actor == "county1" && a.after.as_deref().is_some_and(|x| x.contains("verified_closed")))
    );
}

#[test]
fn a_failed_re_test_leaves_destruction_due_and_the_evidence_is_kept_within_its_limit() {
    let (mut p, id) = rapid_entry(now() - HOUR);
    ledger::act(&mut p.s, id, &retest("GB 23200.113-2018", "fail"), "official1", 1024).expect("re-test");
    let v = ledger::view(&p.s, id, now()).expect("view");
    assert_eq!(v.entry.state, "in_disposal");
    assert_eq!(v.due.len(), 1);
    assert!(v.due[0].what.en.contains("destroy or return"), "{:?}", v.due);

    let photo = EvidenceFile { file_name: "销毁.jpg".into(), content_type: "image/jpeg".into(), data: vec![7; 2048] };
    let big =
        ActRequest { evidence: Some(photo.clone()), ..ActRequest::new(Action::Destroy, Some("现场销毁".into())) };
    let why = refused(ledger::act(&mut p.s, id, &big, "official1", 1024));
    assert!(why.contains("too large"), "{why}");
    let action = ledger::act(&mut p.s, id, &big, "official1", 4096).expect("destroy with evidence");
    let v = ledger::view(&p.s, id, now()).expect("view");
    assert_eq!(v.entry.state, "disposed");
    let stored = v.actions.iter().find(|a| a.id == action).and_then(|a| a.evidence_id).expect("evidence linked");
    let e = p.s.evidence(stored).expect("evidence").expect("stored");
    assert_eq!((e.file_name.as_str(), e.size, e.data.len()), ("销毁.jpg", 2048, 2048));
    assert_eq!(e.sha256.len(), 64);
}

#[test]
fn overdue_entries_go_up_one_level_at_a_time_to_the_province() {
    let (mut p, id) = rapid_entry(T0);
    let e = p.s.entry(id).expect("entry").expect("stored");
    let general = Level::General.period_secs();
    assert_eq!(e.deadline - e.opened_at, general);

    assert_eq!(escalate_overdue(&mut p.s, e.deadline - 1).expect("early").escalated, 0);
    let mut at = e.deadline + 1;
    for (role, user) in
        [("county_regulator", "county1"), ("city_regulator", "city"), ("province_regulator", "province")]
    {
        assert_eq!(escalate_overdue(&mut p.s, at).expect("escalate").escalated, 1, "to {role}");
        let now = p.s.entry(id).expect("entry").expect("stored");
        assert_eq!(now.owner_role, role);
        assert_eq!(now.owner_user, Some(p.user(user)));
        assert_eq!(now.deadline, at + general, "a new deadline of the level's period");
        assert_eq!(escalate_overdue(&mut p.s, at).expect("again").escalated, 0, "not twice for one lapse");
        at = now.deadline + 1;
    }
    assert_eq!(escalate_overdue(&mut p.s, at).expect("top").escalated, 0, "the province is the top");
    let steps: Vec<_> = p.s.escalations(id).expect("rows").into_iter().map(|x| x.to_role).collect();
    assert_eq!(steps, ["county_regulator", "city_regulator", "province_regulator"]);

    let told = notified(&p.s, id);
    assert!(told.contains("county1") && told.contains("city") && told.contains("province"), "{told:?}");
    assert!(!told.contains("county2"), "another county's regulator is not told: {told:?}");
    let audit = p.s.audit_log(Some("system"), None, 50).expect("audit");
    assert_eq!(audit.iter().filter(|a| a.action == "ledger.escalate").count(), 3);
}

#[test]
fn a_disposed_entry_is_not_escalated() {
    let (mut p, id) = rapid_entry(T0);
    ledger::act(&mut p.s, id, &ActRequest::new(Action::Return, Some("退回供货商".into())), "official1", 0)
        .expect("return");
    let e = p.s.entry(id).expect("entry").expect("stored");
    assert_eq!(escalate_overdue(&mut p.s, e.deadline + 1).expect("escalate").escalated, 0);
}

#[test]
fn an_entry_from_a_complaint_takes_its_market_and_tells_its_people() {
    let mut p = Province::new();
    let values = [
        ("complaint_no", crate::support::text("TS1")),
        ("channel", crate::support::text("hotline_12315")),
        ("received_at", shian_domain::Value::Int(T0)),
        ("market", shian_domain::Value::Int(p.id(shian_domain::Kind::Market, "M2"))),
        ("content", crate::support::text("买到的芹菜有异味")),
        ("status", crate::support::text("received")),
    ];
    crate::supervision::put(&mut p.s, shian_domain::Kind::Complaint, &values);
    let req = ManualEntry {
        source: "complaint".into(),
        reference: Some("TS1".into()),
        market: None,
        vendor: None,
        lot_code: None,
        level: Level::Major,
        title: "投诉：芹菜异味".into(),
        detail: None,
    };
    let id = ledger::open_manual(&mut p.s, &req, "county2").expect("open");
    let e = p.s.entry(id).expect("entry").expect("stored");
    assert_eq!(
        (e.source_kind.as_str(), e.market_code.as_deref(), e.level.as_str()),
        ("complaint", Some("M2"), "major")
    );
    assert_eq!(e.owner_name.as_deref(), Some("包保三"));
    assert_eq!(notified(&p.s, id), ["official2", "operator2"].iter().map(|s| s.to_string()).collect());
    let missing = ManualEntry { reference: Some("TS404".into()), ..req };
    assert!(ledger::open_manual(&mut p.s, &missing, "county2").is_err());
}
