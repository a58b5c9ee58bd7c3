//! One module per command; each takes parsed arguments and calls the services.

pub mod generate;
pub mod io;
pub mod stats;
pub mod trace;

use std::process::ExitCode;

use anyhow::{Context, Result};
use shian_domain::{Kind, Lang};
use shian_store::Store;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> Result<ExitCode> {
    let lang = cli.lang;
    // A mistyped kind is refused before the database is opened (which would create it).
    if let Command::Import(io::ImportArgs { kind: name, .. })
    | Command::Export(io::ExportArgs { kind: name, .. })
    | Command::History { kind: name, .. } = &cli.command
    {
        kind(name, lang)?;
    }
    match cli.command {
        Command::Generate(args) => generate::generate(&cli.db, &args, lang),
        Command::Demo(args) => generate::demo(&cli.db, &args, lang),
        Command::Stats { json } => stats::stats(open_existing(&cli.db, lang)?.as_ref(), json, lang),
        Command::Import(args) => io::import(open(&cli.db)?.as_mut(), &args, lang),
        Command::Export(args) => io::export(open_existing(&cli.db, lang)?.as_ref(), &args, lang),
        Command::History { kind, key } => io::history(open_existing(&cli.db, lang)?.as_ref(), &kind, &key, lang),
        Command::Trace(cmd) => trace::run(open_existing(&cli.db, lang)?.as_ref(), &cmd, lang),
        Command::Schema { markdown } => {
            print!("{}", if markdown { crate::docs::data_standard() } else { crate::docs::schema_text(lang) });
            Ok(ExitCode::SUCCESS)
        }
        Command::Examples { out } => crate::docs::write_examples(&out),
        Command::Bench(b) => crate::bench::run(b),
    }
}

/// Opens a database that must already exist (reading commands must not create an empty one
/// because of a mistyped path).
pub fn open_existing(url: &str, lang: Lang) -> Result<Box<dyn Store>> {
    let path = generate::db_path(url);
    if (!url.contains("://") || url.starts_with("sqlite://")) && !path.exists() {
        anyhow::bail!(match lang {
            Lang::Zh => format!("数据库 {} 不存在", path.display()),
            Lang::En => format!("database {} does not exist", path.display()),
        });
    }
    open(url)
}

/// Opens the database named by the URL, creating it if it does not exist.
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    shian_store::open(url).with_context(|| format!("cannot open database {url}"))
}

/// The record kind named on the command line.
pub fn kind(name: &str, lang: Lang) -> Result<Kind> {
    Kind::parse(name).with_context(|| {
        let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        match lang {
            Lang::Zh => format!("未知的记录类型“{name}”，可用：{}", names.join(", ")),
            Lang::En => format!("unknown record kind {name:?}; one of: {}", names.join(", ")),
        }
    })
}
