//! The telemetry messages: one postcard enum, heapless fields, bounded encoded size.
//!
//! Conventions (spec §4): `_pm` is per-mille (0–1000), `_cdeg` centi-degrees Celsius,
//! `_mw` milliwatts, `_kib` kibibytes, `_us` microseconds. `None` always means
//! *unsupported or unreadable on this device*, never zero.

mod camera;
mod capability;
mod common;
mod fault;
mod hello;
mod profile;
mod request;
mod sample;
mod trace;

pub use camera::CameraStats;
pub use capability::{Capability, CapabilitySummary, GpuFacts, PipelineSummary, SoftwareVersions};
pub use common::{Decision, ExecProvider, Modality, ModalitySet, Outcome, Precision};
pub use fault::{Fault, FaultCode};
pub use hello::{HardwareSummary, Hello, WireBuild};
pub use profile::{LatencyStats, ProfileResult};
pub use request::{ProfileCancel, ProfileRequest};
pub use sample::{CoreReading, Sample, TelemetryDrops};
pub use trace::{MasScore, RequestTrace, StageTimings, TEXT_ANSWER_MAX, TraceAnswer};

use crate::bounded::MaxSize;
use serde::{Deserialize, Serialize};

/// Every message the agent sends. Variant order is wire order: append, never reorder.
// Variants differ in size (Hello is the largest); boxing would need a heap, which the
// protocol crate must not require. Queues size their slots for the largest variant.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, postcard_schema::Schema)]
pub enum Message {
    /// Identity, build and hardware summary; sent at start and periodically.
    Hello(Hello),
    /// Periodic system state.
    Sample(Sample),
    /// One inference request, as handled.
    RequestTrace(RequestTrace),
    /// Something went wrong on the device.
    Fault(Fault),
    /// Measured model performance.
    ProfileResult(ProfileResult),
    /// What the device is and runs (agent → host).
    Capability(Capability),
    /// Profile request (host → agent).
    ProfileRequest(ProfileRequest),
    /// Stop a profile request (host → agent).
    ProfileCancel(ProfileCancel),
    /// One camera's frame counters.
    CameraStats(CameraStats),
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

impl MaxSize for Message {
    const MAX_SIZE: usize = 1 + max(
        max(Hello::MAX_SIZE, Sample::MAX_SIZE),
        max(
            max(RequestTrace::MAX_SIZE, Capability::MAX_SIZE),
            max(
                Fault::MAX_SIZE,
                max(
                    ProfileResult::MAX_SIZE,
                    max(
                        max(ProfileRequest::MAX_SIZE, ProfileCancel::MAX_SIZE),
                        CameraStats::MAX_SIZE,
                    ),
                ),
            ),
        ),
    );
}

impl Message {
    /// Short lowercase name, the `type` field of JSON output.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::Sample(_) => "sample",
            Self::RequestTrace(_) => "request",
            Self::Fault(_) => "fault",
            Self::ProfileResult(_) => "profile",
            Self::Capability(_) => "capability",
            Self::ProfileRequest(_) => "profile_request",
            Self::ProfileCancel(_) => "profile_cancel",
            Self::CameraStats(_) => "camera",
        }
    }

    /// Every kind name, in wire order.
    pub const KINDS: [&'static str; 9] = [
        "hello",
        "sample",
        "request",
        "fault",
        "profile",
        "capability",
        "profile_request",
        "profile_cancel",
        "camera",
    ];
}

/// Copies `s` into a bounded string, cutting at a character boundary if it is too long.
pub fn truncated<const N: usize>(s: &str) -> heapless::String<N> {
    let mut out = heapless::String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}
