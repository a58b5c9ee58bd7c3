//! One code, all public (一码公开): the vendor's and the lot's public pages without login, revoked and
//! unknown codes, complaints (a record of the right market and an inbox notice), rate limits,
//! ratings, no personal data in any public response, the staff's QR images and posters, the
//! credit page and the page-view figure.

use axum::http::header;
use shian_domain::access::{Role, Scope};
use shian_domain::{Kind, Value};
use shian_services::public::privacy::personal_numbers;
use shian_services::public::token;
use shian_store::query::Filter;

use crate::support::{Fixture, TestApp, Who, all, text};

/// A vendor of the market that may show its public page today, with its live token.
fn valid_vendor(app: &TestApp, market: i64) -> (i64, String) {
    let mut store = app.store();
    let vendors = all(store.as_ref(), Kind::Vendor, &Scope::Market(market), vec![]);
    let v = vendors
        .iter()
        .find(|v| token::vendor_validity(store.as_ref(), v.id).expect("validity").is_none())
        .expect("a vendor with an agreement in force");
    let t = token::token_for(store.as_mut(), v.id, None, "test").expect("token");
    (v.id, t.token)
}

fn form_fields(html: &str) -> (String, String) {
    let value = |name: &str| {
        let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in the form"));
        let rest = &html[at + name.len() + 15..];
        rest[..rest.find('"').expect("end of value")].to_string()
    };
    (value("ts"), value("sig"))
}

