//! An import killed with SIGKILL keeps whole batches only, and running it again finishes the job
//! without losing or duplicating a row.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// Twelve transactions and a bit: the killed run is caught after the first (polling takes tens of
/// milliseconds, a transaction hundreds in a debug build).
const ROWS: u64 = 100_000;
/// Rows per transaction (`--batch`); not a multiple of the reader's 4,096-row blocks, so the test
/// fails if a transaction holds anything but exactly `--batch` rows.
const BATCH: u64 = 5_000;

/// `ROWS` consumer sales of the fixture's listings, so that every reference resolves.
fn write_sales(fixture: &Db, path: &Path) {
    let listings = String::from_utf8(fixture.export("vendor_variety", &["--headers", "en"])).unwrap();
    let mut lines = listings.lines();
    assert_eq!(cells(lines.next().unwrap())[..2], ["vendor", "variety"]);
    let listings: Vec<(String, String)> = lines
        .map(|l| {
            let c = cells(l);
            (c[0].to_string(), c[1].to_string())
        })
        .collect();
    assert!(!listings.is_empty());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "source,ext_id,vendor,variety,lot_code,quantity,unit,sold_at,buyer_kind,buyer,buyer_name,amount")
        .unwrap();
    for i in 0..ROWS {
        let (vendor, variety) = &listings[(i as usize * 7919) % listings.len()];
        let qty = 0.5 + (i % 97) as f64 / 4.0;
        let (day, minute) = (i % 28 + 1, i % 1440);
        writeln!(
            out,
            "KILL9,K{i:08},{vendor},{variety},L{:07},{qty:.2},kg,2026-05-{day:02} {:02}:{:02}:00,consumer,,,{:.2}",
            i / 5,
            minute / 60,
            minute % 60,
            qty * 6.5
        )
        .unwrap();
    }
    out.flush().unwrap();
}

#[test]
fn an_import_killed_midway_keeps_whole_batches_and_a_rerun_completes_it_exactly() {
    let db = Db::copy_of_fixture();
    let file = db.file("sales.csv");
    write_sales(fixture(), &file);
    let base = db.count("outbound");
    let file = file.to_str().unwrap();
    let batch = BATCH.to_string();
    let args = ["--lang", "en", "import", "outbound", file, "--batch", &batch];

    let stderr = std::fs::File::create(db.file("killed.stderr")).unwrap();
    let mut child = db.command(&args).stdout(Stdio::null()).stderr(stderr).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = std::fs::read_to_string(db.file("killed.stderr")).unwrap();
            panic!("the import ended ({status}) before it could be killed; use a bigger file\n{stderr}");
        }
        if db.count("outbound") > base {
            break;
        }
        assert!(Instant::now() < deadline, "the import committed nothing in two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the import was killed, not finished: {status}");

    let added = db.count("outbound") - base;
    assert!(added > 0 && added < ROWS, "{added} of {ROWS} rows stored when killed");
    assert_eq!(added % BATCH, 0, "{added} rows stored: not whole batches of {BATCH}");

    let rerun = db.run(&args);
    assert_eq!(
        rerun.ok().summary(),
        Summary { read: ROWS, inserted: ROWS - added, updated: 0, unchanged: added, rejected: 0 },
        "the rerun stores exactly the rows the killed run did not"
    );
    assert_eq!(db.count("outbound"), base + ROWS, "every row once");

    let third = db.run(&args);
    assert_eq!(third.ok().summary(), Summary { read: ROWS, inserted: 0, updated: 0, unchanged: ROWS, rejected: 0 });
    assert_eq!(db.count("outbound"), base + ROWS);
}
