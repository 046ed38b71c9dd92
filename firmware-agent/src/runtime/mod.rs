//! Inference runtime: one small trait, [`InferenceRuntime`], and its default
//! implementation on ONNX Runtime ([`OrtRuntime`], loaded at run time from the library that
//! `scripts/setup.sh` fetches).
//!
//! ```no_run
//! use msao_agent::runtime::{
//!     InferenceRuntime, ModelManifest, NamedTensor, OrtRuntime, RuntimeOptions, Tensor,
//! };
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = OrtRuntime::new(&RuntimeOptions::default())?;
//! let manifest = ModelManifest::load("models/silero-vad/silero-vad-fp32.toml".as_ref())?;
//! let mut vad = runtime.load(&manifest, runtime.default_provider())?;
//! let out = vad.run(&[
//!     NamedTensor::new("input", Tensor::f32(vec![1, 576], vec![0.0; 576])?),
//!     NamedTensor::new("state", Tensor::f32(vec![2, 1, 128], vec![0.0; 256])?),
//!     NamedTensor::new("sr", Tensor::i64(vec![], vec![16000])?),
//! ])?;
//! println!("speech probability {:?} on {:?}", out[0].tensor.as_f32(), vad.provider());
//! # Ok(()) }
//! ```
//!
//! | file       | owns |
//! |------------|------|
//! | `tensor`   | [`Tensor`], [`DType`], [`NamedTensor`]: the values models take and give |
//! | `manifest` | model manifests (TOML), their validation, run-time tensor checks, the catalog |
//! | `options`  | [`RuntimeOptions`]: library path, provider, TensorRT settings, threads |
//! | `library`  | where `libonnxruntime.so` is looked for, in order |
//! | `onnx`     | [`OrtRuntime`] on ONNX Runtime: environment, sessions, one file per execution provider |
//! | `gpu`      | GPU facts from the CUDA driver (`cudarc` feature) |
//! | `error`    | [`RuntimeError`] |
//!
//! Execution providers: a model is loaded for the provider asked for; when the loaded
//! library lacks it (the PyPI wheel is CPU-only) or registering it fails, the runtime warns
//! once and runs on CPU, and [`LoadedModel::provider`] says what actually runs.

pub mod error;
pub mod gpu;
pub mod library;
pub mod manifest;
pub mod onnx;
pub mod options;
pub mod tensor;

pub use error::RuntimeError;
pub use manifest::{ManifestError, ModelCatalog, ModelManifest, TensorMismatch};
pub use onnx::OrtRuntime;
pub use options::{RuntimeOptions, TensorRtOptions, parse_provider, provider_name};
pub use tensor::{DType, NamedTensor, Tensor, TensorData};

use msao::message::ExecProvider;

/// An inference engine: loads models described by manifests, for an execution provider.
pub trait InferenceRuntime: Send + Sync {
    /// Engine name for logs and capability documents (`onnxruntime`).
    fn name(&self) -> &'static str;

    /// Engine version actually loaded (`1.31.1`), when known.
    fn version(&self) -> Option<&str>;

    /// True when the loaded engine offers `provider`. CPU is always available.
    fn is_available(&self, provider: ExecProvider) -> bool;

    /// The providers [`Self::is_available`] accepts, in `ExecProvider` order.
    fn providers(&self) -> Vec<ExecProvider> {
        ExecProvider::ALL
            .iter()
            .copied()
            .filter(|p| self.is_available(*p))
            .collect()
    }

    /// Loads a model for `provider`, falling back to CPU (with one warning) when the
    /// provider is unavailable. The graph is checked against the manifest: names, dtypes
    /// and every dimension the graph fixes.
    fn load(
        &self,
        manifest: &ModelManifest,
        provider: ExecProvider,
    ) -> Result<Box<dyn LoadedModel>, RuntimeError>;
}

/// A model ready to run.
pub trait LoadedModel: Send {
    /// Its manifest.
    fn manifest(&self) -> &ModelManifest;

    /// The execution provider that actually runs it.
    fn provider(&self) -> ExecProvider;

    /// Runs the model on named inputs (checked against the manifest first) and returns
    /// the outputs in manifest order.
    fn run(&mut self, inputs: &[NamedTensor]) -> Result<Vec<NamedTensor>, RuntimeError>;
}
