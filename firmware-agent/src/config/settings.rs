//! The resolved settings the agent runs with: flag > file > default.

use super::{
    ConfigError, DeviceId, FileConfig, SystemSource, WorkloadSettings, check_offload, hostname,
};
use crate::encoders::InputLimits;
use crate::offload::OffloadConfig;
use crate::{cli::Cli, runtime::RuntimeOptions};
use log::{info, warn};
use msao::transport::Endpoint;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Sink used when none is configured anywhere (the host tools listen here by default).
pub const DEFAULT_SINK: &str = "udp://127.0.0.1:7878";
/// Time between samples when none is configured.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// Time between `Hello` messages when none is configured.
pub const DEFAULT_HELLO_INTERVAL: Duration = Duration::from_secs(5);
/// Shortest `sample_interval` accepted: one sample costs a sysfs scan and a frame on every
/// sink; 10 ms (100 samples/s) is already ten times the default rate, and `1ns` would
/// spin a core and flood the links.
pub const MIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(10);
/// Shortest `hello_interval` accepted: `Hello` only re-announces the device, so more than
/// ten a second is never useful and only crowds the link.
pub const MIN_HELLO_INTERVAL: Duration = Duration::from_millis(100);
/// Queue depth per sink when none is configured: 6.4 s of samples at the default rate.
pub const DEFAULT_QUEUE_DEPTH: usize = 64;
/// Most sinks at once: each costs a thread and a queue.
pub const MAX_SINKS: usize = 8;
/// Device id used when neither the config nor the hostname gives one.
const FALLBACK_DEVICE_ID: &str = "msao-agent";

/// Everything the agent needs to run, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Device id sent in `Hello`.
    pub device_id: DeviceId,
    /// Transports, at least one, no duplicates.
    pub sinks: Vec<Endpoint>,
    /// Time between samples.
    pub sample_interval: Duration,
    /// Time between `Hello` messages.
    pub hello_interval: Duration,
    /// Frames per sink queue.
    pub queue_depth: usize,
    /// Root of `proc/` and `sys/` for the readers.
    pub sysfs_root: PathBuf,
    /// Where readings come from.
    pub system_source: SystemSource,
    /// The tegrastats program.
    pub tegrastats: PathBuf,
    /// Stop after this long (`--duration`); `None` runs until a signal.
    pub duration: Option<Duration>,
    /// Inference runtime (`[runtime]`; no flags yet).
    pub runtime: RuntimeOptions,
    /// The pipeline file (`--pipeline`, `[runtime] pipeline`); `None`: the models
    /// directory's [`crate::pipelines::DEFAULT_PIPELINE`].
    pub pipeline: Option<PathBuf>,
    /// The workload to run through the offload pipeline (`--workload`, `[workload]`).
    pub workload: Option<WorkloadSettings>,
    /// Offload policy and cloud endpoint (`[offload]`, `--policy`, `--cloud-url`).
    pub offload: OffloadConfig,
    /// Host requests: the key, serial policy, profiling limits (`[control]`, $MSAO_CONTROL_KEY).
    pub control: super::ControlSettings,
    /// The request API (`--api`, `[api]`), when it is on.
    pub api: Option<super::ApiSettings>,
    /// Caps on each request's inputs (`[limits]`).
    pub limits: InputLimits,
    /// Cameras (`[[camera]]`, `--camera`).
    pub cameras: Vec<crate::camera::CameraSpec>,
    /// Standing questions (`[[watch]]`).
    pub watches: Vec<crate::camera::WatchSpec>,
}

