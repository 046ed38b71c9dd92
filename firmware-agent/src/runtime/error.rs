//! [`RuntimeError`]: why the inference runtime could not load a library or model, or run it.

use super::library::Candidate;
use super::manifest::TensorMismatch;
use std::path::PathBuf;

/// Everything that can go wrong between finding `libonnxruntime.so` and reading outputs.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No candidate path holds the ONNX Runtime library.
    #[error(
        "ONNX Runtime library not found; searched:\n{}\nrun scripts/setup.sh from the repository root to fetch it, or point `[runtime] onnxruntime` or MSAO_ORT_LIB at a libonnxruntime.so",
        list(.searched)
    )]
    LibraryNotFound {
        /// Every path tried, in order, with where it came from.
        searched: Vec<Candidate>,
    },
    /// The library exists but could not be loaded (wrong architecture, too old, not ORT).
    #[error("cannot load ONNX Runtime from {} ({origin}): {reason}", path.display())]
    LibraryLoad {
        /// The library.
        path: PathBuf,
        /// Where the path came from (`config`, `MSAO_ORT_LIB`, …).
        origin: &'static str,
        /// The loader's message.
        reason: String,
    },
    /// The ONNX Runtime environment could not be created.
    #[error("cannot create the ONNX Runtime environment: {reason}")]
    Environment {
        /// ONNX Runtime's message.
        reason: String,
    },
    /// A session (the model compiled for a provider) could not be created.
    #[error("model `{model}`: cannot create a session from {}: {reason}", file.display())]
    Session {
        /// Model name.
        model: String,
        /// ONNX file.
        file: PathBuf,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// The manifest does not describe the ONNX graph it names.
    #[error("model `{model}`: manifest disagrees with the ONNX graph for `{tensor}`: {reason}")]
    ManifestMismatch {
        /// Model name.
        model: String,
        /// Input or output name.
        tensor: String,
        /// What differs.
        reason: String,
    },
    /// An input (or an output) does not match the manifest.
    #[error(transparent)]
    Tensor(#[from] TensorMismatch),
    /// ONNX Runtime failed while running the model.
    #[error("model `{model}`: inference failed: {reason}")]
    Run {
        /// Model name.
        model: String,
        /// ONNX Runtime's message.
        reason: String,
    },
}

fn list(searched: &[Candidate]) -> String {
    let lines: Vec<String> = searched.iter().map(|c| format!("  - {c}")).collect();
    lines.join("\n")
}
