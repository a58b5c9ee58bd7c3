//! `shian bench public`: the vendor's public page (`/q/{token}`) under open-loop load, beside a
//! static file of the same size served by the same server in the same run (the HTTP floor of
//! this machine), and what happens beyond capacity.
//!
//! Load comes from `oha` (`cargo install oha`): its `-q` rate mode sends at a fixed rate whatever
//! the answers, and `--latency-correction` counts the time a request waited to be sent, so a slow
//! server cannot hide its latency (coordinated omission). wrk2, the usual tool for this, is not
//! packaged in Debian. The bench says so and stops if `oha` is missing.
//!
//! Steps: codes are issued for `--vendors` vendors that may show a page (written into the
//! database: run it on a copy of a shared one); the server runs in this process; every page is
//! requested once (cold renders, timed); then, for `--seconds` each:
//! 1. open loop at `--rate` on the static file, then on the vendor pages (a file of URLs, one per
//!    vendor, taken in turn);
//! 2. closed loop (as fast as `--connections` allow) on both: the capacity, and their ratio;
//! 3. open loop at twice the measured capacity with many connections: how many were answered and
//!    how many refused with 429 and how fast, then whether the server still answers;
//! 4. open loop on `--cold` pages never viewed before (every first view renders from the
//!    database, as after a restart): renders beyond what the database allows are refused with 429.
//!
//! Beside each run, the worst lag of the server's saturation probe (see
//! `shian_web::public::limit`): how long ready work waited for a CPU inside the server.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use shian_domain::Kind;
use shian_domain::access::Scope;
use shian_services::public::token;
use shian_store::query::ListQuery;

/// Goals of the issue.
const GOAL_RPS: f64 = 5_000.0;
const GOAL_P99_MS: f64 = 50.0;
const GOAL_RATIO: f64 = 0.5;

/// The options of a run.
pub struct Options {
    pub db: String,
    pub seconds: u64,
    pub rate: u32,
    pub connections: u32,
    /// Connections of the overload run.
    pub overload_connections: u32,
    pub vendors: usize,
    /// Vendors whose pages are first requested in the last run (a cold cache).
    pub cold: usize,
    pub cold_rate: u32,
}

/// What one oha run measured.
#[derive(Debug, Clone, Default)]
struct Measured {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: u64,
    too_many: u64,
    other: u64,
    /// p99 of the answers that were not 2xx (the 429s).
    p99_refused_ms: Option<f64>,
    /// The worst lag of the server's saturation probe during the run.
    lag_ms: f64,
}

pub fn run(o: &Options) -> Result<()> {
    require_oha()?;
    let mut tokens = prepare(&o.db, o.vendors + o.cold)?;
    let cold = tokens.split_off(o.vendors.min(tokens.len()));
    println!("bench public: {} vendor pages (and {} never viewed) of {}", tokens.len(), cold.len(), o.db);
    let state = shian_web::AppState::open(&o.db, None)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let static_body = Arc::new(RwLock::new(Bytes::new()));
    let router = shian_web::app(state.clone()).merge(static_route(Arc::clone(&static_body)));
    rt.spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    let _guard = rt.enter();
    shian_web::public::start(state.clone());
    let page = warm(addr, &tokens)?;
    *static_body.write().map_err(|_| anyhow::anyhow!("lock"))? = page;
    let urls = write_urls(addr, &tokens, "warm")?;
    let cold = write_urls(addr, &cold, "cold")?;
    measure(addr, &urls, &cold, o, &state)
}

fn require_oha() -> Result<()> {
    match Command::new("oha").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => bail!(
            "oha is not installed: `cargo install oha` (open-loop load with -q and --latency-correction; \
             wrk2 is not packaged in Debian). The benchmark cannot run without it."
        ),
    }
}

/// Live codes for up to `n` vendors that may show a page today, issued where missing.
fn prepare(db: &str, n: usize) -> Result<Vec<String>> {
    let mut store = shian_store::open(db)?;
    let store = store.as_mut();
    let mut tokens = Vec::new();
    let mut before = None;
    while tokens.len() < n {
        let lq = ListQuery { scope: &Scope::All, filters: vec![], before, limit: 1_000 };
        let page = store.list(Kind::Vendor, &lq)?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for v in &page {
            if tokens.len() < n && token::vendor_validity(store, v.id)?.is_none() {
                tokens.push(token::token_for(store, v.id, None, "bench")?.token);
            }
        }
    }
    if tokens.is_empty() {
        bail!("no vendor of {db} may show a public page today (none active with an agreement in force)");
    }
    Ok(tokens)
}

