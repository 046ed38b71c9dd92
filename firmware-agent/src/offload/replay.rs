//! The workload replay: one source among others. It submits a workload's requests to the
//! pipeline's queue (waiting for room: a replay loses nothing), and evaluates what comes
//! back — expected answers and the region step's IoU are known here, never in the
//! pipeline — into an [`AnswerRecord`] each and a [`RunSummary`].
//!
//! Requests arrive [`Arrival::OnStart`]: paced by the pipeline (or by `fps`), a replay's
//! latency is the pipeline's own, from the frame in memory to the committed answer.

use super::config::OffloadConfig;
use super::pipeline::{NoSink, Pipeline, PipelineError};
use super::queue::{Submitter, queue};
use super::request::{Answer, Arrival, Audio, Frame, Reply, Request};
use super::workload::Workload;
use crate::brain::{EdgeBrain, Region};
use crate::shutdown::Shutdown;
use msao::message::{Fault, FaultCode, RequestTrace};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests a replay keeps queued ahead of the pipeline.
pub const REPLAY_DEPTH: usize = 4;

/// One committed answer with its evaluation, as written to the answers file (one JSON line
/// each).
#[derive(Debug, Clone, Serialize)]
pub struct AnswerRecord {
    /// Request id.
    pub request_id: u32,
    /// The answer, `null` only when no answer could be produced (outcome `error`).
    pub answer: Option<String>,
    /// `local`, `cloud`, `fallback` or `error`.
    pub source: &'static str,
    /// The policy's decision: `local`, `offload` or `speculate`.
    pub decision: &'static str,
    /// Confidence of the committed answer (calibrated local, or the cloud's softmax).
    pub confidence: Option<f32>,
    /// Calibrated confidence of the local head, when it ran.
    pub local_confidence: Option<f32>,
    /// Frame in memory → answer committed, µs.
    pub latency_us: u64,
    /// Bytes uploaded (request bodies of completed cloud calls).
    pub bytes_up: u64,
    /// Bytes downloaded.
    pub bytes_down: u64,
    /// Payload bytes of cancelled uploads.
    pub bytes_wasted: u64,
    /// The expected answer, when the workload has one.
    pub expected: Option<String>,
    /// Whether the answer matches the expected one.
    pub correct: Option<bool>,
    /// The local head's answer, when it ran (the bench's oracle uses it).
    pub local_answer: Option<String>,
    /// What went wrong, for fallbacks and errors.
    pub fault: Option<String>,
}

/// Receives what a replay produces: every evaluated answer, every fault.
pub trait Observer {
    /// One request is committed.
    fn answer(&mut self, record: &AnswerRecord, trace: &RequestTrace);
    /// A fault (cloud failure, unreadable input) happened.
    fn fault(&mut self, fault: &Fault);
}

/// Counts of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Policy name.
    pub policy: String,
    /// Requests answered (every request is, possibly with outcome `error`).
    pub requests: usize,
    /// Answers that match the expected one.
    pub correct: usize,
    /// Requests with an expected answer.
    pub labelled: usize,
    /// Per decision.
    pub decisions: BTreeMap<&'static str, usize>,
    /// Per answer source.
    pub sources: BTreeMap<&'static str, usize>,
    /// Cloud faults per kind.
    pub cloud_faults: BTreeMap<&'static str, usize>,
    /// Requests whose input could not be read (over a limit included).
    pub input_faults: usize,
    /// Of those, requests refused for an input over a limit, per config key
    /// (`limits.max_image_size`, `limits.max_question_bytes`, …).
    pub limit_faults: BTreeMap<&'static str, usize>,
    /// Requests not started because the run was stopped (SIGTERM).
    pub not_started: usize,
    /// Latencies, µs, in commit order.
    pub latencies_us: Vec<u64>,
    /// Bytes uploaded.
    pub bytes_up: u64,
    /// Bytes downloaded.
    pub bytes_down: u64,
    /// Bytes of cancelled uploads.
    pub bytes_wasted: u64,
    /// First frame in → last answer out.
    pub wall: Duration,
    /// The commit threshold used.
    pub threshold: f32,
    /// Region step IoU against the workload's boxes (mean), when boxes are known.
    pub region_iou: Option<f64>,
}

