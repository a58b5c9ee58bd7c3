//! `shian qr`: the public QR codes (一码公开) from the command line — issue tokens for a market or
//! the whole province, write a vendor's or a lot's code as SVG or PNG, print a market's posters
//! as one PDF, withdraw or reissue a code, record a vendor's own public commitment.
//!
//! The printed links start with `--public-url` (or `SHIAN_PUBLIC_URL`), the address the public
//! reaches the platform at; the default is the address `shian serve` listens on by default.
//! Every issue and withdrawal is written to the audit log with the actor `cli:$USER`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use shian_domain::{Kind, Lang, Value};
use shian_services::public::poster::{self, Layout};
use shian_services::public::{PublicError, lot_path, public_url, qr, token, vendor_path};
use shian_store::Store;
use shian_store::public::Commitment;

use super::user::actor;

/// The public base URL when none is given: what `shian serve` listens on by default.
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Subcommand)]
pub enum QrCommand {
    /// Issue codes to the active vendors with an agreement in force that have none (发放公示码).
    Issue {
        /// A market's code.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        market: Option<String>,
        /// Every market of the database.
        #[arg(long)]
        all: bool,
    },
    /// Write a vendor's code as an image (导出经营者二维码).
    Vendor {
        /// The vendor's code.
        code: String,
        #[command(flatten)]
        out: ImageOut,
    },
    /// Write an item-level code of a vendor's lot as an image (批次二维码).
    Lot {
        /// The vendor's code.
        #[arg(long)]
        vendor: String,
        /// The lot's trace code (批次追溯码).
        #[arg(long)]
        lot: String,
        #[command(flatten)]
        out: ImageOut,
    },
    /// Print a market's posters, one PDF (打印公示码海报).
    Posters {
        /// The market's code.
        #[arg(long)]
        market: String,
        /// Posters per A4 page: 1 or 4.
        #[arg(long, default_value = "1", value_parser = ["1", "4"])]
        per_page: String,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[arg(long, env = "SHIAN_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
        public_url: String,
    },
    /// Withdraw a vendor's code: its page then says it is no longer valid (作废公示码).
    Revoke {
        code: String,
        #[arg(long, default_value = "withdrawn")]
        reason: String,
    },
    /// Withdraw a vendor's code and issue a new one (重新生成公示码).
    Reissue { code: String },
    /// Record the public commitment a vendor signed (登记主体承诺).
    Commitment {
        code: String,
        /// The text, as signed.
        #[arg(long)]
        text: String,
        /// When it was signed (YYYY-MM-DD).
        #[arg(long)]
        signed_on: Option<String>,
    },
}

/// Where and how an image is written.
#[derive(Debug, clap::Args)]
pub struct ImageOut {
    #[arg(long, default_value = "svg", value_parser = ["svg", "png"])]
    format: String,
    #[arg(short = 'o', long)]
    output: PathBuf,
    #[arg(long, env = "SHIAN_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
    public_url: String,
}

fn t(lang: Lang, zh: String, en: String) -> String {
    if lang == Lang::En { en } else { zh }
}

fn service(e: PublicError, lang: Lang) -> anyhow::Error {
    match e {
        PublicError::Refused(m) | PublicError::Font(m) => anyhow!(m.get(lang).to_string()),
        other => anyhow!(other),
    }
}

/// Runs a `shian qr` command.
pub fn run(store: &mut dyn Store, cmd: &QrCommand, lang: Lang) -> Result<ExitCode> {
    let actor = actor();
    match cmd {
        QrCommand::Issue { market, .. } => issue(store, market.as_deref(), &actor, lang)?,
        QrCommand::Vendor { code, out } => vendor_image(store, code, out, &actor, lang)?,
        QrCommand::Lot { vendor, lot, out } => lot_image(store, vendor, lot, out, &actor, lang)?,
        QrCommand::Posters { market, per_page, output, public_url } => {
            posters(store, market, per_page == "4", output, public_url, &actor, lang)?
        }
        QrCommand::Revoke { code, reason } => revoke(store, code, reason, &actor, lang)?,
        QrCommand::Reissue { code } => reissue(store, code, &actor, lang)?,
        QrCommand::Commitment { code, text, signed_on } => commitment(store, code, text, signed_on.as_deref(), lang)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn find(store: &dyn Store, kind: Kind, code: &str, lang: Lang) -> Result<i64> {
    store.find(kind, &[Value::Text(code.to_string())])?.with_context(|| {
        let what = if kind == Kind::Market { ("市场", "market") } else { ("经营者", "vendor") };
        t(lang, format!("找不到{}“{code}”", what.0), format!("no {} {code:?}", what.1))
    })
}

fn issue(store: &mut dyn Store, market: Option<&str>, actor: &str, lang: Lang) -> Result<()> {
    let market = market.map(|m| find(store, Kind::Market, m, lang)).transpose()?;
    let n = token::issue_missing(store, market, actor).map_err(|e| service(e, lang))?;
    println!("{}", t(lang, format!("已发放公示码 {n} 个"), format!("{n} codes issued")));
    Ok(())
}

fn write(path: &Path, bytes: &[u8], lang: Lang) -> Result<()> {
    std::fs::write(path, bytes)
        .with_context(|| t(lang, format!("无法写入 {}", path.display()), format!("cannot write {}", path.display())))?;
    println!("{}", t(lang, format!("已写入 {}", path.display()), format!("written to {}", path.display())));
    Ok(())
}

fn image(url: &str, out: &ImageOut, lang: Lang) -> Result<()> {
    let bytes = match out.format.as_str() {
        "png" => qr::png(url, 10),
        _ => qr::svg(url, 240).map(String::into_bytes),
    }
    .map_err(|e| service(e, lang))?;
    println!("{url}");
    write(&out.output, &bytes, lang)
}

fn vendor_image(store: &mut dyn Store, code: &str, out: &ImageOut, actor: &str, lang: Lang) -> Result<()> {
    let id = find(store, Kind::Vendor, code, lang)?;
    if let Some(why) = token::vendor_validity(store, id).map_err(|e| service(e, lang))? {
        eprintln!(
            "{}",
            t(
                lang,
                format!("注意：该经营者的公示页显示为失效（{why:?}）"),
                format!("note: this vendor's page shows as no longer valid ({why:?})")
            )
        );
    }
    let tok = token::token_for(store, id, None, actor).map_err(|e| service(e, lang))?;
    image(&public_url(&out.public_url, &vendor_path(&tok.token)), out, lang)
}

fn lot_image(store: &mut dyn Store, vendor: &str, lot: &str, out: &ImageOut, actor: &str, lang: Lang) -> Result<()> {
    let id = find(store, Kind::Vendor, vendor, lang)?;
    if store.receipts_of_lot(id, lot)?.is_empty() {
        bail!(t(
            lang,
            format!("经营者 {vendor} 没有批次 {lot} 的进货记录"),
            format!("vendor {vendor} has no receipt of lot {lot}")
        ));
    }
    let tok = token::token_for(store, id, Some(lot), actor).map_err(|e| service(e, lang))?;
    image(&public_url(&out.public_url, &lot_path(&tok.token)), out, lang)
}

fn posters(
    store: &mut dyn Store,
    market: &str,
    four: bool,
    output: &Path,
    base: &str,
    actor: &str,
    lang: Lang,
) -> Result<()> {
    let id = find(store, Kind::Market, market, lang)?;
    let (items, skipped) = poster::market_items(store, id, base, actor).map_err(|e| service(e, lang))?;
    if items.is_empty() {
        bail!(t(
            lang,
            format!("市场 {market} 没有可公示的经营者"),
            format!("market {market} has no vendor to publish")
        ));
    }
    let layout = if four { Layout::Four } else { Layout::One };
    let pdf = poster::render(&items, layout, &format!("公示码海报 · {market}")).map_err(|e| service(e, lang))?;
    write(output, &pdf, lang)?;
    println!(
        "{}",
        t(
            lang,
            format!("海报 {} 张；{skipped} 个经营者已退场或协议已解除，未打印", items.len()),
            format!(
                "{} posters; {skipped} vendors left or had their agreement terminated and were not printed",
                items.len()
            )
        )
    );
    Ok(())
}

fn revoke(store: &mut dyn Store, code: &str, reason: &str, actor: &str, lang: Lang) -> Result<()> {
    let id = find(store, Kind::Vendor, code, lang)?;
    let done = token::revoke(store, id, None, actor, reason).map_err(|e| service(e, lang))?;
    let msg = match done {
        true => t(lang, "公示码已作废".into(), "code withdrawn".into()),
        false => t(lang, "该经营者没有有效的公示码".into(), "the vendor has no live code".into()),
    };
    println!("{msg}");
    Ok(())
}

fn reissue(store: &mut dyn Store, code: &str, actor: &str, lang: Lang) -> Result<()> {
    let id = find(store, Kind::Vendor, code, lang)?;
    let tok = token::reissue(store, id, None, actor).map_err(|e| service(e, lang))?;
    println!(
        "{}",
        t(lang, format!("新公示码：{}", vendor_path(&tok.token)), format!("new code: {}", vendor_path(&tok.token)))
    );
    Ok(())
}

fn commitment(store: &mut dyn Store, code: &str, text: &str, signed_on: Option<&str>, lang: Lang) -> Result<()> {
    let id = find(store, Kind::Vendor, code, lang)?;
    let text = shian_services::public::feedback::plain_text(text, 1000, "承诺内容", "the commitment")
        .map_err(|e| service(e, lang))?;
    if let Some(d) = signed_on
        && shian_domain::time::parse_date(d).is_none()
    {
        bail!(t(lang, format!("日期“{d}”无效"), format!("invalid date {d:?}")));
    }
    let c = Commitment { text, signed_on: signed_on.map(str::to_string), recorded_at: shian_services::accounts::now() };
    store.set_commitment(id, &c)?;
    println!("{}", t(lang, "主体承诺已登记".into(), "commitment recorded".into()));
    Ok(())
}
