//! The agent's request path as threads: the pipeline (one thread owning the edge brain,
//! serving the one queue, publishing one `RequestTrace` per request and one `Fault` per
//! fault), and its sources: the workload replay (answers file, summary; it asks the agent
//! to stop when the workload is done) and the request API ([`crate::api`]).
//!
//! Loading happens before the threads start ([`prepare`]), so a missing model or runtime,
//! or an API address in use, is an error of the agent itself (exit 1). A dead cloud is
//! not: the pipeline answers locally and reports the faults.
//!
//! Teardown is ordered: the API stops accepting and its requests in flight get their
//! answers (or `503`), the replay returns, and the pipeline thread, the last user of the
//! brain's sessions, is joined before the runtime drops.

use crate::{
    brain::{BrainError, BrainOptions, EdgeBrain},
    camera::{CameraError, CameraSet, CameraSpec, WatchSpec, Watches},
    clock::Clock,
    config::ApiSettings,
    config::Settings,
    offload::{
        Answer, AnswerRecord, AnswerSink, Observer, OffloadConfig, OffloadConfigError, Pipeline,
        PipelineError, REPLAY_DEPTH, Replay, RunOptions, RunSummary, Submitter, Workload,
        WorkloadError, calibration_dir, queue, run,
    },
    pipelines::PipelineSpec,
    runtime::{ManifestError, ModelCatalog, OrtRuntime, RuntimeError, manifest::find_models_dir},
    shutdown::Shutdown,
    telemetry::Bus,
};
use log::{info, warn};
use msao::message::{Fault, FaultCode, Message, RequestTrace};
use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

/// The workload could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadRunError {
    /// ONNX Runtime could not start.
    #[error("cannot start ONNX Runtime: {0}")]
    Runtime(RuntimeError),
    /// No models directory.
    #[error("no models directory found; tried {tried} (set [runtime] models_dir)")]
    ModelsDir {
        /// Where it looked.
        tried: String,
    },
    /// The model manifests could not be read.
    #[error("cannot read the model manifests: {0}")]
    Catalog(ManifestError),
    /// The pipeline file is unusable.
    #[error("{0}")]
    PipelineFile(crate::pipelines::PipelineError),
    /// The edge brain could not load (a model missing: run scripts/setup.sh).
    #[error("cannot load the edge brain (run scripts/setup.sh?): {0}")]
    Brain(BrainError),
    /// The workload manifest.
    #[error("workload: {0}")]
    Workload(WorkloadError),
    /// The commit threshold.
    #[error("{0}")]
    Threshold(OffloadConfigError),
    /// An output file.
    #[error("cannot write {path}: {error}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The pipeline could not start.
    #[error("{0}")]
    Pipeline(PipelineError),
    /// A thread could not start.
    #[error("cannot start the workload thread: {0}")]
    Thread(std::io::Error),
    /// A camera cannot be opened by this build, or its thread could not start.
    #[error("{0}")]
    Camera(CameraError),
    /// The request API could not listen.
    #[error("cannot listen on {addr} ([api] listen / --api): {error}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

// The messages above already say what the cause said, so the causes are not chained as
// `source` (the binary's `{:#}` would print them twice).
macro_rules! from_cause {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for WorkloadRunError {
            fn from(e: $ty) -> Self {
                Self::$variant(e)
            }
        }
    )*};
}

from_cause!(
    RuntimeError => Runtime,
    ManifestError => Catalog,
    BrainError => Brain,
    WorkloadError => Workload,
    OffloadConfigError => Threshold,
    PipelineError => Pipeline,
);

/// The workload to replay, and where its answers and summary go.
struct Replayed {
    workload: Workload,
    options: RunOptions,
    warmup: usize,
    answers: Option<(PathBuf, BufWriter<File>)>,
    summary: Option<PathBuf>,
}

/// Everything loaded, ready to run.
pub struct Prepared {
    brain: EdgeBrain,
    threshold: f32,
    offload: OffloadConfig,
    replay: Option<Replayed>,
    api: Option<(ApiSettings, std::net::TcpListener)>,
    limits: crate::encoders::InputLimits,
    cameras: Vec<CameraSpec>,
    watches: Vec<WatchSpec>,
    /// How often each camera's counters are published (the Hello interval).
    camera_stats_every: std::time::Duration,
    // Keeps the runtime's environment alive as long as the brain's sessions.
    _runtime: OrtRuntime,
}

