//! `shian bench trace`: latency of backward and forward traces on an existing database, beside a
//! recursive SQL query answering the same starts.
//!
//! **Layering note.** Shian itself reaches the database only through `shian_store::Store`. The
//! *baseline* here (`baseline_backward`, `baseline_forward`) deliberately opens the SQLite file
//! directly with rusqlite: it is the straightforward `WITH RECURSIVE` query a typical system would
//! write over the same tables and the same indexes, kept only as the benchmark's point of
//! comparison. Nothing outside this module uses it.
//!
//! **Starts.** Receipts are drawn uniformly (deterministic seed) by the simulator's natural key
//! (`SIM`, `IN%09d` up to the number of receipts), found with `Store::find` and read with
//! `Store::movement`; the start is `Start::Lot` of that receipt's lot code (every vendor holding
//! it). The trace runs in this process (not a child): peak memory is this process's, and includes
//! the page caches of both connections.
//!
//! **Shian, two ways.** Through the trace index (`TraceIndex`, built once at the start and timed;
//! each timed call includes the check that the database has not changed since) as the web server
//! traces, and through the database (`Store`) as a one-off `shian trace` does. Every index tree
//! is compared with the database's tree for the same start and options, node for node.
//!
//! **Fairness.** Every series first runs once from every start untimed (a warm-up: the database's
//! pages come into SQLite's and the operating system's caches, as on a running server; this helps
//! the SQL series, not the index). Then for each start the measured calls run in a shuffled
//! order, so neither side is systematically the one that warms the processor's caches for the
//! other. The timed round is repeated (`--rounds`, 3 by default) and every figure printed is the
//! median of the rounds' figures: on a shared machine one disturbed round moves a p99 by tens of
//! per cent, and the ratio with it. A call is timed until its answer is in hand — Shian's tree,
//! the baseline's rows with every column read into a list; what checks the two against each other
//! (certificates and sales counted) runs after the clock stops, for both. The comparison
//! uses confirmed links only on both sides (`confirmed_only = true`); Shian's default run (with
//! FIFO-inferred links) is measured too and shown without a baseline (plain recursive SQL has no
//! equivalent of the inference).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, OpenFlags};
use shian_domain::{Kind, Value};
use shian_services::trace::{self, Node, Start, TraceIndex, TraceOptions, TraceTree};
use shian_store::Store;

use crate::memory::{huge_pages, mib, peak_rss, rss};

/// Confirmed links only: from the start lot's receipts up through `supplier_lot` to the sellers'
/// lots, until receipts that name no vendor lot (producers, with their certificates).
const BASELINE_BACKWARD: &str = "
WITH RECURSIVE lots(vendor_id, lot_code) AS (
    SELECT vendor_id, lot_code FROM inbound WHERE lot_code = ?1
    UNION
    SELECT vendor_id, lot_code FROM outbound WHERE lot_code = ?1
    UNION
    SELECT i.supplier_id, i.supplier_lot
    FROM lots l JOIN inbound i ON i.lot_code = l.lot_code AND i.vendor_id = l.vendor_id
    WHERE i.supplier_kind = 'vendor' AND i.supplier_lot IS NOT NULL
)
SELECT i.id, i.ext_id, i.vendor_id, v.name, i.lot_code, i.quantity, i.unit, i.received_at,
       i.supplier_kind, i.supplier_id, i.supplier_lot, c.cert_no, p.name
FROM lots l
JOIN inbound i ON i.lot_code = l.lot_code AND i.vendor_id = l.vendor_id
JOIN vendors v ON v.id = i.vendor_id
LEFT JOIN origin_certificates c ON c.id = i.certificate_id
LEFT JOIN producers p ON p.id = CASE WHEN i.supplier_kind = 'producer' THEN i.supplier_id ELSE c.producer_id END";

