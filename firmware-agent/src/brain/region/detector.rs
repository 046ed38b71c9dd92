//! [`Detector`]: an ONNX object detector as the region step (`[region] kind = "detector"`).
//!
//! The pipeline file binds the graph: its image input (preprocessed as the detector's
//! manifest `[preprocess]` says), a `boxes` output `[batch, N, 4]` and a `scores` output
//! `[batch, N]` (or `[batch, N, 1]`). Boxes are corners, `xyxy` or `yxyx`, normalised to
//! `0..=1` of the frame or in pixels of the detector's input; both map back to the frame
//! whatever its size. The region is the highest-scoring box at or above `min_score`
//! (non-finite scores ignored); a box that leaves the frame is clipped, one with no area
//! left is no region.

use super::{Region, RegionProposer};
use crate::brain::BrainError;
use crate::encoders::{image_tensor, preprocess};
use crate::pipelines::{BoxFormat, DetectorSpec};
use crate::runtime::manifest::{Dim, ImagePreprocess};
use crate::runtime::{InferenceRuntime, LoadedModel, ModelCatalog, NamedTensor};
use image::RgbImage;
use msao::message::{ExecProvider, Modality};

/// A loaded detector.
pub struct Detector {
    model: Box<dyn LoadedModel>,
    pre: ImagePreprocess,
    spec: DetectorSpec,
    label: String,
}

impl Detector {
    /// Loads the detector a pipeline names from a catalog and checks its bindings against
    /// the manifest.
    pub fn from_catalog(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        spec: &DetectorSpec,
        provider: ExecProvider,
    ) -> Result<Self, BrainError> {
        let bad = |model: &str, reason: String| BrainError::Detector {
            model: model.to_string(),
            reason,
        };
        let manifest = catalog.find(&spec.model, spec.precision).ok_or_else(|| {
            bad(
                &spec.model,
                format!(
                    "not in the model catalog at {}",
                    format!("{:?}", spec.precision).to_lowercase()
                ),
            )
        })?;
        let label = manifest.label();
        if manifest.modality != Modality::Image {
            return Err(bad(&label, "is not an image model".into()));
        }
        manifest
            .check_role(crate::runtime::manifest::Role::RegionDetector)
            .map_err(|r| bad(&label, r))?;
        let pre = manifest
            .preprocess
            .as_image()
            .ok_or_else(|| {
                bad(
                    &label,
                    format!(
                        "[preprocess] kind is `{}`, not `image`",
                        manifest.preprocess.kind()
                    ),
                )
            })?
            .clone();
        let rank = |kind: &str, name: &str| -> Result<Vec<Dim>, BrainError> {
            let t = match kind {
                "input" => manifest.input(name),
                _ => manifest.output(name),
            };
            t.map(|t| t.shape.clone())
                .ok_or_else(|| bad(&label, format!("has no {kind} `{name}`")))
        };
        if rank("input", &spec.input)?.len() != 4 {
            return Err(bad(
                &label,
                format!(
                    "input `{}` must be an image [batch, …] of rank 4",
                    spec.input
                ),
            ));
        }
        let boxes = rank("output", &spec.boxes)?;
        if boxes.len() != 3 || matches!(boxes[2], Dim::Fixed(n) if n != 4) {
            return Err(bad(
                &label,
                format!("output `{}` must be boxes [batch, N, 4]", spec.boxes),
            ));
        }
        let scores = rank("output", &spec.scores)?;
        if !(scores.len() == 2 || scores.len() == 3 && matches!(scores[2], Dim::Fixed(1))) {
            return Err(bad(
                &label,
                format!("output `{}` must be scores [batch, N]", spec.scores),
            ));
        }
        let model = runtime
            .load(manifest, provider)
            .map_err(|e| bad(&label, e.to_string()))?;
        Ok(Self {
            model,
            pre,
            spec: spec.clone(),
            label,
        })
    }

    fn output<'a>(&self, outputs: &'a [NamedTensor], name: &str) -> Result<&'a [f32], BrainError> {
        outputs
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| o.tensor.as_f32())
            .ok_or_else(|| BrainError::Detector {
                model: self.label.clone(),
                reason: format!("output `{name}` missing or not f32"),
            })
    }
}

impl RegionProposer for Detector {
    fn name(&self) -> &str {
        &self.label
    }

    fn propose(&mut self, frame: &RgbImage) -> Result<Option<Region>, BrainError> {
        let input = image_tensor(preprocess(frame, &self.pre), &self.pre).map_err(|e| {
            BrainError::Detector {
                model: self.label.clone(),
                reason: e.to_string(),
            }
        })?;
        let outputs = self
            .model
            .run(&[NamedTensor::new(&self.spec.input, input)])
            .map_err(|e| BrainError::Detector {
                model: self.label.clone(),
                reason: e.to_string(),
            })?;
        let boxes = self.output(&outputs, &self.spec.boxes)?;
        let scores = self.output(&outputs, &self.spec.scores)?;
        if boxes.len() != 4 * scores.len() {
            return Err(BrainError::Detector {
                model: self.label.clone(),
                reason: format!(
                    "{} box values for {} scores (expected 4 per score)",
                    boxes.len(),
                    scores.len()
                ),
            });
        }
        let best = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_finite() && **s >= self.spec.min_score)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        let Some(i) = best else { return Ok(None) };
        let b = &boxes[4 * i..4 * i + 4];
        let (x0, y0, x1, y1) = match self.spec.box_format {
            BoxFormat::Xyxy => (b[0], b[1], b[2], b[3]),
            BoxFormat::Yxyx => (b[1], b[0], b[3], b[2]),
        };
        let (sx, sy) = if self.spec.normalized {
            (1.0, 1.0)
        } else {
            (self.pre.width as f32, self.pre.height as f32)
        };
        Ok(to_frame(
            [x0 / sx, y0 / sy, x1 / sx, y1 / sy],
            frame.width(),
            frame.height(),
        ))
    }
}

/// A normalised `[x0, y0, x1, y1]` box in frame pixels, clipped to the frame; `None` when
/// nothing of it is left (or a coordinate is not finite).
fn to_frame(b: [f32; 4], fw: u32, fh: u32) -> Option<Region> {
    if b.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let px = |v: f32, side: u32| {
        (f64::from(v) * f64::from(side))
            .round()
            .clamp(0.0, f64::from(side)) as u32
    };
    let (x0, x1) = (px(b[0].min(b[2]), fw), px(b[0].max(b[2]), fw));
    let (y0, y1) = (px(b[1].min(b[3]), fh), px(b[1].max(b[3]), fh));
    (x1 > x0 && y1 > y0).then_some(Region {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_map_to_frame_pixels_clipped() {
        let r = to_frame([0.25, 0.5, 0.75, 1.0], 640, 480).unwrap();
        assert_eq!((r.x, r.y, r.width, r.height), (160, 240, 320, 240));
        // Corners given in either order; outside the frame clipped.
        let r = to_frame([1.2, 0.5, 0.5, -0.1], 100, 100).unwrap();
        assert_eq!((r.x, r.y, r.width, r.height), (50, 0, 50, 50));
        assert_eq!(to_frame([0.5, 0.5, 0.5, 0.9], 100, 100), None, "no width");
        assert_eq!(to_frame([f32::NAN, 0.0, 1.0, 1.0], 100, 100), None);
        assert_eq!(to_frame([1.5, 1.5, 2.0, 2.0], 100, 100), None, "outside");
    }
}