impl RunSummary {
    /// Accuracy over labelled requests.
    pub fn accuracy(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.correct as f64 / self.labelled as f64)
    }

    /// Requests per second of wall time.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Latency percentile `q` in [0, 1], µs (nearest rank).
    pub fn percentile_us(&self, q: f64) -> u64 {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        match v.len() {
            0 => 0,
            n => v[((q * n as f64).ceil() as usize).clamp(1, n) - 1],
        }
    }

    /// Mean latency, µs.
    pub fn mean_us(&self) -> f64 {
        match self.latencies_us.len() {
            0 => 0.0,
            n => self.latencies_us.iter().sum::<u64>() as f64 / n as f64,
        }
    }
}

/// Options of one replay.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Frames per second of the stream; `None`: as fast as the pipeline goes.
    pub fps: Option<f64>,
    /// Only the first N requests.
    pub limit: Option<usize>,
    /// Checked before each request: once requested, no new request is submitted and the
    /// replay returns when those submitted are answered (each within its deadline).
    pub stop: Option<Arc<Shutdown>>,
}

/// Runs `workload` through `brain` under `config` (its `policy`) in this process: a
/// [`Pipeline`] serving on its own thread, the replay on this one, `observer` called for
/// every answer and fault. Returns the run's counts.
pub fn run(
    brain: &mut EdgeBrain,
    config: &OffloadConfig,
    threshold: f32,
    workload: &Workload,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunSummary, PipelineError> {
    let mut pipeline = Pipeline::new(brain, config, threshold)?;
    let (submitter, queue) = queue(REPLAY_DEPTH);
    let stop = options.stop.clone();
    let summary = std::thread::scope(|s| {
        let server = std::thread::Builder::new()
            .name("pipeline".into())
            .spawn_scoped(s, move || {
                pipeline.serve(queue, stop.as_deref(), &mut NoSink)
            });
        let Ok(server) = server else {
            return Err(PipelineError::Runtime(std::io::Error::other(
                "cannot start the pipeline thread",
            )));
        };
        let mut replay = Replay::new(workload, config.policy.name(), threshold, options);
        let summary = replay.run(&submitter, observer);
        drop(submitter);
        let _ = server.join();
        Ok(summary)
    })?;
    Ok(summary)
}

/// A workload, and what its replay has seen so far.
pub struct Replay<'w> {
    workload: &'w Workload,
    options: RunOptions,
    summary: RunSummary,
    /// Expected answer and ground-truth box per request id.
    truth: HashMap<u32, (Option<String>, Option<Region>)>,
    iou: (f64, usize),
}

impl<'w> Replay<'w> {
    /// A replay of `workload` (named `policy` at `threshold` in its summary).
    pub fn new(workload: &'w Workload, policy: &str, threshold: f32, options: &RunOptions) -> Self {
        let truth = workload
            .requests
            .iter()
            .map(|r| {
                let bbox = workload
                    .frame(r)
                    .and_then(|f| f.bbox)
                    .map(|[x, y, w, h]| Region {
                        x,
                        y,
                        width: w,
                        height: h,
                    });
                (r.request_id, (r.answer.clone(), bbox))
            })
            .collect();
        Self {
            workload,
            options: options.clone(),
            summary: RunSummary {
                policy: policy.to_string(),
                threshold,
                ..RunSummary::default()
            },
            truth,
            iou: (0.0, 0),
        }
    }

