//! Procedural backgrounds, so a frame is mostly irrelevant texture and spatial sparsity has
//! something to find. Four kinds with different spatial statistics: smooth gradients,
//! hard-edged checkers and stripes (high activation energy everywhere), and value noise.

use image::{Rgb, RgbImage};
use rand::Rng;
use serde::Serialize;

/// Kind of background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Background {
    /// Linear two-colour gradient.
    Gradient,
    /// Checkerboard of two colours.
    Checker,
    /// Diagonal stripes.
    Stripes,
    /// Smooth value noise (bilinear over a coarse random grid).
    ValueNoise,
}

impl Background {
    /// Every kind.
    pub const ALL: [Background; 4] = [
        Self::Gradient,
        Self::Checker,
        Self::Stripes,
        Self::ValueNoise,
    ];
}

fn colour(rng: &mut impl Rng) -> [f32; 3] {
    [
        rng.random_range(40.0..220.0),
        rng.random_range(40.0..220.0),
        rng.random_range(40.0..220.0),
    ]
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> Rgb<u8> {
    let c = |i: usize| (a[i] + (b[i] - a[i]) * t).round().clamp(0.0, 255.0) as u8;
    Rgb([c(0), c(1), c(2)])
}

/// Paints a `width × height` background of `kind`.
pub fn paint(kind: Background, width: u32, height: u32, rng: &mut impl Rng) -> RgbImage {
    let (a, b) = (colour(rng), colour(rng));
    match kind {
        Background::Gradient => {
            let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            let (dx, dy) = (angle.cos(), angle.sin());
            let span = width as f32 * dx.abs() + height as f32 * dy.abs();
            RgbImage::from_fn(width, height, |x, y| {
                let p =
                    (x as f32 - width as f32 / 2.0) * dx + (y as f32 - height as f32 / 2.0) * dy;
                mix(a, b, (p / span.max(1.0) + 0.5).clamp(0.0, 1.0))
            })
        }
        Background::Checker => {
            let cell = rng.random_range(12..48u32);
            RgbImage::from_fn(width, height, |x, y| {
                mix(a, b, ((x / cell + y / cell) % 2) as f32)
            })
        }
        Background::Stripes => {
            let period = rng.random_range(10..40u32);
            RgbImage::from_fn(width, height, |x, y| {
                mix(a, b, (((x + y) / period) % 2) as f32)
            })
        }
        Background::ValueNoise => {
            let cell = rng.random_range(24..80u32) as f32;
            let gw = (width as f32 / cell).ceil() as usize + 2;
            let gh = (height as f32 / cell).ceil() as usize + 2;
            let grid: Vec<f32> = (0..gw * gh).map(|_| rng.random_range(0.0..1.0)).collect();
            RgbImage::from_fn(width, height, |x, y| {
                let (fx, fy) = (x as f32 / cell, y as f32 / cell);
                let (ix, iy) = (fx as usize, fy as usize);
                let (tx, ty) = (fx - ix as f32, fy - iy as f32);
                let g = |i: usize, j: usize| grid[(j.min(gh - 1)) * gw + i.min(gw - 1)];
                let top = g(ix, iy) * (1.0 - tx) + g(ix + 1, iy) * tx;
                let bottom = g(ix, iy + 1) * (1.0 - tx) + g(ix + 1, iy + 1) * tx;
                mix(a, b, top * (1.0 - ty) + bottom * ty)
            })
        }
    }
}
