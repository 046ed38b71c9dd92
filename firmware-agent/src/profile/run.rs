//! Measuring one plan entry: load, warm up (untimed), time each run, and record the
//! conditions (power mode, hottest temperature at start and end, peak memory, energy).

use super::{
    PlanEntry, ProfileError, ProfileSpec,
    energy::{run_energy_uj, sample_power_during},
    inputs::synthetic_inputs,
    memory::{PeakScope, peak_rss_kib, projected_kib, reset_peak, rss_kib},
    stats::LatencyNs,
};
use crate::{
    runtime::{DType, InferenceRuntime, LoadedModel, ModelManifest, provider_name},
    system::{SystemReader, hottest_cdeg},
};
use msao::message::{ProfileResult, truncated};
use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

/// A measurement with everything the capability document and a summary need; `result` is
/// the wire form.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRun {
    /// The wire form (`request_id`, `index`, `total` filled from the spec and the plan).
    pub result: ProfileResult,
    /// Runtime name (`onnxruntime`).
    pub runtime: String,
    /// Runtime version actually loaded.
    pub runtime_version: Option<String>,
    /// The ONNX file.
    pub model_file: PathBuf,
    /// Inputs as run: name, dtype, shape.
    pub inputs: Vec<(String, DType, Vec<usize>)>,
    /// Every timed run's latency, in run order (warm-up excluded).
    pub latencies: Vec<Duration>,
    /// Latency statistics at nanosecond resolution.
    pub latency_ns: LatencyNs,
    /// Time spent loading the model (session creation, provider setup).
    pub load_time: Duration,
    /// Wall time of the timed runs, first start to last end.
    pub wall: Duration,
    /// Timed runs per second.
    pub runs_per_s: f64,
    /// Batch items per second (`runs_per_s × batch`).
    pub items_per_s: f64,
    /// What `result.peak_mem_kib` covers.
    pub peak_scope: PeakScope,
    /// Total energy of the timed runs, µJ.
    pub energy_total_uj: Option<u64>,
    /// Power readings integrated over the timed runs (start and end included).
    pub power_readings: usize,
}

/// Progress over the whole profile: runs done (warm-up included) and runs in total.
pub(super) struct Progress<'p> {
    pub done: u64,
    pub total: u64,
    pub report: &'p mut dyn FnMut(u64, u64),
    /// Asked before every run; true ends the profile with [`ProfileError::Stopped`].
    pub stopped: &'p dyn Fn() -> bool,
}

impl Progress<'_> {
    fn step(&mut self) {
        self.done = self.done.saturating_add(1);
        (self.report)(self.done, self.total);
    }

    /// Err once a stop was asked for, so a profile ends between two runs.
    fn check(&self) -> Result<(), ProfileError> {
        if (self.stopped)() {
            return Err(ProfileError::Stopped { done: self.done });
        }
        Ok(())
    }
}

/// Runs `model` once at batch 1 and refuses `spec.batch` if what the model and `batch`
/// such runs would add to the resident set ([`projected_kib`]) is above `budget` KiB.
/// `before` is the resident set before the model was loaded. Without `/proc` readings
/// nothing is checked.
fn check_memory(
    model: &mut dyn LoadedModel,
    m: &ModelManifest,
    spec: &ProfileSpec,
    before: u64,
    budget: u64,
) -> Result<(), ProfileError> {
    let one = synthetic_inputs(m, 1, &spec.dims, spec.seed)?;
    let Some(loaded) = rss_kib() else {
        return Ok(());
    };
    reset_peak();
    model.run(&one)?;
    let Some(peak) = peak_rss_kib() else {
        return Ok(());
    };
    let model_kib = loaded.saturating_sub(before);
    let per_item_kib = peak.saturating_sub(loaded).max(1);
    let projected = projected_kib(model_kib, per_item_kib, spec.batch);
    log::info!(
        "model {}: batch {} projected at {projected} KiB ({model_kib} KiB loaded + {per_item_kib} KiB per item at batch 1); budget {budget} KiB",
        m.label(),
        spec.batch
    );
    if projected > budget {
        return Err(ProfileError::MemoryBudget {
            model: m.name.clone(),
            batch: spec.batch,
            model_kib,
            per_item_kib,
            projected_kib: projected,
            budget_kib: budget,
        });
    }
    Ok(())
}

