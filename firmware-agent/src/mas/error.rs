//! [`MasError`]: bad probe shapes or parameters, named.

/// Why a MAS score could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MasError {
    /// The probe tensor does not match the layout it was declared with.
    #[error("MAS: probe has {got} values, expected {expected} ({what})")]
    ProbeShape {
        /// Values received.
        got: usize,
        /// Values expected.
        expected: usize,
        /// The layout, e.g. `16 channels × 16 × 16, 4 × 4 patches`.
        what: String,
    },
    /// The probe layout itself is unusable (zero sizes, map not divisible into patches).
    #[error("MAS: bad probe layout: {0}")]
    Layout(String),
    /// The probe holds NaN or infinite values.
    #[error("MAS: probe value {index} is not finite")]
    NotFinite {
        /// Index of the first bad value.
        index: usize,
    },
    /// A configuration value is out of range.
    #[error("MAS config `{key}`: {reason}")]
    Config {
        /// The key, e.g. `mas.spatial.alpha`.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Two embeddings to compare differ in length.
    #[error("MAS: embedding lengths differ ({a} vs {b})")]
    EmbeddingLength {
        /// First length.
        a: usize,
        /// Second length.
        b: usize,
    },
}
