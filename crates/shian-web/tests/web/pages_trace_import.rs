//! The trace page and its exports, and the import page: scope at the start of a trace, the tree and
//! the chart's data, valid spreadsheets; uploads that keep the good rows, report and offer the bad
//! ones, change nothing when repeated, stay within the uploader's scope, and refuse read-only roles
//! and forged forms.

use axum::body::Body;
use axum::http::{Method, header};
use serde_json::Value;
use shian_domain::Kind;
use shian_domain::access::{Role, Scope};
use shian_store::Store;
use shian_store::query::Filter;
use shian_web::auth::urlencode;

use crate::support::{Resp, TestApp, all, text};

// ---------------------------------------------------------------- helpers

/// A lot code received by a vendor of `market` (newest first), with the vendor's name.
fn lot_in_market(store: &dyn Store, market: i64) -> (String, String) {
    let receipts = all(store, Kind::Inbound, &Scope::Market(market), vec![]);
    let r = receipts
        .iter()
        .find(|r| !text(Kind::Inbound, r, "lot_code").is_empty())
        .unwrap_or_else(|| panic!("market {market} has no receipt with a lot code"));
    let (i, _) = Kind::Inbound.def().field("vendor").expect("vendor field");
    (text(Kind::Inbound, r, "lot_code"), r.labels[i].clone().unwrap_or_default())
}

/// The JSON block of the trace chart.
#[track_caller]
fn graph(resp: &Resp) -> Value {
    let body = resp.text();
    let start = body.find("<script type=\"application/json\" id=\"trace-data\">").expect("the chart's data block");
    let rest = &body[start..];
    let json = &rest[rest.find('>').expect("tag end") + 1..rest.find("</script>").expect("block end")];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("chart data is not JSON ({e}): {json}"))
}

/// A `multipart/form-data` body: its content type and bytes.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----shian-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts an upload as a role; `csrf` says whether the form carries the session's token.
async fn post_upload(app: &TestApp, role: Role, kind: &str, name: &str, file: &[u8], csrf: bool) -> Resp {
    let token = app.session(role).await.csrf;
    let mut fields = vec![("kind", kind)];
    if csrf {
        fields.insert(0, ("csrf", token.as_str()));
    }
    let (content_type, body) = multipart(&fields, Some((name, file)));
    let req = app
        .request(Method::POST, "/import", role)
        .await
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("request");
    app.send(req).await
}

/// Uploads a file and follows the redirect to the job's page (the upload waits for a small
/// import to finish); returns the page and the job's path.
async fn import(app: &TestApp, role: Role, kind: &str, name: &str, file: &[u8]) -> (Resp, String) {
    let resp = post_upload(app, role, kind, name, file, true).await;
    resp.status(303);
    let location = resp.headers[header::LOCATION].to_str().expect("location").to_string();
    assert!(location.starts_with("/import/job/"), "{location}");
    let page = app.get(&location, role).await;
    page.status(200);
    assert!(!page.text().contains("id=\"import-running\""), "the import did not finish: {}", page.text());
    (page, location)
}

/// A count on the result page (`data-count="inserted"`).
#[track_caller]
fn count(page: &Resp, name: &str) -> u64 {
    let body = page.text();
    let marker = format!("data-count=\"{name}\">");
    let at = body.find(&marker).unwrap_or_else(|| panic!("no count {name}: {body}")) + marker.len();
    body[at..].split('<').next().and_then(|n| n.trim().parse().ok()).unwrap_or_else(|| panic!("count {name}"))
}

/// The line numbers listed in the rejected-rows table.
fn reported_lines(page: &Resp) -> Vec<u64> {
    page.text().split("data-line=\"").skip(1).filter_map(|s| s.split('"').next().and_then(|n| n.parse().ok())).collect()
}

fn vendors_named(store: &dyn Store, prefix: &str) -> usize {
    all(store, Kind::Vendor, &Scope::All, vec![Filter::Search(prefix.into())]).len()
}

// ---------------------------------------------------------------- trace

#[tokio::test]
async fn every_hop_links_to_the_page_of_its_own_sale_or_receipt() {
    let app = TestApp::new();
    let (lot, _) = lot_in_market(app.store().as_ref(), app.fixture.market_a.id);
    let mut links = Vec::new();
    for dir in ["back", "forward"] {
        let resp = app.get(&format!("/trace?q={}&dir={dir}", urlencode(&lot)), Role::ProvinceRegulator).await;
        resp.status(200);
        // `<a href="/record/inbound/12">SIM/IN000000012</a>`: the record page and the record's key.
        for part in resp.text().split("<a href=\"/record/").skip(1) {
            let (href, rest) = part.split_once("\">").expect("a link");
            let doc = rest.split("</a>").next().expect("link text").to_string();
            if href.starts_with("inbound/") || href.starts_with("outbound/") {
                links.push((format!("/record/{href}"), doc));
            }
        }
    }
    assert!(links.iter().any(|(h, _)| h.contains("/inbound/")), "receipts are linked: {links:?}");
    for (href, doc) in links.iter().take(12) {
        let page = app.get(href, Role::ProvinceRegulator).await;
        page.status(200);
        let ext_id = doc.rsplit('/').next().expect("SOURCE/EXT_ID");
        assert!(page.text().contains(ext_id), "{href} is the page of {doc}");
    }
}

