//! A year of trade, day by day.
//!
//! Each day: producers send certified consignments (and some without a certificate) to wholesale
//! vendors and, less often, straight to farmers' market vendors; wholesale lots are split among
//! farmers' market vendors, other markets' wholesale vendors, supermarket stores, restaurants and
//! canteens; farmers' market vendors sell to consumers and eateries. Then the day's rapid tests,
//! official samples, routine records, complaints, inspections and cases are drawn. Cumulative
//! daily targets, shaped by the season, make the year's totals come out exactly as planned.

use chrono::{Datelike, Duration, NaiveDate};
use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use shian_domain::catalogue;
use shian_domain::{Kind, Value, time};
use shian_store::{Store, StoreError};

use crate::plan::Plan;
use crate::truth::Truth;
use crate::world::{BuyerKind, World, apportion, person};
use std::sync::mpsc::{SyncSender, sync_channel};

use crate::supervision::{case, complaint, inspection, rapid_test, routine, sample};
use crate::writer::{Sink, Writer, check, next_ids};
use crate::{Progress, SimError};

/// The last day of the simulated year.
pub const LAST_DAY: (i32, u32, u32) = (2026, 11, 30);

pub(crate) struct Lot {
    pub(crate) vendor: usize,
    pub(crate) variety: usize,
    pub(crate) code: String,
    pub(crate) qty: f64,
    pub(crate) at: i64,
    pub(crate) origin: usize,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) orders: u64,
    pub(crate) certificates: u64,
    pub(crate) quarantine: u64,
    pub(crate) inbound: u64,
    pub(crate) outbound: u64,
    pub(crate) lots: u64,
    pub(crate) rapid: u64,
    pub(crate) samples: u64,
    pub(crate) complaints: u64,
    pub(crate) inspections: u64,
    pub(crate) cases: u64,
}

pub(crate) fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn price_per_kg(category: &str, rng: &mut ChaCha8Rng) -> f64 {
    let (lo, hi) = match category {
        "02" => (4.0, 15.0),
        "03" => (30.0, 80.0),
        "04" => (15.0, 30.0),
        "05" => (8.0, 12.0),
        "06" => (15.0, 80.0),
        _ => (1.5, 8.0),
    };
    rng.random_range(lo..hi)
}

/// Relative trade on a day: busier before the Spring Festival and in early autumn.
fn season(day: NaiveDate) -> f64 {
    let doy = day.ordinal0() as f64;
    let festival = (-((doy - 40.0) / 12.0).powi(2)).exp() * 0.35;
    1.0 + 0.12 * ((doy - 250.0) / 365.0 * std::f64::consts::TAU).cos() + festival
}

pub(crate) struct Day<'w> {
    pub(crate) world: &'w World,
    pub(crate) truth: &'w Truth,
    pub(crate) date: NaiveDate,
    pub(crate) midnight: i64,
    pub(crate) month: u32,
}

impl Day<'_> {
    pub(crate) fn at(&self, hour: f64) -> i64 {
        self.midnight + (hour * 3600.0) as i64
    }

    pub(crate) fn date_text(&self, offset_days: i64) -> Value {
        text((self.date + Duration::days(offset_days)).format("%Y-%m-%d").to_string())
    }

    fn origin_for(&self, variety: usize, rng: &mut ChaCha8Rng) -> usize {
        let origins = &self.world.varieties[variety].origins;
        let in_season: Vec<_> = origins.iter().filter(|o| o.2 & (1 << (self.month - 1)) != 0).collect();
        let pool: Vec<_> = if in_season.is_empty() { origins.iter().collect() } else { in_season };
        let total: f64 = pool.iter().map(|o| o.1).sum();
        let mut x = rng.random_range(0.0..total);
        for o in &pool {
            if x < o.1 {
                return o.0;
            }
            x -= o.1;
        }
        pool[pool.len() - 1].0
    }
}

