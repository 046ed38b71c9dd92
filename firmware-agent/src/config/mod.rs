//! Configuration: the TOML file, command-line overrides, and the validated result.
//!
//! | file          | owns |
//! |---------------|------|
//! | `file`        | the TOML shape (`deny_unknown_fields`) and reading it with key paths in errors |
//! | `interval`    | human durations (`100ms`, `5s`) that must be greater than zero |
//! | `device_id`   | the device id (≤ 32 bytes, the wire field) and its hostname default |
//! | `control`     | the `[control]` section: the key for host requests, profiling limits |
//! | `runtime`     | the `[runtime]` section: ONNX Runtime library, models, execution provider |
//! | `camera`      | `[[camera]]`, `[[watch]]` and `--camera NAME=URI` |
//! | `workload`    | the `[workload]` section, `--fps`, and the key an `[offload]` error names |
//! | `settings`    | merging file and flags into [`Settings`], defaults, cross-field checks |
//! | `error`       | [`ConfigError`] |
//!
//! Precedence: flag > file > default. Every value is validated where it is parsed, so an
//! error names the key (or flag) and, for files, the line and column.

mod api;
mod camera;
mod control;
mod device_id;
mod error;
mod file;
mod interval;
mod runtime;
mod settings;
mod workload;

pub use api::{
    ApiSection, ApiSettings, DEFAULT_API_CONNECTIONS, DEFAULT_API_QUEUE, DEFAULT_MAX_BODY,
    MAX_API_QUEUE, RemoteImages,
};
pub use camera::{
    CameraSection, MAX_CAMERA_FPS, MAX_CAMERAS, MAX_WATCHES, MIN_WATCH_INTERVAL, WatchSection,
    resolve_cameras, resolve_watches,
};
pub use control::{ControlSection, ControlSettings, KEY_ENV, ProfileLimits, read_key};
pub use device_id::{DeviceId, DeviceIdError, MAX_DEVICE_ID, hostname};
pub use error::ConfigError;
pub(crate) use file::from_toml_keyed;
pub use file::{FileConfig, SystemSection, SystemSource, TelemetrySection};
pub use interval::{IntervalError, parse_interval};
pub use runtime::{MAX_INTRA_THREADS, RuntimeSection};
pub use settings::{
    DEFAULT_HELLO_INTERVAL, DEFAULT_QUEUE_DEPTH, DEFAULT_SAMPLE_INTERVAL, DEFAULT_SINK, MAX_SINKS,
    MIN_HELLO_INTERVAL, MIN_SAMPLE_INTERVAL, Settings,
};
pub use workload::{
    MAX_FPS, WorkloadSection, WorkloadSettings, check_fps, check_offload, offload_error, parse_fps,
    parse_limit,
};
