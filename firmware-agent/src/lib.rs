//! `msao-agent`: the MSAO Edge device agent — reads system state and reports it as
//! telemetry frames to the host tools.
//!
//! | module        | owns |
//! |---------------|------|
//! | [`check`]     | `msao-agent check`: field bring-up, human or `--json`, exit 1 on a blocking problem |
//! | [`cli`]       | the command line (clap), flags that override the config file |
//! | [`config`]    | the TOML config file, its validation, and the resolved [`config::Settings`] |
//! | [`clock`]     | agent time (µs since start) and the per-start boot id |
//! | [`service`]   | systemd's notify protocol: start timeout extended while loading, READY, watchdog, STOPPING |
//! | [`shutdown`]  | the stop signal shared by SIGINT/SIGTERM, `--duration` and the run loop |
//! | [`system`]    | the [`system::SystemReader`] seam and its implementations (Jetson, x86, generic Linux), tegrastats parsing, capability facts |
//! | [`telemetry`] | bounded per-sink queues, sink threads, drop counters |
//! | [`http`]      | the HTTP layer of every service: accept loop, timeouts, connection cap, bearer token |
//! | [`hello`]     | building the `Hello` message from settings and hardware facts |
//! | [`api`]       | the OpenAI-compatible request API: chat completions, models, health |
//! | [`agent`]     | the run loop: Hello and Sample schedule, faults, shutdown and flush |
//! | [`control`]   | the control thread serving host requests; [`control::DeviceProfiler`] |
//! | [`runtime`]   | the inference runtime seam, ONNX Runtime (CPU/CUDA/TensorRT), model manifests, GPU query |
//! | [`pipelines`] | pipelines as data: the TOML file naming each role's model, tensors, labels, calibration, cloud models |
//! | [`camera`]    | live cameras (GStreamer behind the `camera` feature, still images always): latest-frame slots, standing questions |
//! | [`encoders`]  | text (MiniLM-L6), image (easy-VQA edge CNN) and audio (Silero VAD) encoders, `cosine` |
//! | [`brain`]     | one request through encoders, MAS, local head and compact tensor; the cloud head on a compact tensor |
//! | [`offload`]   | offload and speculation: policy, link estimator, the workload pipeline with one answer per request |
//! | [`cloud`]     | the Open Inference Protocol v2 (KServe/Triton REST) client: JSON and binary tensors, deadlines |
//! | [`mas`]       | Modality Activation Sparsity: spatial keep-mask, temporal change, modal relevance, combined score |
//! | [`profile`]   | the profiling routine: warm-up, timed runs, percentiles, memory, energy, conditions |
//! | [`workload_run`] | the agent's workload thread: pipeline → RequestTrace/Fault frames, answers file |
//! | [`host`]      | the library surface the host tools use (and nothing else of this crate) |
//!
//! Data flows one way: `system` → `agent` → `telemetry` → transports from `msao`.
//! Nothing in the sampling path waits on a transport: sinks run on their own threads behind
//! bounded queues that drop (and count) rather than block.
#![forbid(unsafe_code)]
// Agent and protocol code never panics on bad input: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod agent;
pub mod api;
pub mod brain;
pub mod camera;
pub mod check;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod control;
pub mod encoders;
pub mod hello;
pub mod host;
pub mod http;
pub mod mas;
pub mod offload;
pub mod pipelines;
pub mod profile;
pub mod runtime;
pub mod service;
pub mod shutdown;
pub mod system;
pub mod telemetry;
pub mod workload_run;
