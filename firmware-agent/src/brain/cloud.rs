//! [`CloudHead`]: the cloud model (`models/vqa/vqa-cloud-fp32.onnx`) run on a received
//! compact tensor and question embedding — what the reference cloud endpoint serves and what
//! `msao-host eval` measures. The compact tensor is validated ([`msao::compact::decode`]) and
//! scattered into the dense inputs the manifest's `[bindings]` name.

use super::BrainError;
use crate::pipelines::PipelineSpec;
use crate::runtime::manifest::{Dim, Role};
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
    names: Names,
    label: String,
}

/// The graph's tensors (the manifest's `[bindings]`, role `cloud-compact`).
struct Names {
    patches: String,
    scale: String,
    patch_mask: String,
    question: String,
    logits: String,
}

impl CloudHead {
    /// Loads the pipeline's cloud model (`[cloud] model`, FP32) from a catalog. Its
    /// manifest declares `role = "cloud-compact"` and binds the graph's inputs the compact
    /// tensor is scattered into (`patches` i8 `[batch, P, D]`, `scale` `[batch, 1]`,
    /// `patch_mask` `[batch, P]`), the question embedding (`question` `[batch, Q]`) and the
    /// `logits` output, one value per cloud label.
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
        let label = manifest.label();
        manifest
            .check_role(Role::CloudCompact)
            .map_err(BrainError::Cloud)?;
        let bound = |slot: &str| {
            manifest
                .binding(slot)
                .map(str::to_string)
                .ok_or_else(|| BrainError::Cloud(format!("{label}: has no [bindings] {slot}")))
        };
        let names = Names {
            patches: bound("patches")?,
            scale: bound("scale")?,
            patch_mask: bound("patch_mask")?,
            question: bound("question")?,
            logits: bound("logits")?,
        };
        let classes = manifest
            .output(&names.logits)
            .and_then(|t| match t.shape.last() {
                Some(Dim::Fixed(n)) => Some(*n),
                _ => None,
            })
            .ok_or_else(|| {
                BrainError::Cloud(format!(
                    "{label}: output `{}` must be [batch, classes]",
                    names.logits
                ))
            })?;
        pipeline
            .cloud
            .labels
            .check_outputs(&format!("{label} output `{}`", names.logits), classes)
            .map_err(|e| BrainError::Cloud(e.to_string()))?;
        let fixed = |name: &str| -> Vec<usize> {
            manifest
                .input(name)
                .map(|t| {
                    t.shape
                        .iter()
                        .skip(1)
                        .filter_map(|d| match d {
                            Dim::Fixed(n) => Some(*n),
                            Dim::Named(_) => None,
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let (patches, dim, question_dim) = match (
            fixed(&names.patches).as_slice(),
            fixed(&names.question).as_slice(),
        ) {
            ([patches, dim], [qd]) => (*patches, *dim, *qd),
            _ => {
                return Err(BrainError::Cloud(format!(
                    "{label}: `{}` must be [batch, P, D] and `{}` [batch, Q], fixed sizes",
                    names.patches, names.question
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
            names,
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
                &self.names.patches,
                Tensor::new(vec![1, self.patches, self.dim], TensorData::I8(patches))
                    .map_err(shape_err)?,
            ),
            NamedTensor::new(
                &self.names.scale,
                Tensor::f32(vec![1, 1], vec![view.scale()]).map_err(shape_err)?,
            ),
            NamedTensor::new(
                &self.names.patch_mask,
                Tensor::f32(vec![1, self.patches], mask).map_err(shape_err)?,
            ),
            NamedTensor::new(
                &self.names.question,
                Tensor::f32(vec![1, self.question_dim], question.to_vec()).map_err(shape_err)?,
            ),
        ];
        let out = self
            .model
            .run(&inputs)
            .map_err(|e| BrainError::Cloud(e.to_string()))?;
        let logits = out
            .iter()
            .find(|o| o.name == self.names.logits)
            .and_then(|o| o.tensor.as_f32())
            .map(<[f32]>::to_vec)
            .ok_or_else(|| {
                BrainError::Cloud(format!(
                    "{}: no f32 `{}` output",
                    self.label, self.names.logits
                ))
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