/// What the trading thread sends to the thread that owns the store.
enum Message {
    Rows(Kind, Vec<shian_store::Row>),
    Progress(u64),
}

/// Hands batches over a channel, so that generating and writing run on two cores.
pub(crate) struct ChannelSink(SyncSender<Message>);

impl Sink for ChannelSink {
    fn write(&mut self, kind: Kind, rows: Vec<shian_store::Row>) -> Result<(), StoreError> {
        self.0.send(Message::Rows(kind, rows)).map_err(|_| StoreError::Invalid("the writer stopped".into()))
    }
}

pub fn run(
    store: &mut dyn Store,
    plan: &Plan,
    world: &World,
    truth: &Truth,
    rng: &mut ChaCha8Rng,
    progress: &dyn Progress,
) -> Result<(), SimError> {
    for kind in [Kind::Inbound, Kind::Outbound, Kind::OriginCertificate, Kind::QuarantineCertificate] {
        store.suspend_indexes(kind)?;
    }
    let ids = next_ids(store)?;
    let (tx, rx) = sync_channel(16);
    let expected = std::thread::scope(|scope| {
        let trader = scope.spawn(move || {
            let mut w = Writer::new(ChannelSink(tx), ids);
            trade(&mut w, plan, world, truth, rng)?;
            w.finish().map(|(expected, _)| expected)
        });
        let mut written: Result<(), StoreError> = Ok(());
        for message in rx.iter() {
            match message {
                Message::Rows(kind, rows) => {
                    written = store.insert_new(kind, &mut rows.into_iter()).map(|_| ());
                    if written.is_err() {
                        break; // dropping the receiver stops the trader
                    }
                }
                Message::Progress(done) => progress.update("trade", done, plan.orders),
            }
        }
        drop(rx);
        let expected = trader.join().map_err(|_| StoreError::Invalid("the trading thread panicked".into()))?;
        written?;
        expected
    })?;
    check(store, &expected)?;
    progress.update("indexes", 0, 1);
    store.restore_indexes()?;
    progress.update("indexes", 1, 1);
    Ok(())
}

/// The year of trade, written through `w`.
fn trade(
    w: &mut Writer<ChannelSink>,
    plan: &Plan,
    world: &World,
    truth: &Truth,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let last = NaiveDate::from_ymd_opt(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2).expect("valid date");
    let first = last - Duration::days(plan.days as i64 - 1);
    let days: Vec<NaiveDate> = (0..plan.days as i64).map(|d| first + Duration::days(d)).collect();
    let weights: Vec<f64> = days.iter().map(|d| season(*d)).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(days.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w;
        cumulative.push(acc / total);
    }
    let mut c = Counters::default();
    let wholesale = VendorPool::new(world, true);
    let retail = VendorPool::new(world, false);
    let mut carry: Vec<Lot> = Vec::new();
    for (d, date) in days.iter().enumerate() {
        let midnight = time::from_local(date.and_hms_opt(0, 0, 0).expect("midnight")).expect("valid time");
        let day = Day { world, truth, date: *date, midnight, month: date.month() };
        let target = |n: u64| (n as f64 * cumulative[d]).round() as u64;
        let (mut wholesale_lots, mut retail_lots) = (std::mem::take(&mut carry), Vec::new());
        let n_certs = target(plan.certificates) - c.certificates;
        for _ in 0..n_certs {
            consignment(w, &day, &mut c, &wholesale, &retail, &mut wholesale_lots, &mut retail_lots, rng)?;
        }
        let mut sold_to_supermarkets = Vec::new();
        for lot in &wholesale_lots {
            wholesale_sales(w, &day, &mut c, lot, &mut carry, &mut retail_lots, &mut sold_to_supermarkets, rng)?;
        }
        let budget = target(plan.orders).saturating_sub(c.orders);
        let sellers = if retail_lots.is_empty() { &wholesale_lots } else { &retail_lots };
        retail_sales(w, &day, &mut c, sellers, budget, rng)?;
        let todays: Vec<&Lot> = retail_lots.iter().chain(&wholesale_lots).collect();
        for _ in 0..target(plan.rapid_tests) - c.rapid {
            if let Some(lot) = todays.choose(rng) {
                rapid_test(w, &day, &mut c, lot, rng)?;
            }
        }
        let testable: Vec<&&Lot> = todays
            .iter()
            .filter(|l| catalogue::items_for(world.varieties[l.variety].v.code).next().is_some())
            .collect();
        for _ in 0..target(plan.samples) - c.samples {
            if let Some(lot) = testable.choose(rng) {
                let at_supermarket = if rng.random_bool(0.15) { sold_to_supermarkets.choose(rng) } else { None };
                sample(w, &day, &mut c, lot, at_supermarket.cloned(), rng)?;
            }
        }
        routine(w, &day, rng)?;
        for _ in 0..target(plan.complaints) - c.complaints {
            complaint(w, &day, &mut c, rng)?;
        }
        for _ in 0..target(plan.inspections) - c.inspections {
            inspection(w, &day, &mut c, rng)?;
        }
        for _ in 0..target(plan.cases) - c.cases {
            case(w, &day, &mut c, rng)?;
        }
        let _ = w.sink().0.send(Message::Progress(c.orders));
    }
    Ok(())
}

