//! [`OrtModel`]: one ONNX Runtime session for one manifest, run with checked inputs.

use super::convert::{input_value, output_tensor};
use crate::runtime::{
    LoadedModel, ModelManifest, NamedTensor, RuntimeError, manifest::TensorMismatch,
};
use msao::message::ExecProvider;
use ort::session::{Session, SessionInputValue};

/// A loaded model.
pub struct OrtModel {
    pub(super) session: Session,
    pub(super) manifest: ModelManifest,
    pub(super) provider: ExecProvider,
}

impl LoadedModel for OrtModel {
    fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    fn provider(&self) -> ExecProvider {
        self.provider
    }

    fn run(&mut self, inputs: &[NamedTensor]) -> Result<Vec<NamedTensor>, RuntimeError> {
        let bound = self.manifest.check_inputs(inputs)?;
        let run_error = |reason: String| RuntimeError::Run {
            model: self.manifest.label(),
            reason,
        };
        let mut values: Vec<(&str, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
        for t in inputs {
            let v = input_value(&t.tensor)
                .map_err(|e| run_error(format!("input `{}`: {e}", t.name)))?;
            values.push((t.name.as_str(), v));
        }
        let outputs = self
            .session
            .run(values)
            .map_err(|e| run_error(e.to_string()))?;
        let mut out = Vec::with_capacity(self.manifest.outputs.len());
        for spec in &self.manifest.outputs {
            let value = outputs
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map(|(_, v)| v)
                .ok_or_else(|| run_error(format!("output `{}` was not returned", spec.name)))?;
            let tensor = output_tensor(&value)
                .map_err(|e| run_error(format!("output `{}`: {e}", spec.name)))?;
            out.push(NamedTensor::new(spec.name.clone(), tensor));
        }
        self.manifest
            .check_outputs(&out, bound)
            .map_err(|e: TensorMismatch| RuntimeError::Tensor(e))?;
        Ok(out)
    }
}
