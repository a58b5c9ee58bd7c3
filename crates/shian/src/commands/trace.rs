//! `shian trace back REF` and `shian trace forward REF`: a lot's path back to its origin, or its
//! recipients forward, as an indented tree (Chinese by default) or JSON. Besides a reference, a
//! trace starts from a producer, a vendor + variety or (backward) a buyer with `--from/--to` dates.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use shian_domain::Lang;
use shian_services::balance::{BalanceOptions, BalanceReport, mass_balance};
use shian_services::trace::{
    self, DateRange, Direction, Link, Node, RegionTotal, Start, Total, TraceOptions, TraceTree,
};
use shian_services::trace_export;
use shian_store::Store;

#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Trace back to origin certificates and producers (逆向追溯：来源).
    Back(Box<TraceArgs>),
    /// Trace forward to every recipient: the recall scope (正向追踪：去向).
    Forward(Box<TraceArgs>),
    /// Mass balance per lot (物料平衡): lots that sold more than they received, per vendor and
    /// market.
    Balance(BalanceArgs),
}

#[derive(Debug, clap::Args)]
pub struct BalanceArgs {
    /// Only the lots of this market's vendors (a market code).
    #[arg(long)]
    pub market: Option<String>,
    /// Lines shown per list (violations, vendors, markets); with --json, violations kept.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// What to trace from: a lot code, a certificate number, a sale as SOURCE,EXT_ID, a test number
    /// or a sample number (recognised in that order).
    pub reference: Option<String>,
    /// A lot code (批次追溯码).
    #[arg(long, conflicts_with_all = ["reference", "certificate", "sale", "test", "sample"])]
    pub lot: Option<String>,
    /// An origin certificate number (合格证编号).
    #[arg(long, conflicts_with_all = ["reference", "sale", "test", "sample"])]
    pub certificate: Option<String>,
    /// A sale as SOURCE,EXT_ID (销货记录).
    #[arg(long, conflicts_with_all = ["reference", "test", "sample"])]
    pub sale: Option<String>,
    /// A rapid test number (快检编号).
    #[arg(long, conflicts_with_all = ["reference", "sample"])]
    pub test: Option<String>,
    /// A sample number (抽样单编号).
    #[arg(long, conflicts_with = "reference")]
    pub sample: Option<String>,
    /// Forward: a producer's code (生产者编码) — the goods vendors received from it, or with its
    /// certificates, from --from to --to.
    #[arg(long, value_name = "CODE", requires_all = ["from", "to"],
          conflicts_with_all = ["reference", "lot", "certificate", "sale", "test", "sample", "vendor", "buyer"])]
    pub producer: Option<String>,
    /// Forward: a vendor's code (销售者编码), with --variety: its lots of the variety received from
    /// --from to --to.
    #[arg(long, value_name = "CODE", requires_all = ["variety", "from", "to"],
          conflicts_with_all = ["reference", "lot", "certificate", "sale", "test", "sample", "buyer"])]
    pub vendor: Option<String>,
    /// A variety code (品种编码), with --vendor.
    #[arg(long, value_name = "CODE", requires = "vendor")]
    pub variety: Option<String>,
    /// Back: a downstream buyer's code (下游单位编码: supermarket store, restaurant, canteen) — the
    /// sales to it from --from to --to, back to their origin.
    #[arg(long, value_name = "CODE", requires_all = ["from", "to"],
          conflicts_with_all = ["reference", "lot", "certificate", "sale", "test", "sample"])]
    pub buyer: Option<String>,
    /// First day (YYYY-MM-DD, China time, included) for --producer, --vendor or --buyer.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD, China time, included) for --producer, --vendor or --buyer.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Only links named in the records; leave out inferred ones.
    #[arg(long)]
    pub confirmed_only: bool,
    /// Days before a sale naming no lot in which the seller's receipts are candidate lots.
    #[arg(long, default_value_t = 3)]
    pub window_days: u32,
    /// Also write the recall list (召回清单) as XLSX to FILE (forward traces only).
    #[arg(long, value_name = "FILE")]
    pub recall_xlsx: Option<PathBuf>,
    /// Also write the FDA FSMA 204 sortable spreadsheet (shipping and receiving events) as XLSX to
    /// FILE.
    #[arg(long, value_name = "FILE")]
    pub fsma204: Option<PathBuf>,
}

