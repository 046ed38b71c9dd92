//! One request as every source hands it to the pipeline (the workload replay, the request
//! API, cameras), and the one reply it gets back.

use crate::brain::Region;
use crate::camera::LatestFrame;
use image::RgbImage;
use msao::message::RequestTrace;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The frame of a request.
#[derive(Debug, Clone)]
pub enum Frame {
    /// Decoded by the source (an API request's image, a camera frame).
    Decoded(RgbImage),
    /// A PNG or JPEG file the pipeline decodes itself (the workload replay).
    File(PathBuf),
    /// A camera's newest frame, taken when the pipeline starts the request (so it is at
    /// most one frame interval old then).
    Latest(Arc<LatestFrame>),
}

/// The camera frame a request was answered about.
#[derive(Debug, Clone)]
pub struct AnsweredFrame {
    /// The camera.
    pub camera: String,
    /// The frame's number.
    pub seq: u64,
    /// Capture time (monotonic).
    pub at: Instant,
    /// Capture time (wall clock).
    pub wall: SystemTime,
    /// Its age when the pipeline took it.
    pub age_at_start: Duration,
}

/// The audio of a request: mono, at the audio model's sample rate.
#[derive(Debug, Clone)]
pub enum Audio {
    /// A WAV file.
    File(PathBuf),
    /// A WAV file's bytes (an API request's `input_audio`).
    Wav(Vec<u8>),
}

/// When a request's clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// At this instant (when the API received it, when the camera delivered the frame):
    /// time in the queue and any decoding count against its deadline and latency.
    At(Instant),
    /// When the pipeline takes it from the queue, and for a [`Frame::File`] once its frame
    /// is decoded: a replay paced by the pipeline, whose latency is the pipeline's own.
    OnStart,
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Request id, unique per agent run (carried by its `RequestTrace`).
    pub id: u32,
    /// The frame.
    pub frame: Frame,
    /// The question.
    pub question: String,
    /// Audio, when the request has any.
    pub audio: Option<Audio>,
    /// When its clock starts.
    pub arrival: Arrival,
    /// The stream it belongs to (`camera:NAME`, …): temporal MAS compares a frame with the
    /// previous frame of the same stream only. `None`: a stream of its own source kind
    /// (the API's inline images, the replay).
    pub stream: Option<String>,
}

/// What the pipeline committed for one request: exactly one per request it started.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Request id.
    pub request_id: u32,
    /// The answer's class id, `None` only when no answer could be produced.
    pub class: Option<usize>,
    /// The answer's label.
    pub answer: Option<String>,
    /// `local`, `cloud`, `fallback` or `error`.
    pub source: &'static str,
    /// The policy's decision: `local`, `offload` or `speculate`.
    pub decision: &'static str,
    /// Confidence of the committed answer (calibrated local, or the cloud's softmax).
    pub confidence: Option<f32>,
    /// Calibrated confidence of the local head, when it ran.
    pub local_confidence: Option<f32>,
    /// The local head's answer, when it ran.
    pub local_answer: Option<String>,
    /// Arrival → answer committed, µs.
    pub latency_us: u64,
    /// Bytes uploaded (request bodies of completed cloud calls).
    pub bytes_up: u64,
    /// Bytes downloaded.
    pub bytes_down: u64,
    /// Payload bytes of cancelled uploads.
    pub bytes_wasted: u64,
    /// What went wrong, for fallbacks and errors.
    pub fault: Option<String>,
    /// The kind of cloud fault behind a fallback.
    pub cloud_fault: Option<&'static str>,
    /// For an unreadable input: the config key of the limit it exceeded, if that was why.
    pub input_limit: Option<&'static str>,
    /// Where the region step found the subject, when it ran.
    pub region: Option<Region>,
    /// The camera frame answered about, for camera requests.
    pub frame: Option<AnsweredFrame>,
    /// The request's trace, as published.
    pub trace: RequestTrace,
}

impl Answer {
    /// True when the request's input could not be read (outcome `error`, no cloud fault).
    pub fn input_failed(&self) -> bool {
        self.source == "error" && self.cloud_fault.is_none()
    }
}

/// The reply to a submitted request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The committed answer.
    Answered(Box<Answer>),
    /// The pipeline stopped before the request started (shutdown); nothing ran.
    NotStarted,
}
