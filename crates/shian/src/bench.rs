//! `shian bench`: benchmarks that print their figures (not timed tests). Each measured step runs
//! as a child process of this binary, so its peak memory is its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::{Rng, SeedableRng};
use shian_domain::{Kind, Value};

use crate::memory::mib;

mod public;
mod supervision;
mod trace;
mod web;

#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// Generate a province into a fresh database: wall time, peak memory, database size.
    Generate {
        #[arg(long, default_value = "province")]
        scale: String,
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
    },
    /// Import N outbound orders from CSV into a populated database, beside the sqlite3 command
    /// line's `.import` of the same file into a bare table; also at N/4 to show memory stays flat.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
    },
    /// Backward and forward trace latency over random starting lots of an existing database,
    /// beside a recursive SQL query answering the same starts (the baseline); peak memory.
    Trace {
        /// Starting lots (each traced backward and forward, by Shian and by the baseline).
        #[arg(long, default_value_t = 10_000)]
        starts: usize,
        /// The database (made by `shian bench generate --scale province`).
        #[arg(long, default_value = "sqlite://bench-out/province.db")]
        db: String,
        /// Seed of the random starts.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Run only the series whose name contains one of these `|`-separated parts (`index`,
        /// `database`, `baseline`, `confirmed`, …), e.g. `baseline|index, confirmed` under a profiler.
        #[arg(long)]
        only: Option<String>,
        /// Also print the starts of the N slowest calls of each series (to look into the tail).
        #[arg(long, default_value_t = 0)]
        slowest: usize,
        /// Timed rounds over the same starts (each in a new shuffled order); every figure is the
        /// median of the rounds' figures, so one disturbed round does not set it.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// The province's rapid tests and samples imported from CSV with the supervision work running
    /// as in the server: total time, commit-to-notification delay (p50/p99), peak memory.
    Supervision {
        /// The province database (copied, never changed).
        #[arg(long, default_value = "sqlite://bench-out/province.db")]
        db: String,
        /// Where the copy and the CSV files go.
        #[arg(long, default_value = "bench-out")]
        dir: PathBuf,
    },
    /// Web pages and API under load (wrk): p50 / p99 latency and requests per second of the
    /// dashboard, a vendor's and a market's page and API lists, with the server in this process.
    Web {
        #[arg(long, default_value = "sqlite://bench-out/province.db")]
        db: String,
        /// Seconds of load per target.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        connections: u32,
    },
    /// The vendor's public page (/q/{token}) under open-loop load (oha -q with latency
    /// correction) beside a static file of the same size, its capacity, and 429s beyond it.
    /// Codes are issued into the database: run it on a copy of a shared one.
    Public {
        #[arg(long, default_value = "sqlite://bench-out/province.db")]
        db: String,
        /// Seconds per run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The open-loop rate (requests per second).
        #[arg(long, default_value_t = 6_000)]
        rate: u32,
        #[arg(long, default_value_t = 64)]
        connections: u32,
        /// Connections of the run at twice the capacity.
        #[arg(long, default_value_t = 1_000)]
        overload_connections: u32,
        /// Vendor pages in the rotation.
        #[arg(long, default_value_t = 1_000)]
        vendors: usize,
        /// Vendor pages first requested in the last run (a cold cache).
        #[arg(long, default_value_t = 2_000)]
        cold: usize,
        /// The rate of the cold run.
        #[arg(long, default_value_t = 2_000)]
        cold_rate: u32,
    },
}

