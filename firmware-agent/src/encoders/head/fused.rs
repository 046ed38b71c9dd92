//! [`Fused`]: the head is part of the image graph (`[head] kind = "fused"`): the graph takes
//! the question embedding beside the frame and gives the logits with its other outputs.

use super::{HeadOutput, HeadOutputs, LocalHead, check_outputs, fixed_dims};
use crate::encoders::error::ImageEncoderError;
use crate::pipelines::Head;
use crate::runtime::{ModelManifest, NamedTensor, Tensor};

/// A head inside the image graph.
#[derive(Debug, Clone)]
pub struct Fused {
    question: String,
    question_dim: usize,
    outputs: HeadOutputs,
}

impl Fused {
    /// Checks the head's bindings against the image graph's manifest.
    pub fn new(image: &ModelManifest, head: &Head) -> Result<Self, String> {
        let question_dim = fixed_dims(image, true, &head.question, 1)?[0];
        Ok(Self {
            question: head.question.clone(),
            question_dim,
            outputs: check_outputs(image, head)?,
        })
    }
}

impl LocalHead for Fused {
    fn question_dim(&self) -> usize {
        self.question_dim
    }

    fn answers(&self) -> usize {
        self.outputs.answers
    }

    fn has_confidence(&self) -> bool {
        self.outputs.confidence.is_some()
    }

    fn logits_model(&self) -> Option<&ModelManifest> {
        None
    }

    fn image_graph_inputs(&self, question: &Tensor) -> Vec<NamedTensor> {
        vec![NamedTensor::new(&self.question, question.clone())]
    }

    fn answer(
        &mut self,
        image_outputs: &[NamedTensor],
        _embedding: &[f32],
        _question: &Tensor,
    ) -> Result<HeadOutput, ImageEncoderError> {
        self.outputs.read(image_outputs)
    }
}