/// Confirmed links only: the start lot's sales, the lots buyer vendors started from it
/// (`supplier_lot` = the lot), their sales, and so on.
const BASELINE_FORWARD: &str = "
WITH RECURSIVE lots(vendor_id, lot_code) AS (
    SELECT vendor_id, lot_code FROM inbound WHERE lot_code = ?1
    UNION
    SELECT vendor_id, lot_code FROM outbound WHERE lot_code = ?1
    UNION
    SELECT i.vendor_id, i.lot_code
    FROM lots l JOIN inbound i ON i.supplier_lot = l.lot_code AND i.supplier_id = l.vendor_id
    WHERE i.supplier_kind = 'vendor' AND i.lot_code IS NOT NULL
)
SELECT o.id, o.ext_id, o.vendor_id, o.lot_code, o.quantity, o.unit, o.sold_at, o.buyer_kind, o.buyer_id,
       COALESCE(b.name, bv.name, o.buyer_name), b.canteen_kind
FROM lots l
JOIN outbound o ON o.lot_code = l.lot_code AND o.vendor_id = l.vendor_id
LEFT JOIN buyers b ON b.id = o.buyer_id AND o.buyer_kind <> 'vendor'
LEFT JOIN vendors bv ON bv.id = o.buyer_id AND o.buyer_kind = 'vendor'";

/// What one answer contained, to check that both sides found the same things.
#[derive(Debug, Default, Clone, Copy)]
struct Answer {
    /// Backward: distinct origin certificates reached; forward: sales reached.
    found: usize,
    /// Shian: nodes of the tree; baseline: rows returned.
    size: usize,
    truncated: bool,
}

/// The measured calls, in table order.
const SERIES: [&str; 10] = [
    "backward  baseline SQL",
    "backward  shian index, confirmed",
    "backward  shian index, default",
    "backward  shian database, confirmed",
    "backward  shian database, default",
    "forward   baseline SQL",
    "forward   shian index, confirmed",
    "forward   shian index, default",
    "forward   shian database, confirmed",
    "forward   shian database, default",
];