/// Vendors of one kind (wholesale or retail), drawn in proportion to their activity.
struct VendorPool {
    vendors: Vec<usize>,
    weights: Option<WeightedIndex<f64>>,
}

impl VendorPool {
    fn new(world: &World, wholesale: bool) -> VendorPool {
        let vendors: Vec<usize> =
            (0..world.vendors.len()).filter(|&i| world.vendors[i].wholesale == wholesale).collect();
        let weights = WeightedIndex::new(vendors.iter().map(|&i| world.vendors[i].activity)).ok();
        VendorPool { vendors, weights }
    }

    fn is_empty(&self) -> bool {
        self.weights.is_none()
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let weights = self.weights.as_ref().expect("a pool is not drawn from when empty");
        self.vendors[weights.sample(rng)]
    }
}

fn new_lot_code(c: &mut Counters) -> String {
    c.lots += 1;
    format!("T{:09}", c.lots)
}

#[expect(clippy::too_many_arguments, reason = "one step of the day's trade needs the whole day's state")]
fn inbound_row(
    c: &mut Counters,
    world: &World,
    vendor: usize,
    variety: usize,
    lot: &str,
    qty: f64,
    at: i64,
    supplier: (&str, Option<i64>, Option<String>, Option<String>),
    certs: (Option<i64>, Option<i64>),
    amount: i64,
) -> Vec<Value> {
    c.inbound += 1;
    c.orders += 1;
    let opt_int = |x: Option<i64>| x.map(Value::Int).unwrap_or(Value::Null);
    let opt_text = |x: Option<String>| x.map(Value::Text).unwrap_or(Value::Null);
    vec![
        text("SIM"),
        text(format!("IN{:09}", c.inbound)),
        Value::Int(world.vendors[vendor].id),
        Value::Int(world.varieties[variety].id),
        text(lot),
        Value::Real(qty),
        text("kg"),
        Value::Int(at),
        text(supplier.0),
        opt_int(supplier.1),
        opt_text(supplier.2),
        opt_text(supplier.3),
        opt_int(certs.0),
        opt_int(certs.1),
        Value::Int(amount),
    ]
}

