//! [`ProfileError`]: why a profile could not be planned or run.

use crate::runtime::RuntimeError;
use std::path::PathBuf;

/// A profile that cannot be planned or finished. Every variant names what it is about.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The profile was stopped (the agent is shutting down) after `done` runs.
    #[error("stopped after {done} runs: the agent is shutting down")]
    Stopped {
        /// Runs completed (warm-up included).
        done: u64,
    },
    /// Nothing to profile.
    #[error("no model manifests in {}", dir.display())]
    NoModels {
        /// The models directory.
        dir: PathBuf,
    },
    /// The requested model is not installed.
    #[error("unknown model `{name}`; installed: {known}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// Installed model names, comma-separated.
        known: String,
    },
    /// No installed manifest has the requested precision.
    #[error("no {precision} manifest{}; installed: {available}", model.as_ref().map(|m| format!(" for model `{m}`")).unwrap_or_default())]
    NoSuchPrecision {
        /// The model asked for, if any.
        model: Option<String>,
        /// The precision asked for (`int8`).
        precision: &'static str,
        /// Installed (model, precision) pairs.
        available: String,
    },
    /// The requested execution provider is not in the loaded runtime.
    #[error(
        "execution provider `{provider}` is not available in {runtime}; available: {available}"
    )]
    ProviderUnavailable {
        /// The provider asked for.
        provider: &'static str,
        /// Runtime name and version.
        runtime: String,
        /// Providers the runtime offers.
        available: String,
    },
    /// Batch > 1 for a model whose inputs have no `batch` dimension.
    #[error("model `{model}` has no batch dimension; only batch 1 can be profiled")]
    BatchUnsupported {
        /// Model name and precision.
        model: String,
    },
    /// A batch projected to need more memory than the profile may use.
    // Short: it travels in a 96-character `Fault` (the agent's log has every figure).
    #[error(
        "batch {batch} needs ~{} MiB for {model}, above {} MiB (max_memory_share)",
        projected_kib.div_ceil(1024), budget_kib / 1024
    )]
    MemoryBudget {
        /// Model name.
        model: String,
        /// Batch size asked for.
        batch: u16,
        /// Resident memory the loaded model added.
        model_kib: u64,
        /// Resident memory one run at batch 1 added.
        per_item_kib: u64,
        /// Projected for the batch.
        projected_kib: u64,
        /// What the profile may add.
        budget_kib: u64,
    },
    /// Bad numbers in the request.
    #[error("invalid profile request: {0}")]
    InvalidSpec(String),
    /// The model loaded, but on another provider than requested.
    #[error(
        "model `{model}`: asked for {requested} but it runs on {actual}; not profiling it under the wrong name"
    )]
    FellBack {
        /// Model name and precision.
        model: String,
        /// Provider asked for.
        requested: &'static str,
        /// Provider that runs.
        actual: &'static str,
    },
    /// Synthetic inputs cannot be built from the manifest.
    #[error("model `{model}`: cannot build input `{tensor}`: {reason}")]
    Input {
        /// Model name and precision.
        model: String,
        /// Input name.
        tensor: String,
        /// Why.
        reason: String,
    },
    /// Loading or running the model failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}