impl Settings {
    /// Reads the config file named by `--config` (if any) and merges the flags over it.
    pub fn resolve(cli: &Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => Some((path.as_path(), FileConfig::load(path)?)),
            None => None,
        };
        Self::merge(cli, file.as_ref().map(|(p, f)| (*p, f)), hostname())
    }

    /// Merges flags over a parsed file over defaults. `hostname` is the device id of last
    /// resort (a parameter so tests do not depend on the machine).
    pub fn merge(
        cli: &Cli,
        file: Option<(&Path, &FileConfig)>,
        hostname: Option<String>,
    ) -> Result<Self, ConfigError> {
        let empty = FileConfig::default();
        let (file_path, cfg) = match file {
            Some((p, f)) => (Some(p), f),
            None => (None, &empty),
        };
        let t = &cfg.telemetry;
        let device_id = cli
            .device_id
            .clone()
            .or_else(|| cfg.device_id.clone())
            .or_else(|| hostname.as_deref().and_then(DeviceId::from_hostname))
            .or_else(|| {
                warn!("no device id configured and no hostname; using `{FALLBACK_DEVICE_ID}`");
                FALLBACK_DEVICE_ID.parse().ok()
            })
            .ok_or_else(|| ConfigError::Invalid {
                key: "device_id".into(),
                origin: "defaults".into(),
                reason: "no usable device id".into(),
            })?;
        let (sinks, origin) = if !cli.telemetry.is_empty() {
            (
                cli.telemetry.clone(),
                "command line (--telemetry)".to_string(),
            )
        } else {
            let origin = file_path.map_or("defaults".into(), |p| p.display().to_string());
            (t.sinks.clone().unwrap_or_default(), origin)
        };
        let sinks = check_sinks(sinks, &origin)?;
        let file_origin = file_path.map_or("defaults".into(), |p| p.display().to_string());
        let mut offload = cfg.offload.clone();
        let mut offload_origin = file_origin.clone();
        if let Some(policy) = cli.policy {
            offload.policy = policy;
        }
        if let Some(url) = &cli.cloud_url {
            offload.cloud.url = url.clone();
            offload_origin = format!("command line (--cloud-url) and {file_origin}");
        }
        check_offload(&offload, &offload_origin)?;
        let env_key = std::env::var(super::KEY_ENV).ok();
        let control = cfg.control.resolve(&file_origin, env_key.as_deref())?;
        cfg.limits
            .validate()
            .map_err(|(key, reason)| ConfigError::Invalid {
                key: format!("limits.{key}"),
                origin: file_origin.clone(),
                reason,
            })?;
        let api = cfg
            .api
            .resolve(cli.api, &file_origin, |v| std::env::var(v).ok())?;
        let w = &cfg.workload;
        let workload = cli
            .workload
            .clone()
            .or_else(|| w.dir.clone())
            .map(|dir| WorkloadSettings {
                dir,
                answers: cli.answers.clone().or_else(|| w.answers.clone()),
                summary: cli.summary.clone().or_else(|| w.summary.clone()),
                fps: cli.fps.or(w.fps),
                warmup: cli.warmup.or(w.warmup).unwrap_or(0),
                limit: cli.limit.or(w.limit),
            });
        if workload.is_none()
            && (cli.answers.is_some()
                || cli.fps.is_some()
                || cli.summary.is_some()
                || cli.warmup.is_some()
                || cli.limit.is_some())
        {
            return Err(ConfigError::Invalid {
                key: "workload.dir".into(),
                origin: "command line".into(),
                reason: "--answers, --summary, --fps, --warmup and --limit need a workload \
                         (--workload DIR)"
                    .into(),
            });
        }
        let cameras = super::resolve_cameras(&cfg.camera, &cli.cameras, &file_origin)?;
        let watches = super::resolve_watches(
            &cfg.watch,
            &cameras,
            cfg.limits.max_question_bytes,
            &file_origin,
        )?;
        let sample_interval = floored(
            ("telemetry.sample_interval", "--sample-interval"),
            (cli.sample_interval, t.sample_interval, file_path),
            DEFAULT_SAMPLE_INTERVAL,
            MIN_SAMPLE_INTERVAL,
        )?;
        let hello_interval = floored(
            ("telemetry.hello_interval", "--hello-interval"),
            (cli.hello_interval, t.hello_interval, file_path),
            DEFAULT_HELLO_INTERVAL,
            MIN_HELLO_INTERVAL,
        )?;
        Ok(Self {
            device_id,
            sinks,
            sample_interval,
            hello_interval,
            queue_depth: t.queue_depth.unwrap_or(DEFAULT_QUEUE_DEPTH),
            sysfs_root: cli
                .sysfs_root
                .clone()
                .or_else(|| cfg.system.sysfs_root.clone())
                .unwrap_or_else(|| PathBuf::from("/")),
            system_source: cli.system_source.or(cfg.system.source).unwrap_or_default(),
            tegrastats: cfg
                .system
                .tegrastats
                .clone()
                .unwrap_or_else(|| PathBuf::from("tegrastats")),
            duration: cli.duration,
            runtime: cfg.runtime.to_options(),
            pipeline: cli
                .pipeline
                .clone()
                .or_else(|| cfg.runtime.pipeline.clone()),
            workload,
            offload,
            control,
            api,
            limits: cfg.limits,
            cameras,
            watches,
        })
    }
}

/// An interval from the flag, else the file, else `default`, refused below `min` with an
/// error naming the key (or flag) and where the value came from.
fn floored(
    (key, flag): (&str, &str),
    (from_cli, from_file, file_path): (Option<Duration>, Option<Duration>, Option<&Path>),
    default: Duration,
    min: Duration,
) -> Result<Duration, ConfigError> {
    let (value, origin) = match (from_cli, from_file) {
        (Some(v), _) => (v, format!("command line ({flag})")),
        (None, Some(v)) => (
            v,
            file_path.map_or("defaults".into(), |p| p.display().to_string()),
        ),
        (None, None) => return Ok(default),
    };
    if value < min {
        return Err(ConfigError::Invalid {
            key: key.into(),
            origin,
            reason: format!("{value:?} is below the floor of {min:?}"),
        });
    }
    Ok(value)
}

/// The default sink as an endpoint.
pub fn default_sink() -> Endpoint {
    Endpoint::Udp("127.0.0.1:7878".into())
}

fn check_sinks(sinks: Vec<Endpoint>, origin: &str) -> Result<Vec<Endpoint>, ConfigError> {
    if sinks.is_empty() {
        info!("no telemetry sink configured; sending to {DEFAULT_SINK}");
        return Ok(vec![default_sink()]);
    }
    let mut unique: Vec<Endpoint> = Vec::with_capacity(sinks.len());
    for s in sinks {
        if unique.contains(&s) {
            // Two queues to one place would send every frame twice.
            warn!("telemetry sink {s} is listed twice; using it once");
        } else {
            unique.push(s);
        }
    }
    if unique.len() > MAX_SINKS {
        return Err(ConfigError::Invalid {
            key: "telemetry.sinks".into(),
            origin: origin.into(),
            reason: format!("{} sinks; at most {MAX_SINKS}", unique.len()),
        });
    }
    Ok(unique)
}
