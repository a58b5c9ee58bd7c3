//! Printable QR posters (公示码海报): one PDF for a whole market, A4, one poster per page or four
//! (A6 each, to cut along the lines), with the vendor's name, stall, market, the platform's name,
//! the QR code and its short URL.
//!
//! The Chinese font is embedded as a subset (krilla keeps only the glyphs used), so a market's
//! posters weigh tens of kilobytes, not the 20 MB of the font. The font is the first found of:
//! `SHIAN_CJK_FONT` (`PATH` or `PATH#FACE`), Noto Sans CJK SC (Debian `fonts-noto-cjk`, face 2 of
//! the collection), WenQuanYi Micro Hei and Zen Hei.

use std::sync::{Arc, OnceLock};

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use shian_domain::access::Scope;
use shian_domain::{Kind, Msg};
use shian_store::Store;
use shian_store::query::{Filter, ListQuery};

use super::qr::{self, Modules};
use super::token::{self, vendor_validity};
use super::{PLATFORM_NAME, PublicError, listed, privacy, public_url, vendor_path};

/// A4 in points.
const A4: (f32, f32) = (595.28, 841.89);

/// Fonts tried in order: path and face index.
const FONTS: [(&str, u32); 3] = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
];

/// One poster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosterItem {
    pub name: String,
    pub stall: Option<String>,
    pub market: String,
    pub url: String,
}

/// Posters per A4 page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    One,
    Four,
}

type FontData = (Arc<Vec<u8>>, u32);

/// The font's bytes, read once per process.
fn font_data() -> Result<FontData, PublicError> {
    static FONT: OnceLock<Result<FontData, String>> = OnceLock::new();
    FONT.get_or_init(find_font).clone().map_err(|tried| {
        PublicError::Font(Msg::new(
            format!("找不到中文字体（已尝试：{tried}）；请安装 fonts-noto-cjk 或设置 SHIAN_CJK_FONT"),
            format!("no Chinese font found (tried: {tried}); install fonts-noto-cjk or set SHIAN_CJK_FONT"),
        ))
    })
}

fn find_font() -> Result<FontData, String> {
    let configured = std::env::var("SHIAN_CJK_FONT").ok().map(|v| match v.rsplit_once('#') {
        Some((p, i)) => (p.to_string(), i.parse().unwrap_or(0)),
        None => (v, 0),
    });
    let candidates: Vec<(String, u32)> =
        configured.into_iter().chain(FONTS.iter().map(|(p, i)| (p.to_string(), *i))).collect();
    for (path, index) in &candidates {
        if let Ok(bytes) = std::fs::read(path) {
            return Ok((Arc::new(bytes), *index));
        }
    }
    Err(candidates.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", "))
}

fn font() -> Result<Font, PublicError> {
    let (data, index) = font_data()?;
    Font::new(data.into(), index)
        .ok_or_else(|| PublicError::Font(Msg::new("中文字体文件无法读取", "the Chinese font file cannot be read")))
}

