//! Small enums shared by several messages.

use crate::{bounded::MaxSize, wire_enum};
use serde::{Deserialize, Serialize};

wire_enum! {
    /// An input modality.
    pub enum Modality {
        /// Camera frames.
        Image,
        /// A typed or transcribed question.
        Text,
        /// Audio.
        Audio,
    }
}

impl Modality {
    /// Bit of this modality in a [`ModalitySet`].
    pub const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of modalities, one bit each (`Image` = 1, `Text` = 2, `Audio` = 4).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, postcard_schema::Schema,
)]
pub struct ModalitySet(pub u8);

impl ModalitySet {
    /// Adds a modality.
    pub const fn with(self, m: Modality) -> Self {
        Self(self.0 | m.bit())
    }
    /// True when `m` is present.
    pub const fn contains(self, m: Modality) -> bool {
        self.0 & m.bit() != 0
    }
}

impl MaxSize for ModalitySet {
    const MAX_SIZE: usize = 1;
}

wire_enum! {
    /// What the policy chose for a request.
    pub enum Decision {
        /// Answer with the local head only.
        Local,
        /// Send the compact tensor and use the cloud answer.
        Offload,
        /// Run the local head while the upload is in flight; commit by confidence.
        Speculate,
    }
}

wire_enum! {
    /// Where a request's answer came from.
    pub enum Outcome {
        /// The local head's answer was committed (its confidence cleared the threshold).
        LocalCommitted,
        /// The cloud model's answer.
        CloudAnswer,
        /// The cloud failed or timed out; the local answer was returned instead.
        Fallback,
        /// No answer could be produced (reported, never silent).
        Error,
    }
}

wire_enum! {
    /// The inference execution provider that actually ran.
    pub enum ExecProvider {
        /// ONNX Runtime CPU provider.
        Cpu,
        /// CUDA provider.
        Cuda,
        /// TensorRT provider.
        TensorRt,
    }
}

wire_enum! {
    /// Numeric precision of a model.
    pub enum Precision {
        /// 32-bit float.
        Fp32,
        /// 16-bit float.
        Fp16,
        /// 8-bit integer (QDQ).
        Int8,
    }
}
