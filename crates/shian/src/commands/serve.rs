//! `shian serve`: the web platform on a local address.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use shian_domain::Lang;

/// The address served when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0: any free port; the ready line says which).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// A GeoJSON map of the province to use instead of the built-in one.
    #[arg(long)]
    pub map_file: Option<PathBuf>,
    /// The base of the links printed in QR codes (e.g. https://sa.example.cn); default the
    /// listen address.
    #[arg(long, env = "SHIAN_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// `shian serve`: refuses a database that does not exist, then serves until Ctrl-C or SIGTERM.
pub fn serve(url: &str, args: &Args, lang: Lang) -> Result<ExitCode> {
    drop(super::open_existing(url, lang)?);
    run_with(url, args.listen, args.map_file.clone(), args.public_url.clone(), lang)
}

/// Serves a database known to exist; prints the ready line once listening.
pub fn run(url: &str, listen: SocketAddr, map_file: Option<PathBuf>, lang: Lang) -> Result<ExitCode> {
    run_with(url, listen, map_file, None, lang)
}

/// [`run`] with the public base URL of the QR codes given.
pub fn run_with(
    url: &str,
    listen: SocketAddr,
    map_file: Option<PathBuf>,
    public_url: Option<String>,
    lang: Lang,
) -> Result<ExitCode> {
    let opts = shian_web::ServeOptions { db: url.to_string(), listen, map_file, public_url };
    shian_web::run(opts, |addr| ready(addr, lang))?;
    Ok(ExitCode::SUCCESS)
}

/// The one line that says the platform is up (tests read it to learn the port).
fn ready(addr: SocketAddr, lang: Lang) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", ready_line(addr, lang));
    let _ = out.flush();
}

/// `食安平台已启动：http://ADDR/` (English: `Shian is serving on http://ADDR/`).
pub fn ready_line(addr: SocketAddr, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("食安平台已启动：{}", url_of(addr)),
        Lang::En => format!("Shian is serving on {}", url_of(addr)),
    }
}

/// `http://ADDR/`.
pub fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}
