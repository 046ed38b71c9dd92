//! The agent's workload thread: loads the edge brain, runs a camera-size workload through
//! the offload pipeline ([`crate::offload::run`]) beside the telemetry loop, publishes one
//! `RequestTrace` per request and one `Fault` per fault, appends answers as JSON lines, and
//! asks the agent to stop when the workload is done.
//!
//! Loading happens before the thread starts ([`prepare`]), so a missing model or runtime is
//! an error of the agent itself (exit 1). A dead cloud is not: the pipeline answers
//! locally and reports the faults.

use crate::{
    brain::{BrainError, BrainOptions, EdgeBrain},
    clock::Clock,
    config::{Settings, WorkloadSettings},
    offload::{
        AnswerRecord, Observer, OffloadConfig, OffloadConfigError, PipelineError, RunOptions,
        RunSummary, Workload, WorkloadError, calibration_dir, run,
    },
    runtime::{ManifestError, ModelCatalog, OrtRuntime, RuntimeError, manifest::find_models_dir},
    shutdown::Shutdown,
    telemetry::Bus,
};
use log::{info, warn};
use msao::message::{Fault, Message, RequestTrace};
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
    /// The thread could not start.
    #[error("cannot start the workload thread: {0}")]
    Thread(std::io::Error),
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

/// Everything loaded, ready to run.
pub struct Prepared {
    brain: EdgeBrain,
    workload: Workload,
    threshold: f32,
    offload: OffloadConfig,
    options: RunOptions,
    warmup: usize,
    answers: Option<(PathBuf, BufWriter<File>)>,
    summary: Option<PathBuf>,
    // Keeps the runtime's environment alive as long as the brain's sessions.
    _runtime: OrtRuntime,
}

/// Loads the runtime, models, workload and threshold, and creates the answers file.
pub fn prepare(settings: &Settings, w: &WorkloadSettings) -> Result<Prepared, WorkloadRunError> {
    let workload = Workload::open(&w.dir)?;
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
    let brain = EdgeBrain::load(
        &runtime,
        &catalog,
        &BrainOptions {
            provider: settings.runtime.provider,
            audio: workload.requests.iter().any(|r| r.audio.is_some()),
            second_view_below: settings.offload.second_view(),
            limits: settings.limits,
            ..BrainOptions::default()
        },
    )?;
    let answers = match &w.answers {
        Some(p) => Some((p.clone(), BufWriter::new(create(p)?))),
        None => None,
    };
    Ok(Prepared {
        brain,
        workload,
        threshold,
        offload: settings.offload.clone(),
        options: RunOptions {
            fps: w.fps,
            limit: w.limit,
            stop: None,
        },
        warmup: w.warmup,
        answers,
        summary: w.summary.clone(),
        _runtime: runtime,
    })
}

fn create(path: &Path) -> Result<File, WorkloadRunError> {
    File::create(path).map_err(|error| WorkloadRunError::Output {
        path: path.to_path_buf(),
        error,
    })
}

/// The running workload thread.
pub struct WorkloadJob {
    handle: JoinHandle<Result<RunSummary, WorkloadRunError>>,
    completed: Arc<AtomicBool>,
}

impl WorkloadJob {
    /// True once the workload ran to its end (it then asked the agent to stop).
    pub fn completed(&self) -> bool {
        self.completed.load(Ordering::Acquire)
    }

    /// Joins the workload thread (it stops at the next request once the agent's stop is
    /// requested, after answering those in flight, each within its deadline) — so its
    /// ONNX Runtime sessions are gone before the agent returns. The result, or `None`
    /// when the agent was stopped before the workload was done.
    pub fn finish(self) -> Option<Result<RunSummary, WorkloadRunError>> {
        let result = self.handle.join().unwrap_or_else(|_| {
            Err(WorkloadRunError::Thread(std::io::Error::other(
                "the workload thread panicked",
            )))
        });
        let completed = self.completed.load(Ordering::Acquire);
        completed.then_some(result)
    }
}

/// Starts the workload on its own thread; it publishes through `bus` on `clock`'s time
/// base and requests `shutdown` when done.
pub fn spawn(
    prepared: Prepared,
    bus: Bus,
    clock: Clock,
    shutdown: Arc<Shutdown>,
) -> Result<WorkloadJob, WorkloadRunError> {
    let mut prepared = prepared;
    prepared.options.stop = Some(Arc::clone(&shutdown));
    let completed = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&completed);
    let handle = std::thread::Builder::new()
        .name("workload".into())
        .spawn(move || {
            // The brain's sessions and the runtime drop inside `run_prepared`, on this
            // thread, before it is joined.
            let result = run_prepared(prepared, bus, clock);
            // Stopped early (requests not started): not completed.
            let whole = result.as_ref().map_or(true, |s| s.not_started == 0);
            done.store(whole, Ordering::Release);
            shutdown.request();
            result
        })
        .map_err(WorkloadRunError::Thread)?;
    Ok(WorkloadJob { handle, completed })
}

fn run_prepared(mut p: Prepared, bus: Bus, clock: Clock) -> Result<RunSummary, WorkloadRunError> {
    info!(
        "workload {}: {} requests, policy {}, threshold {:.4}, cloud {}",
        p.workload.dir.display(),
        p.workload.requests.len(),
        p.offload.policy.name(),
        p.threshold,
        p.offload.cloud.url
    );
    if p.warmup > 0 {
        let n = p.warmup.min(p.workload.requests.len());
        info!("warm-up: {n} requests edge-only, not recorded");
        let config = OffloadConfig {
            policy: crate::offload::PolicyKind::EdgeOnly,
            ..p.offload.clone()
        };
        let options = RunOptions {
            fps: None,
            limit: Some(n),
            stop: p.options.stop.clone(),
        };
        run(
            &mut p.brain,
            &config,
            p.threshold,
            &p.workload,
            &options,
            &mut Discard,
        )?;
    }
    let mut observer = Publish {
        bus,
        clock,
        answers: p.answers.take(),
        write_error: None,
    };
    let summary = run(
        &mut p.brain,
        &p.offload,
        p.threshold,
        &p.workload,
        &p.options,
        &mut observer,
    )?;
    if let Some((path, mut w)) = observer.answers.take()
        && let Err(error) = w.flush()
    {
        return Err(WorkloadRunError::Output { path, error });
    }
    if let Some(e) = observer.write_error {
        return Err(e);
    }
    info!("workload done: {}", summary_line(&summary));
    if let Some(path) = &p.summary {
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

/// Publishes traces and faults, writes answers.
struct Publish {
    bus: Bus,
    clock: Clock,
    answers: Option<(PathBuf, BufWriter<File>)>,
    write_error: Option<WorkloadRunError>,
}

impl Observer for Publish {
    fn answer(&mut self, record: &AnswerRecord, trace: &RequestTrace) {
        self.bus
            .publish(self.clock.now_us(), &Message::RequestTrace(trace.clone()));
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

    fn fault(&mut self, fault: &Fault) {
        self.bus
            .publish(self.clock.now_us(), &Message::Fault(fault.clone()));
    }
}
