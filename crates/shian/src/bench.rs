//! `shian bench`: benchmarks that print their figures (not timed tests).

use std::process::ExitCode;

use anyhow::Result;

#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// Generate a province into a fresh database: wall time, peak memory, database size.
    Generate {
        #[arg(long, default_value = "province")]
        scale: String,
        #[arg(long, default_value = "bench-out")]
        dir: std::path::PathBuf,
    },
    /// Import N outbound orders from CSV, beside the sqlite3 CLI's `.import` of the same file.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value = "bench-out")]
        dir: std::path::PathBuf,
    },
}

pub fn run(_b: Bench) -> Result<ExitCode> {
    anyhow::bail!("not built yet")
}