/// `/bench/static.html`: fixed bytes (a copy of a vendor page), as a file server would send them.
fn static_route(body: Arc<RwLock<Bytes>>) -> Router {
    Router::new().route(
        "/bench/static.html",
        get(move || {
            let body = body.read().map(|b| b.clone()).unwrap_or_default();
            async move { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body) }
        }),
    )
}

/// A plain HTTP/1.1 GET: status and body.
fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, Vec<u8>)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let status = String::from_utf8_lossy(buf.get(9..12).unwrap_or_default()).parse().unwrap_or(0);
    let body = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| buf[i + 4..].to_vec()).unwrap_or_default();
    Ok((status, body))
}

/// Requests every page once (rendering it from the database) and returns one page's bytes.
fn warm(addr: SocketAddr, tokens: &[String]) -> Result<Bytes> {
    let mut times = Vec::new();
    let mut first = Vec::new();
    for t in tokens {
        let started = Instant::now();
        let (status, body) = http_get(addr, &format!("/q/{t}"))?;
        times.push(started.elapsed());
        if status != 200 {
            bail!("/q/{t} answered {status}");
        }
        if first.is_empty() {
            first = body;
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p = |q: f64| ms(times[((times.len() - 1) as f64 * q) as usize]);
    println!(
        "cold renders (from the database, one at a time): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; page {} bytes",
        p(0.5),
        p(0.99),
        p(1.0),
        first.len()
    );
    Ok(Bytes::from(first))
}

fn write_urls(addr: SocketAddr, tokens: &[String], name: &str) -> Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("shian-bench-public-{name}-{}.txt", std::process::id()));
    let lines: Vec<String> = tokens.iter().map(|t| format!("http://{addr}/q/{t}")).collect();
    std::fs::write(&path, lines.join("\n") + "\n")?;
    Ok(path)
}

/// One oha run: `rate` per second (open loop) or as fast as possible (`None`).
fn oha(target: &Target, seconds: u64, rate: Option<u32>, connections: u32) -> Result<Measured> {
    let mut cmd = Command::new("oha");
    cmd.args(["-z", &format!("{seconds}s"), "-c", &connections.to_string(), "--no-tui", "--output-format", "json"]);
    cmd.arg("--stats-success-breakdown");
    if let Some(r) = rate {
        cmd.args(["-q", &r.to_string(), "--latency-correction"]);
    }
    match target {
        Target::Url(u) => cmd.arg(u),
        Target::Urls(file) => cmd.arg("--urls-from-file").arg(file),
    };
    let out = cmd.output().context("running oha")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text).with_context(|| format!("cannot read oha's output: {}", text.chars().take(400).collect::<String>()))
}

enum Target {
    Url(String),
    Urls(PathBuf),
}

fn parse(text: &str) -> Option<Measured> {
    let j: serde_json::Value = serde_json::from_str(text).ok()?;
    let ms = |v: &serde_json::Value, p: &str| v.get(p).and_then(|x| x.as_f64()).map(|s| s * 1e3);
    let codes = j.get("statusCodeDistribution")?.as_object()?;
    let count = |pred: &dyn Fn(&str) -> bool| -> u64 {
        codes.iter().filter(|(k, _)| pred(k)).filter_map(|(_, v)| v.as_u64()).sum()
    };
    Some(Measured {
        rps: j.get("summary")?.get("requestsPerSec")?.as_f64()?,
        p50_ms: ms(j.get("latencyPercentiles")?, "p50")?,
        p99_ms: ms(j.get("latencyPercentiles")?, "p99")?,
        ok: count(&|k| k.starts_with('2')),
        too_many: count(&|k| k == "429"),
        other: count(&|k| !k.starts_with('2') && k != "429"),
        p99_refused_ms: j.get("latencyPercentilesNotSuccessful").and_then(|p| ms(p, "p99")),
        lag_ms: 0.0,
    })
}

fn line(label: &str, m: &Measured) {
    println!(
        "{label:<40} {:>9.0} {:>8.2} {:>8.2} {:>9} {:>7} {:>6} {:>9.1}",
        m.rps, m.p50_ms, m.p99_ms, m.ok, m.too_many, m.other, m.lag_ms
    );
}

