//! `shian bench web`: latency and throughput of the web platform on an existing database, under
//! load from `wrk` (Debian package), with the server running in this process.
//!
//! It signs in a provincial and a county regulator (benchmark accounts it creates if missing),
//! waits until the dashboard figures are computed (`/readyz`), then drives each target for a fixed
//! time with a fixed number of connections and prints p50 / p99 latency and requests per second.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use shian_domain::Kind;
use shian_domain::access::{Role, Scope};
use shian_services::accounts::{self, NewAccount};
use shian_store::query::ListQuery;

/// One measured target.
struct Target {
    label: &'static str,
    path: String,
    cookie: String,
    goal_p99_ms: Option<f64>,
}

/// What wrk reported.
struct Measured {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    non_2xx: u64,
}

pub fn run(db: &str, seconds: u64, connections: u32) -> Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed (Debian package `wrk`; scripts/setup installs it)");
    }
    let (province, county, vendor, market) = prepare(db)?;
    let state = shian_web::AppState::open(db, None)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let started = Instant::now();
    rt.spawn(shian_web::serve(listener, state, std::future::pending()));
    wait_ready(addr)?;
    println!("server ready (dashboard figures computed) in {:.1} s", started.elapsed().as_secs_f64());
    let targets = [
        Target { label: "dashboard (province)", path: "/".into(), cookie: province.clone(), goal_p99_ms: Some(100.0) },
        Target { label: "dashboard (county)", path: "/".into(), cookie: county.clone(), goal_p99_ms: Some(100.0) },
        Target {
            label: "vendor page",
            path: format!("/record/vendor/{vendor}"),
            cookie: province.clone(),
            goal_p99_ms: Some(200.0),
        },
        Target {
            label: "market page",
            path: format!("/record/market/{market}"),
            cookie: province.clone(),
            goal_p99_ms: Some(200.0),
        },
        Target {
            label: "outbound list page (county)",
            path: "/records/outbound".into(),
            cookie: county.clone(),
            goal_p99_ms: Some(200.0),
        },
        Target {
            label: "API vendor list",
            path: "/api/v1/vendor?limit=50".into(),
            cookie: province.clone(),
            goal_p99_ms: None,
        },
        Target {
            label: "API outbound list (county)",
            path: "/api/v1/outbound?limit=50".into(),
            cookie: county,
            goal_p99_ms: None,
        },
    ];
    println!("wrk: {connections} connections, {seconds} s per target");
    println!("{:<30} {:>10} {:>10} {:>10} {:>8}  goal", "target", "p50 ms", "p99 ms", "req/s", "non-2xx");
    for t in &targets {
        // A short unmeasured run first: the first views of a scope compute and cache its figures.
        wrk(addr, t, 2, connections)?;
        let m = wrk(addr, t, seconds, connections)?;
        let goal = match t.goal_p99_ms {
            Some(g) if m.p99_ms <= g => format!("p99 ≤ {g} ms: met"),
            Some(g) => format!("p99 ≤ {g} ms: NOT met"),
            None => String::new(),
        };
        println!("{:<30} {:>10.2} {:>10.2} {:>10.0} {:>8}  {goal}", t.label, m.p50_ms, m.p99_ms, m.rps, m.non_2xx);
    }
    Ok(())
}

/// Creates the benchmark accounts if needed and signs them in; picks a vendor and a market.
fn prepare(db: &str) -> Result<(String, String, i64, i64)> {
    let mut store = shian_store::open(db)?;
    let store = store.as_mut();
    let lq = ListQuery { scope: &Scope::All, filters: vec![], before: None, limit: 1 };
    let vendor = store.list(Kind::Vendor, &lq)?.first().map(|r| r.id).context("the database has no vendors")?;
    let market_row = store.list(Kind::Market, &lq)?.into_iter().next().context("the database has no markets")?;
    let region_idx = Kind::Market.def().field("region").map(|(i, _)| i).context("market region")?;
    let county = market_row.values[region_idx].as_text().context("market region")?.to_string();
    let password = accounts::random_hex(12);
    for (name, role, scope) in [
        ("bench-province", Role::ProvinceRegulator, None),
        ("bench-county", Role::CountyRegulator, Some(county.as_str())),
    ] {
        match store.user_by_name(name)? {
            Some(_) => accounts::reset_password(store, name, &password, "bench")?,
            None => {
                let account = NewAccount { username: name, display_name: name, role, scope, password: &password };
                accounts::add_user(store, &account, "bench")?;
            }
        }
    }
    let province = accounts::login(store, "bench-province", &password, "bench")?.cookie;
    let county_cookie = accounts::login(store, "bench-county", &password, "bench")?.cookie;
    Ok((province, county_cookie, vendor, market_row.id))
}

fn wait_ready(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    while Instant::now() < deadline {
        if http_status(addr, "/readyz").unwrap_or(0) == 200 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the server did not become ready")
}

/// The status code of a GET (a plain HTTP/1.1 request on a socket; enough for a readiness poll).
fn http_status(addr: SocketAddr, path: &str) -> Result<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut buf = [0u8; 16];
    s.read_exact(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    Ok(text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0))
}

fn wrk(addr: SocketAddr, t: &Target, seconds: u64, connections: u32) -> Result<Measured> {
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency"])
        .args(["-H", &format!("Cookie: shian_session={}", t.cookie)])
        .arg(format!("http://{addr}{}", t.path))
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text).with_context(|| format!("cannot read wrk's output:\n{text}"))
}

/// Reads wrk's `--latency` report.
fn parse_wrk(text: &str) -> Option<Measured> {
    let pct = |p: &str| {
        text.lines().map(str::trim).find(|l| l.starts_with(p)).and_then(|l| l.split_whitespace().nth(1)).and_then(ms)
    };
    let rps = text.lines().find(|l| l.starts_with("Requests/sec:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Some(Measured { p50_ms: pct("50%")?, p99_ms: pct("99%")?, rps, non_2xx })
}

/// `1.23ms`, `850.00us`, `1.20s` as milliseconds.
fn ms(s: &str) -> Option<f64> {
    if let Some(v) = s.strip_suffix("us") {
        return v.parse::<f64>().ok().map(|v| v / 1000.0);
    }
    if let Some(v) = s.strip_suffix("ms") {
        return v.parse().ok();
    }
    if let Some(v) = s.strip_suffix('s') {
        return v.parse::<f64>().ok().map(|v| v * 1000.0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_read() {
        let text = "Running 10s test @ http://127.0.0.1:1/\n  Latency Distribution\n     50%    1.50ms\n     75%    2.00ms\n     90%    3.00ms\n     99%  850.00us\n  1000 requests in 10.00s\nRequests/sec:   1234.56\n";
        let m = parse_wrk(text).expect("parsed");
        assert_eq!(m.p50_ms, 1.5);
        assert!((m.p99_ms - 0.85).abs() < 1e-9);
        assert_eq!(m.rps, 1234.56);
    }
}
