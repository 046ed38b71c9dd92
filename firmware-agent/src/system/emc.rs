//! External memory controller (EMC) load: the activity monitor's average memory-controller
//! activity (kHz) over the EMC clock rate (Hz), per-mille.
//!
//! Sources, first existing wins:
//! - activity: `/sys/kernel/actmon_avg_activity/mc_all` (JetPack 4, world-readable),
//!   `/sys/kernel/debug/cactmon/mc_all` (Orin, debugfs);
//! - rate: `/sys/kernel/debug/bpmp/debug/clk/emc/rate` (TX2 and later, BPMP debugfs),
//!   `/sys/kernel/debug/clk/emc/clk_rate` (Nano, TX1).
//!
//! debugfs (`/sys/kernel/debug`) is mode 0700 root: as another user the rate is missing and
//! `emc_load_pm` is `None`, with that reason logged once. Utilisation = `mc_all` / EMC rate
//! in kHz is the recipe given on the NVIDIA developer forum; the Orin `cactmon` path is
//! recalled from jetson-stats, not checked on a device (the scan degrades to `None` if it
//! is elsewhere).

use super::{ReadError, SysRoot, root::parse_error};

const ACTIVITY: [&str; 2] = [
    "sys/kernel/actmon_avg_activity/mc_all",
    "sys/kernel/debug/cactmon/mc_all",
];
const RATE: [&str; 2] = [
    "sys/kernel/debug/bpmp/debug/clk/emc/rate",
    "sys/kernel/debug/clk/emc/clk_rate",
];

/// What to add to a reason when a debugfs path is involved.
pub const DEBUGFS_HINT: &str = "debugfs (/sys/kernel/debug) is readable by root only";

/// The two files EMC load is computed from, relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmcSource {
    /// Average activity, kHz.
    pub activity: String,
    /// EMC clock rate, Hz.
    pub rate: String,
}

/// Finds both files, or says why not (noting that debugfs is readable by root only when it is involved).
pub fn find(root: &SysRoot) -> Result<EmcSource, String> {
    let pick = |candidates: &[&str]| {
        root.first_existing(candidates)
            .map(str::to_owned)
            .map_err(|e| format!("{e}; {DEBUGFS_HINT}"))
    };
    Ok(EmcSource {
        activity: pick(&ACTIVITY)?,
        rate: pick(&RATE)?,
    })
}

impl EmcSource {
    /// EMC busy share, per-mille.
    pub fn read_load_pm(&self, root: &SysRoot) -> Result<u16, ReadError> {
        let activity_khz: u64 = root.read_num(&self.activity, "kHz")?;
        let rate_hz: u64 = root.read_num(&self.rate, "Hz")?;
        if rate_hz == 0 {
            return Err(parse_error(
                root.path(&self.rate),
                "0",
                "a non-zero EMC rate",
            ));
        }
        Ok(load_pm(activity_khz, rate_hz))
    }
}

/// `activity_khz` over `rate_hz`, per-mille, rounded, at most 1000: the average covers a
/// window in which the clock may have been higher than it is now, so it can briefly exceed
/// the current rate; that is full load, not more. `rate_hz` must not be zero.
pub fn load_pm(activity_khz: u64, rate_hz: u64) -> u16 {
    let rate_hz = u128::from(rate_hz.max(1));
    let pm = (u128::from(activity_khz) * 1_000_000 + rate_hz / 2) / rate_hz;
    u16::try_from(pm.min(1000)).unwrap_or(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_is_activity_over_rate() {
        // 400 MHz of activity on a 1600 MHz clock: a quarter.
        assert_eq!(load_pm(400_000, 1_600_000_000), 250);
        assert_eq!(load_pm(0, 2_133_000_000), 0);
        assert_eq!(load_pm(1, 3_000_000_000), 0);
        assert_eq!(load_pm(5_000_000, 1_600_000_000), 1000);
    }
}