#[tokio::test]
async fn a_trace_from_a_lot_in_scope_shows_its_hops_and_the_chart_data() {
    let app = TestApp::new();
    let (lot, vendor) = lot_in_market(app.store().as_ref(), app.fixture.market_a.id);
    let resp = app.get(&format!("/trace?q={}&dir=back", urlencode(&lot)), Role::CountyRegulator).await;
    resp.status(200);
    let body = resp.text();
    assert!(body.contains("id=\"trace-result\""), "{body}");
    assert!(body.matches("class=\"hop\"").count() >= 2, "a lot and where it came from: {body}");
    assert!(body.contains(&vendor), "the holding vendor is shown");
    assert!(body.contains("/record/vendor/"), "vendors link to their records");
    let g = graph(&resp);
    assert!(
        !g["nodes"].as_array().expect("nodes").is_empty() && !g["links"].as_array().expect("links").is_empty(),
        "{g}"
    );
    let names: std::collections::HashSet<&str> =
        g["nodes"].as_array().into_iter().flatten().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(names.len(), g["nodes"].as_array().map_or(0, Vec::len), "node names are unique (ECharts needs that)");
    for l in g["links"].as_array().into_iter().flatten() {
        assert_ne!(l["s"], l["t"], "no link loops back: {l}");
    }

    let forward = app.get(&format!("/trace?q={}&dir=forward", urlencode(&lot)), Role::CountyRegulator).await;
    forward.status(200);
    assert!(forward.text().contains("id=\"recall-download\""), "a forward trace offers the recall list");
    assert!(forward.text().contains("id=\"trace-totals\"") || forward.text().contains("没有记录"));
}

#[tokio::test]
async fn a_trace_from_outside_the_scope_is_not_found_and_shows_nothing() {
    let app = TestApp::new();
    let (lot, vendor) = lot_in_market(app.store().as_ref(), app.fixture.market_b.id);
    let resp = app.get(&format!("/trace?q={}&dir=back", urlencode(&lot)), Role::CountyRegulator).await;
    resp.status(404);
    let body = resp.text();
    assert!(body.contains("id=\"trace-error\"") && body.contains("不在您的管辖范围内"), "{body}");
    assert!(!body.contains("trace-data") && !body.contains("class=\"hop\"") && !body.contains(&vendor), "{body}");
    let missing = app.get("/trace?q=NO-SUCH-LOT-42&dir=back", Role::CountyRegulator).await;
    missing.status(404);
    assert!(missing.text().contains("不在您的管辖范围内"), "the same answer as a code that does not exist");
    // The province sees it.
    app.get(&format!("/trace?q={}&dir=back", urlencode(&lot)), Role::ProvinceRegulator).await.status(200);
}

#[tokio::test]
async fn an_empty_trace_page_offers_examples_from_the_scope_and_the_liaison_traces_certificates_only() {
    let app = TestApp::new();
    let resp = app.get("/trace", Role::MarketOperator).await;
    resp.status(200);
    let body = resp.text();
    assert!(body.contains("id=\"trace-examples\"") && body.contains("/trace?q="), "{body}");
    let (lot, _) = lot_in_market(app.store().as_ref(), app.fixture.market_a.id);
    app.get(&format!("/trace?q={}&start=lot", urlencode(&lot)), Role::AgriLiaison).await.status(403);
}

