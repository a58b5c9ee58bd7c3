//! The hidden ground truth: the true probability that a test of goods fails.
//!
//! p(fail) = base(variety, item) × origin factor × vendor factor, plus the probability of any
//! planted incident covering the origin, variety, item and day, capped at 0.95. The truth is
//! written to its own JSON file (default `shian.truth.json` beside the database). Nothing in the
//! product reads it; evaluation tools compare what the analysis finds with it.

use std::path::Path;

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use shian_domain::catalogue::{self, ItemClass, TestItem};

use crate::plan::Plan;
use crate::world::{World, find_region};

/// A planted incident: for a while, goods of one variety from one county fail one item often.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub origin_region: &'static str,
    pub origin_name: &'static str,
    pub variety: &'static str,
    pub item: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub p_fail: f64,
    pub story: &'static str,
}

#[derive(Debug, Serialize)]
struct OriginTruth {
    region: &'static str,
    name: &'static str,
    factor: f64,
}

#[derive(Debug, Serialize)]
struct VendorTruth {
    vendor: String,
    factor: f64,
}

#[derive(Debug, Serialize)]
struct ItemTruth {
    item: &'static str,
    applies_to: &'static str,
    base_p_fail: f64,
}

/// The truth of one generated province.
#[derive(Debug, Serialize)]
pub struct Truth {
    seed: u64,
    formula: &'static str,
    items: Vec<ItemTruth>,
    origins: Vec<OriginTruth>,
    /// Vendors whose factor is not 1.
    vendors: Vec<VendorTruth>,
    pub incidents: Vec<Incident>,
    #[serde(skip)]
    origin_factor: Vec<f64>,
    #[serde(skip)]
    vendor_factor: Vec<f64>,
}

/// The base probability that goods fail an item, before origin and vendor factors.
fn base(item: &TestItem, variety: &str) -> f64 {
    match (item.code, variety) {
        ("chlorpyrifos", "010101") | ("procymidone", "010201") => 0.06,
        (_, "010601") => 0.045,
        _ => match item.class {
            ItemClass::Pesticide => 0.02,
            ItemClass::VetDrug => 0.012,
            ItemClass::Banned => 0.004,
            ItemClass::HeavyMetal => 0.01,
        },
    }
}

/// (province prefix, county, variety prefix, item, from, to, p(fail), story)
type Planted = (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, f64, &'static str);

const INCIDENTS: &[Planted] = &[
    (
        "13",
        "乐亭县",
        "010201",
        "procymidone",
        "2026-04-01",
        "2026-04-14",
        0.5,
        "spring chives with procymidone from one county",
    ),
    (
        "46",
        "澄迈县",
        "010601",
        "omethoate",
        "2026-01-10",
        "2026-02-10",
        0.35,
        "winter cowpea with a banned-for-vegetables organophosphate",
    ),
    ("13", "玉田县", "0301", "clenbuterol", "2026-09-01", "2026-09-15", 0.15, "pork with clenbuterol from one county"),
    (
        "13",
        "安新县",
        "0601",
        "malachite_green",
        "2026-06-10",
        "2026-07-10",
        0.25,
        "freshwater fish treated with malachite green",
    ),
    ("37", "寿光市", "010401", "carbofuran", "2026-10-20", "2026-11-30", 0.2, "autumn tomatoes with carbofuran"),
];

impl Truth {
    /// Draws the truth of a province.
    pub fn draw(world: &World, _plan: &Plan, seed: u64, rng: &mut ChaCha8Rng) -> Truth {
        let origin_factor: Vec<f64> = world.origins.iter().map(|_| rng.random_range(0.4..2.2)).collect();
        let vendor_factor: Vec<f64> = world
            .vendors
            .iter()
            .map(|_| match rng.random_range(0..100) {
                0..=2 => 6.0,
                3..=14 => 2.0,
                _ => 1.0,
            })
            .collect();
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid incident date");
        let incidents = INCIDENTS
            .iter()
            .map(|i| {
                let r = find_region(i.0, i.1).expect("incident origins exist");
                Incident {
                    origin_region: r.code,
                    origin_name: r.name,
                    variety: i.2,
                    item: i.3,
                    from: date(i.4),
                    to: date(i.5),
                    p_fail: i.6,
                    story: i.7,
                }
            })
            .collect();
        Truth {
            seed,
            formula: "p = min(0.95, base(variety, item) * origin_factor * vendor_factor + incident p_fail)",
            items: catalogue::test_items()
                .iter()
                .map(|t| ItemTruth { item: t.code, applies_to: t.applies_to, base_p_fail: base(t, t.applies_to) })
                .collect(),
            origins: world
                .origins
                .iter()
                .zip(&origin_factor)
                .map(|(o, f)| OriginTruth { region: o.region.code, name: o.region.name, factor: *f })
                .collect(),
            vendors: world
                .vendors
                .iter()
                .zip(&vendor_factor)
                .filter(|(_, f)| **f != 1.0)
                .map(|(v, f)| VendorTruth { vendor: v.code.clone(), factor: *f })
                .collect(),
            incidents,
            origin_factor,
            vendor_factor,
        }
    }

    /// The true probability that goods fail `item`.
    pub fn p_fail(
        &self,
        world: &World,
        origin: usize,
        variety: &str,
        item: &TestItem,
        vendor: usize,
        day: NaiveDate,
    ) -> f64 {
        let mut p = base(item, variety) * self.origin_factor[origin] * self.vendor_factor[vendor];
        let region = world.origins[origin].region.code;
        for i in &self.incidents {
            if i.item == item.code
                && i.origin_region == region
                && variety.starts_with(i.variety)
                && (i.from..=i.to).contains(&day)
            {
                p += i.p_fail;
            }
        }
        p.min(0.95)
    }

    /// The true probability that an enzyme-inhibition rapid test is positive: any of the
    /// applicable pesticides present at an inhibiting level (the test sees about 60 % of them).
    pub fn p_enzyme_positive(&self, world: &World, origin: usize, variety: &str, vendor: usize, day: NaiveDate) -> f64 {
        let mut clean = 1.0;
        let mut any = false;
        for item in catalogue::items_for(variety).filter(|t| t.class == ItemClass::Pesticide) {
            any = true;
            clean *= 1.0 - 0.6 * self.p_fail(world, origin, variety, item, vendor, day);
        }
        if any { 1.0 - clean } else { (0.008 * self.origin_factor[origin] * self.vendor_factor[vendor]).min(0.95) }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        serde_json::to_writer_pretty(file, self).map_err(std::io::Error::other)
    }
}
