//! `shian generate` and `shian demo`: a simulated province.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use shian_domain::Lang;
use shian_services::demo::{DemoAccount, ensure_demo_accounts};
use shian_sim::{Plan, Scale};

use super::stats::table;
use crate::memory::{mib, peak_rss};
use crate::progress::PhaseBar;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// small (≈1/100 of the seed), city (≈1/10) or province (the seed's figures: 25 M order records).
    #[arg(long, default_value = "small", value_parser = parse_scale)]
    pub scale: Scale,
    /// Random seed; the same seed and scale give the same province.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Where to write the hidden ground truth (default: beside the database, `NAME.truth.json`).
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Scale of the demo province, when the database is missing: small, city (the default: about
    /// 15 s to generate on two cores) or province.
    #[arg(long, default_value = "city", value_parser = parse_scale)]
    pub scale: Scale,
    /// Random seed of the demo province.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Address to serve the web platform on.
    #[arg(long, default_value = super::serve::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Prepare the database and the demo accounts, but do not serve.
    #[arg(long)]
    pub no_serve: bool,
}

fn parse_scale(s: &str) -> Result<Scale, String> {
    Scale::parse(s).ok_or_else(|| format!("unknown scale {s:?}: small, city or province"))
}

/// The file path of a SQLite URL.
pub fn db_path(url: &str) -> PathBuf {
    PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url))
}

/// `shian.db` → `shian.truth.json`, beside it.
pub fn default_truth_path(db: &Path) -> PathBuf {
    db.with_extension("truth.json")
}

pub fn generate(url: &str, args: &Args, lang: Lang) -> Result<ExitCode> {
    let path = db_path(url);
    let truth = args.truth.clone().unwrap_or_else(|| default_truth_path(&path));
    let started = Instant::now();
    let mut store = super::open(url)?;
    let plan = Plan::for_scale(args.scale);
    let bar = PhaseBar::new();
    match shian_sim::generate(store.as_mut(), &plan, args.seed, &truth, &bar) {
        Ok(()) => {}
        Err(shian_sim::SimError::NotEmpty(n)) if lang == Lang::Zh => {
            bail!("数据库已有 {n} 条记录，请生成到一个新的数据库")
        }
        Err(e) => return Err(e).context(if lang == Lang::Zh { "生成失败" } else { "generation failed" }),
    }
    bar.finish();
    let elapsed = started.elapsed();
    let phases: Vec<String> = bar.timings.borrow().iter().map(|(p, s)| format!("{p} {s:.1}s")).collect();
    eprintln!("{}", phases.join(", "));
    let counts = shian_services::stats::counts(store.as_ref())?;
    drop(store);
    print!("{}", table(&counts, shian_services::stats::order_records(&counts), lang));
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let peak = peak_rss().map(mib).unwrap_or_else(|| "?".into());
    match lang {
        Lang::Zh => println!(
            "用时 {:.1} 秒，峰值内存 {peak}，数据库 {}（{}），真实风险（评估专用，产品不读取）写入 {}",
            elapsed.as_secs_f64(),
            path.display(),
            mib(size),
            truth.display()
        ),
        Lang::En => println!(
            "took {:.1} s, peak memory {peak}, database {} ({}), ground truth (for evaluation only; the product never reads it) in {}",
            elapsed.as_secs_f64(),
            path.display(),
            mib(size),
            truth.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `shian demo`: the demo province (generated if the database is missing), the demo accounts
/// (made if missing), then the web platform on `--listen` (unless `--no-serve`).
pub fn demo(url: &str, args: &DemoArgs, lang: Lang) -> Result<ExitCode> {
    let path = db_path(url);
    if path.exists() {
        show_existing(url, &path, lang)?;
    } else {
        match lang {
            Lang::Zh => println!("正在生成演示省份数据（规模 {:?}）到 {} …", args.scale, path.display()),
            Lang::En => println!("generating the demo province ({:?}) into {} …", args.scale, path.display()),
        }
        generate(url, &Args { scale: args.scale, seed: args.seed, truth: None }, lang)?;
    }
    let accounts = {
        let mut store = super::open(url)?;
        ensure_demo_accounts(store.as_mut()).map_err(|e| anyhow::anyhow!(e.message(lang)))?
    };
    print!("{}", demo_accounts_text(&accounts, lang));
    if args.no_serve {
        let url = super::serve::url_of(args.listen);
        match lang {
            Lang::Zh => println!("未启动 Web 平台（--no-serve）；启动后访问 {url}"),
            Lang::En => println!("not serving (--no-serve); once served it is at {url}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    super::serve::run(url, args.listen, None, lang)
}

/// Prints what an existing demo database holds; refuses one that holds no records.
fn show_existing(url: &str, path: &Path, lang: Lang) -> Result<()> {
    let store = super::open(url)?;
    let counts = shian_services::stats::counts(store.as_ref())?;
    if counts.iter().all(|(k, n)| *n == 0 || !k.def().importable) {
        match lang {
            Lang::Zh => bail!("{} 已存在但没有任何记录：删除它即可重新生成", path.display()),
            Lang::En => bail!("{} exists but holds no records: remove it to regenerate", path.display()),
        }
    }
    print!("{}", table(&counts, shian_services::stats::order_records(&counts), lang));
    match lang {
        Lang::Zh => println!("数据库 {} 已存在；删除它即可重新生成。", path.display()),
        Lang::En => println!("{} already exists; delete it to regenerate.", path.display()),
    }
    Ok(())
}

/// How many demo accounts were made, and the table of all of them with their password.
fn demo_accounts_text(accounts: &[DemoAccount], lang: Lang) -> String {
    let created = accounts.iter().filter(|a| a.created).count();
    let existing = accounts.len() - created;
    let mut out = match lang {
        Lang::Zh => format!("演示账号：新建 {created} 个，已有 {existing} 个（密码仅供本机演示使用）\n"),
        Lang::En => {
            format!("demo accounts: {created} created, {existing} existing (passwords for the local demo only)\n")
        }
    };
    let headers = match lang {
        Lang::Zh => ["用户名", "角色", "管辖范围", "密码"],
        Lang::En => ["user name", "role", "scope", "password"],
    };
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| vec![a.username.clone(), a.role.label(lang).to_string(), a.scope_label.clone(), a.password.clone()])
        .collect();
    out += &super::columns(&headers, &rows);
    out
}
