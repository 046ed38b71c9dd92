//! [`BrainError`].

use crate::encoders::{AudioEncoderError, ImageEncoderError, TextEncoderError};
use crate::mas::MasError;
use msao::compact::CompactError;

/// Why the edge brain could not load, or could not handle one request.
#[derive(Debug, thiserror::Error)]
pub enum BrainError {
    /// Text encoder.
    #[error(transparent)]
    Text(#[from] TextEncoderError),
    /// Image encoder (including a corrupt image file).
    #[error(transparent)]
    Image(#[from] ImageEncoderError),
    /// Audio probe (including an unreadable audio file).
    #[error(transparent)]
    Audio(#[from] AudioEncoderError),
    /// An input over one of the [`crate::encoders::InputLimits`].
    #[error(transparent)]
    Limit(#[from] crate::encoders::InputLimitError),
    /// MAS scoring.
    #[error(transparent)]
    Mas(#[from] MasError),
    /// Compact tensor encoding or decoding.
    #[error("compact tensor: {0}")]
    Compact(#[from] CompactError),
    /// The request asks for audio but no audio model is loaded.
    #[error("request has audio but the pipeline has no audio model loaded")]
    NoAudioModel,
    /// The pipeline's models do not fit together.
    #[error("pipeline {path}: {reason}")]
    Pipeline {
        /// The pipeline file.
        path: String,
        /// What does not fit.
        reason: String,
    },
    /// The calibration file is unusable.
    #[error("calibration {path}: {reason}")]
    Calibration {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The region detector cannot load, does not fit its bindings, or failed on a frame.
    #[error("region detector {model}: {reason}")]
    Detector {
        /// The model.
        model: String,
        /// What went wrong.
        reason: String,
    },
    /// Loading or running the cloud model failed.
    #[error("cloud model: {0}")]
    Cloud(String),
}

impl BrainError {
    /// The input limit this error reports, wherever it was found (frame, question, audio).
    pub fn limit(&self) -> Option<&crate::encoders::InputLimitError> {
        use crate::encoders::{AudioEncoderError, ImageEncoderError};
        match self {
            Self::Limit(l)
            | Self::Image(ImageEncoderError::Limit { limit: l, .. })
            | Self::Audio(AudioEncoderError::Limit { limit: l, .. }) => Some(l),
            _ => None,
        }
    }
}
