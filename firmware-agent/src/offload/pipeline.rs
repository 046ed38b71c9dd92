//! The agent pipeline: requests from the [`Queue`] → encoders → MAS → policy → local /
//! cloud → exactly one [`Answer`] per request it starts, each with its `RequestTrace`.
//!
//! Edge work runs on the serving thread, in queue order (one stream); cloud calls run on a
//! small tokio runtime, at most `max_in_flight` requests at once, so the next frame is
//! encoded while earlier uploads are in flight. A request's latency and deadline run from
//! its [`Arrival`] to the commit of its answer.
//!
//! Speculation: the upload task is spawned first, then the local answer's confidence is
//! checked; a confident local answer is committed and the upload aborted (the body bytes
//! already handed to the connection counted as wasted); otherwise the cloud answer is
//! awaited until the deadline. A cloud failure of any kind returns the local answer flagged
//! as a fallback and is counted and reported as a fault. Nothing here panics; an input that
//! cannot be read fails its own request (outcome `error`), never the pipeline.
//!
//! Shutdown is a parameter of [`Pipeline::serve`]: once requested, no new request starts,
//! those still queued are answered [`Reply::NotStarted`], and those in flight finish, each
//! within its deadline.

use super::codec::{self, CodecInput, OffloadCodec, Target};
use super::config::OffloadConfig;
use super::deadline;
use super::estimator::LinkEstimator;
use super::execute::{
    Done, Failed, Job, Local, Readout, Upload, bare_trace, error_answer, execute, micros,
    payload_bytes,
};
use super::policy::{Policy, PolicyKind, RequestView};
use super::queue::{Queue, Submission};
use super::request::{Answer, AnsweredFrame, Arrival, Audio, Frame, Reply, Request};
use crate::brain::{AudioInput, EdgeBrain, EdgeRequest, ImageInput};
use crate::cloud::{CloudClient, CloudError};
use crate::encoders::{ImageEncoderError, open_image_within};
use crate::shutdown::Shutdown;
use image::RgbImage;
use msao::message::{Decision, Fault, FaultCode};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

/// The temporal-MAS stream of requests that name none (inline API images, the replay).
const DEFAULT_STREAM: &str = "default";

/// How often a serving pipeline waiting for work checks its stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Receives every answer and fault, on the serving thread (telemetry, metrics).
pub trait AnswerSink {
    /// One request is committed (before its reply is delivered).
    fn answered(&mut self, answer: &Answer);
    /// A fault (cloud failure, unreadable input) happened.
    fn fault(&mut self, fault: &Fault);
}

/// A sink that keeps nothing.
pub struct NoSink;

impl AnswerSink for NoSink {
    fn answered(&mut self, _: &Answer) {}
    fn fault(&mut self, _: &Fault) {}
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

/// What one serve did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// Requests answered.
    pub answered: usize,
    /// Requests answered [`Reply::NotStarted`] at shutdown.
    pub not_started: usize,
}

/// Cloud clients per model (each with its own circuit breaker).
struct Cloud {
    compact: CloudClient,
    full: CloudClient,
}

