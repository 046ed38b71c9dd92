//! The agent pipeline: workload requests → encoders → MAS → policy → local / cloud →
//! exactly one answer per request, with a [`RequestTrace`] and an [`AnswerRecord`] each.
//!
//! Edge work runs on the calling thread, in request order (one camera stream); cloud calls
//! run on a small tokio runtime, at most `max_in_flight` requests at once, so the next frame
//! is encoded while earlier uploads are in flight. A request's latency runs from the moment
//! its frame is in memory (decoded, as a camera would hand it over) to the commit of its
//! answer. With `fps` set, frames arrive on a clock and latency includes queueing.
//!
//! Speculation: the upload task is spawned first, then the local answer's confidence is
//! checked; a confident local answer is committed and the upload aborted (the body bytes
//! already handed to the connection counted as wasted); otherwise the cloud answer is
//! awaited until the deadline. A cloud failure of any kind returns the local answer flagged as a fallback and
//! is counted and reported as a fault. Nothing here panics; an input that cannot be read
//! fails its own request (outcome `error`), never the run.

use super::config::OffloadConfig;
use super::deadline;
use super::estimator::LinkEstimator;
use super::policy::{BanditContext, Policy, PolicyKind, RequestView};
use super::workload::{Workload, WorkloadRequest};
use crate::brain::{ANSWERS, AudioInput, EdgeBrain, EdgeRequest, EdgeResult, ImageInput, softmax};
use crate::cloud::{CloudClient, CloudError, CloudFaultKind, InferTensor, TensorData};
use crate::encoders::{ImageEncoderError, open_image_within};
use crate::shutdown::Shutdown;
use msao::compact;
use msao::message::{
    Decision, ExecProvider, Fault, FaultCode, Modality, ModalitySet, Outcome, RequestTrace,
    StageTimings,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

/// JPEG quality of the cloud-only baseline's uploads (the `image` crate's encoder; 90 is
/// the high end of what camera and VLM clients send).
pub const CLOUD_ONLY_JPEG_QUALITY: u8 = 90;

/// One committed answer, as written to the answers file (one JSON line each).
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

/// Receives what the pipeline produces, on the pipeline's thread.
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
    /// Latencies, µs, in request order.
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

/// The pipeline could not start (per-request problems never stop it).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A cloud client could not be built from the config.
    #[error("cloud client: {0}")]
    Cloud(#[from] CloudError),
}

/// Where a request's frame came from.
struct Job {
    context: Option<BanditContext>,
    request_id: u32,
    decision: Decision,
    expected: Option<String>,
    local: Option<Local>,
    upload: Option<Upload>,
    trace: RequestTrace,
    start: Instant,
    /// Arrival + deadline: the whole offload (encode, upload, wait) ends by then.
    due: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Local {
    answer: usize,
    confidence: f32,
}

struct Upload {
    client: CloudClient,
    inputs: Vec<InferTensor>,
}

struct Done {
    context: Option<BanditContext>,
    record: AnswerRecord,
    trace: RequestTrace,
    fault: Option<(CloudFaultKind, String)>,
    observed: Option<(usize, f64)>,
    /// Payload bytes of a call that timed out (fed to the link estimator pessimistically).
    timed_out: Option<usize>,
}

/// Cloud clients per model, and the time until which the cloud is considered down.
struct Cloud {
    compact: CloudClient,
    full: CloudClient,
    down_until: Mutex<Option<Instant>>,
    retry_after: Duration,
}

impl Cloud {
    fn is_down(&self) -> bool {
        let g = self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        g.is_some_and(|t| Instant::now() < t)
    }

    fn mark(&self, kind: Option<CloudFaultKind>) {
        let mut g = self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *g = match kind {
            Some(CloudFaultKind::Unreachable) => Some(Instant::now() + self.retry_after),
            _ => None,
        };
    }
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Frames per second of the stream; `None`: as fast as the pipeline goes.
    pub fps: Option<f64>,
    /// Only the first N requests.
    pub limit: Option<usize>,
    /// Checked before each request: once requested, no new request starts and the run
    /// returns when those in flight are answered (each within its deadline).
    pub stop: Option<Arc<Shutdown>>,
}

/// Runs `workload` through `brain` under `config` (its `policy`), calling `observer` for
/// every answer and fault. Returns the run's counts.
pub fn run(
    brain: &mut EdgeBrain,
    config: &OffloadConfig,
    threshold: f32,
    workload: &Workload,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunSummary, PipelineError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(PipelineError::Runtime)?;
    let cloud = Arc::new(Cloud {
        compact: CloudClient::new(&config.cloud)?,
        full: CloudClient::new(&config.cloud_for(&config.full_model))?,
        down_until: Mutex::new(None),
        retry_after: Duration::from_millis(config.retry_after_ms),
    });
    let kind = config.policy;
    // Negotiate with the cloud before the first request (server and model ready, metadata,
    // tensor format: four control round trips plus the connection), so the first offload
    // does not pay for them. Bounded by the connect timeout plus the deadline; a failure is
    // quiet here: the first real call connects again and reports its fault as usual.
    if kind != PolicyKind::EdgeOnly {
        let client = match kind {
            PolicyKind::CloudOnly => &cloud.full,
            _ => &cloud.compact,
        };
        let bound = Duration::from_millis(
            config
                .cloud
                .connect_timeout_ms
                .saturating_add(config.deadline_ms),
        );
        let _ = rt.block_on(async { tokio::time::timeout(bound, client.connect()).await });
    }
    let mut policy = Policy::new(
        kind,
        threshold,
        config.deadline_ms as f64 / 1e3,
        config.speculate_head_fraction,
        config.bandit,
    );
    let mut link = LinkEstimator::new(&config.link);
    let deadline = Duration::from_millis(config.deadline_ms);
    let slots = Arc::new(Semaphore::new(config.max_in_flight));
    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    // Every run starts cold (no previous frames, no cached questions), so runs of
    // different policies pay the same encoder costs.
    brain.reset_stream();
    brain.clear_question_cache();

    let mut summary = RunSummary {
        policy: kind.name().to_string(),
        threshold,
        ..RunSummary::default()
    };
    let mut iou = (0.0f64, 0usize);
    let requests: Vec<&WorkloadRequest> = workload
        .requests
        .iter()
        .take(options.limit.unwrap_or(usize::MAX))
        .collect();
    let total = requests.len();
    let started = Instant::now();
    let absorb = |done: Done,
                  summary: &mut RunSummary,
                  policy: &mut Policy,
                  link: &mut LinkEstimator,
                  observer: &mut dyn Observer| {
        if let Some((bytes, secs)) = done.observed {
            link.observe(bytes, secs);
        }
        if let Some(bytes) = done.timed_out {
            link.observe_timeout(bytes, deadline.as_secs_f64());
        }
        if let Some((k, message)) = &done.fault {
            *summary.cloud_faults.entry(k.name()).or_default() += 1;
            observer.fault(&Fault::new(FaultCode::Cloud as u16, message));
        }
        let r = &done.record;
        if let Some(context) = done.context {
            policy.feedback_in(
                context,
                done.trace.decision,
                r.confidence.unwrap_or(0.0),
                r.latency_us as f64 / 1e6,
            );
        }
        summary.requests += 1;
        *summary.decisions.entry(r.decision).or_default() += 1;
        *summary.sources.entry(r.source).or_default() += 1;
        if let Some(c) = r.correct {
            summary.labelled += 1;
            summary.correct += usize::from(c);
        }
        summary.latencies_us.push(r.latency_us);
        summary.bytes_up += r.bytes_up;
        summary.bytes_down += r.bytes_down;
        summary.bytes_wasted += r.bytes_wasted;
        observer.answer(r, &done.trace);
    };

    for (i, request) in requests.iter().enumerate() {
        if let Some(fps) = options.fps.filter(|f| *f > 0.0) {
            let due = started + Duration::from_secs_f64(i as f64 / fps);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        if options.stop.as_ref().is_some_and(|s| s.is_requested()) {
            summary.not_started = total - i;
            break;
        }
        // The request's deadline runs from here: reading, decoding and encoding the
        // frame, waiting for a slot and building the upload all count against it.
        let arrival = Instant::now();
        link.tick();
        // Take a slot, absorbing finished requests meanwhile.
        let permit = loop {
            while let Ok(done) = rx.try_recv() {
                absorb(done, &mut summary, &mut policy, &mut link, observer);
            }
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(p) => break p,
                Err(_) => {
                    if let Some(done) = rt.block_on(rx.recv()) {
                        absorb(done, &mut summary, &mut policy, &mut link, observer);
                    }
                }
            }
        };
        let job = prepare(
            brain,
            workload,
            request,
            (kind, &policy, &link, &cloud),
            deadline::due(arrival, deadline),
            &mut iou,
        );
        let job = match job {
            Ok(job) => job,
            Err(failed) => {
                let (message, trace, start, limit) = *failed;
                summary.input_faults += 1;
                if let Some(key) = limit {
                    *summary.limit_faults.entry(key).or_default() += 1;
                }
                observer.fault(&Fault::new(FaultCode::Input as u16, &message));
                let record = error_record(request, &message, start);
                absorb(
                    Done {
                        record,
                        trace,
                        fault: None,
                        observed: None,
                        timed_out: None,
                        context: None,
                    },
                    &mut summary,
                    &mut policy,
                    &mut link,
                    observer,
                );
                drop(permit);
                continue;
            }
        };
        // A local answer needs nothing from the network: commit it here, on the pipeline
        // thread, instead of handing it to a runtime worker first (a thread wake-up per
        // request: edge-only p50 0.69 → 0.52 ms on the bench machine, measured together
        // with the bench's warm-up).
        if job.upload.is_none() {
            let done = rt.block_on(execute(job, deadline, threshold, &cloud));
            drop(permit);
            absorb(done, &mut summary, &mut policy, &mut link, observer);
            continue;
        }
        let tx = tx.clone();
        let cloud = Arc::clone(&cloud);
        rt.spawn(async move {
            let done = execute(job, deadline, threshold, &cloud).await;
            // Free the slot before reporting, so the pipeline thread never waits for a
            // result while this request still holds the last slot.
            drop(permit);
            // The receiver lives until every request is absorbed.
            let _ = tx.send(done);
        });
    }
    drop(tx);
    let total = total - summary.not_started;
    while summary.requests < total {
        match rt.block_on(rx.recv()) {
            Some(done) => absorb(done, &mut summary, &mut policy, &mut link, observer),
            None => break,
        }
    }
    summary.wall = started.elapsed();
    summary.region_iou = (iou.1 > 0).then(|| iou.0 / iou.1 as f64);
    Ok(summary)
}

/// A request that failed before a decision: its message, trace, start, and the key of
/// the input limit it exceeded, if that was why.
type Prepared = Result<Job, Box<(String, RequestTrace, Instant, Option<&'static str>)>>;

/// Edge work and the decision for one request, on the pipeline thread.
#[allow(clippy::too_many_arguments)]
fn prepare(
    brain: &mut EdgeBrain,
    workload: &Workload,
    request: &WorkloadRequest,
    (kind, policy, link, cloud): (PolicyKind, &Policy, &LinkEstimator, &Cloud),
    due: Instant,
    iou: &mut (f64, usize),
) -> Prepared {
    let frame_path = workload.frame_path(request);
    // Paths are given relative to the workload, so the file survives the 96-byte cut of a
    // telemetry `Fault` message.
    let prefix = format!("{}/", workload.dir.display());
    let fail_on = |message: String, start: Instant, limit: Option<&'static str>| {
        let message = message.replace(&prefix, "");
        let mut trace = bare_trace(request.request_id);
        trace.outcome = Outcome::Error;
        Box::new((message, trace, start, limit))
    };
    let fail = |message: String, start: Instant| fail_on(message, start, None);
    // Before anything is read: a question over the limit is never tokenised or uploaded.
    if let Err(e) = brain.limits().check_question(&request.question) {
        return Err(fail_on(
            format!("request {}: {e}", request.request_id),
            Instant::now(),
            Some(e.key()),
        ));
    }
    let Some(frame_path) = frame_path else {
        return Err(fail(
            format!("request {}: no frame {}", request.request_id, request.frame),
            Instant::now(),
        ));
    };
    // The camera hands over a decoded frame: the clock starts once it is in memory.
    let frame = match open_image_within(&frame_path, brain.limits()) {
        Ok(f) => f,
        Err(e) => {
            let limit = match &e {
                ImageEncoderError::Limit { limit, .. } => Some(limit.key()),
                _ => None,
            };
            return Err(fail_on(
                format!("request {}: {e}", request.request_id),
                Instant::now(),
                limit,
            ));
        }
    };
    let start = Instant::now();
    if !kind.runs_edge() {
        // What an application sends a vision-language server: the frame as a JPEG
        // (quality [`CLOUD_ONLY_JPEG_QUALITY`]), encoded here and counted in the latency.
        let mut jpeg = Vec::new();
        let encoded =
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, CLOUD_ONLY_JPEG_QUALITY)
                .encode_image(&frame);
        if let Err(e) = encoded {
            return Err(fail(
                format!("request {}: JPEG encode: {e}", request.request_id),
                start,
            ));
        }
        let inputs = vec![
            InferTensor::bytes("image", vec![1], vec![jpeg]),
            InferTensor::bytes(
                "question",
                vec![1],
                vec![request.question.as_bytes().to_vec()],
            ),
        ];
        let mut trace = bare_trace(request.request_id);
        trace.decision = Decision::Offload;
        return Ok(Job {
            context: None,
            request_id: request.request_id,
            decision: Decision::Offload,
            expected: request.answer.clone(),
            local: None,
            upload: Some(Upload {
                client: cloud.full.clone(),
                inputs,
            }),
            trace,
            start,
            due,
        });
    }
    let audio_path = workload.audio_path(request);
    let edge = brain.process(&EdgeRequest {
        request_id: request.request_id,
        image: ImageInput::Decoded(&frame),
        question: &request.question,
        audio: audio_path.as_deref().map(AudioInput::File),
    });
    let edge: EdgeResult = match edge {
        Ok(e) => e,
        Err(e) => {
            return Err(fail_on(
                format!("request {}: {e}", request.request_id),
                start,
                e.limit().map(|l| l.key()),
            ));
        }
    };
    if let (Some(region), Some([x, y, w, h])) =
        (edge.region, workload.frame(request).and_then(|f| f.bbox))
    {
        let truth = crate::brain::Region {
            x,
            y,
            width: w,
            height: h,
        };
        iou.0 += region.iou(&truth);
        iou.1 += 1;
    }
    let t = Instant::now();
    let (image_input, client) = match kind {
        // A disaggregated encoder ships its whole output, int8 with a scale (DistMLLM):
        // every patch, no MAS selection.
        PolicyKind::CloudFeatures => {
            let keep = vec![true; edge.image.spatial.keep.len()];
            let dim = edge.features.len() / keep.len().max(1);
            let mut dense = vec![0u8; compact::encoded_len(keep.len(), dim, keep.len())];
            match compact::encode_features(&mut dense, &edge.features, dim, &keep) {
                Ok(n) => dense.truncate(n),
                Err(e) => {
                    return Err(fail(
                        format!("request {}: dense features: {e}", request.request_id),
                        start,
                    ));
                }
            }
            (
                InferTensor::u8("compact", vec![1, dense.len() as i64], dense),
                &cloud.compact,
            )
        }
        _ => (
            InferTensor::u8(
                "compact",
                vec![1, edge.compact.len() as i64],
                edge.compact.clone(),
            ),
            &cloud.compact,
        ),
    };
    let inputs = vec![
        image_input,
        InferTensor::f32(
            "question",
            vec![1, edge.question_embedding.len() as i64],
            edge.question_embedding.clone(),
        ),
    ];
    let payload = payload_bytes(&inputs);
    let view = RequestView {
        confidence: edge.confidence,
        kept: edge.image.spatial.kept,
        upload_bytes: payload,
        head_seconds: edge.timings.image.as_secs_f64(),
    };
    let mut decision = policy.decide(&view, link);
    let context = policy.context(&view, link);
    // A cloud that was just unreachable is not asked again until `retry_after` (MSAO and
    // the bandit answer locally meanwhile; fixed baselines keep trying and fall back).
    if decision != Decision::Local
        && matches!(kind, PolicyKind::Msao | PolicyKind::Bandit)
        && cloud.is_down()
    {
        decision = Decision::Local;
    }
    let policy_us = micros(t.elapsed());
    let mut trace = edge.trace();
    trace.decision = decision;
    trace.timings.policy_us = Some(policy_us);
    trace.timings.local_us = Some(micros(edge.timings.image));
    Ok(Job {
        context: Some(context),
        request_id: request.request_id,
        decision,
        expected: request.answer.clone(),
        local: Some(Local {
            answer: edge.answer,
            confidence: edge.confidence,
        }),
        upload: (decision != Decision::Local).then(|| Upload {
            client: client.clone(),
            inputs,
        }),
        trace,
        start,
        due,
    })
}

/// Payload bytes of a set of input tensors (what is counted when a call is cancelled).
fn payload_bytes(inputs: &[InferTensor]) -> usize {
    inputs
        .iter()
        .map(|t| match &t.data {
            TensorData::Bytes(v) => v.iter().map(|b| b.len() + 4).sum(),
            d => d.len() * d.datatype().element_size().unwrap_or(1),
        })
        .sum()
}

/// Runs a decision: local commit, offload, or speculation.
async fn execute(job: Job, deadline: Duration, threshold: f32, cloud: &Cloud) -> Done {
    let Job {
        context,
        request_id,
        decision,
        expected,
        local,
        upload,
        mut trace,
        start,
        due,
    } = job;
    let mut out = Outcome::LocalCommitted;
    let mut answer: Option<(usize, f32)> = local.map(|l| (l.answer, l.confidence));
    let (mut up, mut down, mut wasted) = (0u64, 0u64, 0u64);
    let mut fault = None;
    let mut observed = None;
    let called = upload.is_some() && decision != Decision::Local;
    let payload = upload.as_ref().map_or(0, |u| payload_bytes(&u.inputs));
    let result = match (decision, upload) {
        (Decision::Local, _) | (_, None) => None,
        (Decision::Speculate, Some(u)) => {
            let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counter = Some(sent.clone());
            let call = tokio::spawn(async move {
                deadline::within(
                    due,
                    deadline,
                    u.client.infer_counted(u.inputs, deadline, counter),
                )
                .await
            });
            // The local head's answer is known (fused graph): commit it if it is confident.
            if local.is_some_and(|l| l.confidence >= threshold) {
                call.abort();
                // Only what was handed to the connection before the abort was wasted.
                let _ = call.await;
                wasted = sent.load(std::sync::atomic::Ordering::Relaxed);
                None
            } else {
                Some(match call.await {
                    Ok(r) => r,
                    Err(e) => Err(CloudError::Malformed {
                        detail: format!("cloud task failed: {e}"),
                    }),
                })
            }
        }
        (_, Some(u)) => {
            Some(deadline::within(due, deadline, u.client.infer(u.inputs, deadline)).await)
        }
    };
    if let Some(result) = result {
        settle(
            result,
            &mut answer,
            &mut out,
            &mut up,
            &mut down,
            &mut fault,
            &mut observed,
            &mut trace,
        );
    }
    if called && out != Outcome::LocalCommitted {
        cloud.mark(fault.as_ref().map(|(k, _)| *k));
    }
    let timed_out = fault
        .as_ref()
        .is_some_and(|(k, _)| *k == CloudFaultKind::Timeout)
        .then_some(payload);
    if answer.is_none() {
        out = Outcome::Error;
    }
    let latency = start.elapsed();
    trace.outcome = out;
    trace.answer = answer.and_then(|(a, _)| u16::try_from(a).ok());
    trace.bytes_up = sat32(up);
    trace.bytes_down = sat32(down);
    trace.bytes_wasted = sat32(wasted);
    trace.timings.total_us = Some(micros(latency));
    let answer_text = answer
        .and_then(|(a, _)| ANSWERS.get(a))
        .map(|s| s.to_string());
    let correct = match (&answer_text, &expected) {
        (Some(a), Some(e)) => Some(a == e),
        (None, Some(_)) => Some(false),
        _ => None,
    };
    Done {
        context,
        record: AnswerRecord {
            request_id,
            answer: answer_text,
            source: source_name(out),
            decision: decision_name(decision),
            confidence: answer.map(|(_, c)| c),
            local_confidence: local.map(|l| l.confidence),
            latency_us: latency.as_micros() as u64,
            bytes_up: up,
            bytes_down: down,
            bytes_wasted: wasted,
            expected,
            correct,
            local_answer: local
                .and_then(|l| ANSWERS.get(l.answer))
                .map(|s| s.to_string()),
            fault: fault.as_ref().map(|(_, m)| m.clone()),
        },
        trace,
        fault,
        observed,
        timed_out,
    }
}

/// Applies a cloud result: the cloud's answer, or the local one as a fallback.
#[allow(clippy::too_many_arguments)]
fn settle(
    result: Result<crate::cloud::InferReply, CloudError>,
    answer: &mut Option<(usize, f32)>,
    out: &mut Outcome,
    up: &mut u64,
    down: &mut u64,
    fault: &mut Option<(CloudFaultKind, String)>,
    observed: &mut Option<(usize, f64)>,
    trace: &mut RequestTrace,
) {
    let parsed = result.and_then(|reply| {
        let logits = reply.f32("logits")?.to_vec();
        if logits.len() != ANSWERS.len() {
            return Err(CloudError::Malformed {
                detail: format!(
                    "logits has {} values, expected {}",
                    logits.len(),
                    ANSWERS.len()
                ),
            });
        }
        Ok((reply, logits))
    });
    match parsed {
        Ok((reply, logits)) => {
            let p = softmax(&logits);
            let best = crate::brain::argmax(&p);
            *answer = Some((best, p.get(best).copied().unwrap_or(0.0)));
            *out = Outcome::CloudAnswer;
            *up = reply.bytes_up as u64;
            *down = reply.bytes_down as u64;
            trace.timings.cloud_us = Some(micros(reply.elapsed));
            *observed = Some((
                reply.bytes_up + reply.bytes_down,
                reply.elapsed.as_secs_f64(),
            ));
        }
        Err(e) => {
            *out = Outcome::Fallback;
            *fault = Some((e.kind(), format!("{}: {e}", e.kind().name())));
        }
    }
}

fn error_record(request: &WorkloadRequest, message: &str, start: Instant) -> AnswerRecord {
    AnswerRecord {
        request_id: request.request_id,
        answer: None,
        source: "error",
        decision: "local",
        confidence: None,
        local_confidence: None,
        latency_us: start.elapsed().as_micros() as u64,
        bytes_up: 0,
        bytes_down: 0,
        bytes_wasted: 0,
        expected: request.answer.clone(),
        correct: request.answer.as_ref().map(|_| false),
        local_answer: None,
        fault: Some(message.to_string()),
    }
}

fn bare_trace(request_id: u32) -> RequestTrace {
    RequestTrace {
        request_id,
        modalities: ModalitySet::default()
            .with(Modality::Image)
            .with(Modality::Text),
        mas: heapless::Vec::new(),
        decision: Decision::Local,
        local_confidence_pm: None,
        answer: None,
        bytes_up: 0,
        bytes_down: 0,
        bytes_wasted: 0,
        timings: StageTimings {
            encode_us: None,
            mas_us: None,
            policy_us: None,
            local_us: None,
            upload_us: None,
            cloud_us: None,
            total_us: None,
        },
        outcome: Outcome::Error,
        provider: ExecProvider::Cpu,
    }
}

/// Wire name of an outcome as an answer source.
pub fn source_name(o: Outcome) -> &'static str {
    match o {
        Outcome::LocalCommitted => "local",
        Outcome::CloudAnswer => "cloud",
        Outcome::Fallback => "fallback",
        Outcome::Error => "error",
    }
}

/// Name of a decision.
pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Local => "local",
        Decision::Offload => "offload",
        Decision::Speculate => "speculate",
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn sat32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}
