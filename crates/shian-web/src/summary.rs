//! The dashboard's figures, computed from the database and kept in memory.
//!
//! The province's 25 million order records cannot be counted per page view within the dashboard's
//! 100 ms budget, so the per-market and per-month counts of the large kinds are computed once at
//! start (and again after writes, see [`Summaries::invalidate`]) and every scope's dashboard adds
//! up the markets inside it. Small kinds are counted in the scope on demand and cached per scope.
//! Every figure shown comes from the database; none is typed in.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use shian_domain::access::Scope;
use shian_domain::{Kind, Value, region};
use shian_store::Store;
use shian_store::query::{Filter, MarketMonth};

use crate::AppState;
use crate::error::AppError;

/// The kinds counted per market and month.
pub const MONTHLY: [Kind; 7] =
    [Kind::Inbound, Kind::Outbound, Kind::RapidTest, Kind::Sample, Kind::Complaint, Kind::Inspection, Kind::Case];

/// A market as the dashboard needs it.
#[derive(Debug, Clone)]
pub struct MarketInfo {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub region: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
}

impl MarketInfo {
    /// The prefecture-level city's name ("石家庄市").
    pub fn city(&self) -> &'static str {
        region::city_of(&self.region).map(|r| r.name).unwrap_or("")
    }
}

/// Province-wide aggregates.
#[derive(Debug, Default)]
pub struct Global {
    pub markets: Vec<MarketInfo>,
    pub months: HashMap<Kind, Vec<MarketMonth>>,
    /// Distinct origin certificates received per market.
    pub certificates: HashMap<i64, u64>,
}

/// One scope's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub markets: u64,
    pub vendors: u64,
    pub listings: u64,
    pub orders: u64,
    pub certificates: u64,
    pub rapid_tests: u64,
    pub samples: u64,
    pub supermarkets: u64,
    pub restaurants_canteens: u64,
    pub producers: u64,
    /// Per month: (month, inbound + outbound, rapid tests, rapid failures, samples, sample failures).
    pub trend: Vec<(String, u64, u64, u64, u64, u64)>,
    /// Per city name: (markets, failures).
    pub cities: BTreeMap<String, (u64, u64)>,
    /// Markets in the scope with their failures, for the map's points.
    pub points: Vec<(MarketInfo, u64)>,
}

/// Anything else a page keeps per scope until the next write (e.g. the dashboard's lists).
type Extra = Arc<dyn std::any::Any + Send + Sync>;

/// The cache.
#[derive(Default)]
pub struct Summaries {
    global: RwLock<Option<Arc<Global>>>,
    scoped: RwLock<HashMap<String, Arc<Figures>>>,
    extras: RwLock<HashMap<String, Extra>>,
    ready: AtomicBool,
    generation: AtomicU64,
}

impl Summaries {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Forgets the figures after a write; they are recomputed on the next read.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.scoped.write().expect("cache lock").clear();
        self.extras.write().expect("cache lock").clear();
        *self.global.write().expect("cache lock") = None;
    }

    /// Replaces the province-wide aggregates with freshly computed ones (the periodic refresh,
    /// which picks up changes made by other processes, e.g. a command-line import).
    fn refresh(&self, store: &dyn Store) -> Result<(), AppError> {
        let g = Arc::new(compute_global(store)?);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.scoped.write().expect("cache lock").clear();
        self.extras.write().expect("cache lock").clear();
        *self.global.write().expect("cache lock") = Some(g);
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// A value kept under `key` until the next write or refresh, made by `make` when missing.
    pub fn cached<T: Send + Sync + 'static>(
        &self,
        key: String,
        make: impl FnOnce() -> Result<T, AppError>,
    ) -> Result<Arc<T>, AppError> {
        let hit = self.extras.read().expect("cache lock").get(&key).map(Arc::clone);
        if let Some(Ok(v)) = hit.map(|v| v.downcast::<T>()) {
            return Ok(v);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let v = Arc::new(make()?);
        if self.generation.load(Ordering::Acquire) == generation {
            self.extras.write().expect("cache lock").insert(key, Arc::clone(&v) as Extra);
        }
        Ok(v)
    }

    fn global(&self, store: &dyn Store) -> Result<Arc<Global>, AppError> {
        if let Some(g) = self.global.read().expect("cache lock").as_ref() {
            return Ok(Arc::clone(g));
        }
        let g = Arc::new(compute_global(store)?);
        *self.global.write().expect("cache lock") = Some(Arc::clone(&g));
        self.ready.store(true, Ordering::Release);
        Ok(g)
    }

    /// The figures of a scope.
    pub fn figures(&self, store: &dyn Store, scope: &Scope) -> Result<Arc<Figures>, AppError> {
        let key = format!("{scope:?}");
        if let Some(f) = self.scoped.read().expect("cache lock").get(&key) {
            return Ok(Arc::clone(f));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let global = self.global(store)?;
        let f = Arc::new(compute_figures(store, &global, scope)?);
        if self.generation.load(Ordering::Acquire) == generation {
            self.scoped.write().expect("cache lock").insert(key, Arc::clone(&f));
        }
        Ok(f)
    }
}

/// How often the figures are recomputed from the database.
pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(600);

/// Computes the province-wide aggregates in the background at start, so the first dashboard is
/// fast (`/readyz` answers 200 once they exist), and again every [`REFRESH`].
pub fn warm(state: AppState) {
    tokio::spawn(async move {
        let summary = Arc::clone(&state.summary);
        let started = std::time::Instant::now();
        match state.db.run(move |store| summary.figures(store, &Scope::All).map(|_| ())).await {
            Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, "dashboard figures ready"),
            Err(e) => tracing::error!(error = %e.msg, "dashboard figures failed"),
        }
        loop {
            tokio::time::sleep(REFRESH).await;
            let summary = Arc::clone(&state.summary);
            if let Err(e) = state.db.run(move |store| summary.refresh(store)).await {
                tracing::error!(error = %e.msg, "refreshing the dashboard figures failed");
            }
        }
    });
}

