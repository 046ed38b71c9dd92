//! [`OffloadConfig`]: the `[offload]` config table — policy, threshold, deadline, link
//! prior, cloud endpoint — and the tuned threshold file in `calibration/`.

use super::estimator::LinkPrior;
use super::policy::{BanditConfig, PolicyKind};
use crate::cloud::CloudConfig;
use crate::pipelines::PipelineSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File in `calibration/` holding the tuned commit threshold (`msao-host tune`).
pub const THRESHOLD_FILE: &str = "offload-threshold.json";

/// Offload and speculation settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffloadConfig {
    /// Which policy decides.
    pub policy: PolicyKind,
    /// Confidence ([`crate::brain::EdgeResult::confidence`]) at which a local answer is
    /// committed; `None`: read [`THRESHOLD_FILE`] from the calibration directory.
    pub threshold: Option<f32>,
    /// How long a cloud answer is awaited before the local answer is returned, ms.
    pub deadline_ms: u64,
    /// Requests in flight at once (edge work is sequential; cloud calls overlap).
    pub max_in_flight: usize,
    /// Speculate (instead of offload) when the local head takes at least this fraction
    /// of the predicted offload time.
    pub speculate_head_fraction: f64,
    /// After an unreachable cloud, how long MSAO answers locally before trying again, ms.
    pub retry_after_ms: u64,
    /// Link prior of the online estimator.
    pub link: LinkPrior,
    /// The bandit baseline (contextual UCB; defaults reasoned in [`BanditConfig`]).
    pub bandit: BanditConfig,
    /// The cloud endpoint. `model`, the compact-tensor model, defaults to the pipeline's
    /// `[cloud] model`; set it where the server names the model otherwise.
    pub cloud: CloudConfig,
    /// Model fed the frame (JPEG) and question text (`cloud-only` baseline); default: the
    /// pipeline's `[cloud] full_model`.
    pub full_model: Option<String>,
    /// Below this first-view confidence the edge brain looks at the frame again, mirrored,
    /// before the policy decides ([`crate::brain::BrainOptions::second_view_below`]);
    /// 0 turns the second view off. The tuned threshold depends on it: the threshold file
    /// records the value it was tuned with.
    pub second_view_below: f32,
}

impl Default for OffloadConfig {
    fn default() -> Self {
        Self {
            policy: PolicyKind::Msao,
            threshold: None,
            deadline_ms: 250,
            max_in_flight: 8,
            speculate_head_fraction: 0.1,
            retry_after_ms: 1000,
            link: LinkPrior::default(),
            bandit: BanditConfig::default(),
            cloud: CloudConfig::default(),
            full_model: None,
            second_view_below: crate::brain::SECOND_VIEW_BELOW,
        }
    }
}

/// A config value is out of range, or the threshold file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum OffloadConfigError {
    /// A value is out of range.
    #[error("[offload] {0}")]
    Invalid(String),
    /// The cloud table is invalid.
    #[error("[offload.cloud] {0}")]
    Cloud(#[from] crate::cloud::CloudError),
    /// The threshold file is missing or malformed.
    #[error("threshold file {path}: {reason} (run `msao-host tune`, or set [offload] threshold)")]
    ThresholdFile {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

impl OffloadConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), OffloadConfigError> {
        let bad = |m: String| Err(OffloadConfigError::Invalid(m));
        if let Some(t) = self.threshold
            && !(0.0..=1.0).contains(&t)
        {
            return bad(format!("threshold must be in [0, 1], got {t}"));
        }
        if self.deadline_ms == 0 {
            return bad("deadline_ms must be > 0".into());
        }
        if !(1..=1024).contains(&self.max_in_flight) {
            return bad(format!(
                "max_in_flight must be in 1..=1024, got {}",
                self.max_in_flight
            ));
        }
        if !(self.speculate_head_fraction.is_finite() && self.speculate_head_fraction >= 0.0) {
            return bad(format!(
                "speculate_head_fraction must be ≥ 0, got {}",
                self.speculate_head_fraction
            ));
        }
        if !(0.0..=1.0).contains(&self.second_view_below) {
            return bad(format!(
                "second_view_below must be in [0, 1] (0: off), got {}",
                self.second_view_below
            ));
        }
        if self.full_model.as_deref().is_some_and(str::is_empty) {
            return bad("full_model must be non-empty".into());
        }
        self.link.validate().map_err(OffloadConfigError::Invalid)?;
        self.bandit
            .validate()
            .map_err(OffloadConfigError::Invalid)?;
        match self.cloud.model.is_empty() {
            true => self.cloud.validate_endpoint()?,
            false => self.cloud.validate()?,
        }
        Ok(())
    }

    /// The second-view threshold for [`crate::brain::BrainOptions`] (`None`: off).
    pub fn second_view(&self) -> Option<f32> {
        (self.second_view_below > 0.0).then_some(self.second_view_below)
    }

    /// The commit threshold: the config value, else the tuned one in `calibration_dir`,
    /// which must have been tuned with the same second-view setting.
    pub fn resolve_threshold(&self, calibration_dir: &Path) -> Result<f32, OffloadConfigError> {
        if let Some(t) = self.threshold {
            return Ok(t);
        }
        let path = calibration_dir.join(THRESHOLD_FILE);
        let file = read_threshold(&path)?;
        if let Some(tuned) = file.about.get("second_view_below").and_then(|v| v.as_f64())
            && (tuned - f64::from(self.second_view_below)).abs() > 1e-6
        {
            return Err(OffloadConfigError::ThresholdFile {
                path: path.display().to_string(),
                reason: format!(
                    "tuned with second_view_below = {tuned}, but [offload] second_view_below = {}",
                    self.second_view_below
                ),
            });
        }
        Ok(file.threshold)
    }

    /// The cloud config for `model`.
    pub fn cloud_for(&self, model: &str) -> CloudConfig {
        CloudConfig {
            model: model.to_string(),
            ..self.cloud.clone()
        }
    }

    /// The compact-tensor and full-frame cloud configs: the models set here, else the
    /// pipeline's.
    pub fn cloud_models(&self, pipeline: &PipelineSpec) -> (CloudConfig, CloudConfig) {
        let compact = match self.cloud.model.is_empty() {
            true => self.cloud_for(&pipeline.cloud.model),
            false => self.cloud.clone(),
        };
        let full = self.cloud_for(
            self.full_model
                .as_deref()
                .unwrap_or(&pipeline.cloud.full_model),
        );
        (compact, full)
    }
}

