//! [`Cards`]: the easy-VQA card rule (`[region] kind = "cards"`), finding the card in a
//! camera-size frame so the edge encoder sees the object, not the whole 640×480 scene.
//!
//! The cards of the camera-size workload (`docs/workload.md`) are squares whose own
//! background is a light, nearly uniform colour (every channel ≥ 226 in easy-VQA), while the
//! procedural scene backgrounds stay within 40–220 per channel plus sensor noise. A pixel is
//! *card-like* when its darkest channel is at least [`CardSpec::min_level`] (the pipeline
//! file's `[region] min_level`, with `stride`, `min_run` and `min_side`). The region
//! is the bounding box of the rows and columns holding enough card-like pixels, found on a
//! coarse grid first and then refined at full resolution inside the coarse box, and squared
//! (cards are square; a shape touching the card's edge can hide one light border).
//!
//! This is a colour rule made for this workload, not a general detector: a deployment with
//! other scenes names an ONNX detector instead (`kind = "detector"`, [`super::Detector`]). It is cheap (one strided pass over the frame) and
//! its accuracy against the workload's ground-truth boxes is measured by `msao-host run`.
//!
//! ```
//! use image::{Rgb, RgbImage};
//! use msao_agent::{brain::locate, pipelines::CardSpec};
//! let mut frame = RgbImage::from_pixel(640, 480, Rgb([90, 120, 60]));
//! for y in 100..228 { for x in 300..428 { frame.put_pixel(x, y, Rgb([240, 250, 245])); } }
//! let r = locate(&frame, &CardSpec::default()).unwrap();
//! assert_eq!((r.x, r.y, r.width, r.height), (300, 100, 128, 128));
//! ```

use super::{Region, RegionProposer};
use crate::brain::BrainError;
use crate::pipelines::CardSpec;
use image::RgbImage;

/// The card rule as a [`RegionProposer`].
#[derive(Debug, Clone, Copy)]
pub struct Cards(pub CardSpec);

impl RegionProposer for Cards {
    fn name(&self) -> &str {
        "cards"
    }

    fn propose(&mut self, frame: &RgbImage) -> Result<Option<Region>, BrainError> {
        Ok(locate(frame, &self.0))
    }
}

#[inline]
fn card_like(p: &[u8], min_level: u8) -> bool {
    p[0].min(p[1]).min(p[2]) >= min_level
}

/// Bounds `[lo, hi)` of the indices whose count reaches `min`.
fn span(counts: &[u32], min: u32) -> Option<(u32, u32)> {
    let lo = counts.iter().position(|&c| c >= min)?;
    let hi = counts.iter().rposition(|&c| c >= min)?;
    Some((lo as u32, hi as u32 + 1))
}

/// Counts card-like pixels per row and column of `frame[x0..x1, y0..y1]` on a `stride` grid.
fn profile(
    frame: &RgbImage,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
    stride: u32,
    min_level: u8,
) -> (Vec<u32>, Vec<u32>) {
    let (w, h) = (x1 - x0, y1 - y0);
    let mut rows = vec![0u32; h.div_ceil(stride) as usize];
    let mut cols = vec![0u32; w.div_ceil(stride) as usize];
    let raw = frame.as_raw();
    let row_bytes = frame.width() as usize * 3;
    for (ri, y) in (y0..y1).step_by(stride as usize).enumerate() {
        let line = &raw[y as usize * row_bytes..(y as usize + 1) * row_bytes];
        let mut n = 0;
        for (ci, x) in (x0..x1).step_by(stride as usize).enumerate() {
            let i = x as usize * 3;
            if card_like(&line[i..i + 3], min_level) {
                n += 1;
                cols[ci] += 1;
            }
        }
        rows[ri] = n;
    }
    (rows, cols)
}

