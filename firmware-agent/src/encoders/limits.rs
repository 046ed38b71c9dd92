//! [`InputLimits`]: the caps on one request's inputs — frame file size, frame dimensions,
//! question length, audio duration — checked from headers and lengths before anything is
//! decoded, tokenised or read, so a hostile input costs a header read, not the device's
//! memory.
//!
//! Set in the `[limits]` config table (keys named like the fields); an input over a limit
//! fails its own request with an [`InputLimitError`] (outcome `error`), never the run.
//!
//! ```toml
//! [limits]
//! max_frame_bytes = 16777216   # frame file size
//! max_image_width = 4096       # frame width, px (read from the header)
//! max_image_height = 4096      # frame height, px
//! max_question_bytes = 2048    # question text, UTF-8 bytes (checked before tokenising)
//! max_audio_seconds = 30.0     # audio track duration (read from the WAV header)
//! ```

use serde::{Deserialize, Serialize};

/// Default largest frame file: 16 MiB holds a 4096 × 4096 PNG of natural content with
/// room to spare; a camera frame (1080p JPEG) is well under 1 MiB.
pub const MAX_FRAME_BYTES: u64 = 16 << 20;
/// Default largest frame width and height, px: 4096 covers every camera the agent is
/// paired with (4K is 3840 × 2160) and bounds a decoded RGBA frame to 64 MiB.
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// Bytes per decoded pixel the decoder may allocate: RGBA at 16 bits per channel, the
/// widest layout PNG decodes to (the decode's `max_alloc` is width × height × this).
pub const DECODE_BYTES_PER_PIXEL: u64 = 8;
/// Default longest question, UTF-8 bytes: the text encoder keeps 128 tokens, which English
/// WordPiece text reaches in well under 1 KiB; 2 KiB leaves room for other scripts and
/// caps tokenising at a few hundred microseconds.
pub const MAX_QUESTION_BYTES: usize = 2048;
/// Default longest audio track, seconds: a spoken question is a few seconds; 30 s is
/// 480 000 samples at 16 kHz (1.9 MB of f32), ~940 VAD chunks.
pub const MAX_AUDIO_SECONDS: f64 = 30.0;
/// Highest value any side limit may be set to (the PNG format's own ceiling is 2³¹, but
/// 65 535² RGBA pixels is already 16 GiB).
pub const CEILING_IMAGE_SIDE: u32 = 65_535;
/// Highest `max_audio_seconds` accepted: one hour of 16 kHz audio is 230 MB of f32.
pub const CEILING_AUDIO_SECONDS: f64 = 3600.0;
/// Highest `max_question_bytes` accepted (1 MiB took the tokenizer 3.8 s).
pub const CEILING_QUESTION_BYTES: usize = 64 << 10;
/// Highest `max_frame_bytes` accepted (1 GiB).
pub const CEILING_FRAME_BYTES: u64 = 1 << 30;

/// Caps on one request's inputs. Every field is required to be > 0 and at most its
/// `CEILING_*` constant ([`InputLimits::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputLimits {
    /// Largest frame file, bytes.
    pub max_frame_bytes: u64,
    /// Widest frame, px.
    pub max_image_width: u32,
    /// Tallest frame, px.
    pub max_image_height: u32,
    /// Longest question, UTF-8 bytes.
    pub max_question_bytes: usize,
    /// Longest audio track, seconds.
    pub max_audio_seconds: f64,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_frame_bytes: MAX_FRAME_BYTES,
            max_image_width: MAX_IMAGE_SIDE,
            max_image_height: MAX_IMAGE_SIDE,
            max_question_bytes: MAX_QUESTION_BYTES,
            max_audio_seconds: MAX_AUDIO_SECONDS,
        }
    }
}

/// An input over one of the [`InputLimits`]; each names the config key that sets it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputLimitError {
    /// The frame file is larger than `limits.max_frame_bytes`.
    #[error("frame file is {bytes} bytes, over limits.max_frame_bytes = {max}")]
    FrameBytes {
        /// Size of the file.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The frame's header declares more pixels than `limits.max_image_width/height`.
    #[error(
        "frame is {width}×{height} px, over limits.max_image_width × max_image_height = {max_width}×{max_height}"
    )]
    ImageSize {
        /// Width in the header.
        width: u32,
        /// Height in the header.
        height: u32,
        /// Width limit.
        max_width: u32,
        /// Height limit.
        max_height: u32,
    },
    /// The question is longer than `limits.max_question_bytes`.
    #[error("question is {bytes} bytes, over limits.max_question_bytes = {max}")]
    Question {
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The audio track is longer than `limits.max_audio_seconds`.
    #[error(
        "audio is {samples} samples at {rate} Hz, over limits.max_audio_seconds = {max_seconds}"
    )]
    AudioDuration {
        /// Samples (per channel) the header declares.
        samples: u64,
        /// Its sample rate.
        rate: u32,
        /// The limit.
        max_seconds: f64,
    },
}