pub fn run(b: Bench) -> Result<ExitCode> {
    match b {
        Bench::Generate { scale, dir } => generate(&scale, &dir),
        Bench::Import { rows, dir } => import(rows, &dir),
        Bench::Trace { starts, db, seed, only, slowest, rounds } => {
            trace::run(starts, &db, seed, only.as_deref(), slowest, rounds.max(1))
        }
        Bench::Web { db, seconds, connections } => web::run(&db, seconds, connections),
        Bench::Public { db, seconds, rate, connections, overload_connections, vendors, cold, cold_rate } => {
            public::run(&public::Options {
                db,
                seconds,
                rate,
                connections,
                overload_connections,
                vendors,
                cold,
                cold_rate,
            })
        }
        Bench::Supervision { db, dir } => supervision::run(&db, &dir),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Runs this binary with `args`; returns wall time and the child's peak memory.
fn child(args: &[&str]) -> Result<(Duration, u64)> {
    let exe = std::env::current_exe()?;
    let peak_file = std::env::temp_dir().join(format!("shian-peak-{}", std::process::id()));
    let started = Instant::now();
    let status = Command::new(exe)
        .args(args)
        .env("SHIAN_PEAK_MEMORY_FILE", &peak_file)
        .env("SHIAN_LANG", "en")
        .stdout(Stdio::null())
        .status()?;
    let elapsed = started.elapsed();
    if !(status.success() || status.code() == Some(3)) {
        bail!("shian {} failed: {status}", args.join(" "));
    }
    let peak = std::fs::read_to_string(&peak_file).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let _ = std::fs::remove_file(peak_file);
    Ok((elapsed, peak))
}

fn remove_db(path: &Path) {
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
}

fn generate(scale: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let db = dir.join(format!("{scale}.db"));
    remove_db(&db);
    let url = format!("sqlite://{}", db.display());
    let (elapsed, peak) = child(&["generate", "--scale", scale, "--db", &url])?;
    let size = std::fs::metadata(&db)?.len();
    println!("bench generate --scale {scale}");
    println!("  wall time      {:.1} s", elapsed.as_secs_f64());
    println!("  peak memory    {}", mib(peak));
    println!("  database size  {}", mib(size));
    let store = shian_store::open(&url)?;
    let counts = shian_services::stats::counts(store.as_ref())?;
    println!("  order records  {}", shian_services::stats::order_records(&counts));
    Ok(())
}

/// Writes `rows` outbound orders of the base database's vendors and varieties as CSV.
fn write_orders(base: &str, path: &Path, rows: u64) -> Result<()> {
    let store = shian_store::open(base)?;
    let mut listings: Vec<(String, String)> = Vec::new();
    store.scan(Kind::VendorVariety, &mut |r| {
        if let (Value::Text(v), Value::Text(var)) = (&r[0], &r[1]) {
            listings.push((v.clone(), var.clone()));
        }
        Ok(())
    })?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "source,ext_id,vendor,variety,lot_code,quantity,unit,sold_at,buyer_kind,buyer,buyer_name,amount")?;
    for i in 0..rows {
        let (vendor, variety) = &listings[rng.random_range(0..listings.len())];
        let lot = if rng.random_bool(0.8) { format!("B{:09}", i / 5) } else { String::new() };
        let qty = rng.random_range(0.5..50.0_f64);
        let minute = rng.random_range(0..525_600);
        writeln!(
            out,
            "BENCH,{i:010},{vendor},{variety},{lot},{qty:.2},kg,2026-{:02}-{:02} {:02}:{:02}:00,consumer,,,{:.2}",
            minute / 43_800 + 1,
            (minute / 1440) % 28 + 1,
            (minute / 60) % 24,
            minute % 60,
            qty * 6.5
        )?;
    }
    out.flush()?;
    Ok(())
}

fn sqlite3_import(csv: &Path, db: &Path) -> Result<Duration> {
    remove_db(db);
    let started = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("the sqlite3 command line is needed for the baseline (scripts/setup installs it)")?;
    let script = format!("PRAGMA journal_mode=WAL;\n.mode csv\n.import {} bare\n", csv.display());
    child.stdin.take().context("stdin")?.write_all(script.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("sqlite3 .import failed");
    }
    Ok(started.elapsed())
}

fn import(rows: u64, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let base = dir.join("import-base.db");
    let base_url = format!("sqlite://{}", base.display());
    if !base.exists() {
        child(&["generate", "--scale", "small", "--db", &base_url])?;
    }
    println!("bench import: outbound orders (CSV, UTF-8) into a database already holding the small province");
    println!(
        "{:>10} {:>14} {:>14} {:>14} {:>8} {:>12}",
        "rows", "sqlite3 .import", "shian import", "shian rows/s", "ratio", "peak memory"
    );
    for n in [rows / 4, rows] {
        let csv = dir.join(format!("outbound-{n}.csv"));
        write_orders(&base_url, &csv, n)?;
        let baseline = sqlite3_import(&csv, &dir.join("baseline.db"))?;
        let target = dir.join("import-target.db");
        remove_db(&target);
        std::fs::copy(&base, &target)?;
        let url = format!("sqlite://{}", target.display());
        let (elapsed, peak) = child(&["import", "outbound", csv.to_str().context("path")?, "--db", &url])?;
        let ratio = baseline.as_secs_f64() / elapsed.as_secs_f64();
        println!(
            "{:>10} {:>13.2}s {:>13.2}s {:>14.0} {:>8.2} {:>12}",
            n,
            baseline.as_secs_f64(),
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            ratio,
            mib(peak)
        );
    }
    println!("ratio = sqlite3 time / shian time (≥ 1.0 means shian, with validation and indexes, is at least as fast)");
    Ok(())
}
