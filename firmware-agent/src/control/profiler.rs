//! [`DeviceProfiler`]: the profiling side of the device — ONNX Runtime, the installed
//! models, and a system reader of its own for conditions and energy. The agent's control
//! thread serves `ProfileRequest`s with it, and `msao-host profile` uses it on the local
//! machine, so both measure the same way.
//!
//! It never fails to start: a missing ONNX Runtime library or models directory is recorded,
//! logged once, and returned as the reason when a profile is asked for; telemetry goes on.
//! The model catalog (which hashes every model file) is loaded on first use, not at start,
//! so a large model never delays the agent's first `Hello`.

use super::ProfileService;
use crate::pipelines::PipelineSpec;
use crate::{
    profile::{
        ProfileError, ProfileRun, ProfileSpec, memory::available_kib, plan, profile_each_until,
    },
    runtime::{InferenceRuntime, ModelCatalog, OrtRuntime, RuntimeOptions, gpu, manifest},
    shutdown::Shutdown,
    system::{SysRoot, SystemReader, describe, open_reader},
};
use log::{info, warn};
use msao::message::{Capability, ExecProvider, ProfileRequest, ProfileResult, truncated};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runtime, models and a system reader, each present or with the reason it is not.
pub struct DeviceProfiler {
    runtime: Result<OrtRuntime, String>,
    models_dir: Option<PathBuf>,
    /// Loaded by [`DeviceProfiler::ready`] on first use.
    catalog: Option<Result<ModelCatalog, String>>,
    system: Box<dyn SystemReader>,
    root: SysRoot,
    device_id: String,
    /// Once requested, a profile in progress ends before its next run.
    stop: Option<Arc<Shutdown>>,
    /// Wall time one request may take ([`crate::config::ProfileLimits::max_seconds`]).
    time_limit: Option<std::time::Duration>,
    /// Share of the memory available when a request arrives that its profile may add
    /// ([`crate::config::ProfileLimits::max_memory_share`]).
    memory_share: Option<f64>,
    /// The pipeline file announced in `Capability`; `None`: the models directory's
    /// [`crate::pipelines::DEFAULT_PIPELINE`].
    pipeline: Option<PathBuf>,
}

impl DeviceProfiler {
    /// Loads what it can; see [`DeviceProfiler::unavailable`] for what it could not.
    pub fn open(options: &RuntimeOptions, sysfs_root: &Path, device_id: &str) -> Self {
        let runtime = OrtRuntime::new(options).map_err(|e| e.to_string());
        match &runtime {
            Ok(rt) => info!(
                "{} {} loaded from {}; providers: {:?}",
                rt.name(),
                rt.version().unwrap_or("(version unknown)"),
                rt.library().display(),
                rt.providers()
            ),
            Err(e) => warn!("inference runtime unavailable, profiling disabled: {e}"),
        }
        let (system, _) = open_reader(PathBuf::from(sysfs_root));
        Self {
            runtime,
            models_dir: options.models_dir.clone(),
            catalog: None,
            system,
            root: SysRoot::new(PathBuf::from(sysfs_root)),
            device_id: device_id.to_string(),
            stop: None,
            time_limit: None,
            memory_share: None,
            pipeline: None,
        }
    }

    /// Announces this pipeline file in `Capability` instead of the models directory's
    /// default one.
    pub fn pipeline(mut self, path: Option<PathBuf>) -> Self {
        self.pipeline = path;
        self
    }

    /// Refuses a batch whose projected memory (measured at batch 1, see
    /// [`crate::profile`]) is above `share` of the memory available (`MemAvailable`) when
    /// the request arrives.
    pub fn memory_share(mut self, share: f64) -> Self {
        self.memory_share = Some(share);
        self
    }

