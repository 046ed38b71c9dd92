//! RAPL energy counters on x86 (`/sys/class/powercap/intel-rapl:N/{name,energy_uj,
//! max_energy_range_uj}`), turned into power: the energy used between two readings over
//! the time between them.
//!
//! Only top-level zones are rails (`package-N`, and `psys`, the platform domain of
//! recent laptops); sub-zones (`core`, `uncore`, `dram` as `intel-rapl:N:M`) are parts of
//! their package. The counter wraps at `max_energy_range_uj`. Since Linux 5.10
//! `energy_uj` is readable by root only (CVE-2020-8694, the PLATYPUS power side channel),
//! so as another user the rails are `None`, with that reason logged once.

use super::{ReadError, SysRoot};
use std::time::{Duration, Instant};

const POWERCAP: &str = "sys/class/powercap";
const ZONE_PREFIX: &str = "intel-rapl:";
/// Added to a permission failure on `energy_uj`.
pub const ROOT_ONLY_HINT: &str =
    "RAPL energy_uj is readable by root only since Linux 5.10 (CVE-2020-8694)";

/// One top-level RAPL zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaplZone {
    /// `name` (`package-0`, `psys`), or the directory name when unreadable.
    pub name: String,
    /// `sys/class/powercap/intel-rapl:N`.
    pub dir: String,
    /// `max_energy_range_uj`, where the counter wraps; `None` when unreadable.
    pub max_range_uj: Option<u64>,
}

impl RaplZone {
    /// The counter now, µJ.
    pub fn read_energy_uj(&self, root: &SysRoot) -> Result<u64, ReadError> {
        root.read_num(format!("{}/energy_uj", self.dir), "µJ")
    }
}

/// Top-level zones in directory-name order.
pub fn discover(root: &SysRoot) -> Result<Vec<RaplZone>, ReadError> {
    let names = root.list_dir(POWERCAP)?;
    Ok(names
        .into_iter()
        .filter(|n| {
            n.strip_prefix(ZONE_PREFIX)
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|n| {
            let dir = format!("{POWERCAP}/{n}");
            let name = root
                .read_text(format!("{dir}/name"))
                .map(|t| t.trim().to_string())
                .ok()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| n.clone());
            let max_range_uj = root
                .read_num(format!("{dir}/max_energy_range_uj"), "µJ")
                .ok();
            RaplZone {
                name,
                dir,
                max_range_uj,
            }
        })
        .collect())
}

/// Power in mW from two counter readings `elapsed` apart. A counter below its previous
/// value wrapped once at `max_range_uj`; without that bound the interval is `None`.
/// `None` also for an empty interval.
pub fn power_mw(
    prev_uj: u64,
    now_uj: u64,
    max_range_uj: Option<u64>,
    elapsed: Duration,
) -> Option<u32> {
    let used_uj = if now_uj >= prev_uj {
        now_uj - prev_uj
    } else {
        max_range_uj?.checked_sub(prev_uj)?.checked_add(now_uj)?
    };
    let us = elapsed.as_micros();
    if us == 0 {
        return None;
    }
    // µJ per µs is W; × 1000 for mW, rounded.
    let mw = (u128::from(used_uj) * 1000 + us / 2) / us;
    Some(u32::try_from(mw).unwrap_or(u32::MAX))
}

/// Per-zone baselines and the power since them.
#[derive(Debug)]
pub struct RaplMeter {
    zones: Vec<RaplZone>,
    /// Last good reading of each zone and when it was taken.
    prev: Vec<Option<(u64, Instant)>>,
}

impl RaplMeter {
    /// Takes the first baseline of every zone at `at`.
    pub fn new(root: &SysRoot, zones: Vec<RaplZone>, at: Instant) -> Self {
        let prev = zones
            .iter()
            .map(|z| z.read_energy_uj(root).ok().map(|e| (e, at)))
            .collect();
        Self { zones, prev }
    }

    /// The zones, in rail order.
    pub fn zones(&self) -> &[RaplZone] {
        &self.zones
    }

    /// Power of each zone since its last good reading, read at `at`. `Ok(None)` while a zone
    /// has no baseline yet (its first good reading becomes one). A failed read keeps the old
    /// baseline, so the next figure covers the longer window.
    pub fn read(&mut self, root: &SysRoot, at: Instant) -> Vec<Result<Option<u32>, ReadError>> {
        self.zones
            .iter()
            .zip(self.prev.iter_mut())
            .map(|(zone, prev)| {
                let now = zone.read_energy_uj(root).map_err(with_hint)?;
                let mw = prev.and_then(|(p, then)| {
                    power_mw(
                        p,
                        now,
                        zone.max_range_uj,
                        at.saturating_duration_since(then),
                    )
                });
                *prev = Some((now, at));
                Ok(mw)
            })
            .collect()
    }
}

/// Adds [`ROOT_ONLY_HINT`] to a permission failure.
fn with_hint(e: ReadError) -> ReadError {
    match e {
        ReadError::Io { path, kind, reason } if kind == std::io::ErrorKind::PermissionDenied => {
            ReadError::Io {
                path,
                kind,
                reason: format!("{reason} ({ROOT_ONLY_HINT})"),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_from_deltas_and_wraps() {
        let s = Duration::from_secs(1);
        assert_eq!(power_mw(1_000_000, 13_500_000, None, s), Some(12_500));
        assert_eq!(
            power_mw(10, 20, None, Duration::from_millis(3)),
            Some(3),
            "10 µJ in 3 ms is 3.33 mW"
        );
        // Wrap at 262143328850 µJ (a common max_energy_range_uj).
        let max = 262_143_328_850;
        assert_eq!(
            power_mw(max - 500_000, 1_500_000, Some(max), s),
            Some(2_000)
        );
        assert_eq!(power_mw(max - 500_000, 1_500_000, None, s), None);
        assert_eq!(power_mw(1, 2, None, Duration::ZERO), None);
    }
}