#[tokio::test]
async fn trace_exports_are_valid_spreadsheets_named_for_download() {
    use calamine::Reader;
    let app = TestApp::new();
    let (lot, _) = lot_in_market(app.store().as_ref(), app.fixture.market_a.id);
    let q = urlencode(&lot);
    for (dir, format, first_header) in [("forward", "recall", "去向类型"), ("back", "fsma204", "")] {
        let resp = app.get(&format!("/trace/export?q={q}&dir={dir}&format={format}"), Role::CountyRegulator).await;
        resp.status(200);
        assert!(resp.body.starts_with(b"PK\x03\x04"), "an XLSX is a zip archive");
        let disposition = resp.headers[header::CONTENT_DISPOSITION].to_str().expect("ascii header");
        assert!(
            disposition.starts_with("attachment; filename=\"") && disposition.contains("filename*=UTF-8''"),
            "{disposition}"
        );
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(resp.body.clone())).expect("readable XLSX");
        let sheet = book.worksheet_range_at(0).expect("a sheet").expect("readable sheet");
        let header_row: Vec<String> = sheet.rows().next().expect("a header").iter().map(|c| c.to_string()).collect();
        if !first_header.is_empty() {
            assert_eq!(header_row[0], first_header);
        }
        assert!(sheet.rows().count() > 1, "{format}: rows beyond the header");
    }
    let back_recall = app.get(&format!("/trace/export?q={q}&dir=back&format=recall"), Role::CountyRegulator).await;
    back_recall.status(400);
    let (outside, _) = lot_in_market(app.store().as_ref(), app.fixture.market_b.id);
    let resp = app
        .get(&format!("/trace/export?q={}&dir=forward&format=recall", urlencode(&outside)), Role::CountyRegulator)
        .await;
    resp.status(404);
    assert!(!resp.body.starts_with(b"PK"), "no spreadsheet outside the scope");
}

// ---------------------------------------------------------------- import