async fn complaint(app: &TestApp, token: &str, what: &str) -> crate::support::Resp {
    let page = app.get(&format!("/q/{token}"), Who::Nobody).await;
    page.status(200);
    let (ts, sig) = form_fields(&page.text());
    let form = format!("what={}&when=%E4%BB%8A%E5%A4%A9&contact=&ts={ts}&sig={sig}", urlencode(what));
    app.post_form(&format!("/q/{token}/complaint"), &form, Who::Nobody).await
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn a_vendors_public_page_shows_its_records_to_anyone_small_and_without_script() {
    let app = TestApp::new();
    let (vendor, token) = valid_vendor(&app, app.fixture.market_a.id);
    let resp = app.get(&format!("/q/{token}"), Who::Nobody).await;
    resp.status(200);
    let html = resp.text();
    assert!(html.len() < 20_000, "{} bytes", html.len());
    assert!(!html.contains("<script"), "no script on the public page");
    assert!(html.contains("<html lang=\"zh-CN\">"));
    for must in
        ["信用等级", "主体承诺", "经营品种", "产地来源", "快速检测", "监督抽检", "投诉举报", &app.fixture.market_a.name]
    {
        assert!(html.contains(must), "the page shows {must}");
    }
    assert!(html.contains("市场销售者标准承诺"), "no commitment recorded: the standard text, said so");
    let store = app.store();
    let row = store.get(Kind::Vendor, vendor, &Scope::All).expect("get").expect("vendor");
    let stall = text(Kind::Vendor, &row, "stall");
    assert!(html.contains(&stall), "the stall {stall} is shown");
    let en = app.get(&format!("/q/{token}?lang=en"), Who::Nobody).await;
    assert!(en.status(200).text().contains("Credit grade"));
}

#[tokio::test]
async fn revoked_and_unknown_codes_say_no_longer_valid_and_never_show_a_vendor() {
    let app = TestApp::new();
    let (vendor, old) = valid_vendor(&app, app.fixture.market_a.id);
    let new = token::reissue(app.store().as_mut(), vendor, None, "test").expect("reissue").token;
    let gone = app.get(&format!("/q/{old}"), Who::Nobody).await;
    gone.status(410);
    let html = gone.text();
    assert!(html.contains("此二维码已失效"));
    assert!(!html.contains("信用等级") && !html.contains(&app.fixture.market_a.name), "no vendor on a revoked code");
    app.get(&format!("/q/{new}"), Who::Nobody).await.status(200);
    for unknown in ["abcdefghijklmnopqrstuvwxyz", "not-a-token", "aaaaaaaaaaaaaaaaaaaaaaaaaa"] {
        let r = app.get(&format!("/q/{unknown}"), Who::Nobody).await;
        r.status(404);
        assert!(r.text().contains("此二维码已失效"), "{unknown}");
    }
}

#[tokio::test]
async fn a_vendor_whose_agreement_was_terminated_shows_as_invalid_and_an_expired_one_says_so() {
    let app = TestApp::new();
    let mut store = app.store();
    let expired = all(
        store.as_ref(),
        Kind::Vendor,
        &Scope::All,
        vec![
            Filter::Eq("agreement_status", Value::Text("expired".into())),
            Filter::Eq("status", Value::Text("active".into())),
        ],
    );
    let (a, b) = (&expired[0], &expired[1]);
    let ta = token::token_for(store.as_mut(), a.id, None, "test").expect("token").token;
    let r = app.get(&format!("/q/{ta}"), Who::Nobody).await;
    r.status(200);
    assert!(r.text().contains("未在有效期内"), "an expired agreement is shown, not hidden");
    shian_store::sqlite::SqliteStore::open(app.db_path.to_str().expect("path"))
        .expect("open")
        .connection()
        .execute("UPDATE vendors SET agreement_status = 'terminated' WHERE id = ?", [b.id])
        .expect("terminate");
    let tb = token::token_for(store.as_mut(), b.id, None, "test").expect("token").token;
    let r = app.get(&format!("/q/{tb}"), Who::Nobody).await;
    r.status(410);
    assert!(r.text().contains("入场协议已解除"));
}

#[tokio::test]
async fn a_complaint_becomes_a_record_of_the_vendors_market_and_a_notice_in_the_operators_inbox() {
    let app = TestApp::new();
    let market = &app.fixture.market_a;
    let (vendor, token) = valid_vendor(&app, market.id);
    let resp = complaint(&app, &token, "买的青菜有刺鼻的农药味").await;
    resp.status(201);
    let html = resp.text();
    let needle = "id=\"complaint-no\">";
    let at = html.find(needle).expect("a complaint number") + needle.len();
    let number = &html[at..at + html[at..].find('<').expect("end")];
    let store = app.store();
    let id = store.find(Kind::Complaint, &[Value::Text(number.to_string())]).expect("find").expect("stored");
    let c = store.get(Kind::Complaint, id, &Scope::Market(market.id)).expect("get").expect("in the vendor's market");
    assert_eq!(text(Kind::Complaint, &c, "channel"), "qr");
    assert_eq!(text(Kind::Complaint, &c, "status"), "received");
    assert_eq!(text(Kind::Complaint, &c, "market"), market.code);
    assert!(text(Kind::Complaint, &c, "content").contains("刺鼻"));
    let v = store.get(Kind::Vendor, vendor, &Scope::All).expect("get").expect("vendor");
    assert_eq!(text(Kind::Complaint, &c, "vendor"), text(Kind::Vendor, &v, "code"));
    let list = app.get("/records/complaint", Role::MarketOperator).await;
    assert!(list.status(200).text().contains(number), "the operator sees it among the market's complaints");
    let operator = store.user_by_name(Fixture::username(Role::MarketOperator)).expect("user").expect("operator");
    let inbox = store.inbox(operator.id, true, 20).expect("inbox");
    assert!(inbox.iter().any(|n| n.body.contains("刺鼻") || n.title.contains("扫码投诉")), "{inbox:?}");
}

#[tokio::test]
async fn complaints_are_rate_limited_per_client_with_429() {
    let app = TestApp::new();
    let (_, token) = valid_vendor(&app, app.fixture.market_a.id);
    for i in 0..5 {
        complaint(&app, &token, &format!("第{i}次投诉：缺斤短两")).await.status(201);
    }
    let refused = complaint(&app, &token, "第六次投诉：缺斤短两").await;
    refused.status(429);
    assert!(refused.headers.get(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn html_forged_forms_and_robots_are_refused_and_store_nothing() {
    let app = TestApp::new();
    let (_, token) = valid_vendor(&app, app.fixture.market_a.id);
    let before = app.store().count(Kind::Complaint).expect("count");
    complaint(&app, &token, "<script>alert(1)</script> 很差").await.status(400);
    let forged = format!("what={}&ts=1&sig=00", urlencode("内容足够长的投诉"));
    app.post_form(&format!("/q/{token}/complaint"), &forged, Who::Nobody).await.status(400);
    let page = app.get(&format!("/q/{token}"), Who::Nobody).await;
    let (ts, sig) = form_fields(&page.text());
    let robot = format!("what={}&website=http%3A%2F%2Fspam&ts={ts}&sig={sig}", urlencode("内容足够长的投诉"));
    app.post_form(&format!("/q/{token}/complaint"), &robot, Who::Nobody).await.status(200);
    let big = "菜".repeat(3000);
    let resp = app.post_form(&format!("/q/{token}/complaint"), &format!("what={}", urlencode(&big)), Who::Nobody).await;
    assert_eq!(resp.status.as_u16(), 413, "a body over the form limit is refused");
    assert_eq!(app.store().count(Kind::Complaint).expect("count"), before);
}

#[tokio::test]
async fn ratings_are_one_per_client_per_day_and_shown_only_as_aggregates() {
    let app = TestApp::new();
    let (_, token) = valid_vendor(&app, app.fixture.market_a.id);
    let page = app.get(&format!("/q/{token}"), Who::Nobody).await;
    let (ts, sig) = form_fields(&page.text());
    let form = format!("stars=4&ts={ts}&sig={sig}");
    app.post_form(&format!("/q/{token}/rating"), &form, Who::Nobody).await.status(201);
    app.post_form(&format!("/q/{token}/rating"), &form, Who::Nobody).await.status(409);
    let html = app.get(&format!("/q/{token}"), Who::Nobody).await.text();
    assert!(html.contains("id=\"rating\">4.0</b>"), "the average is shown");
    assert!(html.contains("1 人次"));
}

#[tokio::test]
async fn no_public_page_of_the_province_shows_a_phone_or_id_number_or_a_persons_name() {
    let app = TestApp::new();
    let mut store = app.store();
    let vendors = all(store.as_ref(), Kind::Vendor, &Scope::All, vec![]);
    let mut pages = 0;
    for v in &vendors {
        let t = token::token_for(store.as_mut(), v.id, None, "test").expect("token").token;
        let resp = app.get(&format!("/q/{t}"), Who::Nobody).await;
        let html = resp.text();
        let found = personal_numbers(&html);
        assert!(found.is_empty(), "vendor {}: {found:?}", v.id);
        // A business's registered name may contain its owner's name; nothing else may.
        let outside_name = html.replace(&text(Kind::Vendor, v, "name"), "");
        for field in ["contact", "phone", "credit_code", "agreement_no"] {
            let value = text(Kind::Vendor, v, field);
            assert!(value.is_empty() || !outside_name.contains(&value), "vendor {} shows its {field}", v.id);
        }
        if text(Kind::Vendor, v, "subject_kind") == "person" {
            assert!(!html.contains(&text(Kind::Vendor, v, "name")), "vendor {} shows a person's name", v.id);
        }
        pages += usize::from(resp.status.as_u16() == 200);
    }
    assert!(pages >= 5, "{pages} vendor pages scanned");
    for r in all(store.as_ref(), Kind::Inbound, &Scope::All, vec![]).iter().take(40) {
        let (code, lot) = (text(Kind::Inbound, r, "vendor"), text(Kind::Inbound, r, "lot_code"));
        let Some(vendor) = store.find(Kind::Vendor, &[Value::Text(code)]).expect("find") else { continue };
        if lot.is_empty() {
            continue;
        }
        let t = token::token_for(store.as_mut(), vendor, Some(&lot), "test").expect("lot token").token;
        let html = app.get(&format!("/q/lot/{t}"), Who::Nobody).await.status(200).text();
        assert!(personal_numbers(&html).is_empty(), "lot {lot}");
        let supplier = text(Kind::Inbound, r, "supplier_name");
        assert!(supplier.is_empty() || !html.contains(&supplier), "lot {lot} shows its supplier's name");
        assert!(!html.contains("金额") && !html.contains("价格"), "no prices");
    }
}

#[tokio::test]
async fn a_lot_code_shows_its_origin_certificate_and_market() {
    let app = TestApp::new();
    let mut store = app.store();
    let certified = all(store.as_ref(), Kind::Inbound, &Scope::Market(app.fixture.market_a.id), vec![]);
    let r = certified
        .iter()
        .find(|r| !text(Kind::Inbound, r, "certificate").is_empty() && !text(Kind::Inbound, r, "lot_code").is_empty())
        .expect("a certified receipt with a lot code");
    let vendor =
        store.find(Kind::Vendor, &[Value::Text(text(Kind::Inbound, r, "vendor"))]).expect("find").expect("vendor");
    let lot = text(Kind::Inbound, r, "lot_code");
    let t = token::token_for(store.as_mut(), vendor, Some(&lot), "test").expect("token").token;
    let html = app.get(&format!("/q/lot/{t}"), Who::Nobody).await.status(200).text();
    assert!(html.contains(&lot) && html.contains(&app.fixture.market_a.name));
    assert!(html.contains("附合格证"), "the certificate is shown");
    let form = app.get(&format!("/qr/lot/{vendor}?lot={lot}&format=png"), Role::ProvinceRegulator).await;
    assert_eq!(form.status.as_u16(), 303, "the staff's lot form leads to the image");
    let png = app.get(&format!("/qr/lot/{vendor}/{lot}.png"), Role::ProvinceRegulator).await;
    assert_eq!(&png.status(200).body[1..4], b"PNG");
    app.get(&format!("/qr/lot/{vendor}/NO-SUCH-LOT.png"), Role::ProvinceRegulator).await.status(404);
}

#[tokio::test]
async fn the_qr_png_decodes_to_the_vendors_public_url() {
    let app = TestApp::new();
    let (vendor, token) = valid_vendor(&app, app.fixture.market_a.id);
    let resp = app.get(&format!("/qr/vendor/{vendor}.png"), Role::MarketStaff).await;
    resp.status(200);
    assert_eq!(resp.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("image/png"));
    let decoder = png::Decoder::new(std::io::Cursor::new(resp.body.clone()));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, url) = grids[0].decode().expect("decodes");
    assert!(url.ends_with(&format!("/q/{token}")), "{url}");
    let svg = app.get(&format!("/qr/vendor/{vendor}.svg"), Role::MarketStaff).await;
    assert!(svg.status(200).text().contains("<svg"));
}

#[tokio::test]
async fn staff_get_codes_and_posters_only_within_their_scope() {
    let app = TestApp::new();
    let (other, _) = valid_vendor(&app, app.fixture.market_b.id);
    app.get(&format!("/qr/vendor/{other}.png"), Role::MarketOperator).await.status(404);
    app.get(&format!("/qr/market/{}.pdf", app.fixture.market_b.id), Role::MarketOperator).await.status(404);
    let page = app.get(&format!("/qr/vendor/{other}"), Who::Nobody).await;
    assert_eq!(page.status.as_u16(), 303, "strangers are sent to the login page");
}

#[tokio::test]
async fn a_markets_posters_are_one_pdf_with_an_embedded_font_subset() {
    let app = TestApp::new();
    let resp = app.get(&format!("/qr/market/{}.pdf?layout=4", app.fixture.market_a.id), Role::MarketOperator).await;
    resp.status(200);
    assert!(resp.body.starts_with(b"%PDF"));
    let pdf = String::from_utf8_lossy(&resp.body);
    let subset = pdf.find("/BaseFont/").map(|at| &pdf[at + 10..at + 17]).expect("a font");
    assert!(subset.ends_with('+') && subset[..6].bytes().all(|b| b.is_ascii_uppercase()), "a subset tag: {subset}");
    assert!(pdf.contains("/FontFile"), "the font is embedded");
    assert!(resp.body.len() < 500_000, "{} bytes: the CJK font is subset, not whole", resp.body.len());
}

#[tokio::test]
async fn the_record_pages_of_a_vendor_and_a_market_have_the_buttons() {
    let app = TestApp::new();
    let (vendor, _) = valid_vendor(&app, app.fixture.market_a.id);
    let v = app.get(&format!("/record/vendor/{vendor}"), Role::MarketOperator).await.status(200).text();
    assert!(v.contains(&format!("/qr/vendor/{vendor}")) && v.contains(&format!("/credit/vendor/{vendor}")));
    let m = app.get(&format!("/record/market/{}", app.fixture.market_a.id), Role::MarketOperator).await;
    assert!(m.status(200).text().contains(&format!("/qr/market/{}.pdf", app.fixture.market_a.id)));
}

#[tokio::test]
async fn reissuing_from_the_staff_page_makes_the_old_code_invalid_at_once() {
    let app = TestApp::new();
    let (vendor, old) = valid_vendor(&app, app.fixture.market_a.id);
    app.get(&format!("/q/{old}"), Who::Nobody).await.status(200); // now cached
    let page = app.get(&format!("/qr/vendor/{vendor}"), Role::MarketOperator).await;
    assert!(page.status(200).text().contains(&format!("/q/{old}")));
    let session = app.session(Role::MarketOperator).await;
    let resp = app
        .post_form(&format!("/qr/vendor/{vendor}/reissue"), &format!("csrf={}", session.csrf), Role::MarketOperator)
        .await;
    assert_eq!(resp.status.as_u16(), 303, "{}", resp.text());
    app.get(&format!("/q/{old}"), Who::Nobody).await.status(410);
    let auditor = app.post_form(&format!("/qr/vendor/{vendor}/reissue"), "csrf=x", Role::Auditor).await;
    assert_eq!(auditor.status.as_u16(), 403);
}

#[tokio::test]
async fn the_credit_page_lists_each_deduction_with_its_record_and_follows_new_records() {
    let app = TestApp::new();
    let (vendor, token) = valid_vendor(&app, app.fixture.market_a.id);
    let before = app.get(&format!("/credit/vendor/{vendor}"), Role::ProvinceRegulator).await.status(200).text();
    assert!(before.contains("id=\"credit-grade\""));
    app.get(&format!("/q/{token}"), Who::Nobody).await.status(200); // the public page is now cached
    let mut store = app.store();
    let listing = all(store.as_ref(), Kind::VendorVariety, &Scope::All, vec![Filter::RefId("vendor", vendor)]);
    let variety = text(Kind::VendorVariety, listing.first().expect("a listing"), "variety");
    let variety = store.find(Kind::Variety, &[Value::Text(variety)]).expect("find").expect("variety");
    let failed = shian_store::row(
        Kind::RapidTest,
        &[
            ("test_no", Value::Text("KJ-PUBLIC-TEST-1".into())),
            ("market", Value::Int(app.fixture.market_a.id)),
            ("vendor", Value::Int(vendor)),
            ("variety", Value::Int(variety)),
            ("item", Value::Text("毒死蜱".into())),
            ("method", Value::Text("colloidal_gold".into())),
            ("result", Value::Text("positive".into())),
            ("verdict", Value::Text("fail".into())),
            ("tested_at", Value::Int(shian_services::accounts::now() - 86_400)),
        ],
    );
    store.write_batch(Kind::RapidTest, &[failed], None).expect("write");
    let html = app.get(&format!("/credit/vendor/{vendor}"), Role::ProvinceRegulator).await.status(200).text();
    assert!(html.contains("KJ-PUBLIC-TEST-1"), "the failed test is listed with its record");
    assert!(html.contains("快速检测不合格") && html.contains("−8"));
    app.state.summary.invalidate(); // what every write through the platform does
    let public = app.get(&format!("/q/{token}"), Who::Nobody).await.text();
    assert!(public.contains("毒死蜱") && public.contains("不合格"), "the public page is rendered again");
}

#[tokio::test]
async fn page_views_are_counted_and_shown_on_the_dashboard() {
    let app = TestApp::new();
    let (vendor, token) = valid_vendor(&app, app.fixture.market_a.id);
    for _ in 0..3 {
        app.get(&format!("/q/{token}"), Who::Nobody).await.status(200);
    }
    app.get(&format!("/q/{token}?lang=en"), Who::Nobody).await.status(200);
    shian_web::public::views::flush(&app.state).await.expect("flush");
    let views = app.store().page_views_of(vendor, 7).expect("views");
    assert_eq!(views.iter().map(|(_, n)| n).sum::<u64>(), 4);
    let html = app.get("/", Role::MarketOperator).await.status(200).text();
    assert!(html.contains("公示页浏览量"));
    assert!(html.contains("data-figure=\"public_views\">4<"), "the figure shows the 4 views");
}
