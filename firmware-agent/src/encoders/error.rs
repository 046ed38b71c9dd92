//! [`TextEncoderError`]: why a text encoder could not load or encode, naming the model and
//! the input.

use super::limits::InputLimitError;
use crate::runtime::{ManifestError, RuntimeError};
use std::path::PathBuf;

/// Everything that can go wrong between a manifest and a sentence embedding.
#[derive(Debug, thiserror::Error)]
pub enum TextEncoderError {
    /// The catalog holds no model of this name and precision.
    #[error(
        "text model `{name}` ({precision}) is not in the model catalog (run models/minilm/build.sh to build it)"
    )]
    NotInCatalog {
        /// Model name.
        name: String,
        /// Precision asked for.
        precision: &'static str,
    },
    /// The manifest describes a model of another modality.
    #[error("model `{model}` is a `{modality}` model, not a text model")]
    NotText {
        /// Model label.
        model: String,
        /// Its modality.
        modality: &'static str,
    },
    /// The manifest declares another role.
    #[error("model `{model}`: {reason}")]
    Manifest {
        /// Model label.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// The manifest lacks an input or output the encoder feeds or reads.
    #[error("model `{model}`: manifest has no {kind} `{tensor}`")]
    MissingTensor {
        /// Model label.
        model: String,
        /// `input` or `output`.
        kind: &'static str,
        /// Tensor name.
        tensor: String,
    },
    /// The tokenizer file is missing or unreadable.
    #[error("model `{model}`: cannot load tokenizer {}: {reason}", path.display())]
    Tokenizer {
        /// Model label.
        model: String,
        /// The tokenizer.json path.
        path: PathBuf,
        /// The tokenizer library's message.
        reason: String,
    },
    /// Tokenizing one input failed.
    #[error("model `{model}`: cannot tokenize input {index}: {reason}")]
    Tokenize {
        /// Model label.
        model: String,
        /// Index of the input in the batch.
        index: usize,
        /// The tokenizer library's message.
        reason: String,
    },
    /// An input has no tokens besides `[CLS]` and `[SEP]` (empty, whitespace only, or only
    /// characters the normaliser drops): its embedding would be a constant vector that
    /// looks similar to every short text, so it is refused.
    #[error("model `{model}`: input {index} is empty (no tokens after normalisation)")]
    EmptyText {
        /// Model label.
        model: String,
        /// Index of the input in the batch.
        index: usize,
    },
    /// The model's output does not have the expected shape.
    #[error("model `{model}`: output `{tensor}` has shape {shape:?}, expected [{batch}, {dim}]")]
    BadOutput {
        /// Model label.
        model: String,
        /// Output name.
        tensor: String,
        /// Shape returned.
        shape: Vec<usize>,
        /// Batch size sent.
        batch: usize,
        /// Embedding width expected.
        dim: usize,
    },
    /// Loading the manifest failed.
    #[error(transparent)]
    ManifestFile(#[from] ManifestError),
    /// Loading or running the model failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// Why the image encoder could not load or encode a frame.
#[derive(Debug, thiserror::Error)]
pub enum ImageEncoderError {
    /// The catalog holds no model of this name and precision.
    #[error("model `{name}` ({precision}) is not in the model catalog")]
    NotInCatalog {
        /// Model name.
        name: String,
        /// Precision asked for.
        precision: String,
    },
    /// The manifest does not describe a usable edge image model.
    #[error("model `{model}`: {reason}")]
    Manifest {
        /// Model label.
        model: String,
        /// What is missing or inconsistent.
        reason: String,
    },
    /// The image could not be read or decoded (per request: the agent goes on).
    #[error("cannot decode image {source_name}: {reason}")]
    Decode {
        /// File path or request that carried it.
        source_name: String,
        /// The decoder's message.
        reason: String,
    },
    /// The image is over an input limit (per request: the agent goes on).
    #[error("image {source_name}: {limit}")]
    Limit {
        /// File path or request that carried it.
        source_name: String,
        /// Which limit, and by how much.
        limit: InputLimitError,
    },
    /// The question embedding has the wrong width.
    #[error("model `{model}`: question embedding has {got} values, expected {expected}")]
    QuestionLength {
        /// Model label.
        model: String,
        /// Width given.
        got: usize,
        /// Width expected.
        expected: usize,
    },
    /// An output is missing or has the wrong size.
    #[error("model `{model}`: output `{tensor}`: {reason}")]
    BadOutput {
        /// Model label.
        model: String,
        /// Output name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// Loading or running the model failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// Why the audio activity probe could not load or score a track.
#[derive(Debug, thiserror::Error)]
pub enum AudioEncoderError {
    /// The catalog holds no model of this name and precision.
    #[error("audio model `{name}` ({precision}) is not in the model catalog")]
    NotInCatalog {
        /// Model name.
        name: String,
        /// Precision asked for.
        precision: String,
    },
    /// The manifest does not describe a usable VAD model.
    #[error("model `{model}`: {reason}")]
    Manifest {
        /// Model label.
        model: String,
        /// What is missing or inconsistent.
        reason: String,
    },
    /// The audio track is over an input limit (per request).
    #[error("audio {source_name}: {limit}")]
    Limit {
        /// File path or request that carried it.
        source_name: String,
        /// Which limit, and by how much.
        limit: InputLimitError,
    },
    /// The audio file could not be read or is not in the expected format (per request).
    #[error("cannot read audio {source_name}: {reason}")]
    Read {
        /// File path or request that carried it.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// An output is missing or has the wrong size.
    #[error("model `{model}`: output `{tensor}`: {reason}")]
    BadOutput {
        /// Model label.
        model: String,
        /// Output name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// Loading or running the model failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}
