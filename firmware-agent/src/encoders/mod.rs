//! Encoders: turn one modality's raw input into what the rest of the agent uses, on top of
//! the inference runtime ([`crate::runtime`]). Each takes its preprocessing from the
//! model's manifest.
//!
//! | file     | owns |
//! |----------|------|
//! | `text`   | [`TextEncoder`]: question text → 384-d MiniLM-L6 sentence embedding (tokenizer + model) |
//! | `image`  | [`ImageEncoder`]: frame → probe, patch features, image embedding and local-head logits (easy-VQA edge graph) |
//! | `head`   | [`LocalHead`]: the answer head, fused into the image graph or a graph of its own |
//! | `audio`  | [`AudioEncoder`]: 16 kHz track → Silero VAD speech probability per chunk; [`read_wav`] |
//! | `limits` | [`InputLimits`]: caps on frame size, question length and audio duration, checked before decoding |
//! | `cosine` | [`cosine`]: similarity of two embeddings |
//! | `error`  | [`TextEncoderError`], [`ImageEncoderError`], [`AudioEncoderError`] |

mod audio;
mod cosine;
mod error;
mod head;
mod image;
mod limits;
mod text;

pub use audio::{AudioEncoder, decode_wav_within, read_wav, read_wav_within};
pub use cosine::cosine;
pub use error::{AudioEncoderError, ImageEncoderError, TextEncoderError};
pub use head::{Fused, HeadOutput, LocalHead, Separate};
pub use image::{
    EdgeOutput, ImageEncoder, decode_image, decode_image_within, image_tensor, open_image,
    open_image_within, preprocess,
};
pub use limits::{
    CEILING_AUDIO_SECONDS, CEILING_FRAME_BYTES, CEILING_IMAGE_SIDE, CEILING_QUESTION_BYTES,
    DECODE_BYTES_PER_PIXEL, InputLimitError, InputLimits, MAX_AUDIO_SECONDS, MAX_FRAME_BYTES,
    MAX_IMAGE_SIDE, MAX_QUESTION_BYTES,
};
pub use text::{MAX_TOKENS, TOKENIZER_FILE, TextEncoder};