fn text(v: &Value) -> String {
    v.as_text().map(str::to_string).unwrap_or_default()
}

fn real(v: &Value) -> Option<f64> {
    match v {
        Value::Real(r) => Some(*r),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

fn compute_global(store: &dyn Store) -> Result<Global, AppError> {
    let mut markets = Vec::new();
    let lq = shian_store::query::ListQuery { scope: &Scope::All, filters: vec![], before: None, limit: 1000 };
    let def = Kind::Market.def();
    let col = |name: &str| def.field(name).map(|(i, _)| i).expect("market field");
    for m in store.list(Kind::Market, &lq)? {
        markets.push(MarketInfo {
            id: m.id,
            code: text(&m.values[col("code")]),
            name: text(&m.values[col("name")]),
            region: text(&m.values[col("region")]),
            lon: real(&m.values[col("lon")]),
            lat: real(&m.values[col("lat")]),
        });
    }
    let mut months = HashMap::new();
    for kind in MONTHLY {
        months.insert(kind, store.market_months(kind)?);
    }
    let certificates = store.certificates_by_market()?.into_iter().collect();
    Ok(Global { markets, months, certificates })
}

fn count(store: &dyn Store, kind: Kind, scope: &Scope, filters: &[Filter]) -> Result<u64, AppError> {
    Ok(store.count_in(kind, scope, filters)?)
}

fn compute_figures(store: &dyn Store, g: &Global, scope: &Scope) -> Result<Figures, AppError> {
    let in_scope: HashMap<i64, &MarketInfo> = g
        .markets
        .iter()
        .filter(|m| match scope {
            Scope::All => true,
            Scope::Region(_) => scope.covers_region(&m.region),
            Scope::Market(id) => m.id == *id,
            Scope::Enterprise(_) => false,
        })
        .map(|m| (m.id, m))
        .collect();
    let sum = |kind: Kind| -> (u64, u64) {
        g.months[&kind]
            .iter()
            .filter(|r| in_scope.contains_key(&r.market))
            .fold((0, 0), |(n, f), r| (n + r.count, f + r.failed))
    };
    let mut trend: BTreeMap<String, (u64, u64, u64, u64, u64)> = BTreeMap::new();
    let mut failures: HashMap<i64, u64> = HashMap::new();
    for kind in [Kind::Inbound, Kind::Outbound, Kind::RapidTest, Kind::Sample] {
        for r in g.months[&kind].iter().filter(|r| in_scope.contains_key(&r.market)) {
            let t = trend.entry(r.month.clone()).or_default();
            match kind {
                Kind::Inbound | Kind::Outbound => t.0 += r.count,
                Kind::RapidTest => (t.1 += r.count, t.2 += r.failed).1,
                _ => (t.3 += r.count, t.4 += r.failed).1,
            }
            *failures.entry(r.market).or_default() += r.failed;
        }
    }
    let mut cities: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut points = Vec::new();
    for m in in_scope.values() {
        let f = failures.get(&m.id).copied().unwrap_or(0);
        let c = cities.entry(m.city().to_string()).or_default();
        c.0 += 1;
        c.1 += f;
        points.push(((*m).clone(), f));
    }
    points.sort_by(|a, b| a.0.code.cmp(&b.0.code));
    let buyers = |kinds: &[&str]| -> Result<u64, AppError> {
        kinds
            .iter()
            .map(|k| count(store, Kind::Buyer, scope, &[Filter::Eq("buyer_kind", Value::Text(k.to_string()))]))
            .sum()
    };
    let (inbound, outbound) = (sum(Kind::Inbound).0, sum(Kind::Outbound).0);
    Ok(Figures {
        markets: in_scope.len() as u64,
        vendors: count(store, Kind::Vendor, scope, &[])?,
        listings: count(store, Kind::VendorVariety, scope, &[])?,
        orders: inbound + outbound,
        // A province counts every certificate; a city, county or market those that came with
        // goods into its markets (certificates are issued where the goods grow, elsewhere),
        // counted per market.
        certificates: match scope {
            Scope::All => count(store, Kind::OriginCertificate, scope, &[])?,
            _ => in_scope.keys().map(|m| g.certificates.get(m).copied().unwrap_or(0)).sum(),
        },
        rapid_tests: sum(Kind::RapidTest).0,
        // Every sample in the scope, also those taken at supermarkets, canteens or producers (the
        // monthly trend counts the markets' only).
        samples: count(store, Kind::Sample, scope, &[])?,
        supermarkets: buyers(&["supermarket"])?,
        restaurants_canteens: buyers(&["restaurant", "canteen"])?,
        producers: count(store, Kind::Producer, scope, &[])?,
        trend: trend.into_iter().map(|(m, t)| (m, t.0, t.1, t.2, t.3, t.4)).collect(),
        cities,
        points,
    })
}