/// The tuned threshold, as stored in `calibration/` (the file holds more: how it was found).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdFile {
    /// Commit threshold on the local answer's confidence.
    pub threshold: f32,
    /// Other fields (split, target, figures), kept as written.
    #[serde(flatten)]
    pub about: serde_json::Map<String, serde_json::Value>,
}

/// Reads a [`THRESHOLD_FILE`].
pub fn read_threshold(path: &Path) -> Result<ThresholdFile, OffloadConfigError> {
    let err = |reason: String| OffloadConfigError::ThresholdFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let file: ThresholdFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    if !(0.0..=1.0).contains(&file.threshold) {
        return Err(err(format!(
            "threshold {} is not in [0, 1]",
            file.threshold
        )));
    }
    Ok(file)
}

/// The default calibration directory for a models directory (`<models>/../calibration`).
pub fn calibration_dir(models_dir: &Path) -> PathBuf {
    models_dir.join("..").join("calibration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_are_named() {
        OffloadConfig::default().validate().unwrap();
        let c = OffloadConfig {
            threshold: Some(1.5),
            ..OffloadConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("threshold"));
        let c = OffloadConfig {
            max_in_flight: 0,
            ..OffloadConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("max_in_flight")
        );
        let c: Result<OffloadConfig, _> = toml::from_str("polcy = \"msao\"");
        assert!(c.unwrap_err().to_string().contains("polcy"));
        let c: OffloadConfig =
            toml::from_str("policy = \"edge-only\"\ndeadline_ms = 100\n[link]\nrtt_ms = 5.0")
                .unwrap();
        assert_eq!(c.policy, PolicyKind::EdgeOnly);
        assert_eq!(c.link.rtt_ms, 5.0);
    }

    #[test]
    fn bandit_table_keeps_old_keys_and_names_bad_ones() {
        let c: OffloadConfig =
            toml::from_str("[bandit]\nexploration = 0.3\nlatency_weight = 0.5").unwrap();
        c.validate().unwrap();
        assert_eq!(c.bandit.prior_pulls, BanditConfig::default().prior_pulls);
        let c: OffloadConfig = toml::from_str("[bandit]\nprior_pulls = -2.0").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("[offload] bandit.prior_pulls"), "{e}");
        let e = toml::from_str::<OffloadConfig>("[bandit]\nexplore = 1.0").unwrap_err();
        assert!(e.to_string().contains("explore"), "{e}");
    }

    #[test]
    fn threshold_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(THRESHOLD_FILE);
        let c = OffloadConfig::default();
        let e = c.resolve_threshold(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(THRESHOLD_FILE) && e.contains("msao-host tune"),
            "{e}"
        );
        std::fs::write(&p, r#"{"threshold": 0.93, "target": 0.3}"#).unwrap();
        assert_eq!(c.resolve_threshold(dir.path()).unwrap(), 0.93);
        std::fs::write(&p, r#"{"threshold": 7}"#).unwrap();
        assert!(c.resolve_threshold(dir.path()).is_err());
        // A file tuned with another second-view setting is refused, naming both values.
        std::fs::write(&p, r#"{"threshold": 0.8, "second_view_below": 0.95}"#).unwrap();
        assert_eq!(c.resolve_threshold(dir.path()).unwrap(), 0.8);
        let off = OffloadConfig {
            second_view_below: 0.0,
            ..c.clone()
        };
        assert_eq!(off.second_view(), None);
        let e = off.resolve_threshold(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("second_view_below = 0.95") && e.contains("= 0"),
            "{e}"
        );
        let bad = OffloadConfig {
            second_view_below: 1.5,
            ..c.clone()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("second_view_below")
        );
        let fixed = OffloadConfig {
            threshold: Some(0.5),
            ..off
        };
        assert_eq!(fixed.resolve_threshold(dir.path()).unwrap(), 0.5);
    }
}
