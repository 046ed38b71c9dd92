//! [`CloudHead`]: the cloud model (`models/vqa/vqa-cloud-fp32.onnx`) run on a received
//! compact tensor and question embedding — what the reference cloud endpoint serves and what
//! `msao-host eval` measures. The compact tensor is validated ([`msao::compact::decode`]) and
//! scattered into the dense `patches` / `patch_mask` inputs.

use super::BrainError;
use crate::pipelines::PipelineSpec;
use crate::runtime::{
    InferenceRuntime, LoadedModel, ModelCatalog, NamedTensor, Tensor, TensorData,
};
use msao::compact;
use msao::message::{ExecProvider, Precision};

/// One cloud answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudOutput {
    /// Answer logits.
    pub logits: Vec<f32>,
    /// Arg-max answer.
    pub answer: usize,
}

/// The cloud model, loaded.
pub struct CloudHead {
    model: Box<dyn LoadedModel>,
    patches: usize,
    dim: usize,
    question_dim: usize,
    logits: String,
    label: String,
}

impl CloudHead {
    /// Loads the pipeline's cloud model (`[cloud] model`, FP32) from a catalog. Its graph
    /// takes the compact tensor scattered into the dense inputs of a `compact-tensor`
    /// manifest (`patches`, `scale`, `patch_mask`) and the question embedding, and gives the
    /// pipeline's `[cloud] logits`, one value per cloud label.
    pub fn from_catalog(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        pipeline: &PipelineSpec,
        provider: ExecProvider,
    ) -> Result<Self, BrainError> {
        let name = &pipeline.cloud.model;
        let manifest = catalog.find(name, Precision::Fp32).ok_or_else(|| {
            BrainError::Cloud(format!("`{name}` (fp32) is not in the model catalog"))
        })?;
        let logits = pipeline.cloud.logits.clone();
        let classes = manifest
            .output(&logits)
            .and_then(|t| match t.shape.last() {
                Some(crate::runtime::manifest::Dim::Fixed(n)) => Some(*n),
                _ => None,
            })
            .ok_or_else(|| {
                BrainError::Cloud(format!(
                    "{}: manifest has no output `{logits}` [batch, classes]",
                    manifest.label()
                ))
            })?;
        pipeline
            .cloud
            .labels
            .check_outputs(&format!("{} output `{logits}`", manifest.label()), classes)
            .map_err(|e| BrainError::Cloud(e.to_string()))?;
        let label = manifest.label();
        let fixed = |name: &str| -> Result<Vec<usize>, BrainError> {
            manifest
                .input(name)
                .map(|t| {
                    t.shape
                        .iter()
                        .skip(1)
                        .filter_map(|d| match d {
                            crate::runtime::manifest::Dim::Fixed(n) => Some(*n),
                            crate::runtime::manifest::Dim::Named(_) => None,
                        })
                        .collect()
                })
                .ok_or_else(|| {
                    BrainError::Cloud(format!("{label}: manifest has no input `{name}`"))
                })
        };
        let p = fixed("patches")?;
        let q = fixed("question")?;
        let (patches, dim, question_dim) = match (p.as_slice(), q.as_slice()) {
            ([patches, dim], [qd]) => (*patches, *dim, *qd),
            _ => {
                return Err(BrainError::Cloud(format!(
                    "{label}: `patches` must be [batch, P, D] and `question` [batch, Q]"
                )));
            }
        };
        let model = runtime
            .load(manifest, provider)
            .map_err(|e| BrainError::Cloud(e.to_string()))?;
        Ok(Self {
            model,
            patches,
            dim,
            question_dim,
            logits,
            label,
        })
    }

    /// Model label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Patches in the model's grid.
    pub fn patches(&self) -> usize {
        self.patches
    }

    /// Features per patch.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Answers from an encoded compact tensor and a question embedding. A tensor for another
    /// grid, or a question of the wrong width, is an error naming both sizes.
    pub fn run(
        &mut self,
        compact_bytes: &[u8],
        question: &[f32],
    ) -> Result<CloudOutput, BrainError> {
        let view = compact::decode(compact_bytes)?;
        if view.total() != self.patches || view.dim() != self.dim {
            return Err(BrainError::Cloud(format!(
                "{}: compact tensor is {} patches × {}, the model takes {} × {}",
                self.label,
                view.total(),
                view.dim(),
                self.patches,
                self.dim
            )));
        }
        if question.len() != self.question_dim {
            return Err(BrainError::Cloud(format!(
                "{}: question embedding has {} values, expected {}",
                self.label,
                question.len(),
                self.question_dim
            )));
        }
        let mut patches = vec![0i8; self.patches * self.dim];
        let mut mask = vec![0.0f32; self.patches];
        view.scatter_into(&mut patches, &mut mask)?;
        let shape_err = |e: crate::runtime::tensor::ShapeMismatch| BrainError::Cloud(e.to_string());
        let inputs = [
            NamedTensor::new(
                "patches",
                Tensor::new(vec![1, self.patches, self.dim], TensorData::I8(patches))
                    .map_err(shape_err)?,
            ),
            NamedTensor::new(
                "scale",
                Tensor::f32(vec![1, 1], vec![view.scale()]).map_err(shape_err)?,
            ),
            NamedTensor::new(
                "patch_mask",
                Tensor::f32(vec![1, self.patches], mask).map_err(shape_err)?,
            ),
            NamedTensor::new(
                "question",
                Tensor::f32(vec![1, self.question_dim], question.to_vec()).map_err(shape_err)?,
            ),
        ];
        let out = self
            .model
            .run(&inputs)
            .map_err(|e| BrainError::Cloud(e.to_string()))?;
        let logits = out
            .iter()
            .find(|o| o.name == self.logits)
            .and_then(|o| o.tensor.as_f32())
            .map(<[f32]>::to_vec)
            .ok_or_else(|| {
                BrainError::Cloud(format!("{}: no f32 `{}` output", self.label, self.logits))
            })?;
        Ok(CloudOutput {
            answer: argmax(&logits),
            logits,
        })
    }
}

/// Index of the largest value (0 for an empty slice).
pub(crate) fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, x)| {
            if *x > bv { (i, *x) } else { (bi, bv) }
        })
        .0
}
