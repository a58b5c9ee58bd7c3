//! `shian bench supervision`: the province's rapid tests and official samples imported from CSV
//! with the supervision work running beside the import as in the server — failure events
//! dispatched into ledger entries and notices, traces attached, the outbox delivered to a local
//! webhook — measuring the total time and the delay from each failed result's commit to its
//! notices being queued.
//!
//! **Data.** The province database (`shian generate --scale province`) is copied (the original is
//! never opened by Shian: opening migrates); its rapid tests, samples and sample items are exported
//! as CSV from the copy and then deleted from it, with everything supervision made of them, so the
//! import stores them again as new rows. Every market gets two accounts (an assigned official and
//! an operator) so that the notices fan out as they would in a deployment.
//!
//! **Delay.** A commit hook on the import's connection records the time of every commit; a failed
//! result's commit is the first one at or after the moment its trigger wrote the event
//! (`failure_events.created_ms`, inside the transaction). The delay is the event's
//! `dispatched_ms` (written in the transaction that queues its inbox and outbox rows) minus that
//! commit time. The delay from the trigger's own time is shown too (it adds the rest of the
//! import's batch transaction).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use shian_domain::{Kind, Lang};
use shian_services::export::{self, ExportOptions};
use shian_services::import::{self, ImportOptions, NoProgress};
use shian_services::supervision::background::{Background, Intervals};
use shian_services::supervision::{NotifyConfig, now_ms};
use shian_services::{Encoding, Format};
use shian_store::Store;
use shian_store::accounts::{Accounts, NewUser};
use shian_store::sqlite::SqliteStore;
use shian_store::supervision::Supervision;

use crate::memory::{mib, peak_rss};

/// The kinds imported, in the order a lab's files are.
const KINDS: [Kind; 3] = [Kind::RapidTest, Kind::Sample, Kind::SampleItem];

pub fn run(db: &str, dir: &Path) -> Result<()> {
    let source = PathBuf::from(db.strip_prefix("sqlite://").unwrap_or(db));
    if !source.exists() {
        bail!("{} does not exist: make it with `shian bench generate --scale province`", source.display());
    }
    std::fs::create_dir_all(dir)?;
    let copy = dir.join("supervision.db");
    println!(
        "bench supervision: rapid tests and samples of {} imported with the supervision work running",
        source.display()
    );
    let files = prepare(&source, &copy, dir)?;
    measure(&copy, &files)
}

