//! `shian import`, `shian export` and `shian history`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use shian_domain::field::FieldType;
use shian_domain::{Lang, Value};
use shian_services::export::{self, ExportOptions};
use shian_services::import::{self, ImportOptions};
use shian_services::{Encoding, Format};
use shian_store::Store;

use crate::memory::{mib, peak_rss};
use crate::progress::ImportBar;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Record kind, e.g. vendor, outbound (see `shian schema`).
    pub kind: String,
    /// The file: .csv (UTF-8 or GB18030), .xlsx or .jsonl.
    pub file: PathBuf,
    /// csv, xlsx or jsonl (default: from the extension).
    #[arg(long)]
    pub format: Option<String>,
    /// auto, utf8 or gb18030 (CSV only).
    #[arg(long, default_value = "auto")]
    pub encoding: String,
    /// Write the rejected rows with their reasons to this CSV file, to correct and import again.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// Rows per transaction.
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub kind: String,
    /// csv, xlsx or jsonl.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Output file (default: standard output).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Header language: zh or en.
    #[arg(long, default_value = "zh")]
    pub headers: String,
    /// utf8, utf8-bom (for Excel) or gb18030 (CSV only).
    #[arg(long, default_value = "utf8")]
    pub encoding: String,
}

pub fn import(store: &mut dyn Store, args: &ImportArgs, lang: Lang) -> Result<ExitCode> {
    let kind = super::kind(&args.kind, lang)?;
    let format = match &args.format {
        Some(f) => Some(Format::parse(f).with_context(|| format!("unknown format {f:?}"))?),
        None => None,
    };
    let encoding = Encoding::parse(&args.encoding).with_context(|| format!("unknown encoding {:?}", args.encoding))?;
    let opts = ImportOptions { format, encoding, batch_size: args.batch, errors_path: args.errors.clone(), lang };
    let started = Instant::now();
    let bar = ImportBar::new();
    let report = match import::import_file(store, kind, &args.file, &opts, &bar) {
        Ok(r) => r,
        Err(e) => bail!("{}", e.describe(lang)),
    };
    let secs = started.elapsed().as_secs_f64();
    for w in &report.warnings {
        eprintln!("{}: {}", if lang == Lang::Zh { "提示" } else { "note" }, w.get(lang));
    }
    for e in report.errors.iter().take(20) {
        eprintln!("{}", e.describe(lang));
    }
    if report.rejected as usize > report.errors.len().min(20) {
        let more = match lang {
            Lang::Zh => "（更多错误见 --errors 输出文件）",
            Lang::En => "(more in the --errors file)",
        };
        eprintln!("… {more}");
    }
    let o = report.outcome;
    let peak = peak_rss().map(mib).unwrap_or_default();
    let (file, encoding, read, rejected) = (&report.file, report.encoding, report.rows_read, report.rejected);
    let (inserted, updated, unchanged) = (o.inserted, o.updated, o.unchanged);
    let rate = read as f64 / secs.max(1e-9);
    match lang {
        Lang::Zh => println!(
            "{file}（{encoding}）：读取 {read} 行，新增 {inserted}，更新 {updated}，未变 {unchanged}，拒绝 {rejected}；\
             用时 {secs:.2} 秒（{rate:.0} 行/秒），峰值内存 {peak}"
        ),
        Lang::En => println!(
            "{file} ({encoding}): read {read} rows, {inserted} inserted, {updated} updated, {unchanged} unchanged, \
             {rejected} rejected; {secs:.2} s ({rate:.0} rows/s), peak memory {peak}"
        ),
    }
    super::notify::after_import(store, kind, lang)?;
    Ok(if report.rejected > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

pub fn export(store: &dyn Store, args: &ExportArgs, lang: Lang) -> Result<ExitCode> {
    let kind = super::kind(&args.kind, lang)?;
    let format = Format::parse(&args.format).with_context(|| format!("unknown format {:?}", args.format))?;
    let headers = Lang::parse(&args.headers).with_context(|| format!("unknown header language {:?}", args.headers))?;
    let encoding = Encoding::parse(&args.encoding).with_context(|| format!("unknown encoding {:?}", args.encoding))?;
    let opts = ExportOptions { format, headers, encoding };
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let n = export::export(store, kind, opts, &mut out)?;
    out.flush()?;
    if args.out.is_some() {
        eprintln!("{n} rows");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn history(store: &dyn Store, kind: &str, key: &str, lang: Lang) -> Result<ExitCode> {
    let kind = super::kind(kind, lang)?;
    let def = kind.def();
    let parts: Vec<&str> = key.split(',').collect();
    if parts.len() != def.key.len() {
        bail!("{} has a key of {} parts: {}", def.name, def.key.len(), def.key.join(","));
    }
    let mut values = Vec::new();
    for (name, part) in def.key.iter().zip(parts) {
        let field = def.field(name).expect("key fields exist").1;
        let value = match field.ty {
            FieldType::Ref(target) => match store.resolve(target, &[part])?.pop() {
                Some((_, id)) => Value::Int(id),
                None => bail!("no {} {part}", target.name()),
            },
            ty => ty.parse(part).map_err(|e| anyhow::anyhow!("{name}: {}", e.reason.get(lang)))?,
        };
        values.push(value);
    }
    let Some(id) = store.find(kind, &values)? else { bail!("no {} {key}", def.name) };
    let history = store.history(kind, id)?;
    if history.is_empty() {
        println!("{}", if lang == Lang::Zh { "没有历史版本" } else { "no previous versions" });
    }
    for h in history {
        println!(
            "{}  run {}  {}",
            shian_domain::time::format_datetime(h.replaced_at),
            h.import_run.map(|r| r.to_string()).unwrap_or("-".into()),
            h.previous
        );
    }
    Ok(ExitCode::SUCCESS)
}
