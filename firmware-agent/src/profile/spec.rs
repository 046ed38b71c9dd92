//! [`ProfileSpec`]: what to profile and how long, from a host's `ProfileRequest` or a
//! command line.

use super::ProfileError;
use msao::message::{ExecProvider, Precision, ProfileRequest};
use std::{collections::BTreeMap, time::Duration};

/// Most warm-up or timed runs per entry (bounds the memory of the raw latencies: 8 MB).
pub const MAX_RUNS: u32 = 1_000_000;
/// Default warm-up runs.
pub const DEFAULT_WARMUP: u32 = 10;
/// Default timed runs.
pub const DEFAULT_ITERATIONS: u32 = 100;
/// Default time between power readings during a timed run.
pub const DEFAULT_POWER_INTERVAL: Duration = Duration::from_millis(50);
/// Default seed of the synthetic inputs.
pub const DEFAULT_SEED: u64 = 0x4d53_414f; // "MSAO"

/// What to profile. `None` filters select everything installed (every available provider).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSpec {
    /// Echoed in every result (`ProfileRequest::request_id`).
    pub request_id: Option<u32>,
    /// Only this model (manifest name).
    pub model: Option<String>,
    /// Only this execution provider (an unavailable one is an error).
    pub provider: Option<ExecProvider>,
    /// Only this precision.
    pub precision: Option<Precision>,
    /// Batch size: the value of every `batch` dimension.
    pub batch: u16,
    /// Untimed runs before timing starts.
    pub warmup: u32,
    /// Timed runs.
    pub iterations: u32,
    /// Values for named dimensions, over the manifest's `[dims]`.
    pub dims: BTreeMap<String, usize>,
    /// Time between power readings during the timed runs (when the board has rails).
    pub power_interval: Duration,
    /// Seed of the synthetic inputs (same seed, same inputs).
    pub seed: u64,
    /// The measuring thread runs at background priority (recorded in every result).
    pub background: bool,
    /// Most resident memory a batch may add, KiB; checked before each batch > 1 from one
    /// run at batch 1 ([`super::memory::projected_kib`]). `None`: not checked.
    pub memory_budget_kib: Option<u64>,
}

impl Default for ProfileSpec {
    fn default() -> Self {
        Self {
            request_id: None,
            model: None,
            provider: None,
            precision: None,
            batch: 1,
            warmup: DEFAULT_WARMUP,
            iterations: DEFAULT_ITERATIONS,
            dims: BTreeMap::new(),
            power_interval: DEFAULT_POWER_INTERVAL,
            seed: DEFAULT_SEED,
            background: false,
            memory_budget_kib: None,
        }
    }
}

impl From<&ProfileRequest> for ProfileSpec {
    fn from(r: &ProfileRequest) -> Self {
        Self {
            request_id: Some(r.request_id),
            model: r.model.as_ref().map(|m| m.as_str().to_string()),
            provider: r.provider,
            precision: r.precision,
            batch: r.batch,
            warmup: r.warmup,
            iterations: r.iterations,
            ..Self::default()
        }
    }
}

impl ProfileSpec {
    /// Refuses numbers that cannot be run: batch 0, no timed runs, runs over [`MAX_RUNS`],
    /// a zero power interval.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let bad = |s: String| Err(ProfileError::InvalidSpec(s));
        if self.batch == 0 {
            return bad("batch must be at least 1".into());
        }
        if self.iterations == 0 || self.iterations > MAX_RUNS {
            return bad(format!(
                "iterations {} outside 1..={MAX_RUNS}",
                self.iterations
            ));
        }
        if self.warmup > MAX_RUNS {
            return bad(format!("warmup {} over {MAX_RUNS}", self.warmup));
        }
        if self.power_interval.is_zero() {
            return bad("power interval must be greater than zero".into());
        }
        if let Some((k, _)) = self.dims.iter().find(|(_, v)| **v == 0) {
            return bad(format!("dimension `{k}` must be at least 1"));
        }
        Ok(())
    }

    /// Runs per entry (warm-up + timed), for progress totals.
    pub fn runs_per_entry(&self) -> u64 {
        u64::from(self.warmup) + u64::from(self.iterations)
    }
}