/// Vendors in a market: two good rows around one with a bad subject kind (line 3).
fn vendor_file(market: &str, prefix: &str) -> Vec<u8> {
    format!(
        "销售者编码,市场编码,销售者名称,主体类型\n\
         {prefix}-001,{market},测试商户甲,individual_business\n\
         {prefix}-002,{market},测试商户乙,no-such-kind\n\
         {prefix}-003,{market},测试商户丙,person\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn an_upload_keeps_the_good_rows_reports_the_bad_one_and_a_repeat_changes_nothing() {
    let app = TestApp::new();
    let file = vendor_file(&app.fixture.market_a.code, "WEBIMP");
    let (page, job) = import(&app, Role::ProvinceRegulator, "vendor", "商户.csv", &file).await;
    assert_eq!(
        (count(&page, "read"), count(&page, "inserted"), count(&page, "rejected")),
        (3, 2, 1),
        "{}",
        page.text()
    );
    assert_eq!(reported_lines(&page), vec![3]);
    assert!(page.text().contains("no-such-kind"));
    assert_eq!(vendors_named(app.store().as_ref(), "WEBIMP"), 2);

    let download = page
        .text()
        .split("id=\"rejected-download\" class=\"button\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_string);
    let download = download.unwrap_or_else(|| panic!("no a#rejected-download: {}", page.text()));
    let rejected = app.get(&download, Role::ProvinceRegulator).await;
    rejected.status(200);
    let csv = rejected.text();
    assert!(csv.contains("WEBIMP-002") && !csv.contains("WEBIMP-001"), "{csv}");
    assert!(rejected.headers[header::CONTENT_DISPOSITION].to_str().expect("ascii").contains("filename*=UTF-8''"));
    app.get(&download, Role::Admin).await.status(404);
    app.get(&job, Role::Admin).await.status(404);

    let (again, _) = import(&app, Role::ProvinceRegulator, "vendor", "商户.csv", &file).await;
    assert_eq!((count(&again, "inserted"), count(&again, "updated"), count(&again, "unchanged")), (0, 0, 2));
    assert_eq!(vendors_named(app.store().as_ref(), "WEBIMP"), 2);
    let audit = app.store().audit_log(Some("province_regulator"), None, 10).expect("audit log");
    assert!(audit.iter().filter(|e| e.action == "import").count() >= 2, "{audit:?}");
}

#[tokio::test]
async fn a_scoped_upload_rejects_the_rows_outside_the_scope_with_their_own_lines() {
    let app = TestApp::new();
    let (a, b) = (&app.fixture.market_a.code, &app.fixture.market_b.code);
    let file = format!(
        "销售者编码,市场编码,销售者名称,主体类型\n\
         SCOPED-001,{a},本县商户,person\n\
         SCOPED-002,{b},外市商户,person\n\
         SCOPED-003,{a},格式有误,no-such-kind\n\
         SCOPED-004,{a},本县商户二,person\n"
    );
    let (page, _) = import(&app, Role::CountyRegulator, "vendor", "scoped.csv", file.as_bytes()).await;
    assert_eq!(
        (count(&page, "read"), count(&page, "inserted"), count(&page, "rejected")),
        (4, 2, 2),
        "{}",
        page.text()
    );
    assert_eq!(reported_lines(&page), vec![3, 4], "lines of the upload, not of the filtered copy");
    assert!(page.text().contains("不在您的管辖范围"), "{}", page.text());
    assert_eq!(vendors_named(app.store().as_ref(), "SCOPED"), 2);

    // A vendor of another market cannot be moved into the scope by naming it again.
    let other = all(app.store().as_ref(), Kind::Vendor, &Scope::Market(app.fixture.market_b.id), vec![]);
    let stolen = text(Kind::Vendor, &other[0], "code");
    let file = format!("销售者编码,市场编码,销售者名称,主体类型\n{stolen},{a},改名,person\n");
    let (page, _) = import(&app, Role::CountyRegulator, "vendor", "move.csv", file.as_bytes()).await;
    assert_eq!((count(&page, "inserted"), count(&page, "updated"), count(&page, "rejected")), (0, 0, 1));
}

#[tokio::test]
async fn a_province_wide_xlsx_export_imported_by_a_county_changes_nothing_and_rejects_the_rest() {
    use shian_services::export::{ExportOptions, export};
    let app = TestApp::new();
    let store = app.store();
    let mut xlsx = Vec::new();
    let opts = ExportOptions { format: shian_services::Format::Xlsx, ..Default::default() };
    let total = export(store.as_ref(), Kind::Vendor, opts, &mut xlsx).expect("export vendors");
    let county = Scope::Region(app.fixture.market_a.region.clone());
    let mine = store.count_in(Kind::Vendor, &county, &[]).expect("count");
    assert!(mine > 0 && mine < total, "the county holds some of the vendors");
    let (page, _) = import(&app, Role::CountyRegulator, "vendor", "全省销售者.xlsx", &xlsx).await;
    assert_eq!(count(&page, "read"), total);
    assert_eq!((count(&page, "inserted"), count(&page, "updated")), (0, 0), "{}", page.text());
    assert_eq!((count(&page, "unchanged"), count(&page, "rejected")), (mine, total - mine));
}

#[tokio::test]
async fn read_only_roles_and_forged_forms_are_refused() {
    let app = TestApp::new();
    app.get("/import", Role::Auditor).await.status(403);
    let file = vendor_file(&app.fixture.market_a.code, "NOPE");
    post_upload(&app, Role::Auditor, "vendor", "v.csv", &file, true).await.status(403);
    post_upload(&app, Role::ProvinceRegulator, "vendor", "v.csv", &file, false).await.status(403);
    assert_eq!(vendors_named(app.store().as_ref(), "NOPE"), 0);
    let form = app.get("/import", Role::MarketOperator).await;
    form.status(200);
    let body = form.text();
    assert!(
        body.contains("name=\"csrf\"") && body.contains("value=\"vendor\"") && !body.contains("value=\"variety\""),
        "{body}"
    );
}

#[tokio::test]
async fn traces_read_the_index_while_it_is_fresh_and_the_database_after_a_write() {
    let app = TestApp::new();
    let (lot, _) = lot_in_market(app.store().as_ref(), app.fixture.market_a.id);
    let path = format!("/trace?q={}&dir=forward", urlencode(&lot));
    // No index yet: the trace reads the database and starts building one.
    let first = app.get(&path, Role::ProvinceRegulator).await;
    first.status(200);
    let waited = std::time::Instant::now();
    while app.state.trace.current().is_none() {
        assert!(waited.elapsed().as_secs() < 120, "the trace index was not built");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let fresh = app.state.trace.current().expect("built");
    assert!(fresh.on(app.store().as_ref()).expect("version").is_some(), "fresh after the build");
    let through_index = app.get(&path, Role::ProvinceRegulator).await;
    assert_eq!(graph(&first), graph(&through_index), "the index gives the database's answer");

    // A sale of the lot written by another connection: the index is stale, the next trace reads
    // the database (and shows the sale) and drops the stale index.
    let conn = shian_store::sqlite::SqliteStore::open(app.db_path.to_str().expect("path")).expect("open");
    conn.connection()
        .execute(
            "INSERT INTO outbound (source, ext_id, vendor_id, variety_id, lot_code, quantity, unit, sold_at,
                                   buyer_kind, buyer_id)
             SELECT 'TEST', 'INDEX-STALE-1', i.vendor_id, i.variety_id, i.lot_code, 1.0, 'kg', i.received_at + 3600,
                    'canteen', (SELECT id FROM buyers WHERE buyer_kind = 'canteen' ORDER BY id LIMIT 1)
             FROM inbound i WHERE i.lot_code = ?1 ORDER BY i.id LIMIT 1",
            [&lot],
        )
        .expect("insert a sale");
    assert!(fresh.on(app.store().as_ref()).expect("version").is_none(), "stale after the write");
    let after = app.get(&path, Role::ProvinceRegulator).await;
    assert!(after.status(200).text().contains("TEST/INDEX-STALE-1"), "the new sale is in the trace");
    assert!(
        app.state.trace.current().is_none_or(|ix| !std::sync::Arc::ptr_eq(&ix, &fresh)),
        "the stale index is dropped"
    );
}
