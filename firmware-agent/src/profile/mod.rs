//! Profiling: measured latency, throughput, memory and energy of each installed model on
//! each execution provider, as `ProfileResult` messages and richer [`ProfileRun`]s.
//!
//! ```no_run
//! use msao_agent::{profile::{ProfileSpec, profile, write_summary}, runtime::{ModelCatalog, OrtRuntime, RuntimeOptions}, system::open_reader};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = OrtRuntime::new(&RuntimeOptions::default())?;
//! let catalog = ModelCatalog::load_dir("models".as_ref())?;
//! let (mut system, _) = open_reader("/");
//! let spec = ProfileSpec { model: Some("silero-vad".into()), ..ProfileSpec::default() };
//! let runs = profile(&runtime, &catalog, &spec, system.as_mut(), &mut |done, total| {
//!     eprint!("\r{done}/{total}");
//! })?;
//! for run in &runs { write_summary(run, &mut std::io::stdout())?; }
//! # Ok(()) }
//! ```
//!
//! Method, per (model, provider, precision, batch):
//! 1. load the model for the provider; a fallback to another provider is an error;
//! 2. build inputs from the manifest (deterministic pseudo-random data, or the manifest's
//!    constants; `batch` and named dimensions filled in), once;
//! 3. run `warmup` times untimed;
//! 4. read the system (power mode, temperatures, total power) and reset the peak RSS;
//! 5. run `iterations` times, timing each run alone (`Instant` around `run`), while a
//!    second thread reads total power every `power_interval` when the board reports it;
//! 6. read the system again. Latency percentiles are nearest-rank ([`stats`]); throughput
//!    is timed runs ÷ wall time of the timed loop; one *inference* is one run on one batch,
//!    so energy per inference is the integrated power (trapezoid rule) ÷ `iterations`.
//!
//! | file      | owns |
//! |-----------|------|
//! | `spec`    | [`ProfileSpec`], from a `ProfileRequest` or a command line |
//! | `plan`    | selecting (manifest, provider) entries; errors for unknown models/providers |
//! | `inputs`  | synthetic inputs from a manifest |
//! | `stats`   | latency statistics, nearest-rank percentiles |
//! | `memory`  | peak resident memory from `/proc/self` |
//! | `energy`  | power readings during a run and their integral |
//! | `run`     | measuring one entry; [`ProfileRun`] |
//! | `summary` | the trtexec-style text summary |
//! | `error`   | [`ProfileError`] |

mod energy;
mod error;
mod inputs;
pub mod memory;
mod plan;
mod run;
mod spec;
pub mod stats;
mod summary;

pub use error::ProfileError;
pub use inputs::synthetic_inputs;
pub use plan::{MAX_ENTRIES, PlanEntry, plan};
pub use run::ProfileRun;
pub use spec::{
    DEFAULT_ITERATIONS, DEFAULT_POWER_INTERVAL, DEFAULT_SEED, DEFAULT_WARMUP, MAX_RUNS, ProfileSpec,
};
pub use summary::write_summary;

use crate::{
    runtime::{InferenceRuntime, ModelCatalog},
    system::SystemReader,
};
use run::{Progress, run_entry};

/// Profiles every entry `spec` selects from `catalog`, in plan order, and returns the
/// measurements. `progress(done, total)` is called after every run (warm-up included)
/// with counts over the whole profile, so a host can draw one progress bar. Results carry
/// `spec.request_id`, their index and the total.
pub fn profile(
    runtime: &dyn InferenceRuntime,
    catalog: &ModelCatalog,
    spec: &ProfileSpec,
    system: &mut dyn SystemReader,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<ProfileRun>, ProfileError> {
    let mut runs = Vec::new();
    profile_each(runtime, catalog, spec, system, progress, &mut |run| {
        runs.push(run)
    })?;
    Ok(runs)
}

/// [`profile`], handing each measurement to `each` as soon as it is taken (for a control
/// link that streams `ProfileResult`s). Returns the number of measurements; on an error,
/// those already handed over stay valid.
pub fn profile_each(
    runtime: &dyn InferenceRuntime,
    catalog: &ModelCatalog,
    spec: &ProfileSpec,
    system: &mut dyn SystemReader,
    progress: &mut dyn FnMut(u64, u64),
    each: &mut dyn FnMut(ProfileRun),
) -> Result<u16, ProfileError> {
    profile_each_until(runtime, catalog, spec, system, progress, each, &|| false)
}

/// [`profile_each`], asking `stopped` before every run (warm-up and timed): once it is
/// true the profile ends with [`ProfileError::Stopped`], so a shutting-down agent waits
/// at most one inference for it.
pub fn profile_each_until(
    runtime: &dyn InferenceRuntime,
    catalog: &ModelCatalog,
    spec: &ProfileSpec,
    system: &mut dyn SystemReader,
    progress: &mut dyn FnMut(u64, u64),
    each: &mut dyn FnMut(ProfileRun),
    stopped: &dyn Fn() -> bool,
) -> Result<u16, ProfileError> {
    let entries = plan(runtime, catalog, spec)?;
    // `plan` caps entries at MAX_ENTRIES (u16::MAX).
    let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
    let mut progress = Progress {
        done: 0,
        total: spec.runs_per_entry().saturating_mul(entries.len() as u64),
        report: progress,
        stopped,
    };
    for (i, entry) in entries.into_iter().enumerate() {
        let index = u16::try_from(i).unwrap_or(u16::MAX);
        each(run_entry(
            runtime,
            entry,
            spec,
            system,
            &mut progress,
            (index, count),
        )?);
    }
    Ok(count)
}
