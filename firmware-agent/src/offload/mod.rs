//! Offload and speculative execution: per request, answer locally, offload the compact
//! tensor to the cloud model, or speculate — and the pipeline that runs a workload
//! through it with exactly one answer per request.
//!
//! | file        | owns |
//! |-------------|------|
//! | `config`    | [`OffloadConfig`] (`[offload]`), the tuned threshold file |
//! | `deadline`  | the request deadline from arrival: cloud calls get only what is left of it |
//! | `estimator` | [`LinkEstimator`]: online cost of a cloud call from real transfers |
//! | `policy`    | [`Policy`]: MSAO's decision rule and the baselines (incl. the UCB bandit) |
//! | `run`       | [`run`]: the pipeline; [`AnswerRecord`], [`RunSummary`] |
//! | `workload`  | [`Workload`]: the camera-size workload manifest |

mod config;
mod deadline;
mod estimator;
mod policy;
mod run;
mod workload;

pub use config::{
    OffloadConfig, OffloadConfigError, THRESHOLD_FILE, ThresholdFile, calibration_dir,
    read_threshold,
};
pub use estimator::{LinkEstimator, LinkPrior};
pub use policy::{BanditConfig, Policy, PolicyKind, REPLY_BYTES, RequestView};
pub use run::{
    AnswerRecord, CLOUD_ONLY_JPEG_QUALITY, Observer, PipelineError, RunOptions, RunSummary,
    decision_name, run, source_name,
};
pub use workload::{Workload, WorkloadError, WorkloadFrame, WorkloadRequest};
