//! The local head's confidence calibration: temperature scaling fitted offline on a
//! held-out split (the pipeline's `[head] calibration`; for easy-VQA
//! `calibration/vqa-edge-temperature.json`, see `calibration/REPORT.md`).

use super::BrainError;
use crate::runtime::ModelManifest;
use msao::message::Precision;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct TemperatureFile {
    model: String,
    sha256: String,
    temperature: f32,
    fp32_reference: Option<Fp32Reference>,
}

#[derive(Debug, Deserialize)]
struct Fp32Reference {
    temperature: f32,
}

/// `confidence = max softmax(logits / T)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Temperature {
    /// T (> 0).
    pub value: f32,
    /// Whether it was fitted for this exact model file (sha256 match) or its FP32 reference.
    pub fitted: bool,
}

impl Temperature {
    /// No calibration (T = 1).
    pub const NONE: Self = Self {
        value: 1.0,
        fitted: false,
    };

    /// Reads the temperature fitted for `manifest`: the file's sha256 must match the model
    /// file, or the model must be the FP32 reference the file also records. Anything else
    /// is an error naming the file (a temperature fitted for another model is worse than
    /// none).
    pub fn load(path: &Path, manifest: &ModelManifest) -> Result<Self, BrainError> {
        let err = |reason: String| BrainError::Calibration {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: TemperatureFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        if file.model != manifest.name {
            return Err(err(format!(
                "is for model `{}`, not `{}`",
                file.model, manifest.name
            )));
        }
        let value = if file.sha256 == manifest.sha256 {
            file.temperature
        } else if manifest.precision == Precision::Fp32 {
            file.fp32_reference
                .map(|r| r.temperature)
                .ok_or_else(|| err("has no fp32_reference temperature".into()))?
        } else {
            return Err(err(format!(
                "was fitted for sha256 {}, but {} has {}",
                file.sha256,
                manifest.label(),
                manifest.sha256
            )));
        };
        if !(value.is_finite() && value > 0.0) {
            return Err(err(format!("temperature {value} is not a positive number")));
        }
        Ok(Self {
            value,
            fitted: true,
        })
    }

    /// Calibrated probabilities of `logits`.
    pub fn probabilities(&self, logits: &[f32]) -> Vec<f32> {
        let scaled: Vec<f32> = logits.iter().map(|l| l / self.value).collect();
        softmax(&scaled)
    }
}

/// Numerically stable softmax (empty in, empty out).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_temperature() {
        let p = softmax(&[0.0, 0.0]);
        assert_eq!(p, vec![0.5, 0.5]);
        let t = Temperature {
            value: 2.0,
            fitted: true,
        };
        let hot = t.probabilities(&[2.0, 0.0]);
        let cold = Temperature::NONE.probabilities(&[2.0, 0.0]);
        assert!(hot[0] < cold[0], "a higher temperature softens");
        assert!((hot[0] - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
    }
}
