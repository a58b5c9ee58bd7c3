//! One module per command; each takes parsed arguments and calls the services.

pub mod generate;
pub mod io;
pub mod ledger;
pub mod notify;
pub mod qr;
pub mod serve;
pub mod stats;
pub mod test;
pub mod trace;
pub mod user;

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
        Command::Serve(args) => serve::serve(&cli.db, &args, lang),
        Command::User(cmd) => user::run(open_existing(&cli.db, lang)?.as_mut(), &cmd, lang),
        Command::Stats { json } => stats::stats(open_existing(&cli.db, lang)?.as_ref(), json, lang),
        Command::Import(args) => io::import(open(&cli.db)?.as_mut(), &args, lang),
        Command::Export(args) => io::export(open_existing(&cli.db, lang)?.as_ref(), &args, lang),
        Command::History { kind, key } => io::history(open_existing(&cli.db, lang)?.as_ref(), &kind, &key, lang),
        Command::Trace(cmd) => trace::run(open_existing(&cli.db, lang)?.as_ref(), &cmd, lang),
        Command::Qr(cmd) => qr::run(open_existing(&cli.db, lang)?.as_mut(), &cmd, lang),
        Command::Schema { markdown } => {
            print!("{}", if markdown { crate::docs::data_standard() } else { crate::docs::schema_text(lang) });
            Ok(ExitCode::SUCCESS)
        }
        Command::Examples { out } => crate::docs::write_examples(&out),
        Command::Ledger(cmd) => ledger::run(open_existing(&cli.db, lang)?.as_mut(), &cmd, lang),
        Command::Test(cmd) => test::run(open_existing(&cli.db, lang)?.as_mut(), &cmd, lang),
        Command::Notify(cmd) => notify::run(open_existing(&cli.db, lang)?.as_mut(), &cmd, lang),
        Command::Inbox(args) => notify::inbox(open_existing(&cli.db, lang)?.as_mut(), &args, lang),
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

/// Rows under headers, in columns aligned for a terminal (a CJK character takes two cells).
pub fn columns(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> =
            cells.zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(width(c))))).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out += &line(&mut row.iter().map(String::as_str));
    }
    out
}

/// The cells a text takes in a terminal: two for East Asian wide characters, one otherwise.
fn width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}
