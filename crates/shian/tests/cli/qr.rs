//! `shian qr`: issuing codes, a vendor's code as SVG and PNG, a market's posters, withdrawing and
//! reissuing, a vendor's own commitment.

use shian_domain::Kind;
use shian_domain::access::Scope;
use shian_services::public::token;
use shian_store::Store;
use shian_store::query::ListQuery;

use crate::support::*;

fn store(db: &Db) -> Box<dyn Store> {
    shian_store::open(&db.url()).unwrap()
}

/// A market's code and a vendor of it that may show a public page.
fn market_and_vendor(db: &Db) -> (String, String) {
    let s = store(db);
    let lq = ListQuery { scope: &Scope::All, filters: vec![], before: None, limit: 10_000 };
    let v = s
        .list(Kind::Vendor, &lq)
        .unwrap()
        .into_iter()
        .find(|v| token::vendor_validity(s.as_ref(), v.id).unwrap().is_none())
        .expect("a vendor with an agreement in force");
    let text = |i: usize| v.values[i].as_text().unwrap_or_default().to_string();
    let (code, market) = (Kind::Vendor.def().field("code").unwrap().0, Kind::Vendor.def().field("market").unwrap().0);
    (text(market), text(code))
}

#[test]
fn codes_are_issued_written_as_images_and_withdrawn() {
    let db = Db::copy_of_fixture();
    let (market, vendor) = market_and_vendor(&db);
    let issued = db.run_en(&["qr", "issue", "--market", &market]);
    issued.ok();
    assert!(issued.stdout.contains("codes issued"), "{}", issued.stdout);
    let png = db.file("v.png");
    let out = db.run_en(&[
        "qr",
        "vendor",
        &vendor,
        "--format",
        "png",
        "-o",
        png.to_str().unwrap(),
        "--public-url",
        "https://sa.example.cn",
    ]);
    out.ok();
    let url = out.stdout.lines().next().unwrap().to_string();
    assert!(url.starts_with("https://sa.example.cn/q/"), "{url}");
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    let svg = db.file("v.svg");
    db.run_en(&["qr", "vendor", &vendor, "-o", svg.to_str().unwrap(), "--public-url", "https://sa.example.cn"]).ok();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let old = url.rsplit('/').next().unwrap().to_string();
    db.run_en(&["qr", "reissue", &vendor]).ok();
    let s = store(&db);
    let t = s.public_token(&old).unwrap().expect("the old token is kept");
    assert!(t.revoked_at.is_some(), "the old code is withdrawn");
    assert_eq!(t.reason.as_deref(), Some("reissued"));
    let log = s.audit_log(None, None, 50).unwrap();
    assert!(log.iter().any(|e| e.action == "qr.revoke" && e.actor.starts_with("cli")));
}

#[test]
fn a_markets_posters_are_one_pdf() {
    let db = Db::copy_of_fixture();
    let (market, _) = market_and_vendor(&db);
    let pdf = db.file("posters.pdf");
    let out = db.run_en(&["qr", "posters", "--market", &market, "--per-page", "4", "-o", pdf.to_str().unwrap()]);
    out.ok();
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    assert!(out.stdout.contains("posters"), "{}", out.stdout);
    db.run_en(&["qr", "posters", "--market", "NO-SUCH", "-o", pdf.to_str().unwrap()]).code(1);
}

#[test]
fn a_vendors_own_commitment_is_recorded_as_plain_text() {
    let db = Db::copy_of_fixture();
    let (_, vendor) = market_and_vendor(&db);
    db.run_en(&["qr", "commitment", &vendor, "--text", "保证所售蔬菜均附合格证", "--signed-on", "2026-03-01"]).ok();
    let id = token::vendor_id(store(&db).as_ref(), &vendor).unwrap().unwrap();
    let c = store(&db).commitment(id).unwrap().expect("recorded");
    assert_eq!(c.text, "保证所售蔬菜均附合格证");
    db.run_en(&["qr", "commitment", &vendor, "--text", "<b>bold</b>"]).code(1);
}