    /// Ends a request's profile before its next run once it has taken `limit`; the results
    /// measured so far are sent, then a fault saying the time limit was reached.
    pub fn time_limit(mut self, limit: std::time::Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Ends any profile in progress before its next run once `stop` is requested (the
    /// agent joins the control thread before ONNX Runtime is torn down).
    pub fn stop_on(mut self, stop: Arc<Shutdown>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Why profiling cannot run, if it cannot (loads the model catalog if not yet loaded).
    pub fn unavailable(&mut self) -> Option<String> {
        self.ready().err()
    }

    /// Execution providers the loaded runtime offers (empty without a runtime).
    pub fn providers(&self) -> Vec<ExecProvider> {
        self.runtime
            .as_ref()
            .map(|r| r.providers())
            .unwrap_or_default()
    }

    /// The loaded runtime's version.
    pub fn runtime_version(&self) -> Option<String> {
        self.runtime
            .as_ref()
            .ok()
            .and_then(|r| r.version().map(str::to_string))
    }

    /// How many measurements `spec` selects.
    pub fn plan(&mut self, spec: &ProfileSpec) -> Result<u16, String> {
        let (runtime, catalog, _) = self.ready()?;
        let entries = plan(runtime, catalog, spec).map_err(|e| e.to_string())?;
        Ok(u16::try_from(entries.len()).unwrap_or(u16::MAX))
    }

    /// Measures what `spec` selects; `progress(done, total)` counts runs, `each` gets every
    /// measurement as soon as it is taken.
    pub fn run(
        &mut self,
        spec: &ProfileSpec,
        progress: &mut dyn FnMut(u64, u64),
        each: &mut dyn FnMut(ProfileRun),
    ) -> Result<u16, String> {
        self.run_until(spec, progress, each, &|| false)
    }

    /// [`DeviceProfiler::run`], ending before the next inference once `cancelled` is true
    /// (a host's `ProfileCancel`), the agent stops, or the time limit is reached; the
    /// error says which.
    pub fn run_until(
        &mut self,
        spec: &ProfileSpec,
        progress: &mut dyn FnMut(u64, u64),
        each: &mut dyn FnMut(ProfileRun),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<u16, String> {
        let stop = self.stop.clone();
        let until = self.time_limit.map(|d| std::time::Instant::now() + d);
        let late = move || until.is_some_and(|u| std::time::Instant::now() >= u);
        let stopped = || cancelled() || stop.as_ref().is_some_and(|s| s.is_requested()) || late();
        let limit = self.time_limit;
        let mut spec = spec.clone();
        if let Some(share) = self.memory_share {
            spec.memory_budget_kib = available_kib().map(|kib| (kib as f64 * share) as u64);
        }
        let (runtime, catalog, system) = self.ready()?;
        profile_each_until(runtime, catalog, &spec, system, progress, each, &stopped).map_err(
            |e| match e {
                ProfileError::Stopped { done } if cancelled() => {
                    format!("cancelled by the host after {done} runs")
                }
                ProfileError::Stopped { done } if late() => format!(
                    "stopped after {done} runs: the time limit of {} s was reached ([control] max_seconds)",
                    limit.map_or(0, |d| d.as_secs())
                ),
                e => e.to_string(),
            },
        )
    }

    /// The runtime, the catalog (loaded now if this is the first use) and the reader, or
    /// why profiling cannot run.
    fn ready(&mut self) -> Result<(&OrtRuntime, &ModelCatalog, &mut dyn SystemReader), String> {
        let models_dir = self.models_dir.as_deref();
        let catalog = self.catalog.get_or_insert_with(|| {
            let loaded = manifest::find_models_dir(models_dir)
                .map_err(|tried| {
                    let tried: Vec<String> =
                        tried.iter().map(|p| p.display().to_string()).collect();
                    format!("no models directory found; tried {}", tried.join(", "))
                })
                .and_then(|dir| ModelCatalog::load_dir(&dir).map_err(|e| e.to_string()));
            match &loaded {
                Ok(c) => info!("{} model manifest(s) installed", c.models().len()),
                Err(e) => warn!("models unavailable, profiling disabled: {e}"),
            }
            loaded
        });
        match (&self.runtime, catalog) {
            (Err(e), _) => Err(format!("ONNX Runtime not loaded: {e}")),
            (_, Err(e)) => Err(e.clone()),
            (Ok(r), Ok(c)) => Ok((r, c, self.system.as_mut())),
        }
    }

    /// What this device is and runs: the system facts, plus the runtime's providers and
    /// version, plus the CUDA driver's GPU facts when built with `cudarc`.
    pub fn describe(&self) -> Capability {
        let mut cap = describe(self.system.as_ref(), &self.root, &self.device_id);
        for p in self.providers() {
            let _ = cap.providers.push(p);
        }
        cap.software.onnxruntime = self.runtime_version().map(|v| truncated(&v));
        cap.pipeline = self.pipeline_summary();
        match gpu::query_gpu(0) {
            Ok(info) => {
                let f = info.facts;
                cap.gpu.compute_capability = cap.gpu.compute_capability.or(f.compute_capability);
                cap.gpu.sm_count = cap.gpu.sm_count.or(f.sm_count);
                cap.gpu.mem_kib = cap.gpu.mem_kib.or(f.mem_kib);
                if cap.hardware.gpu.is_none() {
                    cap.hardware.gpu = Some(truncated(&info.name));
                }
            }
            Err(e) => log::debug!("no CUDA GPU facts: {e}"),
        }
        cap
    }
}

impl DeviceProfiler {
    /// The pipeline's summary once the catalog is loaded (a profile has run); `None`, and
    /// logged, when the pipeline file is unusable.
    fn pipeline_summary(&self) -> Option<msao::message::PipelineSummary> {
        let Some(Ok(catalog)) = &self.catalog else {
            return None;
        };
        let spec = match &self.pipeline {
            Some(p) => PipelineSpec::load(p),
            None => PipelineSpec::load_default(catalog.dir()),
        };
        match spec.and_then(|s| s.summary(catalog)) {
            Ok(summary) => Some(summary),
            Err(e) => {
                warn!("capability without a pipeline: {e}");
                None
            }
        }
    }
}

impl ProfileService for DeviceProfiler {
    fn plan(&mut self, request: &ProfileRequest) -> Result<u16, String> {
        DeviceProfiler::plan(self, &ProfileSpec::from(request))
    }

    fn profile(
        &mut self,
        request: &ProfileRequest,
        emit: &mut dyn FnMut(ProfileResult, u16),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<u16, String> {
        let spec = ProfileSpec::from(request);
        let mut each = |run: ProfileRun| {
            let index = run.result.index;
            emit(run.result, index);
        };
        self.run_until(&spec, &mut |_, _| {}, &mut each, cancelled)
    }

    fn capability(&mut self) -> Capability {
        self.describe()
    }
}
