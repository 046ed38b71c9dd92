//! The cloud client: one model on an Open Inference Protocol v2 server (KServe, Triton, or
//! `msao-host cloud`) over REST, with JSON tensors or the binary tensor extension.
//!
//! ```no_run
//! # async fn demo() -> Result<(), msao_agent::cloud::CloudError> {
//! use msao_agent::cloud::{CloudClient, CloudConfig, InferTensor};
//! use std::time::Duration;
//!
//! let client = CloudClient::new(&CloudConfig::default())?; // http://127.0.0.1:8000, vqa-cloud
//! let n = client.connect().await?; // ready checks, metadata, binary or JSON
//! println!("{} via {} ({:?})", n.metadata.name, n.server, n.format);
//! let reply = client
//!     .infer(
//!         vec![
//!             InferTensor::u8("compact", vec![1, 3], vec![0x4d, 0x43, 1]),
//!             InferTensor::f32("question", vec![1, 384], vec![0.0; 384]),
//!         ],
//!         Duration::from_millis(250),
//!     )
//!     .await?;
//! let logits = reply.f32("logits")?;
//! # let _ = logits; Ok(()) }
//! ```
//!
//! | file     | owns |
//! |----------|------|
//! | `config` | [`CloudConfig`] (the `[cloud]` table), [`TensorFormat`], validation |
//! | `client` | [`CloudClient`]: health, metadata, negotiation, infer under a deadline |
//! | `tensor` | [`DataType`], [`TensorData`], [`InferTensor`], [`TensorSpec`], checks against metadata |
//! | `wire`   | the OIP v2 JSON bodies, JSON tensor data |
//! | `binary` | the binary tensor extension: raw little-endian data after a JSON header |
//! | `codec`  | whole infer request and response bodies in either form (client and server) |
//! | `limit`  | the cap of each answer's size, from the model's output shapes |
//! | `error`  | [`CloudError`], [`CloudFaultKind`] |
//!
//! Semantics: every call is cancel-safe (dropping the future aborts the HTTP request);
//! [`CloudClient::infer`] never sends a request whose tensors do not match the model's
//! metadata, and never returns outputs that do not; no answer is read past its cap
//! ([`limit`]): a larger one is aborted as [`CloudError::TooLarge`]. See `docs/cloud.md`.

pub mod binary;
mod breaker;
mod client;
pub mod codec;
mod config;
mod error;
pub mod limit;
pub mod tensor;
pub mod wire;

pub use breaker::{Breaker, MAX_RETRY_AFTER};
pub use client::{CloudClient, DEFAULT_RETRY_AFTER};
pub use config::{CloudConfig, DEFAULT_URL, TensorFormat};
pub use error::{CloudError, CloudFaultKind};
pub use tensor::{
    DataType, InferReply, InferTensor, ModelMetadata, Negotiated, TensorData, TensorSpec,
};