pub fn run(store: &dyn Store, cmd: &TraceCommand, lang: Lang) -> Result<ExitCode> {
    let (args, back) = match cmd {
        TraceCommand::Back(a) => (a.as_ref(), true),
        TraceCommand::Forward(a) => (a.as_ref(), false),
        TraceCommand::Balance(a) => return balance(store, a, lang),
    };
    if back && args.recall_xlsx.is_some() {
        return Err(anyhow!(match lang {
            Lang::Zh => "召回清单（--recall-xlsx）须由正向追踪生成：shian trace forward",
            Lang::En => "a recall list (--recall-xlsx) comes from a forward trace: shian trace forward",
        }));
    }
    let start = start(store, args, lang)?;
    let opts =
        TraceOptions { window_days: args.window_days, confirmed_only: args.confirmed_only, ..Default::default() };
    let tree = if back { trace::backward(store, &start, &opts) } else { trace::forward(store, &start, &opts) }
        .map_err(|e| anyhow!(e.describe(lang)))?;
    if let Some(path) = &args.recall_xlsx {
        let n = write_file(path, lang, |out| trace_export::recall_xlsx(&tree, lang, out))?;
        eprintln!("{}", written(lang, "召回清单", "recall list", n, path));
    }
    if let Some(path) = &args.fsma204 {
        let n = write_file(path, lang, |out| trace_export::fsma204_xlsx(store, &tree, lang, out))?;
        eprintln!("{}", written(lang, "FSMA 204 电子可排序表", "FSMA 204 sortable spreadsheet", n, path));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tree)?);
    } else {
        print!("{}", render(&tree, lang));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes an export to `path`, made in memory first so a failed export leaves no partial file.
fn write_file(
    path: &Path,
    lang: Lang,
    export: impl FnOnce(&mut dyn std::io::Write) -> Result<usize, trace_export::TraceExportError>,
) -> Result<usize> {
    let mut buf = Vec::new();
    let n = export(&mut buf).map_err(|e| anyhow!(e.describe(lang)))?;
    std::fs::write(path, buf).map_err(|e| {
        anyhow!(match lang {
            Lang::Zh => format!("无法写入 {}：{e}", path.display()),
            Lang::En => format!("cannot write {}: {e}", path.display()),
        })
    })?;
    Ok(n)
}

fn written(lang: Lang, zh: &str, en: &str, rows: usize, path: &Path) -> String {
    match lang {
        Lang::Zh => format!("已写出{zh} {rows} 行：{}", path.display()),
        Lang::En => format!("wrote the {en}, {rows} rows: {}", path.display()),
    }
}

fn start(store: &dyn Store, a: &TraceArgs, lang: Lang) -> Result<Start> {
    let sale = |s: &str| match s.split_once(',') {
        Some((source, ext_id)) => Ok(Start::Sale { source: source.trim().into(), ext_id: ext_id.trim().into() }),
        None => Err(anyhow!(match lang {
            Lang::Zh => format!("销货记录应写作 来源系统,来源记录号：{s}"),
            Lang::En => format!("a sale is SOURCE,EXT_ID: {s}"),
        })),
    };
    let range = || -> Result<DateRange> {
        let (from, to) = (a.from.as_deref().unwrap_or_default(), a.to.as_deref().unwrap_or_default());
        DateRange::parse(from, to).ok_or_else(|| {
            anyhow!(match lang {
                Lang::Zh =>
                    format!("日期范围应写作 --from YYYY-MM-DD --to YYYY-MM-DD，且起日不晚于止日：{from} 至 {to}"),
                Lang::En =>
                    format!("a date range is --from YYYY-MM-DD --to YYYY-MM-DD, from not after to: {from} to {to}"),
            })
        })
    };
    if let Some(code) = &a.producer {
        return Ok(Start::Producer { code: code.clone(), range: range()? });
    }
    if let (Some(vendor), Some(variety)) = (&a.vendor, &a.variety) {
        return Ok(Start::VendorVariety { vendor: vendor.clone(), variety: variety.clone(), range: range()? });
    }
    if let Some(code) = &a.buyer {
        return Ok(Start::Buyer { code: code.clone(), range: range()? });
    }
    if a.from.is_some() || a.to.is_some() {
        return Err(anyhow!(match lang {
            Lang::Zh => "--from/--to 须与 --producer、--vendor --variety 或 --buyer 同用",
            Lang::En => "--from/--to go with --producer, --vendor --variety or --buyer",
        }));
    }
    Ok(match (&a.reference, &a.lot, &a.certificate, &a.sale, &a.test, &a.sample) {
        (_, Some(l), ..) => Start::Lot(l.clone()),
        (_, _, Some(c), ..) => Start::Certificate(c.clone()),
        (_, _, _, Some(s), ..) => sale(s)?,
        (_, _, _, _, Some(t), _) => Start::Test(t.clone()),
        (_, _, _, _, _, Some(s)) => Start::Sample(s.clone()),
        (Some(r), ..) => Start::detect(store, r).map_err(|e| anyhow!(e.describe(lang)))?,
        _ => {
            return Err(anyhow!(match lang {
                Lang::Zh => {
                    "请给出追溯起点：批次追溯码、合格证、销货记录、快检、抽样单，或 --producer、--vendor --variety、--buyer 加日期范围"
                }
                Lang::En => {
                    "give a starting point: a lot code, certificate, sale, test or sample, or --producer, --vendor \
                     --variety or --buyer with dates"
                }
            }));
        }
    })
}

/// The tree as indented text.
pub fn render(tree: &TraceTree, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let title = match (tree.direction, zh) {
        (Direction::Backward, true) => "逆向追溯（来源）",
        (Direction::Backward, false) => "Backward trace (origin)",
        (Direction::Forward, true) => "正向追踪（去向）",
        (Direction::Forward, false) => "Forward trace (recipients)",
    };
    let mut out = format!("{title}: {}\n", tree.start);
    if tree.roots.is_empty() {
        out += if zh { "（范围内没有记录）\n" } else { "(no records in the range)\n" };
    }
    for root in &tree.roots {
        out += &format!("{}\n", line(root, tree.direction, lang));
        if !root.candidate_lots.is_empty() {
            let lots = root.candidate_lots.join(", ");
            out += &if zh {
                format!("   （未注明批次；候选批次（推断，先进先出）：{lots}）\n")
            } else {
                format!("   (no lot named; candidate lots, inferred first in first out: {lots})\n")
            };
        }
        children(&mut out, root, "", tree.direction, lang);
    }
    if !tree.totals.is_empty() {
        out += if zh { "\n合计（按去向类型）:\n" } else { "\nTotals by kind of recipient:\n" };
        for t in &tree.totals {
            out += &format!("  {}\n", total(t, lang));
        }
    }
    if !tree.regions.is_empty() {
        out += if zh { "\n合计（按去向地区）:\n" } else { "\nTotals by region of recipient:\n" };
        for t in &tree.regions {
            out += &format!("  {}\n", region_total(t, lang));
        }
    }
    if tree.truncated {
        out += if zh {
            "\n注意：已达追溯上限，结果不完整\n"
        } else {
            "\nNote: a limit was reached; the trace is incomplete\n"
        };
    }
    out
}

fn children(out: &mut String, node: &Node, indent: &str, d: Direction, lang: Lang) {
    for (i, c) in node.children.iter().enumerate() {
        let last = i + 1 == node.children.len();
        out.push_str(&format!("{indent}{}{}\n", if last { "└─ " } else { "├─ " }, line(c, d, lang)));
        children(out, c, &format!("{indent}{}", if last { "   " } else { "│  " }), d, lang);
    }
}

/// One node: the record linking it, then who it is.
fn line(n: &Node, d: Direction, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut s = String::new();
    if let Some(l) = &n.link {
        s += &link(l, n.records, lang);
        s += if d == Direction::Backward { " ← " } else { " → " };
    }
    s += &party(n, lang);
    if let Some(lot) = &n.lot {
        s += &if zh { format!(" 批次 {lot}") } else { format!(" lot {lot}") };
    }
    if let Some(c) = &n.certificate {
        s += &if zh { format!(" 合格证 {c}") } else { format!(" certificate {c}") };
    }
    if let Some(q) = n.link.as_ref().and_then(|l| l.quarantine.as_ref()) {
        s += &if zh { format!(" 检疫证明 {q}") } else { format!(" quarantine certificate {q}") };
    }
    if n.seen_before {
        s += if zh { "（见上，不再展开）" } else { " (shown above)" };
    }
    s
}

fn link(l: &Link, records: usize, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let what = match (l.record, zh) {
        ("inbound", true) => "进货",
        ("inbound", false) => "received",
        (_, true) => "销货",
        (_, false) => "sold",
    };
    let count = match (records > 1, zh) {
        (true, true) => format!(" 共 {records} 笔"),
        (true, false) => format!(" in {records} records"),
        _ => String::new(),
    };
    let mut s = format!("{what} {} {}{count} · {} · {}/{}", fmt_qty(l.quantity), l.unit, l.time, l.source, l.ext_id);
    if let Some(b) = &l.basis {
        s += &if zh { format!("（推断：{}）", b.zh) } else { format!(" (inferred: {})", b.en) };
    }
    s
}

fn party(n: &Node, lang: Lang) -> String {
    let p = &n.party;
    let mut s = kind_label(&p.kind, p.canteen_kind.as_deref(), lang).to_string();
    if let Some(code) = &p.code {
        s += &format!(" {code}");
    }
    if let Some(name) = p.name.as_ref().filter(|name| Some(*name) != p.code.as_ref()) {
        s += &format!(" {name}");
    }
    if let Some(d) = p.detail.as_ref().filter(|_| p.kind == "vendor") {
        s += &if lang == Lang::Zh { format!("（{d}）") } else { format!(" ({d})") };
    }
    if p.school {
        s += if lang == Lang::Zh { " ⚠学校/幼儿园" } else { " ⚠school" };
    }
    s
}

fn kind_label(kind: &str, canteen: Option<&str>, lang: Lang) -> &'static str {
    let zh = lang == Lang::Zh;
    match (kind, canteen) {
        ("canteen", Some("school")) => {
            if zh {
                "学校食堂"
            } else {
                "school canteen"
            }
        }
        ("canteen", Some("kindergarten")) => {
            if zh {
                "幼儿园食堂"
            } else {
                "kindergarten canteen"
            }
        }
        _ => match kind {
            "vendor" => {
                if zh {
                    "销售者"
                } else {
                    "vendor"
                }
            }
            "producer" => {
                if zh {
                    "生产者"
                } else {
                    "producer"
                }
            }
            "supermarket" => {
                if zh {
                    "超市"
                } else {
                    "supermarket"
                }
            }
            "restaurant" => {
                if zh {
                    "餐馆"
                } else {
                    "restaurant"
                }
            }
            "canteen" => {
                if zh {
                    "食堂"
                } else {
                    "canteen"
                }
            }
            "processor" => {
                if zh {
                    "食品加工企业"
                } else {
                    "food processor"
                }
            }
            "consumer" => {
                if zh {
                    "消费者"
                } else {
                    "consumers"
                }
            }
            "buyer" => {
                if zh {
                    "下游单位"
                } else {
                    "downstream unit"
                }
            }
            _ => {
                if zh {
                    "其他"
                } else {
                    "other"
                }
            }
        },
    }
}