    /// Submits every request to `submitter` and waits for every reply.
    pub fn run(&mut self, submitter: &Submitter, observer: &mut dyn Observer) -> RunSummary {
        let requests: Vec<_> = self
            .workload
            .requests
            .iter()
            .take(self.options.limit.unwrap_or(usize::MAX))
            .collect();
        let total = requests.len();
        let (tx, rx) = std::sync::mpsc::channel::<Reply>();
        let started = Instant::now();
        let mut submitted = 0usize;
        let mut replied = 0usize;
        for (i, r) in requests.iter().enumerate() {
            if let Some(fps) = self.options.fps.filter(|f| *f > 0.0) {
                let due = started + Duration::from_secs_f64(i as f64 / fps);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            if self.options.stop.as_ref().is_some_and(|s| s.is_requested()) {
                break;
            }
            // `Workload::open` checked every request's frame.
            let Some(frame) = self.workload.frame_path(r) else {
                continue;
            };
            let request = Request {
                id: r.request_id,
                frame: Frame::File(frame),
                question: r.question.clone(),
                audio: self.workload.audio_path(r).map(Audio::File),
                arrival: Arrival::OnStart,
                stream: None,
            };
            let tx = tx.clone();
            let reply = Box::new(move |reply| {
                let _ = tx.send(reply);
            });
            if submitter.submit_blocking(request, reply).is_err() {
                break;
            }
            submitted += 1;
            while let Ok(reply) = rx.try_recv() {
                replied += 1;
                self.absorb(reply, observer);
            }
        }
        // Every reply function the pipeline still holds has its own sender: once they are
        // all called (or dropped), the loop ends.
        drop(tx);
        while replied < submitted {
            let Ok(reply) = rx.recv() else { break };
            replied += 1;
            self.absorb(reply, observer);
        }
        self.summary.not_started += total - submitted;
        self.summary.wall = started.elapsed();
        self.summary.region_iou = (self.iou.1 > 0).then(|| self.iou.0 / self.iou.1 as f64);
        std::mem::take(&mut self.summary)
    }

    fn absorb(&mut self, reply: Reply, observer: &mut dyn Observer) {
        let a = match reply {
            Reply::Answered(a) => a,
            Reply::NotStarted => {
                self.summary.not_started += 1;
                return;
            }
        };
        let (expected, bbox) = self.truth.get(&a.request_id).cloned().unwrap_or_default();
        if let (Some(region), Some(truth)) = (a.region, bbox) {
            self.iou.0 += region.iou(&truth);
            self.iou.1 += 1;
        }
        if let Some(message) = &a.fault {
            let code = if a.input_failed() {
                FaultCode::Input
            } else {
                FaultCode::Cloud
            };
            observer.fault(&Fault::new(code as u16, message));
        }
        let s = &mut self.summary;
        if a.input_failed() {
            s.input_faults += 1;
            if let Some(key) = a.input_limit {
                *s.limit_faults.entry(key).or_default() += 1;
            }
        }
        if let Some(kind) = a.cloud_fault {
            *s.cloud_faults.entry(kind).or_default() += 1;
        }
        let record = evaluate(&a, expected);
        s.requests += 1;
        *s.decisions.entry(record.decision).or_default() += 1;
        *s.sources.entry(record.source).or_default() += 1;
        if let Some(c) = record.correct {
            s.labelled += 1;
            s.correct += usize::from(c);
        }
        s.latencies_us.push(record.latency_us);
        s.bytes_up += record.bytes_up;
        s.bytes_down += record.bytes_down;
        s.bytes_wasted += record.bytes_wasted;
        observer.answer(&record, &a.trace);
    }
}

/// An answer against the expected one.
fn evaluate(a: &Answer, expected: Option<String>) -> AnswerRecord {
    let correct = match (&a.answer, &expected) {
        (Some(a), Some(e)) => Some(a == e),
        (None, Some(_)) => Some(false),
        _ => None,
    };
    AnswerRecord {
        request_id: a.request_id,
        answer: a.answer.clone(),
        source: a.source,
        decision: a.decision,
        confidence: a.confidence,
        local_confidence: a.local_confidence,
        latency_us: a.latency_us,
        bytes_up: a.bytes_up,
        bytes_down: a.bytes_down,
        bytes_wasted: a.bytes_wasted,
        expected,
        correct,
        local_answer: a.local_answer.clone(),
        fault: a.fault.clone(),
    }
}
