//! QR codes of public URLs, as SVG, PNG, or a grid of modules (for the PDF posters).
//!
//! Error correction level M (15 % of the code may be lost): a poster in a wet market gets dirty.
//! A 26-character token under a short base URL fits version 4 (33 × 33 modules).

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

use super::PublicError;

/// Modules of quiet zone around the code, as the standard asks.
pub const QUIET: usize = 4;

/// A QR code's modules: `width × width`, row by row, `true` = dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modules {
    pub width: usize,
    pub dark: Vec<bool>,
}

impl Modules {
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }
}

fn code(url: &str) -> Result<QrCode, PublicError> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
        .map_err(|e| PublicError::refused(format!("无法生成二维码：{e}"), format!("cannot make a QR code: {e}")))
}

/// The modules of a URL's code (without the quiet zone).
pub fn modules(url: &str) -> Result<Modules, PublicError> {
    let c = code(url)?;
    let dark = c.to_colors().into_iter().map(|m| m == Color::Dark).collect();
    Ok(Modules { width: c.width(), dark })
}

/// The code as an SVG image, at least `min_px` wide.
pub fn svg(url: &str, min_px: u32) -> Result<String, PublicError> {
    Ok(code(url)?.render::<svg::Color>().min_dimensions(min_px, min_px).quiet_zone(true).build())
}

/// The code as a greyscale PNG with `scale` pixels per module and the quiet zone.
pub fn png(url: &str, scale: u32) -> Result<Vec<u8>, PublicError> {
    let m = modules(url)?;
    let scale = scale.clamp(1, 64) as usize;
    let side = (m.width + 2 * QUIET) * scale;
    let mut pixels = vec![255u8; side * side];
    for y in 0..m.width {
        for x in 0..m.width {
            if m.is_dark(x, y) {
                fill(&mut pixels, side, (x + QUIET) * scale, (y + QUIET) * scale, scale);
            }
        }
    }
    encode_png(&pixels, side as u32)
}

fn fill(pixels: &mut [u8], side: usize, left: usize, top: usize, scale: usize) {
    for row in top..top + scale {
        pixels[row * side + left..row * side + left + scale].fill(0);
    }
}

fn encode_png(pixels: &[u8], side: u32) -> Result<Vec<u8>, PublicError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let failed = |e: png::EncodingError| PublicError::Internal(format!("PNG encoding failed: {e}"));
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://sa.example.cn/q/abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn a_public_url_fits_a_small_code() {
        let m = modules(URL).expect("code");
        assert!(m.width <= 33, "version 4 or less, got {} modules", m.width);
    }

    #[test]
    fn svg_and_png_are_made() {
        let s = svg(URL, 200).expect("svg");
        assert!(s.contains("<svg") && s.len() < 12_000);
        let p = png(URL, 8).expect("png");
        assert_eq!(&p[1..4], b"PNG");
    }
}