fn total(t: &Total, lang: Lang) -> String {
    let label = kind_label(&t.kind, None, lang);
    let school = if t.school_canteens > 0 {
        match lang {
            Lang::Zh => format!("，其中学校/幼儿园食堂 {} 家", t.school_canteens),
            Lang::En => format!(", {} of them school or kindergarten canteens", t.school_canteens),
        }
    } else {
        String::new()
    };
    match lang {
        Lang::Zh => format!(
            "{label}：{} 个，{} 笔（推断 {} 笔），{} kg{school}",
            t.recipients,
            t.records,
            t.inferred_records,
            fmt_qty(t.quantity_kg)
        ),
        Lang::En => format!(
            "{label}: {} recipients, {} records ({} inferred), {} kg{school}",
            t.recipients,
            t.records,
            t.inferred_records,
            fmt_qty(t.quantity_kg)
        ),
    }
}

fn region_total(t: &RegionTotal, lang: Lang) -> String {
    let region = match (t.region.is_empty(), lang) {
        (true, Lang::Zh) => "地区不详".to_string(),
        (true, Lang::En) => "region unknown".to_string(),
        (false, _) => format!("{} {}", shian_services::accounts::region_label(&t.region), t.region),
    };
    let school = match (t.school_canteens > 0, lang) {
        (true, Lang::Zh) => format!("，其中学校/幼儿园食堂 {} 家", t.school_canteens),
        (true, Lang::En) => format!(", {} of them school or kindergarten canteens", t.school_canteens),
        _ => String::new(),
    };
    match lang {
        Lang::Zh => format!(
            "{region}：{} 个去向，{} 笔（推断 {} 笔），{} kg{school}",
            t.recipients,
            t.records,
            t.inferred_records,
            fmt_qty(t.quantity_kg)
        ),
        Lang::En => format!(
            "{region}: {} recipients, {} records ({} inferred), {} kg{school}",
            t.recipients,
            t.records,
            t.inferred_records,
            fmt_qty(t.quantity_kg)
        ),
    }
}

