//! Errors of the encoding path (decoding reports [`crate::DropCause`] instead: a bad frame
//! on the wire is an expected event, not a failure of the caller).

use core::fmt;

/// Encoding a frame failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is smaller than the encoded frame.
    BufferTooSmall {
        /// Bytes the frame needs at most.
        need: usize,
        /// Bytes the caller provided.
        have: usize,
    },
    /// postcard refused the value (a bug in a wire type; never expected).
    Serialize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { need, have } => {
                write!(
                    f,
                    "frame buffer too small: need up to {need} bytes, have {have}"
                )
            }
            Self::Serialize => f.write_str("postcard serialisation failed"),
        }
    }
}

impl core::error::Error for EncodeError {}
