//! Why a configuration was refused. The binary exits with code 2 on any of these.

use std::path::PathBuf;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a bad value. The TOML error
    /// carries line, column and the offending line.
    #[error("invalid config file {}{}: {source}", path.display(), key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Path of the offending key (`telemetry.sample_interval`), when known; for an
        /// unknown key, the table that holds it (the TOML message names the key).
        key: Option<String>,
        /// The TOML error.
        source: Box<toml::de::Error>,
    },
    /// A value that is valid alone but not with the others (checked after merging).
    #[error("invalid setting `{key}` (from {origin}): {reason}")]
    Invalid {
        /// Key or flag.
        key: String,
        /// `command line`, the file path, or `defaults`.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}