pub fn run(starts: usize, db: &str, seed: u64, only: Option<&str>, slowest: usize, rounds: usize) -> Result<()> {
    let path = db.strip_prefix("sqlite://").unwrap_or(db);
    if !std::path::Path::new(path).exists() {
        bail!("database {path} does not exist (make it with `shian bench generate --scale province`)");
    }
    let store = shian_store::open(db).with_context(|| format!("cannot open database {db}"))?;
    let baseline = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    // The same page cache as the store's connection.
    baseline.pragma_update(None, "cache_size", -131_072)?;

    let wall = Instant::now();
    let before = rss().unwrap_or(0);
    let built = Instant::now();
    let index = TraceIndex::build(store.as_ref()).context("building the trace index")?;
    let build_time = built.elapsed();
    let size = index.size();
    println!(
        "trace index: built in {:.1} s; {} receipts, {} sales, {} lot codes and names; {} by its own count, \
         resident memory +{}",
        build_time.as_secs_f64(),
        size.receipts,
        size.sales,
        size.strings,
        mib(size.bytes as u64),
        mib(rss().unwrap_or(0).saturating_sub(before))
    );
    if let Some(huge) = huge_pages() {
        println!("transparent huge pages under this process's memory: {}", mib(huge));
    }
    let checked = Instant::now();
    for _ in 0..10_000 {
        index.on(store.as_ref())?;
    }
    println!(
        "freshness check (TraceIndex::on), 10,000 in a row: {:.2} µs each",
        checked.elapsed().as_secs_f64() * 1e6 / 10_000.0
    );
    let lots = sample_lots(store.as_ref(), starts, seed)?;
    println!("bench trace: {} starting lots (receipts drawn uniformly, seed {seed}) on {db}", lots.len());

    let confirmed = TraceOptions { confirmed_only: true, ..Default::default() };
    let default = TraceOptions::default();
    // Per round and series, one time per start; answers of the last round.
    let mut times: Vec<Vec<Vec<Duration>>> = vec![vec![Vec::with_capacity(lots.len()); SERIES.len()]; rounds];
    let mut answers: Vec<Vec<Answer>> = vec![Vec::with_capacity(lots.len()); SERIES.len()];
    let mut order: Vec<usize> =
        (0..SERIES.len()).filter(|&s| only.is_none_or(|o| o.split('|').any(|part| SERIES[s].contains(part)))).collect();
    let mut shuffle = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let (mut same_trees, mut stale) = (0, 0);
    // One call of series `s` from `lot`: Shian's tree or the baseline's rows (what is timed), and
    // what it found (counted after the clock stops: it checks the answer, it is not the answer).
    let call = |s: usize, lot: &str, start: &Start, stale: &mut usize| -> Result<(Option<TraceTree>, Option<Rows>)> {
        let backward = s < 5;
        let opts = if matches!(s % 5, 1 | 3) { &confirmed } else { &default };
        let tree = match s % 5 {
            0 => None,
            1 | 2 => match index.on(store.as_ref())? {
                Some(ix) if backward => Some(trace::backward_in(&ix, start, opts)?),
                Some(ix) => Some(trace::forward_in(&ix, start, opts)?),
                None => {
                    *stale += 1;
                    None
                }
            },
            _ if backward => Some(trace::backward(store.as_ref(), start, opts)?),
            _ => Some(trace::forward(store.as_ref(), start, opts)?),
        };
        let rows = match (&tree, s) {
            (None, 0) => Some(baseline_backward(&baseline, lot)?),
            (None, 5) => Some(baseline_forward(&baseline, lot)?),
            _ => None,
        };
        Ok((tree, rows))
    };
    // Warm-up: every series once from every start, untimed, so that the database's pages are in
    // SQLite's and the operating system's caches, as on a running server.
    let progress = indicatif::ProgressBar::new((1 + rounds as u64) * lots.len() as u64);
    let starts: Vec<Start> = lots.iter().map(|l| Start::Lot(l.clone())).collect();
    for (lot, start) in lots.iter().zip(&starts) {
        for &s in &order {
            call(s, lot, start, &mut stale)?;
        }
        progress.inc(1);
    }
    for (round, (lot, start)) in (0..rounds).flat_map(|r| lots.iter().zip(&starts).map(move |l| (r, l))) {
        order.shuffle(&mut shuffle);
        let mut trees: [Option<TraceTree>; SERIES.len()] = Default::default();
        for &s in &order {
            let started = Instant::now();
            let (tree, rows) = call(s, lot, start, &mut stale)?;
            times[round][s].push(started.elapsed());
            let answer = match (&tree, &rows) {
                (Some(t), _) => shian_answer(t, s < 5),
                (None, Some(rows)) => baseline_answer(rows),
                (None, None) => Answer::default(),
            };
            if round + 1 == rounds {
                answers[s].push(answer);
            }
            trees[s] = tree;
        }
        // The index and the database give the same tree, node for node.
        for (a, b) in [(1, 3), (2, 4), (6, 8), (7, 9)] {
            if let (Some(x), Some(y)) = (&trees[a], &trees[b])
                && serde_json::to_value(x)? == serde_json::to_value(y)?
            {
                same_trees += 1;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    // The freshness check alone (every index call above includes it), once per start after the
    // start's baseline query, untimed: it meets the caches as an index call among the other calls
    // does, and it comes after the timed rounds, so that it warms none of their calls.
    let mut freshness = Vec::with_capacity(lots.len());
    if order.contains(&5) {
        for lot in &lots {
            baseline_forward(&baseline, lot)?;
            let started = Instant::now();
            std::hint::black_box(index.on(store.as_ref())?.is_some());
            freshness.push(started.elapsed());
        }
    }
    if stale > 0 {
        bail!("the database changed during the benchmark ({stale} traces found the index stale)");
    }

    println!(
        "{:<38} {:>8} {:>8} {:>8} {:>8} {:>8} {:>11} {:>9}",
        "trace (ms)", "p50", "p95", "p99", "max", "mean", "mean size", "truncated"
    );
    let mut p99 = [0.0; SERIES.len()];
    let mut p99_rounds: Vec<Vec<f64>> = vec![Vec::new(); SERIES.len()];
    for (s, name) in SERIES.iter().enumerate() {
        let figures: Vec<Figures> = times.iter().map(|round| Figures::of(&round[s])).collect();
        let figure = |f: fn(&Figures) -> f64| median(figures.iter().map(f).collect());
        p99[s] = figure(|f| f.p99);
        p99_rounds[s] = figures.iter().map(|f| f.p99).collect();
        let size = answers[s].iter().map(|a| a.size).sum::<usize>() as f64 / answers[s].len().max(1) as f64;
        let truncated = answers[s].iter().filter(|a| a.truncated).count();
        println!(
            "{name:<38} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {size:>11.1} {truncated:>9}",
            figure(|f| f.p50),
            figure(|f| f.p95),
            p99[s],
            figure(|f| f.max),
            figure(|f| f.mean),
        );
    }
    println!(
        "(each figure the median of {rounds} rounds; mean size: nodes of Shian's tree, rows of the baseline's answer)"
    );
    if !freshness.is_empty() {
        let check = Figures::of(&freshness);
        println!(
            "freshness check after a baseline query (in every index trace's time): p50 {:.2} µs, p99 {:.2} µs",
            check.p50 * 1e3,
            check.p99 * 1e3
        );
    }
    if rounds > 1 {
        for (name, a, b) in [("backward", 0, 1), ("forward", 5, 6)] {
            let each = p99_rounds[a].iter().zip(&p99_rounds[b]);
            let each: Vec<String> = each.map(|(x, y)| format!("{x:.3}/{y:.3} = {:.1}", x / y)).collect();
            println!("p99 per round, {name} baseline / index confirmed: {}", each.join("; "));
        }
    }
    for s in (0..SERIES.len()).filter(|s| slowest > 0 && order.contains(s)) {
        let times = &times[rounds - 1];
        let mut by_time: Vec<usize> = (0..times[s].len()).collect();
        by_time.sort_unstable_by_key(|&i| std::cmp::Reverse(times[s][i]));
        let slow = by_time
            .iter()
            .take(slowest)
            .map(|&i| format!("{} {:.3} ms ({} nodes)", lots[i], times[s][i].as_secs_f64() * 1e3, answers[s][i].size));
        println!(
            "slowest, {}: {}",
            SERIES[s].split_whitespace().collect::<Vec<_>>().join(" "),
            slow.collect::<Vec<_>>().join("; ")
        );
    }
    println!(
        "ratio baseline p99 / shian p99 (confirmed links): index backward {:.1}, forward {:.1}; \
         database backward {:.2}, forward {:.2}",
        p99[0] / p99[1],
        p99[5] / p99[6],
        p99[0] / p99[3],
        p99[5] / p99[8]
    );
    let agree = |a: usize, b: usize| answers[a].iter().zip(&answers[b]).filter(|(x, y)| x.found == y.found).count();
    println!(
        "agreement with the baseline (confirmed): backward, same origin certificates {}/{}; forward, same sales {}/{}",
        agree(0, 1),
        lots.len(),
        agree(5, 6),
        lots.len()
    );
    println!("index and database give the same tree: {same_trees}/{} traces", 4 * lots.len() * rounds);
    println!(
        "goals (index): backward p99 ≤ 5 ms: {}; forward p99 ≤ 50 ms: {}; ≥ 10× the baseline at p99: {}",
        yes(p99[1] <= 5.0 && p99[2] <= 5.0),
        yes(p99[6] <= 50.0 && p99[7] <= 50.0),
        yes(p99[0] / p99[1] >= 10.0 && p99[5] / p99[6] >= 10.0)
    );
    println!("peak memory (this process: the index, both connections' page caches) {}", mib(peak_rss().unwrap_or(0)));
    println!("wall time {:.1} s", wall.elapsed().as_secs_f64());
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "met" } else { "NOT met" }
}

/// The figures of one series in one round, in milliseconds.
struct Figures {
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Figures {
    fn of(times: &[Duration]) -> Figures {
        let mut t: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        t.sort_by(f64::total_cmp);
        Figures {
            p50: quantile(&t, 0.5),
            p95: quantile(&t, 0.95),
            p99: quantile(&t, 0.99),
            max: t.last().copied().unwrap_or(0.0),
            mean: t.iter().sum::<f64>() / t.len().max(1) as f64,
        }
    }
}

/// The median of some values (the lower middle one of an even number).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

/// The `q` quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Lot codes of `n` receipts drawn uniformly by the simulator's key `SIM,IN%09d`.
fn sample_lots(store: &dyn Store, n: usize, seed: u64) -> Result<Vec<String>> {
    let receipts = store.count(Kind::Inbound)?;
    if receipts == 0 {
        bail!("the database holds no receipts (inbound) to start traces from");
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut lots = Vec::with_capacity(n);
    let mut misses = 0;
    while lots.len() < n {
        let k = rng.random_range(1..=receipts);
        let key = [Value::Text("SIM".into()), Value::Text(format!("IN{k:09}"))];
        let lot = match store.find(Kind::Inbound, &key)? {
            Some(id) => store.movement(Kind::Inbound, id)?.and_then(|m| m.lot_code),
            None => None,
        };
        match lot {
            Some(l) => lots.push(l),
            None => {
                misses += 1;
                if misses > 1_000 + n {
                    bail!("too few receipts with the simulator's keys (SIM, IN#########) and a lot code");
                }
            }
        }
    }
    Ok(lots)
}

/// Backward: distinct certificates in the tree; forward: sales reached (consumer nodes aggregate
/// several).
fn shian_answer(tree: &TraceTree, backward: bool) -> Answer {
    let mut certificates = HashSet::new();
    let mut sales = 0;
    let mut stack: Vec<&Node> = tree.roots.iter().collect();
    while let Some(n) = stack.pop() {
        stack.extend(&n.children);
        if let Some(c) = &n.certificate {
            certificates.insert(c.clone());
        }
        if n.link.as_ref().is_some_and(|l| l.record == "outbound") {
            sales += n.records;
        }
    }
    Answer { found: if backward { certificates.len() } else { sales }, size: tree.nodes, truncated: tree.truncated }
}

/// A row of the baseline's backward answer: receipt id, external id, vendor id and name, lot,
/// quantity, unit, time, supplier kind, id and lot, certificate number, producer name.
type BackRow = (
    i64,
    String,
    i64,
    String,
    Option<String>,
    f64,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A row of the baseline's forward answer (the recall list): sale id, external id, vendor id,
/// lot, quantity, unit, time, buyer kind, id and name, canteen kind.
type ForwardRow =
    (i64, String, i64, Option<String>, f64, String, i64, String, Option<i64>, Option<String>, Option<String>);

/// What the baseline answered: its rows, every column read.
enum Rows {
    Backward(Vec<BackRow>),
    Forward(Vec<ForwardRow>),
}

/// The baseline's backward answer.
fn baseline_backward(conn: &Connection, lot: &str) -> Result<Rows> {
    Ok(Rows::Backward(rows(conn, BASELINE_BACKWARD, lot)?))
}

/// The baseline's forward answer (the recall list).
fn baseline_forward(conn: &Connection, lot: &str) -> Result<Rows> {
    Ok(Rows::Forward(rows(conn, BASELINE_FORWARD, lot)?))
}

/// Every row of a baseline query from `lot`, each column read into `T` (a tuple).
fn rows<T>(conn: &Connection, sql: &str, lot: &str) -> Result<Vec<T>>
where
    T: for<'r> TryFrom<&'r rusqlite::Row<'r>, Error = rusqlite::Error>,
{
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([lot], |r| T::try_from(r))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What the baseline found: backward, distinct certificates where the trace ends (receipts not
/// followed further up to a vendor's lot); forward, the sales.
fn baseline_answer(rows: &Rows) -> Answer {
    match rows {
        Rows::Backward(rows) => {
            let followed = |r: &BackRow| r.8 == "vendor" && r.10.is_some();
            let certificates: HashSet<&str> =
                rows.iter().filter(|r| !followed(r)).filter_map(|r| r.11.as_deref()).collect();
            Answer { found: certificates.len(), size: rows.len(), truncated: false }
        }
        Rows::Forward(rows) => Answer { found: rows.len(), size: rows.len(), truncated: false },
    }
}

#[cfg(test)]
mod tests {
    use super::{median, quantile};

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((quantile(&v, 0.5), quantile(&v, 0.99), quantile(&v, 1.0)), (50.0, 99.0, 100.0));
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!((median(vec![3.0, 1.0, 2.0]), median(vec![4.0, 1.0, 3.0, 2.0]), median(vec![])), (2.0, 2.0, 0.0));
    }
}