/// Copies the database, exports the three kinds from the copy and clears them from it.
fn prepare(source: &Path, copy: &Path, dir: &Path) -> Result<Vec<(Kind, PathBuf)>> {
    let started = Instant::now();
    super::remove_db(copy);
    for ext in ["", "-wal"] {
        let from = PathBuf::from(format!("{}{ext}", source.display()));
        if from.exists() {
            std::fs::copy(&from, format!("{}{ext}", copy.display()))?;
        }
    }
    println!("  copy of the database          {:>8.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let mut store = SqliteStore::open(copy.to_str().context("path")?)?;
    println!("  open (migrations)             {:>8.1} s", started.elapsed().as_secs_f64());
    let mut files = Vec::new();
    for kind in KINDS {
        let path = dir.join(format!("supervision-{}.csv", kind.name()));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let opts = ExportOptions { format: Format::Csv, headers: Lang::Zh, encoding: Encoding::Utf8 };
        let n = export::export(&store, kind, opts, &mut out)?;
        out.flush()?;
        println!("  exported {:<20} {n:>9} rows", kind.name());
        files.push((kind, path));
    }
    clear(&store)?;
    let accounts = accounts(&mut store)?;
    println!("  market accounts added         {accounts:>9}");
    store.optimize()?;
    Ok(files)
}

/// Deletes the tests and samples and everything supervision made of them.
fn clear(store: &SqliteStore) -> Result<()> {
    store.connection().execute_batch(
        "BEGIN;
         DELETE FROM notifications; DELETE FROM outbox; DELETE FROM risk_actions; DELETE FROM risk_evidence;
         DELETE FROM risk_escalations; DELETE FROM failure_events; DELETE FROM risk_entries;
         DELETE FROM sample_items; DELETE FROM samples; DELETE FROM rapid_tests;
         COMMIT;",
    )?;
    Ok(())
}

/// An assigned official's and an operator's account for every market (no password can match
/// the stored hash `!`: they cannot sign in).
fn accounts(store: &mut SqliteStore) -> Result<usize> {
    let mut markets: Vec<(String, i64)> = Vec::new();
    store.scan(Kind::Market, &mut |r| {
        if let shian_domain::Value::Text(code) = &r[0] {
            markets.push((code.clone(), 0));
        }
        Ok(())
    })?;
    let codes: Vec<&str> = markets.iter().map(|(c, _)| c.as_str()).collect();
    let ids = store.resolve(Kind::Market, &codes)?;
    let mut n = 0;
    for (code, id) in ids {
        for (prefix, role) in [("official", "assigned_official"), ("operator", "market_operator")] {
            let username = format!("bench-{prefix}-{code}");
            if store.user_by_name(&username)?.is_some() {
                continue;
            }
            let user = NewUser {
                username: &username,
                display_name: &username,
                role,
                scope_region: None,
                scope_market: Some(id),
                scope_enterprise: None,
                password_hash: "!",
                at: 0,
            };
            store.insert_user(&user)?;
            n += 1;
        }
    }
    Ok(n)
}

/// A webhook receiver answering 204 to everything; counts the requests.
fn receiver() -> Result<(String, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let Ok(clone) = stream.try_clone() else { continue };
            let mut reader = BufReader::new(clone);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            seen.fetch_add(1, Ordering::Relaxed);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    Ok((url, count))
}

fn measure(copy: &Path, files: &[(Kind, PathBuf)]) -> Result<()> {
    let mut store = SqliteStore::open(copy.to_str().context("path")?)?;
    let commits = Arc::new(Mutex::new(Vec::<i64>::new()));
    let clock = Arc::clone(&commits);
    store.connection().commit_hook(Some(move || {
        clock.lock().map(|mut c| c.push(now_ms())).ok();
        false
    }))?;
    let (url, delivered) = receiver()?;
    let cfg = NotifyConfig { webhook_url: Some(url), ..NotifyConfig::default() };
    let background = Background::start_with(&store, cfg, Intervals::default())?;
    let started = Instant::now();
    for (kind, path) in files {
        let t = Instant::now();
        let report = import::import_file(&mut store, *kind, path, &ImportOptions::default(), &NoProgress)
            .map_err(|e| anyhow::anyhow!(e.describe(Lang::En)))?;
        println!(
            "  import {:<22} {:>9} rows {:>8.1} s ({} inserted, {} rejected)",
            kind.name(),
            report.rows_read,
            t.elapsed().as_secs_f64(),
            report.outcome.inserted,
            report.rejected
        );
    }
    let imported = started.elapsed();
    let dispatched = wait(&store, |s| Ok(s.pending_events(1)?.is_empty()))?;
    let traced = wait(&store, |s| Ok(s.entries_awaiting_trace(1)?.is_empty()))?;
    let sent = wait(&store, |s| Ok(s.outbox_counts()?.pending == 0))?;
    background.stop();
    store.connection().commit_hook(None::<fn() -> bool>)?;
    let commits = commits.lock().map(|c| c.clone()).unwrap_or_default();
    report(&store, &commits, Figures { started, imported, dispatched, traced, sent })?;
    println!("  webhook requests received     {:>9}", delivered.load(Ordering::Relaxed));
    println!("  peak memory                   {:>9}", peak_rss().map(mib).unwrap_or_default());
    Ok(())
}

/// Waits until `done` holds; returns when (an instant).
fn wait(store: &SqliteStore, done: impl Fn(&SqliteStore) -> Result<bool>) -> Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(3600);
    while !done(store)? {
        if Instant::now() > deadline {
            bail!("the supervision work did not finish within an hour");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Instant::now())
}

struct Figures {
    started: Instant,
    imported: Duration,
    dispatched: Instant,
    traced: Instant,
    sent: Instant,
}

/// The `p`-th percentile (0–100) of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(store: &SqliteStore, commits: &[i64], f: Figures) -> Result<()> {
    let events = store.events(0, 10_000_000)?;
    let mut from_commit = Vec::with_capacity(events.len());
    let mut from_trigger = Vec::with_capacity(events.len());
    for e in &events {
        let Some(dispatched) = e.dispatched_ms else { continue };
        let i = commits.partition_point(|&c| c < e.created_ms);
        if let Some(&commit) = commits.get(i) {
            from_commit.push(dispatched - commit);
        }
        from_trigger.push(dispatched - e.created_ms);
    }
    from_commit.sort_unstable();
    from_trigger.sort_unstable();
    let entries = store.connection().query_row("SELECT count(*) FROM risk_entries", [], |r| r.get::<_, i64>(0))?;
    let inbox = store.connection().query_row("SELECT count(*) FROM notifications", [], |r| r.get::<_, i64>(0))?;
    let secs = |i: Instant| i.duration_since(f.started).as_secs_f64();
    println!("  failure events                {:>9}", events.len());
    println!("  ledger entries                {entries:>9}");
    println!("  inbox notices                 {inbox:>9}");
    println!("  import (three files)          {:>8.1} s", f.imported.as_secs_f64());
    println!("  all events dispatched after   {:>8.1} s", secs(f.dispatched));
    println!("  all traces attached after     {:>8.1} s", secs(f.traced));
    println!("  all webhooks delivered after  {:>8.1} s", secs(f.sent));
    for (name, d) in [("commit → queued", &from_commit), ("trigger → queued", &from_trigger)] {
        println!(
            "  {name:<18} ms  p50 {:>6}  p99 {:>6}  max {:>6}  (n = {})",
            percentile(d, 50.0),
            percentile(d, 99.0),
            d.last().copied().unwrap_or(0),
            d.len()
        );
    }
    Ok(())
}