impl InputLimitError {
    /// The config key of the limit that was exceeded (how overflows are counted).
    pub fn key(&self) -> &'static str {
        match self {
            Self::FrameBytes { .. } => "limits.max_frame_bytes",
            Self::ImageSize { .. } => "limits.max_image_size",
            Self::Question { .. } => "limits.max_question_bytes",
            Self::AudioDuration { .. } => "limits.max_audio_seconds",
        }
    }
}

impl InputLimits {
    /// Checks every value is > 0 and at most its ceiling; the error names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let range = |key, ok: bool, got: String, max: String| {
            if ok {
                Ok(())
            } else {
                Err((key, format!("must be in 1..={max}, got {got}")))
            }
        };
        let b = self.max_frame_bytes;
        range(
            "max_frame_bytes",
            (1..=CEILING_FRAME_BYTES).contains(&b),
            b.to_string(),
            CEILING_FRAME_BYTES.to_string(),
        )?;
        for (key, v) in [
            ("max_image_width", self.max_image_width),
            ("max_image_height", self.max_image_height),
        ] {
            range(
                key,
                (1..=CEILING_IMAGE_SIDE).contains(&v),
                v.to_string(),
                CEILING_IMAGE_SIDE.to_string(),
            )?;
        }
        let q = self.max_question_bytes;
        range(
            "max_question_bytes",
            (1..=CEILING_QUESTION_BYTES).contains(&q),
            q.to_string(),
            CEILING_QUESTION_BYTES.to_string(),
        )?;
        let a = self.max_audio_seconds;
        if !(a.is_finite() && a > 0.0 && a <= CEILING_AUDIO_SECONDS) {
            return Err((
                "max_audio_seconds",
                format!("must be in (0, {CEILING_AUDIO_SECONDS}], got {a}"),
            ));
        }
        Ok(())
    }

    /// Refuses a frame file of `bytes`.
    pub fn check_frame_bytes(&self, bytes: u64) -> Result<(), InputLimitError> {
        if bytes > self.max_frame_bytes {
            return Err(InputLimitError::FrameBytes {
                bytes,
                max: self.max_frame_bytes,
            });
        }
        Ok(())
    }

    /// Refuses a frame of `width` × `height` px.
    pub fn check_image(&self, width: u32, height: u32) -> Result<(), InputLimitError> {
        if width > self.max_image_width || height > self.max_image_height {
            return Err(InputLimitError::ImageSize {
                width,
                height,
                max_width: self.max_image_width,
                max_height: self.max_image_height,
            });
        }
        Ok(())
    }

    /// Refuses a question longer than the limit (before it is tokenised).
    pub fn check_question(&self, question: &str) -> Result<(), InputLimitError> {
        if question.len() > self.max_question_bytes {
            return Err(InputLimitError::Question {
                bytes: question.len(),
                max: self.max_question_bytes,
            });
        }
        Ok(())
    }

    /// Refuses an audio track of `samples` at `rate` Hz.
    pub fn check_audio(&self, samples: u64, rate: u32) -> Result<(), InputLimitError> {
        if samples as f64 > self.max_audio_seconds * f64::from(rate.max(1)) {
            return Err(InputLimitError::AudioDuration {
                samples,
                rate,
                max_seconds: self.max_audio_seconds,
            });
        }
        Ok(())
    }

    /// The decoder's own limits: the same sides, and at most
    /// [`DECODE_BYTES_PER_PIXEL`] bytes per allowed pixel.
    pub fn decoder_limits(&self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_image_width);
        l.max_image_height = Some(self.max_image_height);
        l.max_alloc = Some(
            u64::from(self.max_image_width)
                .saturating_mul(u64::from(self.max_image_height))
                .saturating_mul(DECODE_BYTES_PER_PIXEL),
        );
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_each_check_names_its_key() {
        let l = InputLimits::default();
        l.validate().unwrap();
        assert!(l.check_image(4096, 4096).is_ok());
        let e = l.check_image(12_000, 12_000).unwrap_err();
        assert_eq!(e.key(), "limits.max_image_size");
        assert!(e.to_string().contains("12000×12000"), "{e}");
        assert!(l.check_question(&"q".repeat(2048)).is_ok());
        let e = l.check_question(&"q".repeat(2049)).unwrap_err();
        assert_eq!(e.key(), "limits.max_question_bytes");
        assert!(l.check_audio(480_000, 16_000).is_ok());
        assert!(l.check_audio(480_001, 16_000).is_err());
        assert!(l.check_frame_bytes(MAX_FRAME_BYTES + 1).is_err());
        let bad = InputLimits {
            max_image_width: 0,
            ..l
        };
        assert_eq!(bad.validate().unwrap_err().0, "max_image_width");
        let bad = InputLimits {
            max_audio_seconds: f64::NAN,
            ..l
        };
        assert_eq!(bad.validate().unwrap_err().0, "max_audio_seconds");
    }
}
