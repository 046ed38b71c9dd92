//! [`Separate`]: the head is a graph of its own (`[head] kind = "separate"`), fed the image
//! encoder's pooled embedding (`[head] image`) and the question embedding
//! (`[head] question`), giving the logits (and optionally a learned confidence).

use super::{HeadOutput, LocalHead, check_outputs, fixed_dims, take};
use crate::encoders::error::ImageEncoderError;
use crate::pipelines::Head;
use crate::runtime::{
    InferenceRuntime, LoadedModel, ModelCatalog, ModelManifest, NamedTensor, Tensor,
};
use msao::message::ExecProvider;

/// A head graph of its own.
pub struct Separate {
    model: Box<dyn LoadedModel>,
    image: String,
    question: String,
    logits: String,
    confidence: Option<String>,
    embedding_dim: usize,
    question_dim: usize,
    answers: usize,
    label: String,
}

impl Separate {
    /// Loads the head graph the pipeline names and checks its bindings; `embedding_dim` is
    /// the image encoder's embedding width.
    pub fn load(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        head: &Head,
        embedding_dim: usize,
        provider: ExecProvider,
    ) -> Result<Self, ImageEncoderError> {
        let bad = |model: String, reason: String| ImageEncoderError::Manifest { model, reason };
        let Some(graph) = &head.graph else {
            return Err(bad(
                "head".into(),
                "a separate head needs `[head] model`".into(),
            ));
        };
        let manifest = catalog.find(&graph.model, graph.precision).ok_or_else(|| {
            ImageEncoderError::NotInCatalog {
                name: graph.model.clone(),
                precision: format!("{:?}", graph.precision).to_lowercase(),
            }
        })?;
        let label = manifest.label();
        let image_dim =
            fixed_dims(manifest, true, &graph.image, 1).map_err(|r| bad(label.clone(), r))?[0];
        if image_dim != embedding_dim {
            return Err(bad(
                label,
                format!(
                    "input `{}` takes {image_dim} values but the image encoder's embedding has {embedding_dim}",
                    graph.image
                ),
            ));
        }
        let question_dim =
            fixed_dims(manifest, true, &head.question, 1).map_err(|r| bad(label.clone(), r))?[0];
        let (answers, confidence) =
            check_outputs(manifest, head).map_err(|r| bad(label.clone(), r))?;
        let model = runtime.load(manifest, provider)?;
        Ok(Self {
            model,
            image: graph.image.clone(),
            question: head.question.clone(),
            logits: head.logits.clone(),
            confidence,
            embedding_dim,
            question_dim,
            answers,
            label,
        })
    }
}

impl LocalHead for Separate {
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
        Some(self.model.manifest())
    }

    fn image_graph_inputs(&self, _question: &Tensor) -> Vec<NamedTensor> {
        Vec::new()
    }

    fn answer(
        &mut self,
        _image_outputs: &[NamedTensor],
        embedding: &[f32],
        question: &Tensor,
    ) -> Result<HeadOutput, ImageEncoderError> {
        let image = Tensor::f32(vec![1, self.embedding_dim], embedding.to_vec()).map_err(|e| {
            ImageEncoderError::Manifest {
                model: self.label.clone(),
                reason: e.to_string(),
            }
        })?;
        let outputs = self.model.run(&[
            NamedTensor::new(&self.image, image),
            NamedTensor::new(&self.question, question.clone()),
        ])?;
        Ok(HeadOutput {
            logits: take(&outputs, &self.label, &self.logits, self.answers)?,
            confidence: match &self.confidence {
                Some(c) => Some(take(&outputs, &self.label, c, 1)?[0]),
                None => None,
            },
        })
    }
}