/// Locates the card in `frame`, or `None` when no card-like region of at least
/// [`CardSpec::min_side`] pixels is present.
pub fn locate(frame: &RgbImage, config: &CardSpec) -> Option<Region> {
    let (fw, fh) = frame.dimensions();
    if fw == 0 || fh == 0 {
        return None;
    }
    let stride = config.stride.max(1);
    let coarse_min = (config.min_run / stride).max(1);
    let (rows, cols) = profile(frame, (0, 0, fw, fh), stride, config.min_level);
    let (r0, r1) = span(&rows, coarse_min)?;
    let (c0, c1) = span(&cols, coarse_min)?;
    // Refine at full resolution inside the coarse box grown by one stride.
    let x0 = (c0 * stride).saturating_sub(stride);
    let y0 = (r0 * stride).saturating_sub(stride);
    let x1 = (c1 * stride + stride).min(fw);
    let y1 = (r1 * stride + stride).min(fh);
    let (rows, cols) = profile(frame, (x0, y0, x1, y1), 1, config.min_level);
    let (ry0, ry1) = span(&rows, config.min_run)?;
    let (cx0, cx1) = span(&cols, config.min_run)?;
    let (mut x, mut y) = (x0 + cx0, y0 + ry0);
    let (mut w, mut h) = (cx1 - cx0, ry1 - ry0);
    if w.max(h) < config.min_side {
        return None;
    }
    // Square it: grow the short side, keeping it inside the frame.
    let side = w.max(h).min(fw).min(fh);
    if w < side {
        x = x.saturating_sub((side - w) / 2).min(fw - side);
        w = side;
    }
    if h < side {
        y = y.saturating_sub((side - h) / 2).min(fh - side);
        h = side;
    }
    Some(Region {
        x,
        y,
        width: w,
        height: h,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn scene(card: (u32, u32, u32)) -> RgbImage {
        let mut f = RgbImage::from_fn(640, 480, |x, y| {
            // A busy checkerboard in the scene's colour range.
            if ((x / 16) + (y / 16)).is_multiple_of(2) {
                Rgb([220, 200, 40])
            } else {
                Rgb([40, 60, 210])
            }
        });
        let (cx, cy, s) = card;
        for y in cy..cy + s {
            for x in cx..cx + s {
                f.put_pixel(x, y, Rgb([236, 248, 243]));
            }
        }
        // A dark shape inside the card touching nothing.
        for y in cy + s / 4..cy + 3 * s / 4 {
            for x in cx + s / 4..cx + 3 * s / 4 {
                f.put_pixel(x, y, Rgb([0, 0, 255]));
            }
        }
        f
    }

    #[test]
    fn finds_the_card_exactly_on_a_busy_background() {
        for card in [(0, 0, 64), (576, 416, 64), (123, 77, 150), (301, 9, 192)] {
            let r = locate(&scene(card), &CardSpec::default()).unwrap();
            assert_eq!(
                (r.x, r.y, r.width, r.height),
                (card.0, card.1, card.2, card.2)
            );
        }
    }

    #[test]
    fn a_shape_on_the_card_edge_still_gives_a_square() {
        let mut f = scene((200, 100, 100));
        // Paint the card's whole top border dark: the light box loses rows at the top.
        for y in 100..110 {
            for x in 200..300 {
                f.put_pixel(x, y, Rgb([10, 10, 10]));
            }
        }
        let r = locate(&f, &CardSpec::default()).unwrap();
        assert_eq!((r.width, r.height), (100, 100));
        assert!(
            r.iou(&Region {
                x: 200,
                y: 100,
                width: 100,
                height: 100
            }) > 0.85
        );
    }

    #[test]
    fn no_card_gives_none() {
        let f = RgbImage::from_pixel(640, 480, Rgb([200, 210, 220]));
        assert_eq!(locate(&f, &CardSpec::default()), None);
        assert_eq!(locate(&RgbImage::new(0, 0), &CardSpec::default()), None);
        // A few stray light pixels are not a card.
        let mut f = RgbImage::from_pixel(640, 480, Rgb([100, 100, 100]));
        for i in 0..5 {
            f.put_pixel(10 + i * 50, 20, Rgb([255, 255, 255]));
        }
        assert_eq!(locate(&f, &CardSpec::default()), None);
    }

    #[test]
    fn iou_is_symmetric_and_bounded() {
        let a = Region {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
        };
        let b = Region {
            x: 5,
            y: 5,
            width: 10,
            height: 10,
        };
        assert!((a.iou(&b) - 25.0 / 175.0).abs() < 1e-12);
        assert_eq!(a.iou(&b), b.iou(&a));
        assert_eq!(a.iou(&a), 1.0);
        let empty = Region {
            x: 0,
            y: 0,
            width: 0,
            height: 0,
        };
        assert_eq!(empty.iou(&empty), 0.0);
    }
}
