//! The share card: a 1200×630 PNG (the usual link-preview size) with the window and the key
//! numbers of a `stats/v1` document, drawn in-process.
//!
//! Text uses the public-domain 8×8 bitmap font of the `font8x8` crate, scaled by whole
//! pixels: crisp at every size, no font file to ship or licence, no external program.

use agentpool_core::error::{Error, ErrorCode, Result};

use crate::report::StatsReport;

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 630;

type Rgb = [u8; 3];
const BACKGROUND: Rgb = [15, 23, 42];
const TILE: Rgb = [30, 41, 59];
const ACCENT: Rgb = [45, 212, 191];
const TITLE: Rgb = [248, 250, 252];
const MUTED: Rgb = [148, 163, 184];
const WARN: Rgb = [251, 191, 36];

struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        let mut px = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
        for _ in 0..WIDTH * HEIGHT {
            px.extend_from_slice(&BACKGROUND);
        }
        Self { px }
    }

    fn rect(&mut self, x: u32, y: u32, w: u32, h: u32, c: Rgb) {
        for yy in y..(y + h).min(HEIGHT) {
            for xx in x..(x + w).min(WIDTH) {
                let i = ((yy * WIDTH + xx) * 3) as usize;
                self.px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// A rectangle with corners cut by `r` pixels on a quarter circle.
    fn rounded(&mut self, x: u32, y: u32, w: u32, h: u32, r: u32, c: Rgb) {
        for yy in 0..h {
            for xx in 0..w {
                let dx = if xx < r {
                    r - xx
                } else if xx >= w - r {
                    xx + 1 - (w - r)
                } else {
                    0
                };
                let dy = if yy < r {
                    r - yy
                } else if yy >= h - r {
                    yy + 1 - (h - r)
                } else {
                    0
                };
                if dx * dx + dy * dy <= r * r {
                    self.rect(x + xx, y + yy, 1, 1, c);
                }
            }
        }
    }

    /// Draws `text` with its top-left at (x, y), each font pixel `scale`×`scale`.
    fn text(&mut self, x: u32, y: u32, text: &str, scale: u32, c: Rgb) {
        let mut cx = x;
        for ch in text.chars() {
            let code = if ch.is_ascii() { ch as usize } else { usize::from(b'?') };
            let glyph = font8x8::legacy::BASIC_LEGACY[code];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8u32 {
                    if bits & (1 << col) != 0 {
                        self.rect(cx + col * scale, y + row as u32 * scale, scale, scale, c);
                    }
                }
            }
            cx += 8 * scale;
        }
    }

    fn encode(&self) -> std::result::Result<Vec<u8>, png::EncodingError> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&self.px)?;
        writer.finish()?;
        Ok(out)
    }
}

/// Width in pixels of `text` at `scale`.
fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale
}

/// The largest scale ≤ `max` at which `text` fits in `width` pixels (at least 1).
fn fit(text: &str, width: u32, max: u32) -> u32 {
    (1..=max).rev().find(|s| text_width(text, *s) <= width).unwrap_or(1)
}

/// A count, grouped; `n/a` when the document has none.
fn count(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".into(), |i| group(i64::try_from(i).unwrap_or(i64::MAX)))
}

/// Hours or a ratio with two decimals; `n/a` when the document has none.
fn decimal(v: Option<f64>) -> String {
    // Large hour counts read better whole and grouped than with two decimals.
    v.map_or_else(|| "n/a".into(), |f| if f.abs() >= 100.0 { group(f.round() as i64) } else { format!("{f:.2}") })
}

/// `12345` → `12,345`.
fn group(i: i64) -> String {
    let digits = i.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if i < 0 { format!("-{out}") } else { out }
}

/// Renders the card for a `stats/v1` document (a section left out shows as `n/a`).
pub fn render(doc: &StatsReport) -> Result<Vec<u8>> {
    let mut c = Canvas::new();
    c.rect(0, 0, WIDTH, 10, ACCENT);

    let margin = 50;
    c.text(margin, 48, "AgentPool stats", 6, TITLE);
    let label = &doc.window.label;
    let scope = &doc.scope;
    let provider = doc.filters.provider_id.as_deref();
    let mut sub = format!("{label}  -  scope {scope}");
    if let Some(p) = provider {
        sub.push_str(&format!("  -  {p}"));
    }
    c.text(margin, 112, &sub, fit(&sub, WIDTH - 2 * margin, 3), MUTED);

    let (sessions, parallelism, walls) = (doc.sessions.as_ref(), doc.parallelism.as_ref(), doc.walls.as_ref());
    let ratio = parallelism.and_then(|p| p.ratio);
    let ratio_text = ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{}x", decimal(Some(r))));
    let hit = walls.and_then(|w| w.hit);
    let tiles: [(&str, String, Rgb); 6] = [
        ("SESSIONS", count(sessions.map(|s| s.total)), TITLE),
        ("PARALLELISM", ratio_text, ACCENT),
        ("PEAK AT ONCE", count(parallelism.map(|p| p.peak_concurrent)), TITLE),
        ("WORKER-HOURS", decimal(parallelism.map(|p| p.sum_worker_hours)), TITLE),
        ("WALLS AVOIDED", count(walls.and_then(|w| w.avoided)), ACCENT),
        ("WALLS HIT", count(hit), if hit.unwrap_or(0) > 0 { WARN } else { TITLE }),
    ];
    let gap = 20;
    let tile_w = (WIDTH - 2 * margin - 2 * gap) / 3;
    let tile_h = 175;
    for (i, (name, value, colour)) in tiles.iter().enumerate() {
        let col = i as u32 % 3;
        let row = i as u32 / 3;
        let x = margin + col * (tile_w + gap);
        let y = 170 + row * (tile_h + gap);
        c.rounded(x, y, tile_w, tile_h, 14, TILE);
        c.text(x + 20, y + 26, name, fit(name, tile_w - 40, 3), MUTED);
        let scale = fit(value, tile_w - 40, 9);
        c.text(x + 20, y + 70 + (9 - scale) * 4, value, scale, *colour);
    }

    let confidence = walls.map_or("-", |w| w.confidence.as_str());
    let spawned = count(sessions.map(|s| s.spawned));
    let generated = doc.generated_at.get(..10).unwrap_or("");
    let footer =
        format!("spawned {spawned}  |  walls confidence {confidence}  |  {}  |  {generated}", doc.schema_version);
    c.text(margin, 578, &footer, fit(&footer, WIDTH - 2 * margin, 2), MUTED);

    c.encode().map_err(|e| {
        Error::new(ErrorCode::CardRenderFailed, format!("could not encode the share card: {e}"))
            .with("reason", e.to_string())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn grouping_and_fit() {
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(12), "12");
        assert_eq!(fit("123", 100, 9), 4);
        assert_eq!(decimal(Some(2.5)), "2.50");
        assert_eq!(decimal(Some(41649.42)), "41,649");
        assert_eq!(decimal(None), "n/a");
        assert_eq!((count(Some(12_345)), count(None)), ("12,345".to_owned(), "n/a".to_owned()));
    }
}
