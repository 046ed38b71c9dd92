//! The region step: where in a camera-size frame the object is, so the image encoder sees it
//! rather than the whole scene. One seam, [`RegionProposer`], one file per implementation;
//! the pipeline file's `[region] kind` picks one (`none`: the whole frame is resized).
//!
//! | file       | owns |
//! |------------|------|
//! | `cards`    | [`Cards`]: the easy-VQA card rule (a colour rule for that workload) |
//! | `detector` | [`Detector`]: any ONNX detector giving boxes and scores, bound by the pipeline file |
//!
//! A proposer runs only on frames larger than the image model's input; `None` (nothing
//! found) means the whole frame is encoded.

mod cards;
mod detector;

pub use cards::{Cards, locate};
pub use detector::Detector;

use super::BrainError;
use crate::pipelines::RegionSpec;
use crate::runtime::{InferenceRuntime, ModelCatalog};
use image::RgbImage;
use msao::message::ExecProvider;
use serde::{Deserialize, Serialize};

/// Finds the region of a frame the question is about.
pub trait RegionProposer: Send {
    /// What it is, for logs (`cards`, or the detector model's label).
    fn name(&self) -> &str;

    /// The region, in frame pixels and inside the frame, or `None` when nothing was found.
    /// An error concerns this frame only.
    fn propose(&mut self, frame: &RgbImage) -> Result<Option<Region>, BrainError>;
}

/// The proposer a pipeline names, or `None` for `kind = "none"`.
pub fn load(
    spec: &RegionSpec,
    runtime: &dyn InferenceRuntime,
    catalog: &ModelCatalog,
    provider: ExecProvider,
) -> Result<Option<Box<dyn RegionProposer>>, BrainError> {
    Ok(match spec {
        RegionSpec::None => None,
        RegionSpec::Cards(c) => Some(Box::new(Cards(*c))),
        RegionSpec::Detector(d) => Some(Box::new(Detector::from_catalog(
            runtime, catalog, d, provider,
        )?)),
    })
}

/// A located region, in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Region {
    /// Intersection over union with another region (0 when either is empty).
    pub fn iou(&self, other: &Region) -> f64 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        let inter = u64::from(x1.saturating_sub(x0)) * u64::from(y1.saturating_sub(y0));
        let union = u64::from(self.width) * u64::from(self.height)
            + u64::from(other.width) * u64::from(other.height)
            - inter;
        if union == 0 {
            0.0
        } else {
            inter as f64 / union as f64
        }
    }
}