/// Runs oha while watching the server's saturation probe; the worst lag goes into the result.
fn watched(state: &shian_web::AppState, run: impl FnOnce() -> Result<Measured>) -> Result<Measured> {
    let public = Arc::clone(&state.public);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut worst = Duration::ZERO;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                worst = worst.max(public.shed.lag());
            }
            worst
        }
    });
    let result = run();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let worst = watcher.join().unwrap_or_default();
    result.map(|m| Measured { lag_ms: worst.as_secs_f64() * 1e3, ..m })
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn measure(addr: SocketAddr, urls: &Path, cold: &Path, o: &Options, state: &shian_web::AppState) -> Result<()> {
    let fixed = Target::Url(format!("http://{addr}/bench/static.html"));
    let pages = Target::Urls(urls.to_path_buf());
    let (s, c) = (o.seconds, o.connections);
    println!("oha, {s} s per run, {c} connections; open loop = -q RATE --latency-correction");
    println!(
        "{:<40} {:>9} {:>8} {:>8} {:>9} {:>7} {:>6} {:>9}",
        "run", "req/s", "p50 ms", "p99 ms", "2xx", "429", "other", "lag ms"
    );
    oha(&pages, 2, None, c)?; // settle the connections and caches, unmeasured
    let static_open = watched(state, || oha(&fixed, s, Some(o.rate), c))?;
    line(&format!("static file, open loop {}/s", o.rate), &static_open);
    let page_open = watched(state, || oha(&pages, s, Some(o.rate), c))?;
    line(&format!("vendor page, open loop {}/s", o.rate), &page_open);
    let static_max = watched(state, || oha(&fixed, s, None, c))?;
    line("static file, closed loop (capacity)", &static_max);
    let page_max = watched(state, || oha(&pages, s, None, c))?;
    line("vendor page, closed loop (capacity)", &page_max);
    let over_rate = (page_max.rps * 2.0) as u32;
    let over = watched(state, || oha(&pages, s, Some(over_rate), o.overload_connections))?;
    line(&format!("vendor page, overload {over_rate}/s, {} conn", o.overload_connections), &over);
    let cold_run = watched(state, || oha(&Target::Urls(cold.to_path_buf()), s, Some(o.cold_rate), c))?;
    line(&format!("never-viewed pages, open loop {}/s", o.cold_rate), &cold_run);
    let alive = http_get(addr, "/healthz").map(|(st, _)| st == 200).unwrap_or(false);
    report(o, &page_open, &static_max, &page_max, &over, alive);
    let refused = cold_run.p99_refused_ms.map(|p| format!("{p:.2} ms")).unwrap_or_else(|| "-".into());
    println!(
        "never-viewed pages (rendered from the database, 4 at a time): {} answered 200, {} answered 429 \
         (p99 of the 429s {refused}), p99 of all {:.2} ms",
        cold_run.ok, cold_run.too_many, cold_run.p99_ms
    );
    let _ = std::fs::remove_file(urls);
    let _ = std::fs::remove_file(cold);
    Ok(())
}

fn report(o: &Options, open: &Measured, static_max: &Measured, page_max: &Measured, over: &Measured, alive: bool) {
    let ratio = page_max.rps / static_max.rps.max(1.0);
    let kept_up = open.rps >= GOAL_RPS && open.rps >= 0.99 * o.rate as f64;
    println!();
    println!(
        "lag ms: the worst lateness of the server's probe task: how long ready work waited for a CPU inside the server"
    );
    println!(
        "goal: ≥ {GOAL_RPS:.0} req/s with p99 < {GOAL_P99_MS} ms, open loop at {}/s: {:.0} req/s, p99 {:.2} ms — {}",
        o.rate,
        open.rps,
        open.p99_ms,
        verdict(kept_up && open.p99_ms < GOAL_P99_MS && open.other == 0 && open.too_many == 0)
    );
    println!(
        "goal: ≥ {GOAL_RATIO}× the static file's rate: {:.0} / {:.0} req/s = {ratio:.2}× — {}",
        page_max.rps,
        static_max.rps,
        verdict(ratio >= GOAL_RATIO)
    );
    let refused = over.p99_refused_ms.map(|p| format!("{p:.2} ms")).unwrap_or_else(|| "-".into());
    println!(
        "beyond capacity (twice it, open loop): {} answered 200, {} answered 429 (p99 of the 429s {refused}), \
         {} other errors; server up afterwards: {}",
        over.ok,
        over.too_many,
        over.other,
        if alive { "yes" } else { "NO" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oha_json_is_read() {
        let text = r#"{"summary":{"requestsPerSec":5234.5},"latencyPercentiles":{"p50":0.0012,"p99":0.0205},
            "latencyPercentilesNotSuccessful":{"p50":0.0001,"p99":0.0004},
            "statusCodeDistribution":{"200":1000,"429":20,"503":1}}"#;
        let m = parse(text).expect("parsed");
        assert_eq!(m.rps, 5234.5);
        assert!((m.p99_ms - 20.5).abs() < 1e-9);
        assert_eq!((m.ok, m.too_many, m.other), (1000, 20, 1));
        assert!((m.p99_refused_ms.expect("refused") - 0.4).abs() < 1e-9);
    }
}