/// Loads the runtime, models, workload and threshold, creates the answers file, binds
/// the API's address and checks that this build can open every camera; `None` when the
/// agent has no request path (no workload, no API, no standing question).
pub fn prepare(settings: &Settings) -> Result<Option<Prepared>, WorkloadRunError> {
    if settings.workload.is_none() && settings.api.is_none() && settings.watches.is_empty() {
        if !settings.cameras.is_empty() {
            warn!("cameras are configured but nothing asks about them (no [api], no [[watch]])");
        }
        return Ok(None);
    }
    for c in &settings.cameras {
        // Refused before any model loads: a camera this build cannot open.
        c.source(settings.limits)
            .map_err(WorkloadRunError::Camera)?;
    }
    let workload = match &settings.workload {
        Some(w) => Some((w, Workload::open(&w.dir)?)),
        None => None,
    };
    let models_dir = find_models_dir(settings.runtime.models_dir.as_deref()).map_err(|tried| {
        WorkloadRunError::ModelsDir {
            tried: tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    })?;
    let threshold = settings
        .offload
        .resolve_threshold(&calibration_dir(&models_dir))?;
    let mut options = settings.runtime.clone();
    options.models_dir = Some(models_dir.clone());
    let runtime = OrtRuntime::new(&options)?;
    let catalog = ModelCatalog::load_dir(&models_dir)?;
    let audio = settings.api.is_some()
        || workload
            .as_ref()
            .is_some_and(|(_, w)| w.requests.iter().any(|r| r.audio.is_some()));
    let spec = match &settings.pipeline {
        Some(p) => PipelineSpec::load(p),
        None => PipelineSpec::load_default(&models_dir),
    }
    .map_err(WorkloadRunError::PipelineFile)?;
    let brain = EdgeBrain::load(
        &runtime,
        &catalog,
        &spec,
        &BrainOptions {
            provider: settings.runtime.provider,
            audio,
            second_view_below: settings.offload.second_view(),
            limits: settings.limits,
            ..BrainOptions::default()
        },
    )?;
    let api = match &settings.api {
        Some(a) => {
            let listener = std::net::TcpListener::bind(a.listen)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|error| WorkloadRunError::Listen {
                    addr: a.listen,
                    error,
                })?;
            Some((a.clone(), listener))
        }
        None => None,
    };
    let replay = match workload {
        Some((w, workload)) => Some(Replayed {
            workload,
            options: RunOptions {
                fps: w.fps,
                limit: w.limit,
                stop: None,
            },
            warmup: w.warmup,
            answers: match &w.answers {
                Some(p) => Some((p.clone(), BufWriter::new(create(p)?))),
                None => None,
            },
            summary: w.summary.clone(),
        }),
        None => None,
    };
    Ok(Some(Prepared {
        brain,
        threshold,
        offload: settings.offload.clone(),
        replay,
        api,
        limits: settings.limits,
        cameras: settings.cameras.clone(),
        watches: settings.watches.clone(),
        camera_stats_every: settings.hello_interval,
        _runtime: runtime,
    }))
}

fn create(path: &Path) -> Result<File, WorkloadRunError> {
    File::create(path).map_err(|error| WorkloadRunError::Output {
        path: path.to_path_buf(),
        error,
    })
}

/// The running request path.
pub struct WorkloadJob {
    pipeline: JoinHandle<Result<(), WorkloadRunError>>,
    replay: Option<JoinHandle<Result<RunSummary, WorkloadRunError>>>,
    api: Option<JoinHandle<()>>,
    cameras: CameraSet,
    watches: Watches,
    completed: Arc<AtomicBool>,
}

impl WorkloadJob {
    /// True once the workload ran to its end (it then asked the agent to stop).
    pub fn completed(&self) -> bool {
        self.completed.load(Ordering::Acquire)
    }

    /// Joins the API, the replay and the pipeline, in that order (each stops once the
    /// agent's stop is requested, after answering what is in flight) — so the ONNX
    /// Runtime sessions are gone before the agent returns. The workload's result, or
    /// `None` when there was none or the agent was stopped before it was done.
    pub fn finish(self) -> Option<Result<RunSummary, WorkloadRunError>> {
        let panicked = |what: &str| {
            WorkloadRunError::Thread(std::io::Error::other(format!("the {what} thread panicked")))
        };
        if let Some(api) = self.api
            && api.join().is_err()
        {
            warn!("the API thread panicked");
        }
        let watched = self.watches.counts();
        self.watches.join();
        if watched.submitted > 0 {
            info!(
                "standing questions: {} asked, {} answered, {} skipped (previous still in flight), {} refused (queue full)",
                watched.submitted, watched.answered, watched.skipped_busy, watched.refused
            );
        }
        for (name, c) in self.cameras.counts() {
            info!(
                "camera {name}: {} frames captured, {} dropped as stale, {} used; {} errors, {} reconnects",
                c.captured, c.dropped_stale, c.used, c.errors, c.reconnects
            );
        }
        self.cameras.join();
        let replay = self
            .replay
            .map(|h| h.join().unwrap_or_else(|_| Err(panicked("workload"))));
        let pipeline = self
            .pipeline
            .join()
            .unwrap_or_else(|_| Err(panicked("pipeline")));
        if let Err(e) = pipeline {
            return Some(Err(e));
        }
        let completed = self.completed.load(Ordering::Acquire);
        replay.filter(|_| completed)
    }
}

