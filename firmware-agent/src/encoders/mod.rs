//! Encoders: turn one modality's raw input into the embedding the rest of the agent uses,
//! on top of the inference runtime ([`crate::runtime`]).
//!
//! | file     | owns |
//! |----------|------|
//! | `text`   | [`TextEncoder`]: question text → 384-d MiniLM-L6 sentence embedding (tokenizer + model) |
//! | `cosine` | [`cosine`]: similarity of two embeddings |
//! | `error`  | [`TextEncoderError`] |

mod cosine;
mod error;
mod text;

pub use cosine::cosine;
pub use error::TextEncoderError;
pub use text::{
    ATTENTION_MASK, EMBEDDING, EMBEDDING_DIM, INPUT_IDS, MAX_TOKENS, MODEL_NAME, TOKENIZER_FILE,
    TextEncoder,
};
