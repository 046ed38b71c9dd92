//! [`Separate`]: the head is a graph of its own (`[head] kind = "separate"`), fed the image
//! encoder's pooled embedding (`[head] image`) and the question embedding
//! (`[head] question`), giving the logits (and optionally a learned confidence).

use super::{HeadOutput, HeadOutputs, LocalHead, check_outputs, fixed_dims};
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
    embedding_dim: usize,
    question_dim: usize,
    outputs: HeadOutputs,
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
        manifest
            .check_role(crate::runtime::manifest::Role::LocalHead)
            .map_err(|r| bad(label.clone(), r))?;
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
        let outputs = check_outputs(manifest, head).map_err(|r| bad(label, r))?;
        let model = runtime.load(manifest, provider)?;
        Ok(Self {
            model,
            image: graph.image.clone(),
            question: head.question.clone(),
            embedding_dim,
            question_dim,
            outputs,
        })
    }
}

impl LocalHead for Separate {
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
                model: self.outputs.label.clone(),
                reason: e.to_string(),
            }
        })?;
        let outputs = self.model.run(&[
            NamedTensor::new(&self.image, image),
            NamedTensor::new(&self.question, question.clone()),
        ])?;
        self.outputs.read(&outputs)
    }
}
