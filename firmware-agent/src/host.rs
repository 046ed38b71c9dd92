//! The library surface of the agent crate for the host tools (`msao-host`): nothing else of
//! this crate is theirs to reach (`host-tools/tests/crate_boundary.rs` fails on any other
//! path).
//!
//! The crates split as postcard-rpc splits them: the protocol (`msao`: wire types, framing,
//! transports; `no_std`), the device (this crate: the agent), and the host (`msao-host`),
//! which talks to a device through the protocol. What both sides *run* — the reference cloud
//! answering a compact tensor, `eval` and `tune` measuring the edge models, `bench-api`
//! timing the in-process path, `profile` measuring this machine — comes from here, grouped
//! by what it is for:
//!
//! | module | for |
//! |--------|-----|
//! | [`models`] | finding the models directory, the catalog, a pipeline file, the ONNX Runtime |
//! | [`inference`] | the edge brain (encoders, MAS, local head) and the cloud head; image decoding under limits |
//! | [`workload`] | workload directories, the offload settings and policies, the in-process pipeline |
//! | [`oip`] | the Open Inference Protocol v2 codec and client (the reference cloud serves what the client sends) |
//! | [`serve`] | the HTTP layer every service shares: accept loop, timeouts, connection cap, bearer token |
//! | [`device`] | this machine's facts and the profiler; the control key and boot ids |

/// Models: where they are, their manifests, pipeline files, the runtime that loads them.
pub mod models {
    pub use crate::pipelines::{Cloud as CloudModels, Labels, PipelineSpec};
    pub use crate::runtime::manifest::find_models_dir;
    pub use crate::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
}

/// One request through the edge models, and the cloud model on a compact tensor.
pub mod inference {
    pub use crate::brain::{
        BrainOptions, CloudHead, EdgeBrain, EdgeRequest, EdgeResult, ImageInput, SECOND_VIEW_BELOW,
    };
    pub use crate::encoders::{InputLimits, decode_image_within, open_image};
}

/// Workload directories, the offload settings, and the request pipeline run in-process.
pub mod workload {
    pub use crate::offload::{
        AnswerRecord, Arrival, CLOUD_ONLY_JPEG_QUALITY, Frame, NoSink, Observer, OffloadConfig,
        Pipeline, PolicyKind, Reply, Request, RunOptions, RunSummary, THRESHOLD_FILE, Workload,
        WorkloadRequest, calibration_dir, queue, read_threshold, run,
    };
}

pub use crate::cloud as oip;
pub use crate::http as serve;

/// This machine: CPU facts, the profiler, the control key, boot ids.
pub mod device {
    pub use crate::clock::random_boot_id;
    pub use crate::config::{KEY_ENV, read_key};
    pub use crate::control::DeviceProfiler;
    pub use crate::profile::ProfileSpec;
    pub use crate::system::{CpuIsa, parse_cpu_list};
}

/// The agent's command line and config resolution, for checking the agent configs the host
/// tools write.
pub mod agent_config {
    pub use crate::cli::Cli;
    pub use crate::config::Settings;
}
