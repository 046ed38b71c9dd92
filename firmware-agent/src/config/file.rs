//! The TOML config file: its shape (unknown keys are errors) and reading it.
//!
//! ```toml
//! device_id = "jetson-01"
//! [telemetry]
//! sinks = ["udp://127.0.0.1:7878"]
//! sample_interval = "100ms"
//! hello_interval = "5s"
//! queue_depth = 64
//! [system]
//! sysfs_root = "/"
//! [runtime]
//! provider = "cpu"
//! [workload]
//! dir = "/var/lib/msao/workload-demo"
//! [offload]
//! policy = "msao"
//! [control]
//! key_file = "/etc/msao/control.key"
//! [limits]
//! max_image_width = 4096
//! [api]
//! listen = "127.0.0.1:8090"
//! ```

use super::{
    ConfigError, DeviceId,
    api::ApiSection,
    camera::{CameraSection, WatchSection},
    control::ControlSection,
    interval::serde_opt,
    runtime::RuntimeSection,
    workload::WorkloadSection,
};
use crate::encoders::InputLimits;
use crate::offload::OffloadConfig;
use msao::transport::Endpoint;
use serde::{Deserialize, Deserializer};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// The whole file. Every key is optional; absent keys take the flag or the default.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Device id (≤ 32 bytes); defaults to the hostname.
    pub device_id: Option<DeviceId>,
    /// `[telemetry]`.
    #[serde(default)]
    pub telemetry: TelemetrySection,
    /// `[system]`.
    #[serde(default)]
    pub system: SystemSection,
    /// `[runtime]`: inference runtime, models and execution provider.
    #[serde(default)]
    pub runtime: RuntimeSection,
    /// `[workload]`: the camera-size workload run through the offload pipeline.
    #[serde(default)]
    pub workload: WorkloadSection,
    /// `[offload]`: policy, threshold, deadline, link prior, `[offload.cloud]`.
    #[serde(default)]
    pub offload: OffloadConfig,
    /// `[control]`: the key for host requests and the limits on profiling.
    #[serde(default)]
    pub control: ControlSection,
    /// `[limits]`: caps on each request's frame, question and audio.
    #[serde(default)]
    pub limits: InputLimits,
    /// `[api]`: the OpenAI-compatible request API.
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub camera: Vec<CameraSection>,
    #[serde(default)]
    pub watch: Vec<WatchSection>,
}

/// `[telemetry]`: where frames go and how often.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySection {
    /// Transport URLs (`udp://`, `tcp://`, `serial://`), one queue and thread each.
    pub sinks: Option<Vec<Endpoint>>,
    /// Time between samples.
    #[serde(default, deserialize_with = "serde_opt::deserialize")]
    pub sample_interval: Option<Duration>,
    /// Time between `Hello` messages.
    #[serde(default, deserialize_with = "serde_opt::deserialize")]
    pub hello_interval: Option<Duration>,
    /// Frames each sink's queue holds before it drops.
    #[serde(default, deserialize_with = "queue_depth")]
    pub queue_depth: Option<usize>,
}

/// `[system]`: where the system readers look.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSection {
    /// Root under which `proc/` and `sys/` are read (`/` on a device).
    pub sysfs_root: Option<PathBuf>,
    /// Where readings come from: `auto` (default), `sysfs` or `tegrastats`.
    pub source: Option<SystemSource>,
    /// The tegrastats program (default `tegrastats`, found on PATH).
    pub tegrastats: Option<PathBuf>,
}

/// Where system readings come from.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SystemSource {
    /// sysfs/procfs readers chosen by scanning; on a Jetson whose GPU load node cannot be
    /// found or read, `tegrastats` when it runs.
    #[default]
    Auto,
    /// sysfs/procfs readers only.
    Sysfs,
    /// A running `tegrastats` (Jetson), plus nvpmodel and identity files.
    Tegrastats,
}

fn queue_depth<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let max = crate::telemetry::MAX_DEPTH;
    let n = i64::deserialize(d)?;
    match usize::try_from(n) {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "queue depth {n} is outside 1..={max}"
        ))),
    }
}

/// Parses TOML text into `T`; an error comes with the path of the offending key
/// (`telemetry.sinks[1]`, from serde_path_to_error: the TOML error alone shows it only as
/// a source line), `None` when the text is not TOML at all.
pub(crate) fn from_toml_keyed<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, (Option<String>, toml::de::Error)> {
    let de = toml::Deserializer::parse(text).map_err(|e| (None, e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        ((key != ".").then_some(key), e.into_inner())
    })
}

impl FileConfig {
    /// Parses TOML text; `path` is only used in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        from_toml_keyed(text).map_err(|(key, source)| ConfigError::Parse {
            path: path.to_path_buf(),
            key,
            source: Box::new(source),
        })
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }
}
