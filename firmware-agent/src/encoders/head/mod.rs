//! The local head seam: what turns the image encoder's work and the question into answer
//! logits (and, when the graph has one, a learned confidence). One [`LocalHead`] per way a
//! pipeline may run it (`[head] kind`), one file each:
//!
//! | file       | owns |
//! |------------|------|
//! | `fused`    | [`Fused`]: the head is part of the image graph, which also takes the question |
//! | `separate` | [`Separate`]: a graph of its own fed the image embedding and the question |
//!
//! Either way the image encoder runs its graph once per view, adding what the head asks
//! for ([`LocalHead::image_graph_inputs`]), then hands the outputs to the head.

mod fused;
mod separate;

pub use fused::Fused;
pub use separate::Separate;

use super::error::ImageEncoderError;
use crate::runtime::manifest::Dim;
use crate::runtime::{ModelManifest, NamedTensor, Tensor};

/// What a head gives for one view.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadOutput {
    /// Answer logits (uncalibrated), one per label.
    pub logits: Vec<f32>,
    /// Learned probability that the answer is right, when the graph has it.
    pub confidence: Option<f32>,
}

/// The local answer head.
pub trait LocalHead: Send {
    /// Width of the question embedding it takes.
    fn question_dim(&self) -> usize;
    /// Classes it scores.
    fn answers(&self) -> usize;
    /// True when it gives a learned confidence.
    fn has_confidence(&self) -> bool;
    /// The manifest of the graph whose logits it reads (what its calibration is fitted to).
    fn logits_model(&self) -> Option<&ModelManifest>;
    /// Inputs it adds to the image graph's run (a fused head: the question).
    fn image_graph_inputs(&self, question: &Tensor) -> Vec<NamedTensor>;
    /// The answer from the image graph's outputs, the image embedding and the question.
    fn answer(
        &mut self,
        image_outputs: &[NamedTensor],
        embedding: &[f32],
        question: &Tensor,
    ) -> Result<HeadOutput, ImageEncoderError>;
}

/// The fixed dimensions after the batch of a manifest tensor, when it has exactly `rank`.
pub(crate) fn fixed_dims(
    manifest: &ModelManifest,
    input: bool,
    name: &str,
    rank: usize,
) -> Result<Vec<usize>, String> {
    let kind = if input { "input" } else { "output" };
    let spec = if input {
        manifest.input(name)
    } else {
        manifest.output(name)
    }
    .ok_or_else(|| format!("has no {kind} `{name}`"))?;
    let dims: Option<Vec<usize>> = spec
        .shape
        .iter()
        .skip(1)
        .map(|d| match d {
            Dim::Fixed(n) => Some(*n),
            Dim::Named(_) => None,
        })
        .collect();
    match dims {
        Some(d) if d.len() == rank => Ok(d),
        _ => Err(format!(
            "{kind} `{name}` must be [batch, {rank} fixed dims], is {}",
            crate::runtime::manifest::format_dims(&spec.shape)
        )),
    }
}

/// One f32 output of `len` values, by name.
pub(crate) fn take(
    outputs: &[NamedTensor],
    model: &str,
    name: &str,
    len: usize,
) -> Result<Vec<f32>, ImageEncoderError> {
    let t =
        outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| ImageEncoderError::BadOutput {
                model: model.to_string(),
                tensor: name.to_string(),
                reason: "missing".into(),
            })?;
    match t.tensor.as_f32() {
        Some(v) if v.len() == len => Ok(v.to_vec()),
        _ => Err(ImageEncoderError::BadOutput {
            model: model.to_string(),
            tensor: name.to_string(),
            reason: format!("shape {:?}, expected {len} f32 values", t.tensor.shape()),
        }),
    }
}

/// Where a head's answer is in a graph's outputs: the logits and the optional confidence.
#[derive(Debug, Clone)]
pub(crate) struct HeadOutputs {
    /// The graph's label, for errors.
    pub(crate) label: String,
    /// Logits output.
    pub(crate) logits: String,
    /// Confidence output, when this graph has it.
    pub(crate) confidence: Option<String>,
    /// Classes.
    pub(crate) answers: usize,
}

impl HeadOutputs {
    /// Reads the answer from the graph's outputs.
    pub(crate) fn read(&self, outputs: &[NamedTensor]) -> Result<HeadOutput, ImageEncoderError> {
        Ok(HeadOutput {
            logits: take(outputs, &self.label, &self.logits, self.answers)?,
            confidence: match &self.confidence {
                Some(c) => Some(take(outputs, &self.label, c, 1)?[0]),
                None => None,
            },
        })
    }
}

/// The logits and confidence outputs of whichever graph holds the head, checked against its
/// manifest and the pipeline's labels: `(answers, confidence output if this graph has it)`.
pub(crate) fn check_outputs(
    manifest: &ModelManifest,
    head: &crate::pipelines::Head,
) -> Result<HeadOutputs, String> {
    let answers = fixed_dims(manifest, false, &head.logits, 1)?[0];
    head.labels
        .check_outputs(
            &format!("{} output `{}`", manifest.label(), head.logits),
            answers,
        )
        .map_err(|e| e.to_string())?;
    // The pipeline may name a confidence output that only some precisions have (the int8
    // easy-VQA graph carries the learned gate): absent from this manifest, it is not used.
    let confidence = head
        .confidence
        .clone()
        .filter(|c| manifest.output(c).is_some());
    if let Some(c) = &confidence
        && fixed_dims(manifest, false, c, 1)? != [1]
    {
        return Err(format!("output `{c}` must be [batch, 1]"));
    }
    Ok(HeadOutputs {
        label: manifest.label(),
        logits: head.logits.clone(),
        confidence,
        answers,
    })
}
