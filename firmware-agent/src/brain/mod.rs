//! The edge brain: one request (frame, question, optional audio) through the encoders, MAS,
//! the local head and the compact tensor, with per-stage timings.
//!
//! | file          | owns |
//! |---------------|------|
//! | `edge`        | [`EdgeBrain`]: encoders → MAS → local answer + compact tensor; [`EdgeResult`] |
//! | `cloud`       | [`CloudHead`]: the cloud model run on a compact tensor (reference side) |
//! | `calibration` | [`Temperature`]: the local head's confidence calibration from `calibration/` |
//! | `region`      | [`RegionProposer`]: the region step finding the object in a camera-size frame (card rule, ONNX detector) |
//! | `error`       | [`BrainError`]: per-request and load errors |
//!
//! A bad input (corrupt image, unreadable audio, empty question) fails that request with a
//! [`BrainError`] naming it; the brain stays usable for the next request.

mod calibration;
mod cloud;
mod edge;
mod error;
mod region;

pub use calibration::{Temperature, softmax};
pub(crate) use cloud::argmax;
pub use cloud::{CloudHead, CloudOutput};
pub use edge::{
    AudioInput, AudioMas, BrainOptions, EdgeBrain, EdgeRequest, EdgeResult, EdgeTimings,
    ImageInput, MAX_STREAMS, SECOND_VIEW_BELOW,
};
pub use error::BrainError;

pub use region::{Cards, Detector, Region, RegionProposer, locate};