/// The edge brain, the policy and the cloud clients of one serving pipeline.
pub struct Pipeline<'b> {
    brain: &'b mut EdgeBrain,
    kind: PolicyKind,
    threshold: f32,
    deadline: Duration,
    rt: tokio::runtime::Runtime,
    cloud: Cloud,
    /// How offloads are encoded (the policy's codec, with the pipeline's tensor names).
    codec: Box<dyn OffloadCodec>,
    readout: Arc<Readout>,
    policy: Policy,
    link: LinkEstimator,
    slots: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    /// Cloud calls spawned and not yet absorbed.
    in_flight: usize,
}
impl<'b> Pipeline<'b> {
    /// A pipeline over `brain` under `config` (its `policy`) with commit threshold
    /// `threshold`; negotiates with the cloud before the first request.
    pub fn new(
        brain: &'b mut EdgeBrain,
        config: &OffloadConfig,
        threshold: f32,
    ) -> Result<Self, PipelineError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(PipelineError::Runtime)?;
        let retry_after = Duration::from_millis(config.retry_after_ms);
        let (compact, full) = config.cloud_models(brain.pipeline());
        let cloud = Cloud {
            compact: CloudClient::new(&compact)?.retry_after(retry_after),
            full: CloudClient::new(&full)?.retry_after(retry_after),
        };
        let codec = codec::for_policy(config.policy, &brain.pipeline().cloud);
        let readout = Arc::new(Readout::of(brain.pipeline()));
        let kind = config.policy;
        // Negotiate with the cloud before the first request (server and model ready,
        // metadata, tensor format: four control round trips plus the connection), so the
        // first offload does not pay for them. Bounded by the connect timeout plus the
        // deadline; a failure is quiet here: the first real call connects again and
        // reports its fault as usual.
        if kind != PolicyKind::EdgeOnly {
            let client = match codec.target() {
                Target::Full => &cloud.full,
                Target::Compact => &cloud.compact,
            };
            let bound = Duration::from_millis(
                config
                    .cloud
                    .connect_timeout_ms
                    .saturating_add(config.deadline_ms),
            );
            let _ = rt.block_on(async { tokio::time::timeout(bound, client.connect()).await });
        }
        let policy = Policy::new(
            kind,
            threshold,
            config.deadline_ms as f64 / 1e3,
            config.speculate_head_fraction,
            config.bandit,
        );
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        // Every pipeline starts cold (no previous frames, no cached questions), so runs of
        // different policies pay the same encoder costs.
        brain.reset_stream();
        brain.clear_question_cache();
        Ok(Self {
            brain,
            kind,
            threshold,
            deadline: Duration::from_millis(config.deadline_ms),
            rt,
            cloud,
            codec,
            readout,
            policy,
            link: LinkEstimator::new(&config.link),
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            done_tx,
            done_rx,
            in_flight: 0,
        })
    }

    /// Serves `queue` until it closes (every submitter dropped) or `stop` is requested,
    /// then answers what is in flight and returns.
    pub fn serve(
        &mut self,
        mut queue: Queue,
        stop: Option<&Shutdown>,
        sink: &mut dyn AnswerSink,
    ) -> Served {
        let mut served = Served::default();
        while let Some(submission) = self.next(&mut queue, stop, sink, &mut served) {
            self.start(submission, sink, &mut served);
        }
        // Stopped or closed: nothing new starts.
        queue.rx.close();
        while let Ok(s) = queue.rx.try_recv() {
            (s.reply)(Reply::NotStarted);
            served.not_started += 1;
        }
        while self.in_flight > 0 {
            match self.rt.block_on(self.done_rx.recv()) {
                Some(done) => self.absorb(done, sink, &mut served),
                None => break,
            }
        }
        served
    }

    /// The next submission, absorbing finished requests while waiting; `None` once the
    /// queue is closed and empty, or a stop is requested.
    fn next(
        &mut self,
        queue: &mut Queue,
        stop: Option<&Shutdown>,
        sink: &mut dyn AnswerSink,
        served: &mut Served,
    ) -> Option<Submission> {
        enum Next {
            Done(Box<Done>),
            Submission(Option<Submission>),
            Tick,
        }
        loop {
            while let Ok(done) = self.done_rx.try_recv() {
                self.absorb(done, sink, served);
            }
            if stop.is_some_and(Shutdown::is_requested) {
                return None;
            }
            let (rx, done_rx) = (&mut queue.rx, &mut self.done_rx);
            let next = self.rt.block_on(async {
                tokio::select! {
                    biased;
                    Some(done) = done_rx.recv() => Next::Done(Box::new(done)),
                    s = rx.recv() => Next::Submission(s),
                    () = tokio::time::sleep(STOP_POLL), if stop.is_some() => Next::Tick,
                }
            });
            match next {
                Next::Done(done) => self.absorb(*done, sink, served),
                Next::Submission(s) => return s,
                Next::Tick => {}
            }
        }
    }

    /// Starts one request: a slot, the edge work and the decision here, the cloud call on
    /// the runtime.
    fn start(&mut self, submission: Submission, sink: &mut dyn AnswerSink, served: &mut Served) {
        let Submission { request, reply } = submission;
        // With `Arrival::OnStart` the request's deadline runs from here: decoding and
        // encoding the frame, waiting for a slot and building the upload all count.
        let arrival = match request.arrival {
            Arrival::At(t) => t,
            Arrival::OnStart => Instant::now(),
        };
        self.link.tick();
        let permit = loop {
            while let Ok(done) = self.done_rx.try_recv() {
                self.absorb(done, sink, served);
            }
            match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(p) => break p,
                Err(_) => {
                    if let Some(done) = self.rt.block_on(self.done_rx.recv()) {
                        self.absorb(done, sink, served);
                    }
                }
            }
        };
        let due = deadline::due(arrival, self.deadline);
        let id = request.id;
        let job = match self.prepare(request, due) {
            Ok(job) => job,
            Err(failed) => {
                sink.fault(&Fault::new(FaultCode::Input as u16, &failed.message));
                let done = Done {
                    context: None,
                    answer: error_answer(id, &failed),
                    fault: None,
                    observed: None,
                    timed_out: None,
                    spawned: false,
                    reply,
                };
                drop(permit);
                self.absorb(done, sink, served);
                return;
            }
        };
        let (deadline, threshold) = (self.deadline, self.threshold);
        // A local answer needs nothing from the network: commit it here, on the serving
        // thread, instead of handing it to a runtime worker first (a thread wake-up per
        // request: edge-only p50 0.69 → 0.52 ms on the bench machine).
        if job.upload.is_none() {
            let done = self.rt.block_on(execute(job, deadline, threshold, reply));
            drop(permit);
            self.absorb(done, sink, served);
            return;
        }
        let tx = self.done_tx.clone();
        self.in_flight += 1;
        self.rt.spawn(async move {
            let mut done = execute(job, deadline, threshold, reply).await;
            done.spawned = true;
            // Free the slot before reporting, so the serving thread never waits for a
            // result while this request still holds the last slot.
            drop(permit);
            // The receiver lives as long as the pipeline.
            let _ = tx.send(done);
        });
    }

    /// Feeds a committed request back (link, policy), reports it, then replies.
    fn absorb(&mut self, done: Done, sink: &mut dyn AnswerSink, served: &mut Served) {
        if done.spawned {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        if let Some((bytes, secs)) = done.observed {
            self.link.observe(bytes, secs);
        }
        if let Some(bytes) = done.timed_out {
            self.link
                .observe_timeout(bytes, self.deadline.as_secs_f64());
        }
        if let Some((_, message)) = &done.fault {
            sink.fault(&Fault::new(FaultCode::Cloud as u16, message));
        }
        let a = &done.answer;
        if let Some(context) = done.context {
            self.policy.feedback_in(
                context,
                a.trace.decision,
                a.confidence.unwrap_or(0.0),
                a.latency_us as f64 / 1e6,
            );
        }
        served.answered += 1;
        sink.answered(a);
        (done.reply)(Reply::Answered(Box::new(done.answer)));
    }

    /// The client of the cloud model a codec feeds.
    fn client(&self, target: Target) -> &CloudClient {
        match target {
            Target::Compact => &self.cloud.compact,
            Target::Full => &self.cloud.full,
        }
    }

    /// Edge work and the decision for one request, on the serving thread.
    fn prepare(&mut self, request: Request, due: Instant) -> Result<Job, Failed> {
        let Request {
            id,
            frame,
            question,
            audio,
            arrival,
            stream,
        } = request;
        let fail_on = |message: String, start: Instant, limit: Option<&'static str>| Failed {
            message: format!("request {id}: {message}"),
            start,
            limit,
        };
        let received = match arrival {
            Arrival::At(t) => t,
            Arrival::OnStart => Instant::now(),
        };
        // Before anything is decoded: a question over the limit is never tokenised or
        // uploaded.
        if let Err(e) = self.brain.limits().check_question(&question) {
            return Err(fail_on(e.to_string(), received, Some(e.key())));
        }
        let mut answered_frame = None;
        // A camera's frame is borrowed from its slot (no copy of the pixels); the others
        // are owned here.
        let captured;
        let owned;
        let frame: &RgbImage = match frame {
            Frame::Decoded(f) => {
                owned = f;
                &owned
            }
            Frame::Latest(camera) => match camera.take() {
                Some(c) => {
                    answered_frame = Some(AnsweredFrame {
                        camera: camera.name().to_string(),
                        seq: c.seq,
                        at: c.at,
                        wall: c.wall,
                        age_at_start: c.at.elapsed(),
                    });
                    captured = c;
                    &captured.image
                }
                None => {
                    return Err(fail_on(
                        format!(
                            "camera `{}` has no frame (starting or reconnecting)",
                            camera.name()
                        ),
                        received,
                        None,
                    ));
                }
            },
            Frame::File(path) => match open_image_within(&path, self.brain.limits()) {
                Ok(f) => {
                    owned = f;
                    &owned
                }
                Err(e) => {
                    let limit = match &e {
                        ImageEncoderError::Limit { limit, .. } => Some(limit.key()),
                        _ => None,
                    };
                    // The frame's file, not its whole path, so the message survives the
                    // 96-byte cut of a telemetry `Fault`.
                    let message = e.to_string().replace(&parent_prefix(&path), "");
                    return Err(fail_on(message, received, limit));
                }
            },
        };
        // A replay paced by the pipeline hands over a decoded frame as a camera would: its
        // clock starts once the frame is in memory.
        let start = match arrival {
            Arrival::At(t) => t,
            Arrival::OnStart => Instant::now(),
        };
        let fail = |message: String| fail_on(message, start, None);
        if !self.codec.needs_edge() {
            // The frame goes to the cloud as it is (the cloud-only baseline): no edge work.
            let inputs = self
                .codec
                .encode(&CodecInput {
                    frame,
                    question: &question,
                    edge: None,
                })
                .map_err(|e| fail(e.to_string()))?;
            let mut trace = bare_trace(id);
            trace.decision = Decision::Offload;
            return Ok(Job {
                context: None,
                request_id: id,
                decision: Decision::Offload,
                local: None,
                upload: Some(Upload {
                    client: self.client(self.codec.target()).clone(),
                    inputs,
                }),
                region: None,
                frame: answered_frame,
                trace,
                start,
                due,
                readout: self.readout.clone(),
            });
        }
        let wav_name = format!("request {id} input_audio");
        let audio = match &audio {
            None => None,
            Some(Audio::File(p)) => Some(AudioInput::File(p)),
            Some(Audio::Wav(bytes)) => Some(AudioInput::Wav {
                bytes,
                name: &wav_name,
            }),
        };
        self.brain
            .select_stream(stream.as_deref().unwrap_or(DEFAULT_STREAM));
        let edge = self.brain.process(&EdgeRequest {
            request_id: id,
            image: ImageInput::Decoded(frame),
            question: &question,
            audio,
        });
        let edge = match edge {
            Ok(e) => e,
            Err(e) => return Err(fail_on(e.to_string(), start, e.limit().map(|l| l.key()))),
        };
        let t = Instant::now();
        let inputs = self
            .codec
            .encode(&CodecInput {
                frame,
                question: &question,
                edge: Some(&edge),
            })
            .map_err(|e| fail(e.to_string()))?;
        let view = RequestView {
            confidence: edge.confidence,
            kept: edge.image.spatial.kept,
            upload_bytes: payload_bytes(&inputs),
            head_seconds: edge.timings.image.as_secs_f64(),
        };
        let mut decision = self.policy.decide(&view, &self.link);
        let context = self.policy.context(&view, &self.link);
        // While the cloud client's breaker is open (the cloud was just unreachable or
        // busy) MSAO and the bandit answer locally; fixed baselines keep trying and fall
        // back.
        if decision != Decision::Local
            && matches!(self.kind, PolicyKind::Msao | PolicyKind::Bandit)
            && self.client(self.codec.target()).is_open()
        {
            decision = Decision::Local;
        }
        let mut trace = edge.trace();
        trace.decision = decision;
        trace.timings.policy_us = Some(micros(t.elapsed()));
        trace.timings.local_us = Some(micros(edge.timings.image));
        Ok(Job {
            context: Some(context),
            request_id: id,
            decision,
            local: Some(Local {
                answer: edge.answer,
                confidence: edge.confidence,
            }),
            upload: (decision != Decision::Local).then(|| Upload {
                client: self.client(self.codec.target()).clone(),
                inputs,
            }),
            region: edge.region,
            frame: answered_frame,
            trace,
            start,
            due,
            readout: self.readout.clone(),
        })
    }
}

/// `path`'s parent directories as they appear in a message (`/a/b/` for `/a/b/frames/0.png`:
/// the message keeps `frames/0.png`).
fn parent_prefix(path: &std::path::Path) -> String {
    match path.parent().and_then(|p| p.parent()) {
        Some(p) if !p.as_os_str().is_empty() => format!("{}/", p.display()),
        _ => String::new(),
    }
}
