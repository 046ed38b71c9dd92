//! Offload and speculative execution: per request, answer locally, offload the compact
//! tensor to the cloud model, or speculate — the pipeline that does it with exactly one
//! answer per request, the queue every source submits to, and the workload replay.
//!
//! | file        | owns |
//! |-------------|------|
//! | `config`    | [`OffloadConfig`] (`[offload]`), the tuned threshold file |
//! | `deadline`  | the request deadline from arrival: cloud calls get only what is left of it |
//! | `estimator` | [`LinkEstimator`]: online cost of a cloud call from real transfers |
//! | `policy`    | [`Policy`]: MSAO's decision rule and the baselines (incl. the UCB bandit) |
//! | `request`   | [`Request`], [`Answer`], [`Reply`]: what every source submits and gets back |
//! | `queue`     | [`queue`]: the one bounded queue, its overflow policy per source |
//! | `pipeline`  | [`Pipeline`]: serves the queue, edge work and the decision; [`AnswerSink`] sees every answer |
//! | `codec`     | [`OffloadCodec`]: how a request travels to the cloud (compact tensor, every patch, JPEG) |
//! | `execute`   | one decision carried out (local, offload, speculation) into its [`Answer`] |
//! | `replay`    | [`Replay`], [`run`]: a workload as a source, evaluated; [`AnswerRecord`], [`RunSummary`] |
//! | `workload`  | [`Workload`]: the camera-size workload manifest |

mod codec;
mod config;
mod deadline;
mod estimator;
mod execute;
mod pipeline;
mod policy;
mod queue;
mod replay;
mod request;
mod workload;

pub use codec::{
    CLOUD_ONLY_JPEG_QUALITY, CodecError, CodecInput, Compact, Dense, Jpeg, OffloadCodec, Target,
};
pub use config::{
    OffloadConfig, OffloadConfigError, THRESHOLD_FILE, ThresholdFile, calibration_dir,
    read_threshold,
};
pub use estimator::{LinkEstimator, LinkPrior};
pub use execute::{decision_name, source_name};
pub use pipeline::{AnswerSink, NoSink, Pipeline, PipelineError, Served};
pub use policy::{BanditConfig, Policy, PolicyKind, REPLY_BYTES, RequestView};
pub use queue::{Queue, Refused, ReplyFn, Submission, Submitter, queue};
pub use replay::{AnswerRecord, Observer, REPLAY_DEPTH, Replay, RunOptions, RunSummary, run};
pub use request::{Answer, AnsweredFrame, Arrival, Audio, Frame, Reply, Request};
pub use workload::{Workload, WorkloadError, WorkloadFrame, WorkloadRequest};