fn fmt_qty(q: f64) -> String {
    shian_domain::field::format_real((q * 100.0).round() / 100.0)
}

fn balance(store: &dyn Store, a: &BalanceArgs, lang: Lang) -> Result<ExitCode> {
    let opts = BalanceOptions { market: a.market.clone(), ..Default::default() };
    let mut report = mass_balance(store, &opts).map_err(|e| anyhow!(e.describe(lang)))?;
    if a.json {
        report.violations.truncate(a.limit);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_balance(&report, a.limit, lang));
    }
    Ok(ExitCode::SUCCESS)
}

/// The mass balance as text: the counts, then markets, vendors and lots, `limit` lines each.
pub fn render_balance(r: &BalanceReport, limit: usize, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut out = if zh {
        format!(
            "物料平衡（批次销货量 ≤ 进货量，仅计注明批次的销货）：检查 {} 个有销货的批次，{} 个销货超出进货，{} 个单位无法换算\n",
            r.lots_checked,
            r.violations.len(),
            r.unconvertible
        )
    } else {
        format!(
            "Mass balance (sold ≤ received per lot, sales naming the lot only): {} lots with sales checked, {} sold \
             more than received, {} with units that cannot be compared\n",
            r.lots_checked,
            r.violations.len(),
            r.unconvertible
        )
    };
    if r.violations.is_empty() {
        return out;
    }
    let market = |m: &str| {
        if m.is_empty() { if zh { "（无市场）".to_string() } else { "(no market)".into() } } else { m.to_string() }
    };
    out += if zh { "\n按市场：\n" } else { "\nBy market:\n" };
    for m in r.per_market.iter().take(limit) {
        out += &if zh {
            format!(
                "  {}：{} 个批次，{} 个销售者，超出 {} kg\n",
                market(&m.market),
                m.violations,
                m.vendors,
                fmt_qty(m.excess_kg)
            )
        } else {
            format!(
                "  {}: {} lots, {} vendors, {} kg over\n",
                market(&m.market),
                m.violations,
                m.vendors,
                fmt_qty(m.excess_kg)
            )
        };
    }
    out += if zh { "\n按销售者：\n" } else { "\nBy vendor:\n" };
    for v in r.per_vendor.iter().take(limit) {
        out += &if zh {
            format!(
                "  {} {}（{}）：{} 个批次，超出 {} kg\n",
                v.vendor_code,
                v.vendor_name,
                market(&v.market),
                v.violations,
                fmt_qty(v.excess_kg)
            )
        } else {
            format!(
                "  {} {} ({}): {} lots, {} kg over\n",
                v.vendor_code,
                v.vendor_name,
                market(&v.market),
                v.violations,
                fmt_qty(v.excess_kg)
            )
        };
    }
    out += if zh { "\n批次明细：\n" } else { "\nLots:\n" };
    for v in r.violations.iter().take(limit) {
        out += &if zh {
            format!(
                "  {} 批次 {}：进货 {} {}（{} 笔），销货 {} {}（{} 笔），超出 {} {}\n",
                v.vendor_code,
                v.lot_code,
                fmt_qty(v.received),
                v.unit,
                v.receipts,
                fmt_qty(v.sold),
                v.unit,
                v.sales,
                fmt_qty(v.excess),
                v.unit
            )
        } else {
            format!(
                "  {} lot {}: received {} {} ({} records), sold {} {} ({} records), {} {} over\n",
                v.vendor_code,
                v.lot_code,
                fmt_qty(v.received),
                v.unit,
                v.receipts,
                fmt_qty(v.sold),
                v.unit,
                v.sales,
                fmt_qty(v.excess),
                v.unit
            )
        };
    }
    if r.violations.len() > limit {
        out += &if zh {
            format!("  …… 另有 {} 个批次（--limit 调整）\n", r.violations.len() - limit)
        } else {
            format!("  … {} more lots (see --limit)\n", r.violations.len() - limit)
        };
    }
    out
}
