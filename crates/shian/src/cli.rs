//! The command line: `shian generate | stats | import | export | history | trace | schema | examples | demo |
//! serve | user | qr | ledger | notify | inbox | bench`.
//!
//! Exit codes: 0 success; 1 failure; 3 an import finished but rejected some rows.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shian_domain::Lang;

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "shian",
    version,
    about = "食安 Shian — 食用农产品数字化监管平台 / supervision of edible agricultural products"
)]
pub struct Cli {
    /// Database URL: sqlite://PATH (or a plain path).
    #[arg(long, global = true, env = "SHIAN_DB", default_value = "sqlite://shian.db")]
    pub db: String,
    /// Language of messages: zh (简体中文) or en.
    #[arg(long, global = true, env = "SHIAN_LANG", default_value = "zh", value_parser = parse_lang)]
    pub lang: Lang,
    #[command(subcommand)]
    pub command: Command,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("unknown language {s:?}: use zh or en"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a simulated province into a new database (生成模拟省份数据).
    Generate(commands::generate::Args),
    /// Count every kind of record in the database (统计).
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Import a CSV, XLSX or JSON-lines file of one record kind (导入).
    Import(commands::io::ImportArgs),
    /// Export every record of one kind (导出).
    Export(commands::io::ExportArgs),
    /// Show the previous versions of a record (历史版本).
    History {
        /// Record kind, e.g. vendor.
        kind: String,
        /// Natural key; for a composite key, the parts separated by commas (e.g. SIM,OUT000000001).
        key: String,
    },
    /// Trace a lot back to its origin or forward to its recipients (追溯).
    #[command(subcommand)]
    Trace(commands::trace::TraceCommand),
    /// Print the data standard: kinds, columns, types (数据标准).
    Schema {
        /// Write Markdown (as in docs/data-standard.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Write an example file per record kind into a directory (示例文件).
    Examples {
        #[arg(long, default_value = "examples")]
        out: PathBuf,
    },
    /// The demo: generate the demo province if the database is missing, make the demo accounts,
    /// serve the web platform (演示).
    Demo(commands::generate::DemoArgs),
    /// Serve the web platform over an existing database (启动 Web 平台).
    Serve(commands::serve::Args),
    /// Manage the platform's user accounts and API tokens (用户管理).
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Public QR codes: issue, images, posters, withdraw (一码公开).
    #[command(subcommand)]
    Qr(commands::qr::QrCommand),
    /// The risk ledger: list, show, record actions, close, open (风险台账).
    #[command(subcommand)]
    Ledger(commands::ledger::LedgerCommand),
    /// Failure notifications: dispatch, escalate and deliver once, for cron; outbox status (通知分发).
    #[command(subcommand)]
    Notify(commands::notify::NotifyCommand),
    /// The test catalogue and recent test results (检测项目与结果).
    #[command(subcommand)]
    Test(commands::test::TestCommand),
    /// A user's platform inbox; --ack ID acknowledges a notice (站内通知).
    Inbox(commands::notify::InboxArgs),
    /// Benchmarks that print their figures (性能测试).
    #[command(subcommand)]
    Bench(crate::bench::Bench),
}

/// Parses the command line, runs it and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli.lang;
    let result = commands::run(cli);
    crate::memory::report_peak();
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS, // e.g. `shian export … | head`
        Err(e) => {
            let prefix = match lang {
                Lang::Zh => "错误",
                Lang::En => "error",
            };
            eprintln!("{prefix}: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}
