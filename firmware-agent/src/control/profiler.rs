//! [`DeviceProfiler`]: the profiling side of the device — ONNX Runtime, the installed
//! models, and a system reader of its own for conditions and energy. The agent's control
//! thread serves `ProfileRequest`s with it, and `msao-host profile` uses it on the local
//! machine, so both measure the same way.
//!
//! It never fails to start: a missing ONNX Runtime library or models directory is recorded,
//! logged once, and returned as the reason when a profile is asked for; telemetry goes on.

use super::ProfileService;
use crate::{
    profile::{ProfileRun, ProfileSpec, plan, profile_each},
    runtime::{InferenceRuntime, ModelCatalog, OrtRuntime, RuntimeOptions, gpu, manifest},
    system::{SysRoot, SystemReader, describe, open_reader},
};
use log::{info, warn};
use msao::message::{Capability, ExecProvider, ProfileRequest, ProfileResult, truncated};
use std::path::{Path, PathBuf};

/// Runtime, models and a system reader, each present or with the reason it is not.
pub struct DeviceProfiler {
    runtime: Result<OrtRuntime, String>,
    catalog: Result<ModelCatalog, String>,
    system: Box<dyn SystemReader>,
    root: SysRoot,
    device_id: String,
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
        let catalog = manifest::find_models_dir(options.models_dir.as_deref())
            .map_err(|tried| {
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                format!("no models directory found; tried {}", tried.join(", "))
            })
            .and_then(|dir| ModelCatalog::load_dir(&dir).map_err(|e| e.to_string()));
        match &catalog {
            Ok(c) => info!("{} model manifest(s) installed", c.models().len()),
            Err(e) => warn!("models unavailable, profiling disabled: {e}"),
        }
        let (system, _) = open_reader(PathBuf::from(sysfs_root));
        Self {
            runtime,
            catalog,
            system,
            root: SysRoot::new(PathBuf::from(sysfs_root)),
            device_id: device_id.to_string(),
        }
    }

    /// Why profiling cannot run, if it cannot.
    pub fn unavailable(&self) -> Option<String> {
        match (&self.runtime, &self.catalog) {
            (Err(e), _) => Some(format!("ONNX Runtime not loaded: {e}")),
            (_, Err(e)) => Some(e.clone()),
            _ => None,
        }
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
    pub fn plan(&self, spec: &ProfileSpec) -> Result<u16, String> {
        let (runtime, catalog) = self.ready()?;
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
        let (runtime, catalog) = match (&self.runtime, &self.catalog) {
            (Ok(r), Ok(c)) => (r, c),
            _ => return Err(self.unavailable().unwrap_or_default()),
        };
        profile_each(runtime, catalog, spec, self.system.as_mut(), progress, each)
            .map_err(|e| e.to_string())
    }

    fn ready(&self) -> Result<(&OrtRuntime, &ModelCatalog), String> {
        match (&self.runtime, &self.catalog) {
            (Ok(r), Ok(c)) => Ok((r, c)),
            _ => Err(self.unavailable().unwrap_or_default()),
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

impl ProfileService for DeviceProfiler {
    fn plan(&mut self, request: &ProfileRequest) -> Result<u16, String> {
        DeviceProfiler::plan(self, &ProfileSpec::from(request))
    }

    fn profile(
        &mut self,
        request: &ProfileRequest,
        emit: &mut dyn FnMut(ProfileResult, u16),
    ) -> Result<u16, String> {
        let spec = ProfileSpec::from(request);
        self.run(&spec, &mut |_, _| {}, &mut |run| {
            let index = run.result.index;
            emit(run.result, index);
        })
    }

    fn capability(&mut self) -> Capability {
        self.describe()
    }
}