/// The posters as one PDF.
pub fn render(items: &[PosterItem], layout: Layout, title: &str) -> Result<Vec<u8>, PublicError> {
    let font = font()?;
    let mut doc = Document::new();
    doc.set_metadata(Metadata::new().title(title.to_string()).creator("Shian".into()).language("zh-CN".into()));
    let per_page = if layout == Layout::One { 1 } else { 4 };
    for chunk in items.chunks(per_page) {
        let settings =
            PageSettings::from_wh(A4.0, A4.1).ok_or_else(|| PublicError::Internal("bad page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let mut surface = page.surface();
        for (i, item) in chunk.iter().enumerate() {
            let modules = qr::modules(&item.url)?;
            match layout {
                Layout::One => poster(&mut surface, &font, item, &modules),
                Layout::Four => {
                    let (col, row) = ((i % 2) as f32, (i / 2) as f32);
                    surface.push_transform(&Transform::from_row(
                        0.5,
                        0.0,
                        0.0,
                        0.5,
                        col * A4.0 / 2.0,
                        row * A4.1 / 2.0,
                    ));
                    poster(&mut surface, &font, item, &modules);
                    surface.pop();
                }
            }
        }
        if layout == Layout::Four {
            cut_lines(&mut surface);
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| PublicError::Internal(format!("PDF: {e:?}")))
}

/// The width of a text, approximately: CJK characters are one em wide, others about half.
fn text_width(text: &str, size: f32) -> f32 {
    text.chars().map(|c| if c.is_ascii() { 0.56 } else { 1.0 }).sum::<f32>() * size
}

fn set_color(surface: &mut Surface, r: u8, g: u8, b: u8) {
    surface.set_fill(Some(Fill { paint: rgb::Color::new(r, g, b).into(), ..Fill::default() }));
}

/// Draws a line of text centred at `y` (the baseline), shrinking it to fit `max_width`.
fn centred(surface: &mut Surface, font: &Font, text: &str, size: f32, y: f32, max_width: f32) {
    let size = size.min(max_width / text_width(text, 1.0).max(1.0));
    let x = (A4.0 - text_width(text, size)) / 2.0;
    surface.draw_text(Point::from_xy(x.max(20.0), y), font.clone(), size, text, false, TextDirection::Auto);
}

fn rect(surface: &mut Surface, x: f32, y: f32, w: f32, h: f32) {
    let mut pb = PathBuilder::new();
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        pb.push_rect(r);
    }
    if let Some(path) = pb.finish() {
        surface.draw_path(&path);
    }
}

/// One poster on a full A4 page (scaled down by the caller for four per page).
fn poster(surface: &mut Surface, font: &Font, item: &PosterItem, modules: &Modules) {
    set_color(surface, 0x1a, 0x7f, 0x37);
    rect(surface, 0.0, 0.0, A4.0, 110.0);
    set_color(surface, 255, 255, 255);
    centred(surface, font, "一码公开 · 扫码查看", 40.0, 62.0, 520.0);
    centred(surface, font, "经营者信息 · 产地来源 · 检测结果 · 信用等级", 17.0, 94.0, 520.0);
    set_color(surface, 0x11, 0x11, 0x11);
    centred(surface, font, &item.name, 32.0, 168.0, 520.0);
    let place = match &item.stall {
        Some(s) => format!("{} · 摊位 {s}", item.market),
        None => item.market.clone(),
    };
    centred(surface, font, &place, 19.0, 204.0, 520.0);
    draw_qr(surface, modules, 232.0, 340.0);
    centred(surface, font, &item.url, 14.0, 604.0, 540.0);
    set_color(surface, 0x44, 0x44, 0x44);
    centred(surface, font, "用手机扫描二维码，可查看本摊位的公示信息，并在线投诉、评价", 14.0, 646.0, 520.0);
    centred(surface, font, "请勿遮挡、涂改；如二维码失效，请联系市场管理方", 12.0, 672.0, 520.0);
    set_color(surface, 0x1a, 0x7f, 0x37);
    rect(surface, 0.0, A4.1 - 64.0, A4.0, 64.0);
    set_color(surface, 255, 255, 255);
    centred(surface, font, PLATFORM_NAME.0, 16.0, A4.1 - 26.0, 540.0);
}

/// The code's modules as black squares inside a white square of `side` points at `top`, centred.
fn draw_qr(surface: &mut Surface, m: &Modules, top: f32, side: f32) {
    let left = (A4.0 - side) / 2.0;
    set_color(surface, 255, 255, 255);
    rect(surface, left, top, side, side);
    let unit = side / (m.width + 2 * qr::QUIET) as f32;
    let mut pb = PathBuilder::new();
    for y in 0..m.width {
        for x in 0..m.width {
            let (px, py) = (left + (x + qr::QUIET) as f32 * unit, top + (y + qr::QUIET) as f32 * unit);
            if let (true, Some(r)) = (m.is_dark(x, y), Rect::from_xywh(px, py, unit, unit)) {
                pb.push_rect(r);
            }
        }
    }
    set_color(surface, 0, 0, 0);
    if let Some(path) = pb.finish() {
        surface.draw_path(&path);
    }
}

/// Thin grey lines between the four posters of a page.
fn cut_lines(surface: &mut Surface) {
    set_color(surface, 0xaa, 0xaa, 0xaa);
    rect(surface, A4.0 / 2.0 - 0.25, 0.0, 0.5, A4.1);
    rect(surface, 0.0, A4.1 / 2.0 - 0.25, A4.0, 0.5);
}

/// The posters of a market's vendors that may show a public page today, by stall, issuing tokens
/// where missing; returns the posters and how many vendors were left out (left the market,
/// agreement terminated).
pub fn market_items(
    store: &mut dyn Store,
    market: i64,
    base: &str,
    actor: &str,
) -> Result<(Vec<PosterItem>, u64), PublicError> {
    let k = Kind::Vendor;
    let market_name = store
        .get(Kind::Market, market, &Scope::All)?
        .and_then(|m| listed::text(Kind::Market, &m, "name").map(str::to_string))
        .unwrap_or_default();
    let q =
        ListQuery { scope: &Scope::All, filters: vec![Filter::RefId("market", market)], before: None, limit: 100_000 };
    let vendors = store.list(k, &q)?;
    let (mut items, mut skipped) = (Vec::new(), 0);
    for v in &vendors {
        if vendor_validity(store, v.id)?.is_some() {
            skipped += 1;
            continue;
        }
        let t = token::token_for(store, v.id, None, actor)?;
        let kind = listed::text(k, v, "subject_kind").unwrap_or("person");
        items.push(PosterItem {
            name: privacy::display_name(kind, listed::text(k, v, "name").unwrap_or_default()),
            stall: listed::text(k, v, "stall").map(str::to_string),
            market: market_name.clone(),
            url: public_url(base, &vendor_path(&t.token)),
        });
    }
    items.sort_by(|a, b| a.stall.cmp(&b.stall).then(a.name.cmp(&b.name)));
    Ok((items, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posters_embed_a_font_subset_and_stay_small() {
        if font_data().is_err() {
            eprintln!("no CJK font installed: skipped");
            return;
        }
        let item = PosterItem {
            name: "王建国白菜经营部".into(),
            stall: Some("A-012".into()),
            market: "石家庄桥西蔬菜批发市场".into(),
            url: "http://127.0.0.1:8080/q/abcdefghijklmnopqrstuvwxyz".into(),
        };
        let pdf = render(&[item.clone(), item.clone(), item], Layout::Four, "test").expect("pdf");
        assert!(pdf.starts_with(b"%PDF"));
        assert!(pdf.len() < 400_000, "{} bytes: the font is not subset", pdf.len());
    }
}
