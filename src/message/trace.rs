//! `RequestTrace`: what happened to one inference request.

use super::common::{Decision, ExecProvider, Modality, ModalitySet, Outcome};
use crate::wire_struct;

wire_struct! {
    /// Modality Activation Sparsity scores of one modality.
    pub struct MasScore {
        /// The modality.
        pub modality: Modality,
        /// Spatial score (share of signal-carrying patches).
        pub spatial_pm: Option<u16>,
        /// Temporal score (change since the previous frame).
        pub temporal_pm: Option<u16>,
        /// Modal score (relevance to the question).
        pub modal_pm: Option<u16>,
        /// Combined score in [0, 1000].
        pub combined_pm: u16,
        /// Patches (or chunks) kept by the keep-mask.
        pub kept: u16,
        /// Patches (or chunks) in total.
        pub total: u16,
    }
}

wire_struct! {
    /// Time spent per stage; `None` for stages that did not run.
    pub struct StageTimings {
        /// Encoders.
        pub encode_us: Option<u32>,
        /// MAS scoring.
        pub mas_us: Option<u32>,
        /// Policy decision.
        pub policy_us: Option<u32>,
        /// Local head.
        pub local_us: Option<u32>,
        /// Upload of the compact tensor.
        pub upload_us: Option<u32>,
        /// Cloud inference as seen by the device (request sent → reply received).
        pub cloud_us: Option<u32>,
        /// Request received → answer committed.
        pub total_us: Option<u32>,
    }
}

/// Longest text answer on the wire, in bytes (a generative head's short answer; longer
/// text is cut at a character boundary, the API carries the whole).
pub const TEXT_ANSWER_MAX: usize = 48;

/// An answer as the wire carries it.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, postcard_schema::Schema,
)]
pub enum TraceAnswer {
    /// Class id of a classification head, in its labels' order (the labels file the
    /// pipeline names; its hash is in `Capability.pipeline.fingerprint`).
    Class(u16),
    /// Short text of a generative head.
    Text(heapless::String<TEXT_ANSWER_MAX>),
}

impl crate::bounded::MaxSize for TraceAnswer {
    const MAX_SIZE: usize = 1 + {
        let (a, b) = (
            <u16 as crate::bounded::MaxSize>::MAX_SIZE,
            <heapless::String<TEXT_ANSWER_MAX> as crate::bounded::MaxSize>::MAX_SIZE,
        );
        if a > b { a } else { b }
    };
}

wire_struct! {
    /// One inference request, as handled.
    pub struct RequestTrace {
        /// Request id, unique per boot.
        pub request_id: u32,
        /// Modalities present in the request.
        pub modalities: ModalitySet,
        /// MAS scores per present modality.
        pub mas: heapless::Vec<MasScore, 3>,
        /// Policy decision.
        pub decision: Decision,
        /// Calibrated confidence of the local head, when it ran.
        pub local_confidence_pm: Option<u16>,
        /// The answer, when there is one.
        pub answer: Option<TraceAnswer>,
        /// Bytes sent to the cloud.
        pub bytes_up: u32,
        /// Bytes received from the cloud.
        pub bytes_down: u32,
        /// Bytes sent for cloud calls that were cancelled.
        pub bytes_wasted: u32,
        /// Per-stage timings.
        pub timings: StageTimings,
        /// Where the answer came from.
        pub outcome: Outcome,
        /// Execution provider that ran the local models.
        pub provider: ExecProvider,
    }
}
