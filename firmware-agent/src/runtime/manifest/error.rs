//! [`ManifestError`]: why a manifest (or the ONNX file it names) was refused.

use std::path::PathBuf;

/// A manifest that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file or directory cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type. The TOML error
    /// carries line and column.
    #[error("invalid model manifest {}{}: {source}", path.display(), key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Parse {
        /// The manifest.
        path: PathBuf,
        /// Path of the offending key (`inputs[0].layout`), when known.
        key: Option<String>,
        /// The TOML error.
        source: Box<toml::de::Error>,
    },
    /// Well-formed TOML with a value the manifest rules refuse.
    #[error("invalid model manifest {} (model `{model}`), key `{key}`: {reason}", path.display())]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// The model's `name` as written.
        model: String,
        /// Offending key (`inputs[1].shape`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The ONNX file named by the manifest does not exist.
    #[error("model `{model}`: ONNX file {} is missing (run scripts/setup.sh?)", file.display())]
    MissingFile {
        /// Model name and precision.
        model: String,
        /// The expected file.
        file: PathBuf,
    },
    /// The ONNX file is not the one the manifest pins.
    #[error("model `{model}`: sha256 of {} is {actual}, manifest pins {expected}", file.display())]
    Sha256Mismatch {
        /// Model name and precision.
        model: String,
        /// The file.
        file: PathBuf,
        /// From the manifest.
        expected: String,
        /// Of the file.
        actual: String,
    },
    /// Two manifests declare the same (name, precision).
    #[error("model `{model}` is declared twice: {} and {}", first.display(), second.display())]
    Duplicate {
        /// Model name and precision.
        model: String,
        /// First manifest.
        first: PathBuf,
        /// Second manifest.
        second: PathBuf,
    },
}
