//! Encoders: turn one modality's raw input into what the rest of the agent uses, on top of
//! the inference runtime ([`crate::runtime`]). Each takes its preprocessing from the
//! model's manifest.
//!
//! | file     | owns |
//! |----------|------|
//! | `text`   | [`TextEncoder`]: question text → 384-d MiniLM-L6 sentence embedding (tokenizer + model) |
//! | `image`  | [`ImageEncoder`]: frame → probe, patch features, image embedding and local-head logits (easy-VQA edge graph) |
//! | `audio`  | [`AudioEncoder`]: 16 kHz track → Silero VAD speech probability per chunk; [`read_wav`] |
//! | `cosine` | [`cosine`]: similarity of two embeddings |
//! | `error`  | [`TextEncoderError`], [`ImageEncoderError`], [`AudioEncoderError`] |

mod audio;
mod cosine;
mod error;
mod image;
mod text;

pub use audio::{AudioEncoder, VAD_MODEL_NAME, read_wav};
pub use cosine::cosine;
pub use error::{AudioEncoderError, ImageEncoderError, TextEncoderError};
pub use image::{
    EdgeOutput, FEATURES, IMAGE, IMAGE_EMBEDDING, ImageEncoder, LOGITS,
    MODEL_NAME as IMAGE_MODEL_NAME, QUESTION, decode_image, open_image, preprocess,
};
pub use text::{
    ATTENTION_MASK, EMBEDDING, EMBEDDING_DIM, INPUT_IDS, MAX_TOKENS, MODEL_NAME, TOKENIZER_FILE,
    TextEncoder,
};
