//! Run-time checks of tensors against the manifest: every input present once, right
//! dtype, right rank, fixed dimensions equal, and each named dimension one size across
//! all tensors of a run (`batch` of `input` equals `batch` of `state`).

use super::{Dim, ModelManifest, TensorSpec, format_dims};
use crate::runtime::tensor::{DType, NamedTensor, format_shape};
use std::collections::BTreeMap;

/// Sizes the named dimensions took in one run (`batch` → 1, `samples` → 576).
pub type BoundDims = BTreeMap<String, usize>;

/// A tensor that does not match its manifest declaration. Every variant names the model
/// and the tensor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorMismatch {
    /// A declared input was not given.
    #[error("model `{model}`: input `{tensor}` is missing")]
    Missing {
        /// Model name and precision.
        model: String,
        /// Input name.
        tensor: String,
    },
    /// A tensor was given that the model does not declare.
    #[error("model `{model}`: `{tensor}` is not an input of this model (inputs: {known})")]
    Unknown {
        /// Model name and precision.
        model: String,
        /// The name given.
        tensor: String,
        /// Declared inputs, comma-separated.
        known: String,
    },
    /// The same input was given twice.
    #[error("model `{model}`: input `{tensor}` is given twice")]
    Duplicate {
        /// Model name and precision.
        model: String,
        /// Input name.
        tensor: String,
    },
    /// Wrong element type.
    #[error("model `{model}`: {kind} `{tensor}` has dtype {actual}, expected {expected}")]
    Dtype {
        /// Model name and precision.
        model: String,
        /// `input` or `output`.
        kind: &'static str,
        /// Tensor name.
        tensor: String,
        /// Declared.
        expected: DType,
        /// Given.
        actual: DType,
    },
    /// Wrong rank or dimension size.
    #[error("model `{model}`: {kind} `{tensor}` has {detail}")]
    Shape {
        /// Model name and precision.
        model: String,
        /// `input` or `output`.
        kind: &'static str,
        /// Tensor name.
        tensor: String,
        /// Given and declared shapes and the offending axis, e.g. `shape [1, 100], expected
        /// [batch, samples]: axis 1 (`samples`) is 100 but …`.
        detail: String,
    },
}

impl ModelManifest {
    /// Checks a run's inputs; returns the sizes the named dimensions took.
    pub fn check_inputs(&self, inputs: &[NamedTensor]) -> Result<BoundDims, TensorMismatch> {
        let model = self.label();
        for (i, given) in inputs.iter().enumerate() {
            if self.input(&given.name).is_none() {
                let known: Vec<&str> = self.inputs.iter().map(|t| t.name.as_str()).collect();
                return Err(TensorMismatch::Unknown {
                    model,
                    tensor: given.name.clone(),
                    known: known.join(", "),
                });
            }
            if inputs[..i].iter().any(|g| g.name == given.name) {
                return Err(TensorMismatch::Duplicate {
                    model,
                    tensor: given.name.clone(),
                });
            }
        }
        let mut bound = BoundDims::new();
        for spec in &self.inputs {
            let given = inputs.iter().find(|g| g.name == spec.name).ok_or_else(|| {
                TensorMismatch::Missing {
                    model: model.clone(),
                    tensor: spec.name.clone(),
                }
            })?;
            check_one(&model, "input", spec, given, &mut bound)?;
        }
        Ok(bound)
    }

    /// Checks a run's outputs against the declarations and the dimension sizes the inputs
    /// bound. Outputs the manifest does not declare are ignored (the session only returns
    /// declared ones).
    pub fn check_outputs(
        &self,
        outputs: &[NamedTensor],
        mut bound: BoundDims,
    ) -> Result<(), TensorMismatch> {
        let model = self.label();
        for given in outputs {
            if let Some(spec) = self.output(&given.name) {
                check_one(&model, "output", spec, given, &mut bound)?;
            }
        }
        Ok(())
    }
}

fn check_one(
    model: &str,
    kind: &'static str,
    spec: &TensorSpec,
    given: &NamedTensor,
    bound: &mut BoundDims,
) -> Result<(), TensorMismatch> {
    let actual = given.tensor.dtype();
    if actual != spec.dtype {
        return Err(TensorMismatch::Dtype {
            model: model.into(),
            kind,
            tensor: spec.name.clone(),
            expected: spec.dtype,
            actual,
        });
    }
    let shape = given.tensor.shape();
    let fail = |reason: String| TensorMismatch::Shape {
        model: model.into(),
        kind,
        tensor: spec.name.clone(),
        detail: format!(
            "shape {}, expected {}: {reason}",
            format_shape(shape),
            format_dims(&spec.shape)
        ),
    };
    if shape.len() != spec.shape.len() {
        return Err(fail(format!(
            "rank {} instead of {}",
            shape.len(),
            spec.shape.len()
        )));
    }
    for (axis, (dim, &size)) in spec.shape.iter().zip(shape).enumerate() {
        match dim {
            Dim::Fixed(n) if *n != size => {
                return Err(fail(format!("axis {axis} is {size}, must be {n}")));
            }
            Dim::Fixed(_) => {}
            Dim::Named(name) => match bound.get(name) {
                Some(&b) if b != size => {
                    return Err(fail(format!(
                        "axis {axis} (`{name}`) is {size} but `{name}` is {b} in an earlier tensor"
                    )));
                }
                Some(_) => {}
                None => {
                    bound.insert(name.clone(), size);
                }
            },
        }
    }
    Ok(())
}