#[expect(clippy::too_many_arguments, reason = "a row has this many parts")]
fn outbound_row(
    c: &mut Counters,
    lot: &Lot,
    world: &World,
    named_lot: bool,
    qty: f64,
    at: i64,
    buyer: (&str, Option<i64>, Option<String>),
    amount: i64,
) -> Vec<Value> {
    c.outbound += 1;
    c.orders += 1;
    vec![
        text("SIM"),
        text(format!("OUT{:09}", c.outbound)),
        Value::Int(world.vendors[lot.vendor].id),
        Value::Int(world.varieties[lot.variety].id),
        if named_lot { text(&lot.code) } else { Value::Null },
        Value::Real(qty),
        text("kg"),
        Value::Int(at),
        text(buyer.0),
        buyer.1.map(Value::Int).unwrap_or(Value::Null),
        buyer.2.map(Value::Text).unwrap_or(Value::Null),
        Value::Int(amount),
    ]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[expect(clippy::too_many_arguments, reason = "one step of the day's trade needs the whole day's state")]
fn consignment(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    wholesale: &VendorPool,
    retail: &VendorPool,
    wholesale_lots: &mut Vec<Lot>,
    retail_lots: &mut Vec<Lot>,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let world = day.world;
    let direct = wholesale.is_empty() || rng.random_bool(0.15);
    let vendor = if direct { retail } else { wholesale }.pick(rng);
    let variety = *world.vendors[vendor].listings.choose(rng).expect("every vendor lists a variety");
    let var = world.varieties[variety].v;
    let origin = day.origin_for(variety, rng);
    let producer = *world.origins[origin].producers.choose(rng).expect("producers in every origin");
    let qty = round2(if direct { rng.random_range(40.0..300.0) } else { rng.random_range(400.0..5000.0) });
    let region = world.origins[origin].region.code;
    c.certificates += 1;
    let basis = ["self_test", "entrusted_test", "internal_control", "self_commitment"][rng.random_range(0..4)];
    let cert = w.push_named(
        Kind::OriginCertificate,
        &[
            ("cert_no", text(format!("HG{}{:08}", &region[..2], c.certificates))),
            ("producer", Value::Int(producer)),
            ("variety", Value::Int(world.varieties[variety].id)),
            ("product_name", text(var.name)),
            ("quantity", Value::Real(qty)),
            ("unit", text("kg")),
            ("origin", text(region)),
            ("issued_on", day.date_text(-rng.random_range(0..2))),
            ("basis", text(basis)),
            (
                "commitment",
                text("不使用禁用农药兽药、停用兽药和非法添加物，常规农药兽药残留不超标，对承诺的真实性负责"),
            ),
            ("self_test", if basis == "self_test" { text("自检合格") } else { Value::Null }),
        ],
    )?;
    let quarantine = if matches!(var.category(), "03" | "04") {
        c.quarantine += 1;
        Some(w.push_named(
            Kind::QuarantineCertificate,
            &[
                ("cert_no", text(format!("JY{}{:08}", &region[..2], c.quarantine))),
                ("quarantine_kind", text("product")),
                ("producer", Value::Int(producer)),
                ("variety", Value::Int(world.varieties[variety].id)),
                ("quantity", Value::Real(qty)),
                ("unit", text("kg")),
                ("origin", text(region)),
                ("issued_on", day.date_text(-1)),
                ("issuer", text(format!("{}农业农村局官方兽医{}", world.origins[origin].region.name, person(rng)))),
                ("destination", text(world.markets[world.vendors[vendor].market].name.clone())),
            ],
        )?)
    } else {
        None
    };
    let price = price_per_kg(var.category(), rng) * 70.0;
    let first_hour = rng.random_range(1.0..4.0);
    let extra = rng.random_bool(0.08).then(|| (round2(qty * rng.random_range(0.1..0.5)), rng.random_range(1.0..5.0)));
    let mut arrive = |w: &mut Writer<ChannelSink>, cert: Option<i64>, quarantine: Option<i64>, qty: f64, hour: f64| {
        let code = new_lot_code(c);
        let at = day.at(hour);
        let amount = (qty * price).round() as i64;
        let row = inbound_row(
            c,
            world,
            vendor,
            variety,
            &code,
            qty,
            at,
            ("producer", Some(producer), None, None),
            (cert, quarantine),
            amount,
        );
        w.push(Kind::Inbound, row)?;
        let lot = Lot { vendor, variety, code, qty, at, origin };
        if direct {
            retail_lots.push(lot)
        } else {
            wholesale_lots.push(lot)
        }
        Ok::<_, StoreError>(())
    };
    arrive(w, Some(cert), quarantine, qty, first_hour)?;
    if let Some((extra_qty, hour)) = extra {
        // Goods from the same producer that arrived without a certificate.
        arrive(w, None, None, extra_qty, hour)?;
    }
    Ok(())
}

#[expect(clippy::too_many_arguments, reason = "one step of the day's trade needs the whole day's state")]
fn wholesale_sales(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    lot: &Lot,
    carry: &mut Vec<Lot>,
    retail_lots: &mut Vec<Lot>,
    to_supermarkets: &mut Vec<(i64, String, usize, usize)>,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    let world = day.world;
    let n = rng.random_range(3..12);
    let sold_share = rng.random_range(0.85..1.0);
    let shares: Vec<f64> = (0..n).map(|_| rng.random_range(0.3..1.7)).collect();
    let sum: f64 = shares.iter().sum();
    let city = world.vendor_city(lot.vendor);
    let category = world.varieties[lot.variety].v.category();
    let price = price_per_kg(category, rng) * 80.0;
    let mut left = lot.qty;
    for share in shares {
        let qty = ((lot.qty * sold_share * share / sum * 100.0).floor() / 100.0).max(0.01);
        let at = lot.at + rng.random_range(1800..5 * 3600);
        // As for retail sales: what the lot cannot cover is recorded without naming it.
        let named = rng.random_bool(0.9) && qty <= left;
        if named {
            left -= qty;
        }
        let amount = (qty * price).round() as i64;
        let roll = rng.random_range(0..100);
        let buyer_vendor = match roll {
            0..=49 => {
                let here = world.retail_in_city.get(&(lot.variety, city)).filter(|v| !v.is_empty());
                let any = || world.sellers.get(&(false, lot.variety));
                here.and_then(|v| v.choose(rng)).or_else(|| any().and_then(|v| v.choose(rng))).copied()
            }
            // Another market's wholesaler of the same variety (a few tries: most are elsewhere).
            50..=57 => world.sellers.get(&(true, lot.variety)).and_then(|v| {
                (0..4)
                    .filter_map(|_| v.choose(rng).copied())
                    .find(|&x| world.vendors[x].market != world.vendors[lot.vendor].market)
            }),
            _ => None,
        };
        if let Some(buyer) = buyer_vendor {
            let row =
                outbound_row(c, lot, world, named, qty, at, ("vendor", Some(world.vendors[buyer].id), None), amount);
            w.push(Kind::Outbound, row)?;
            let code = new_lot_code(c);
            let arrive = at + rng.random_range(1800..3 * 3600);
            let supplier = ("vendor", Some(world.vendors[lot.vendor].id), None, named.then(|| lot.code.clone()));
            let row = inbound_row(c, world, buyer, lot.variety, &code, qty, arrive, supplier, (None, None), amount);
            w.push(Kind::Inbound, row)?;
            let new = Lot { vendor: buyer, variety: lot.variety, code, qty, at: arrive, origin: lot.origin };
            if world.vendors[buyer].wholesale {
                carry.push(new)
            } else {
                retail_lots.push(new)
            }
            continue;
        }
        let kind = match roll {
            58..=74 => BuyerKind::Supermarket,
            75..=84 => BuyerKind::Restaurant,
            85..=94 => BuyerKind::Canteen,
            _ => {
                let other = format!("{}个体户", person(rng));
                let row = outbound_row(c, lot, world, named, qty, at, ("other", None, Some(other)), amount);
                w.push(Kind::Outbound, row)?;
                continue;
            }
        };
        let local = world.buyers_in_city.get(&(kind, city)).filter(|_| rng.random_bool(0.85));
        let pool = local.or_else(|| world.buyers_in_city.get(&(kind, rng.random_range(0..world.cities.len()))));
        let Some(&b) = pool.and_then(|p| p.choose(rng)) else { continue };
        let code = match kind {
            BuyerKind::Supermarket => "supermarket",
            BuyerKind::Restaurant => "restaurant",
            BuyerKind::Canteen => "canteen",
        };
        let row = outbound_row(c, lot, world, named, qty, at, (code, Some(world.buyers[b].id), None), amount);
        w.push(Kind::Outbound, row)?;
        if kind == BuyerKind::Supermarket {
            to_supermarkets.push((world.buyers[b].id, lot.code.clone(), lot.variety, lot.origin));
        }
    }
    Ok(())
}

fn retail_sales(
    w: &mut Writer<ChannelSink>,
    day: &Day,
    c: &mut Counters,
    lots: &[Lot],
    budget: u64,
    rng: &mut ChaCha8Rng,
) -> Result<(), StoreError> {
    if lots.is_empty() || budget == 0 {
        return Ok(());
    }
    let world = day.world;
    let weights: Vec<f64> = lots.iter().map(|l| l.qty.sqrt() * rng.random_range(0.5..1.5)).collect();
    let counts = apportion(budget as usize, &weights);
    for (lot, n) in lots.iter().zip(counts) {
        if n == 0 {
            continue;
        }
        let price = price_per_kg(world.varieties[lot.variety].v.category(), rng) * 100.0 * 1.4;
        // Shares of 95 % of the lot, rounded down to the fen-kilogram, so that the sales naming
        // the lot never exceed what it received (mass balance holds for simulated lots).
        let jitter: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..1.5)).collect();
        let total: f64 = jitter.iter().sum();
        let mut left = lot.qty;
        let city = world.vendor_city(lot.vendor);
        for share in jitter {
            let qty = ((lot.qty * 0.95 * share / total * 100.0).floor() / 100.0).max(0.01);
            let hour = rng.random_range(6.0..19.5);
            let at = day.at(hour).max(lot.at + 600);
            // A sale the lot cannot cover (only for tiny lots) is recorded without a lot.
            let named = rng.random_bool(0.75) && qty <= left;
            if named {
                left -= qty;
            }
            let amount = (qty * price).round() as i64;
            let buyer = if rng.random_bool(0.06) {
                let kind = if rng.random_bool(0.5) { BuyerKind::Restaurant } else { BuyerKind::Canteen };
                world.buyers_in_city.get(&(kind, city)).and_then(|p| p.choose(rng)).map(|&b| {
                    (
                        if kind == BuyerKind::Restaurant { "restaurant" } else { "canteen" },
                        Some(world.buyers[b].id),
                        None,
                    )
                })
            } else {
                None
            };
            let buyer = buyer.unwrap_or(("consumer", None, None));
            let row = outbound_row(c, lot, world, named, qty, at, buyer, amount);
            w.push(Kind::Outbound, row)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rows_follow_the_field_order_of_their_kinds() {
        let inbound: Vec<_> = Kind::Inbound.def().fields.iter().map(|f| f.name).collect();
        assert_eq!(
            inbound,
            [
                "source",
                "ext_id",
                "vendor",
                "variety",
                "lot_code",
                "quantity",
                "unit",
                "received_at",
                "supplier_kind",
                "supplier",
                "supplier_name",
                "supplier_lot",
                "certificate",
                "quarantine",
                "amount"
            ]
        );
        let outbound: Vec<_> = Kind::Outbound.def().fields.iter().map(|f| f.name).collect();
        assert_eq!(
            outbound,
            [
                "source",
                "ext_id",
                "vendor",
                "variety",
                "lot_code",
                "quantity",
                "unit",
                "sold_at",
                "buyer_kind",
                "buyer",
                "buyer_name",
                "amount"
            ]
        );
    }
}
