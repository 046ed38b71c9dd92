//! The `[workload]` section and the `[offload]` checks: which camera-size workload the
//! agent runs through its offload pipeline, where its answers go, and the key an
//! `[offload]` error names.
//!
//! ```toml
//! [workload]
//! dir = "/var/lib/msao/workload-demo"   # a `msao-host workload` output (workload.json)
//! answers = "/var/lib/msao/answers.jsonl" # one JSON line per request (optional)
//! summary = "/var/lib/msao/summary.json"  # the run's counts, written at the end (optional)
//! fps = 30.0                               # camera rate (default: as fast as it goes)
//! warmup = 100                             # requests run edge-only first, unrecorded
//! limit = 500                              # only the first N requests (default: all)
//! [offload]
//! policy = "msao"                          # see docs/architecture.md
//! [offload.cloud]
//! url = "http://10.0.0.5:8000"
//! ```

use super::ConfigError;
use crate::offload::{OffloadConfig, OffloadConfigError};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// Highest frame rate accepted (no camera goes faster; a typo like `3000` is refused).
pub const MAX_FPS: f64 = 1000.0;

/// `[workload]` as written; every key is optional.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    /// Directory holding `workload.json`; with none, no workload runs.
    pub dir: Option<PathBuf>,
    /// JSON-lines answers file (created, truncated).
    pub answers: Option<PathBuf>,
    /// JSON summary file written when the workload is done.
    pub summary: Option<PathBuf>,
    /// Frames per second of the simulated camera.
    #[serde(default, deserialize_with = "fps_opt")]
    pub fps: Option<f64>,
    /// Requests run edge-only before the measured run, without answers, traces or summary:
    /// ONNX Runtime's first runs, the page cache and the CPU clock otherwise land on the
    /// first measured requests.
    pub warmup: Option<usize>,
    /// Only the first N requests (at least 1).
    #[serde(default, deserialize_with = "limit_opt")]
    pub limit: Option<usize>,
}

/// The workload the agent runs, resolved from flags and file.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadSettings {
    /// Directory holding `workload.json`.
    pub dir: PathBuf,
    /// JSON-lines answers file.
    pub answers: Option<PathBuf>,
    /// JSON summary file.
    pub summary: Option<PathBuf>,
    /// Frames per second; `None`: as fast as the pipeline goes.
    pub fps: Option<f64>,
    /// Warm-up requests (edge-only, unrecorded) before the measured run.
    pub warmup: usize,
    /// Only the first N requests; `None`: all.
    pub limit: Option<usize>,
}

/// Checks a frame rate: finite, > 0, at most [`MAX_FPS`].
pub fn check_fps(fps: f64) -> Result<f64, String> {
    if fps.is_finite() && fps > 0.0 && fps <= MAX_FPS {
        Ok(fps)
    } else {
        Err(format!("fps {fps} is outside (0, {MAX_FPS}]"))
    }
}

/// Parses `--fps`.
pub fn parse_fps(text: &str) -> Result<f64, String> {
    let fps: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    check_fps(fps)
}

/// Parses `--limit`: a request count of at least 1.
pub fn parse_limit(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a request count ≥ 1")),
    }
}

fn limit_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(serde::de::Error::custom(
            "limit must be ≥ 1 (leave it out for all requests)",
        )),
        n => Ok(Some(n)),
    }
}

fn fps_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let fps = f64::deserialize(d)?;
    check_fps(fps).map(Some).map_err(serde::de::Error::custom)
}

/// Turns an `[offload]` validation error into a [`ConfigError`] naming the key
/// (`offload.threshold`, `offload.cloud.url`).
pub fn offload_error(e: OffloadConfigError, origin: &str) -> ConfigError {
    let (table, reason) = match e {
        OffloadConfigError::Invalid(m) => ("offload", m),
        OffloadConfigError::Cloud(crate::cloud::CloudError::Config { detail }) => {
            ("offload.cloud", detail)
        }
        other => ("offload", other.to_string()),
    };
    let field: String = reason
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let key = if field.is_empty() {
        table.to_string()
    } else {
        format!("{table}.{field}")
    };
    ConfigError::Invalid {
        key,
        origin: origin.into(),
        reason,
    }
}

/// Validates `offload`, naming the key on failure.
pub fn check_offload(offload: &OffloadConfig, origin: &str) -> Result<(), ConfigError> {
    offload.validate().map_err(|e| offload_error(e, origin))
}
