//! Per-core frequency from cpufreq (`scaling_cur_freq`, kHz), reported in MHz.

use super::{ReadError, SysRoot};

/// Current frequency of `cpu` in MHz, rounded to nearest. Missing on machines without
/// cpufreq (most VMs) and for offline cores.
pub fn read_freq_mhz(root: &SysRoot, cpu: u32) -> Result<u16, ReadError> {
    let rel = format!("sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq");
    let khz: u64 = root.read_num(&rel, "kHz")?;
    let mhz = khz.saturating_add(500) / 1000;
    u16::try_from(mhz).map_err(|_| ReadError::OutOfRange {
        path: root.path(&rel),
        value: i64::try_from(mhz).unwrap_or(i64::MAX),
        what: "freq_mhz (u16)",
    })
}