pub(super) fn run_entry(
    runtime: &dyn InferenceRuntime,
    entry: PlanEntry<'_>,
    spec: &ProfileSpec,
    system: &mut dyn SystemReader,
    progress: &mut Progress<'_>,
    (index, total): (u16, u16),
) -> Result<ProfileRun, ProfileError> {
    let m = entry.manifest;
    let before_load = rss_kib();
    let load_start = Instant::now();
    let mut model = runtime.load(m, entry.provider)?;
    let load_time = load_start.elapsed();
    if model.provider() != entry.provider {
        return Err(ProfileError::FellBack {
            model: m.label(),
            requested: provider_name(entry.provider),
            actual: provider_name(model.provider()),
        });
    }
    if let (Some(budget), Some(before)) = (spec.memory_budget_kib, before_load)
        && spec.batch > 1
    {
        progress.check()?;
        check_memory(model.as_mut(), m, spec, before, budget)?;
    }
    let inputs = synthetic_inputs(m, usize::from(spec.batch), &spec.dims, spec.seed)?;
    for _ in 0..spec.warmup {
        progress.check()?;
        model.run(&inputs)?;
        progress.step();
    }

    let hardware = system.hardware();
    let start = system.sample();
    let peak_scope = if reset_peak() {
        PeakScope::Run
    } else {
        PeakScope::Process
    };
    let mut latencies = Vec::with_capacity(spec.iterations as usize);
    let origin = Instant::now();
    let mut timed = || -> Result<Instant, ProfileError> {
        for _ in 0..spec.iterations {
            progress.check()?;
            let t = Instant::now();
            model.run(&inputs)?;
            latencies.push(t.elapsed());
            progress.step();
        }
        Ok(Instant::now())
    };
    let (outcome, during) = if start.total_power_mw.is_some() {
        sample_power_during(&mut *system, spec.power_interval, origin, timed)
    } else {
        (timed(), Vec::new())
    };
    let wall = outcome?.saturating_duration_since(origin);
    let end = system.sample();
    let peak_kib = peak_rss_kib();

    let energy_total_uj = start
        .total_power_mw
        .and_then(|mw| run_energy_uj(Some(mw), &during, (wall, end.total_power_mw)));
    let runs = u64::from(spec.iterations);
    let energy_uj = energy_total_uj.map(|e| u32::try_from(e / runs).unwrap_or(u32::MAX));
    let secs = wall.as_secs_f64().max(f64::MIN_POSITIVE);
    let runs_per_s = spec.iterations as f64 / secs;
    let latency_ns = LatencyNs::from_durations(&latencies);
    let result = ProfileResult {
        request_id: spec.request_id,
        index,
        total,
        model: truncated(&m.name),
        provider: model.provider(),
        precision: m.precision,
        batch: spec.batch,
        warmup: spec.warmup,
        iterations: spec.iterations,
        latency: latency_ns.to_wire(),
        throughput_milli: (runs_per_s * 1000.0).round().min(u32::MAX as f64) as u32,
        peak_mem_kib: peak_kib.map(|k| u32::try_from(k).unwrap_or(u32::MAX)),
        energy_uj,
        power_mode: start.power_mode,
        temp_start_cdeg: hottest_cdeg(&start, &hardware),
        temp_end_cdeg: hottest_cdeg(&end, &hardware),
        background: spec.background,
    };
    Ok(ProfileRun {
        result,
        runtime: runtime.name().to_string(),
        runtime_version: runtime.version().map(str::to_string),
        model_file: m.file.clone(),
        inputs: inputs
            .iter()
            .map(|t| (t.name.clone(), t.tensor.dtype(), t.tensor.shape().to_vec()))
            .collect(),
        latencies,
        latency_ns,
        load_time,
        wall,
        runs_per_s,
        items_per_s: runs_per_s * f64::from(spec.batch),
        peak_scope,
        energy_total_uj,
        power_readings: if start.total_power_mw.is_some() {
            during.iter().filter(|(at, _)| *at <= wall).count() + 2
        } else {
            0
        },
    })
}