/// Starts the pipeline and its sources on their own threads; the pipeline publishes
/// through `bus` on `clock`'s time base, the replay requests `shutdown` when done.
pub fn spawn(
    prepared: Prepared,
    bus: Bus,
    clock: Clock,
    shutdown: Arc<Shutdown>,
) -> Result<WorkloadJob, WorkloadRunError> {
    let Prepared {
        mut brain,
        threshold,
        offload,
        replay,
        api,
        limits,
        cameras,
        watches,
        camera_stats_every,
        _runtime,
    } = prepared;
    let depth = api.as_ref().map_or(REPLAY_DEPTH, |(a, _)| a.queue);
    let brain_model = crate::api::ApiModel::of(brain.pipeline());
    let (submitter, queue) = queue(depth);
    let ready = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let warmup = replay
        .as_ref()
        .filter(|r| r.warmup > 0)
        .map(|r| (r.workload.clone(), r.warmup.min(r.workload.requests.len())));
    let camera_bus = bus.clone();
    let stop = Arc::clone(&shutdown);
    let is_ready = Arc::clone(&ready);
    let policy = offload.policy.name();
    let pipeline = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || {
            let runtime = _runtime;
            let result = (|| {
                if let Some((workload, n)) = warmup {
                    warm_up(&mut brain, &offload, threshold, &workload, n, &stop)?;
                }
                let mut pipeline = Pipeline::new(&mut brain, &offload, threshold)?;
                is_ready.store(true, Ordering::Release);
                drop(ready_tx);
                let mut sink = Publish { bus, clock };
                let served = pipeline.serve(queue, Some(&stop), &mut sink);
                if served.not_started > 0 {
                    info!(
                        "{} queued requests not started: stopping",
                        served.not_started
                    );
                }
                Ok(())
            })();
            if result.is_err() {
                stop.request();
            }
            // The brain's sessions drop here, on this thread, before the runtime.
            drop(brain);
            drop(runtime);
            result
        })
        .map_err(WorkloadRunError::Thread)?;
    let completed = Arc::new(AtomicBool::new(false));
    let (fault_bus, stats_bus) = (camera_bus.clone(), camera_bus);
    let mut cameras = CameraSet::start(
        &cameras,
        limits,
        crate::camera::STALL,
        move |name: &str, e: &CameraError| {
            let fault = Fault::new(FaultCode::Camera as u16, &format!("camera {name}: {e}"));
            fault_bus.publish(clock.now_us(), &Message::Fault(fault));
        },
        &shutdown,
    )
    .map_err(WorkloadRunError::Camera)?;
    cameras
        .report_every(
            camera_stats_every,
            move |stats| {
                stats_bus.publish(clock.now_us(), &Message::CameraStats(stats));
            },
            &shutdown,
        )
        .map_err(WorkloadRunError::Thread)?;
    let watches = Watches::start(
        watches,
        cameras.cameras(),
        submitter.clone(),
        Arc::clone(&shutdown),
    )
    .map_err(WorkloadRunError::Thread)?;
    let api = match api {
        Some((settings, listener)) => Some(
            crate::api::spawn(
                brain_model,
                settings,
                listener,
                crate::api::Sources {
                    submitter: submitter.clone(),
                    cameras: cameras.cameras(),
                    watch_events: watches.sender(),
                    stop: Arc::clone(&shutdown),
                },
                Arc::clone(&ready),
                limits,
                Arc::clone(&shutdown),
            )
            .map_err(WorkloadRunError::Thread)?,
        ),
        None => None,
    };
    let replay = match replay {
        Some(r) => {
            let done = Arc::clone(&completed);
            let stop = Arc::clone(&shutdown);
            Some(
                std::thread::Builder::new()
                    .name("workload".into())
                    .spawn(move || {
                        // Starts once the pipeline serves (after loading and warm-up).
                        let _ = ready_rx.recv();
                        let result = replay_workload(r, &submitter, policy, threshold, &stop);
                        drop(submitter);
                        let whole = result.as_ref().map_or(true, |s| s.not_started == 0);
                        done.store(whole, Ordering::Release);
                        stop.request();
                        result
                    })
                    .map_err(WorkloadRunError::Thread)?,
            )
        }
        None => None,
    };
    Ok(WorkloadJob {
        pipeline,
        replay,
        api,
        cameras,
        watches,
        completed,
    })
}

