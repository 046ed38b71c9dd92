//! [`Fused`]: the head is part of the image graph (`[head] kind = "fused"`): the graph takes
//! the question embedding beside the frame and gives the logits with its other outputs.

use super::{HeadOutput, LocalHead, check_outputs, fixed_dims, take};
use crate::encoders::error::ImageEncoderError;
use crate::pipelines::Head;
use crate::runtime::{ModelManifest, NamedTensor, Tensor};

/// A head inside the image graph.
#[derive(Debug, Clone)]
pub struct Fused {
    question: String,
    logits: String,
    confidence: Option<String>,
    question_dim: usize,
    answers: usize,
    label: String,
}

impl Fused {
    /// Checks the head's bindings against the image graph's manifest.
    pub fn new(image: &ModelManifest, head: &Head) -> Result<Self, String> {
        let question_dim = fixed_dims(image, true, &head.question, 1)?[0];
        let (answers, confidence) = check_outputs(image, head)?;
        Ok(Self {
            question: head.question.clone(),
            logits: head.logits.clone(),
            confidence,
            question_dim,
            answers,
            label: image.label(),
        })
    }
}

impl LocalHead for Fused {
    fn question_dim(&self) -> usize {
        self.question_dim
    }

    fn answers(&self) -> usize {
        self.answers
    }

    fn has_confidence(&self) -> bool {
        self.confidence.is_some()
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
        Ok(HeadOutput {
            logits: take(image_outputs, &self.label, &self.logits, self.answers)?,
            confidence: match &self.confidence {
                Some(c) => Some(take(image_outputs, &self.label, c, 1)?[0]),
                None => None,
            },
        })
    }
}
