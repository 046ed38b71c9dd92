//! The offload codec seam: how a request travels to the cloud — which tensors, for which of
//! the pipeline's cloud models. One [`OffloadCodec`] per form, one file each; the policy
//! picks one ([`for_policy`]) and the pipeline uploads whatever it encodes.
//!
//! | file      | owns |
//! |-----------|------|
//! | `compact` | [`Compact`]: the MAS-kept patches (int8 + scale) and the question embedding (MSAO) |
//! | `dense`   | [`Dense`]: every patch, int8 + scale (the disaggregated-encoder baseline) |
//! | `jpeg`    | [`Jpeg`]: the frame as a JPEG and the question text (the cloud-only baseline) |

mod compact;
mod dense;
mod jpeg;

pub use compact::Compact;
pub use dense::Dense;
pub use jpeg::{CLOUD_ONLY_JPEG_QUALITY, Jpeg};

use super::PolicyKind;
use crate::brain::EdgeResult;
use crate::cloud::InferTensor;
use crate::pipelines::Cloud as CloudNames;
use image::RgbImage;

/// Which of the pipeline's cloud models a codec feeds (`[cloud] model` or `full_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The model fed the edge's compact tensor.
    Compact,
    /// The model fed the whole frame.
    Full,
}

/// What a codec may encode: the frame, the question, and the edge's work when it ran.
#[derive(Debug, Clone, Copy)]
pub struct CodecInput<'a> {
    /// The decoded frame.
    pub frame: &'a RgbImage,
    /// The question text.
    pub question: &'a str,
    /// The edge's result (`None` when the codec does not need it and it was not run).
    pub edge: Option<&'a EdgeResult>,
}

/// A request could not be encoded for the cloud (that request fails, nothing else).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The frame could not be encoded as an image file.
    #[error("{format} encode: {reason}")]
    Image {
        /// The format.
        format: &'static str,
        /// Why.
        reason: String,
    },
    /// The features could not be packed.
    #[error("{codec} features: {source}")]
    Compact {
        /// The codec.
        codec: &'static str,
        /// Why.
        source: msao::compact::CompactError,
    },
    /// The codec needs the edge's work and it did not run.
    #[error("the {0} codec needs the edge's result")]
    NoEdge(&'static str),
}

/// Encodes requests for one cloud model.
pub trait OffloadCodec: Send + Sync {
    /// Its name, for logs and errors.
    fn name(&self) -> &'static str;
    /// The cloud model it feeds.
    fn target(&self) -> Target;
    /// True when it needs the edge's result (encoders and MAS run first).
    fn needs_edge(&self) -> bool;
    /// The request's input tensors, named as the pipeline's `[cloud]` says.
    fn encode(&self, input: &CodecInput<'_>) -> Result<Vec<InferTensor>, CodecError>;
}

/// The codec a policy uploads with: the frame as JPEG for `cloud-only`, every patch for
/// `cloud-features`, the compact tensor for the rest.
pub fn for_policy(kind: PolicyKind, names: &CloudNames) -> Box<dyn OffloadCodec> {
    match kind {
        PolicyKind::CloudOnly => Box::new(Jpeg::new(names, CLOUD_ONLY_JPEG_QUALITY)),
        PolicyKind::CloudFeatures => Box::new(Dense::new(names)),
        _ => Box::new(Compact::new(names)),
    }
}

/// The compact model's inputs (`[cloud] compact`, `question`): what [`Compact`] and
/// [`Dense`] both feed.
#[derive(Debug, Clone)]
struct CompactInputs {
    compact: String,
    question: String,
}

impl CompactInputs {
    fn of(names: &CloudNames) -> Self {
        Self {
            compact: names.compact.clone(),
            question: names.question.clone(),
        }
    }

    /// The packed features and the question embedding, as the compact model's inputs.
    fn tensors(&self, packed: Vec<u8>, edge: &EdgeResult) -> Vec<InferTensor> {
        vec![
            InferTensor::u8(&self.compact, vec![1, packed.len() as i64], packed),
            InferTensor::f32(
                &self.question,
                vec![1, edge.question_embedding.len() as i64],
                edge.question_embedding.clone(),
            ),
        ]
    }
}
