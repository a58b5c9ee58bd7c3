//! The province simulator (`shian generate`).
//!
//! It builds a realistic, deterministic province at one of three scales: markets in Hebei's real
//! cities and counties, their vendors and what they sell, producers in real producing areas
//! (Hebei's vegetable counties, Shouguang, Yunnan and Hainan in winter, Inner Mongolia's beef and
//! mutton, …), a year of trade that flows from producers through wholesale markets to farmers'
//! markets, supermarkets, restaurants and canteens, and the tests, samples, complaints, inspections,
//! cases and routine records that supervision produces.
//!
//! Test results are drawn from a hidden ground truth ([`truth`]): each origin × variety × item and
//! each vendor has a true probability of failing, and planted incidents raise it for a while. The
//! truth is written to its own file beside the database and never into it: no product code reads
//! it, only evaluation tools.

mod flow;
pub mod plan;
mod supervision;
pub mod truth;
mod world;
mod writer;

use std::path::Path;

use shian_domain::Kind;
use shian_store::{Store, StoreError};

pub use plan::{Plan, Scale};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the database already holds {0} records; generate into a new database")]
    NotEmpty(u64),
    #[error("cannot write the truth file: {0}")]
    Truth(#[from] std::io::Error),
}

/// Receives progress: a phase name, work done and work planned.
pub trait Progress {
    fn update(&self, phase: &str, done: u64, total: u64);
}

impl<F: Fn(&str, u64, u64)> Progress for F {
    fn update(&self, phase: &str, done: u64, total: u64) {
        self(phase, done, total)
    }
}

/// Generates a province into an empty store and writes the ground truth to `truth_path`.
pub fn generate(
    store: &mut dyn Store,
    plan: &Plan,
    seed: u64,
    truth_path: &Path,
    progress: &dyn Progress,
) -> Result<(), SimError> {
    let existing: u64 = [Kind::Market, Kind::Vendor, Kind::Inbound, Kind::Outbound]
        .iter()
        .map(|k| store.count(*k))
        .sum::<Result<u64, _>>()?;
    if existing > 0 {
        return Err(SimError::NotEmpty(existing));
    }
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
    store.bulk_load(true)?;
    let result = (|| {
        progress.update("world", 0, 1);
        let world = world::build(store, plan, &mut rng)?;
        let truth = truth::Truth::draw(&world, plan, seed, &mut rng);
        truth.write(truth_path)?;
        flow::run(store, plan, &world, &truth, &mut rng, progress)
    })();
    progress.update("finish", 0, 1);
    store.bulk_load(false)?;
    result?;
    store.optimize()?;
    Ok(())
}