/// Edge-only requests through their own pipeline, unrecorded.
fn warm_up(
    brain: &mut EdgeBrain,
    offload: &OffloadConfig,
    threshold: f32,
    workload: &Workload,
    n: usize,
    stop: &Arc<Shutdown>,
) -> Result<(), WorkloadRunError> {
    info!("warm-up: {n} requests edge-only, not recorded");
    let config = OffloadConfig {
        policy: crate::offload::PolicyKind::EdgeOnly,
        ..offload.clone()
    };
    let options = RunOptions {
        fps: None,
        limit: Some(n),
        stop: Some(Arc::clone(stop)),
    };
    run(brain, &config, threshold, workload, &options, &mut Discard)?;
    Ok(())
}

fn replay_workload(
    mut r: Replayed,
    submitter: &Submitter,
    policy: &str,
    threshold: f32,
    stop: &Arc<Shutdown>,
) -> Result<RunSummary, WorkloadRunError> {
    info!(
        "workload {}: {} requests, policy {policy}, threshold {threshold:.4}",
        r.workload.dir.display(),
        r.workload.requests.len(),
    );
    r.options.stop = Some(Arc::clone(stop));
    let mut observer = AnswersFile {
        answers: r.answers.take(),
        write_error: None,
    };
    let summary =
        Replay::new(&r.workload, policy, threshold, &r.options).run(submitter, &mut observer);
    if let Some((path, mut w)) = observer.answers.take()
        && let Err(error) = w.flush()
    {
        return Err(WorkloadRunError::Output { path, error });
    }
    if let Some(e) = observer.write_error {
        return Err(e);
    }
    info!("workload done: {}", summary_line(&summary));
    if let Some(path) = &r.summary {
        let text = serde_json::to_string_pretty(&summary_json(&summary)).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|error| WorkloadRunError::Output {
            path: path.clone(),
            error,
        })?;
    }
    Ok(summary)
}

/// The summary file's content: the run's counts plus the derived figures.
pub fn summary_json(s: &RunSummary) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.remove("latencies_us");
        m.remove("wall");
        m.insert("wall_s".into(), s.wall.as_secs_f64().into());
        m.insert("accuracy".into(), s.accuracy().into());
        m.insert("throughput_rps".into(), s.throughput().into());
        m.insert("latency_mean_us".into(), s.mean_us().into());
        for (name, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            m.insert(format!("latency_{name}_us"), s.percentile_us(q).into());
        }
    }
    v
}

/// One line: requests, accuracy, latency, throughput, bytes, decisions, faults.
pub fn summary_line(s: &RunSummary) -> String {
    let split = |m: &std::collections::BTreeMap<&'static str, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} requests in {:.2} s ({:.1}/s), accuracy {}, latency p50 {:.1} ms p95 {:.1} ms, \
         {} bytes up; decisions: {}; sources: {}; cloud faults: {}",
        s.requests,
        s.wall.as_secs_f64(),
        s.throughput(),
        s.accuracy()
            .map_or("n/a".into(), |a| format!("{:.2} %", a * 100.0)),
        s.percentile_us(0.5) as f64 / 1e3,
        s.percentile_us(0.95) as f64 / 1e3,
        s.bytes_up,
        split(&s.decisions),
        split(&s.sources),
        s.cloud_faults.values().sum::<usize>(),
    )
}

/// The warm-up's observer: nothing of it is published or written.
struct Discard;

impl Observer for Discard {
    fn answer(&mut self, _: &AnswerRecord, _: &RequestTrace) {}
    fn fault(&mut self, _: &Fault) {}
}

/// Publishes every request's trace and every fault (all sources).
struct Publish {
    bus: Bus,
    clock: Clock,
}

impl AnswerSink for Publish {
    fn answered(&mut self, answer: &Answer) {
        self.bus.publish(
            self.clock.now_us(),
            &Message::RequestTrace(answer.trace.clone()),
        );
    }

    fn fault(&mut self, fault: &Fault) {
        self.bus
            .publish(self.clock.now_us(), &Message::Fault(fault.clone()));
    }
}

/// Writes the replay's evaluated answers (its faults are published by the pipeline).
struct AnswersFile {
    answers: Option<(PathBuf, BufWriter<File>)>,
    write_error: Option<WorkloadRunError>,
}

impl Observer for AnswersFile {
    fn answer(&mut self, record: &AnswerRecord, _: &RequestTrace) {
        if self.write_error.is_some() {
            return;
        }
        if let Some((path, w)) = &mut self.answers {
            let line = serde_json::to_string(record).unwrap_or_default();
            if let Err(error) = writeln!(w, "{line}").and_then(|()| w.flush()) {
                warn!("cannot write {}: {error}", path.display());
                self.write_error = Some(WorkloadRunError::Output {
                    path: path.clone(),
                    error,
                });
            }
        }
    }

    fn fault(&mut self, _: &Fault) {}
}
