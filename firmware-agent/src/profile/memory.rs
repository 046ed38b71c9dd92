//! Peak memory of this process: `VmHWM` (peak resident set) from `/proc/self/status`,
//! reset before a timed run through `/proc/self/clear_refs` (Linux ≥ 4.0) so the peak
//! belongs to that run; and the memory the kernel says is available (`MemAvailable` in
//! `/proc/meminfo`), which bounds what a profile may add. Always this process's own
//! `/proc`, never a fixture root.
//!
//! On Jetson the GPU shares system memory, but CUDA allocations are not all counted in the
//! process's resident set: the figure is CPU-side peak memory.

use std::path::Path;

/// Which span a peak covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakScope {
    /// The peak was reset at the start of the timed runs.
    Run,
    /// The reset failed: the peak since the process started.
    Process,
}

/// Resets the peak resident set to the current one; false when the kernel refuses.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// Peak resident set (`VmHWM`), KiB.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib(Path::new("/proc/self/status"), "VmHWM:")
}

/// Current resident set (`VmRSS`), KiB.
pub fn rss_kib() -> Option<u64> {
    status_kib(Path::new("/proc/self/status"), "VmRSS:")
}

/// Memory available to new allocations without swapping (`MemAvailable`), KiB.
pub fn available_kib() -> Option<u64> {
    status_kib(Path::new("/proc/meminfo"), "MemAvailable:")
}

/// Resident memory a batch of `batch` is projected to add: the model's own memory
/// (`model_kib`, after loading) plus `batch` times what one run at batch 1 added
/// (`per_item_kib`: activations and inputs; an overestimate, since a batch shares the
/// fixed part of a run's workspace).
pub fn projected_kib(model_kib: u64, per_item_kib: u64, batch: u16) -> u64 {
    model_kib.saturating_add(per_item_kib.saturating_mul(u64::from(batch)))
}

fn status_kib(path: &Path, key: &str) -> Option<u64> {
    parse_status_kib(&std::fs::read_to_string(path).ok()?, key)
}

/// The `kB` value of `key` in `/proc/<pid>/status` text.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let mut parts = line[key.len()..].split_whitespace();
    let value = parts.next()?.parse().ok()?;
    (parts.next() == Some("kB")).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let s = "Name:\tmsao\nVmPeak:\t  300 kB\nVmHWM:\t   12345 kB\nVmRSS:\t    9000 kB\n";
        assert_eq!(parse_status_kib(s, "VmHWM:"), Some(12345));
        assert_eq!(parse_status_kib(s, "VmRSS:"), Some(9000));
        assert_eq!(parse_status_kib(s, "VmSwap:"), None);
        assert_eq!(parse_status_kib("VmHWM:\t12 pages\n", "VmHWM:"), None);
    }

    #[test]
    fn projection_scales_the_per_item_part_only() {
        assert_eq!(projected_kib(30_000, 450, 1), 30_450);
        assert_eq!(projected_kib(30_000, 450, 4096), 30_000 + 450 * 4096);
        assert_eq!(projected_kib(u64::MAX, 1, 2), u64::MAX);
        assert!(available_kib().is_some_and(|kib| kib > 0));
    }

    #[test]
    fn this_process_has_a_peak_at_least_its_rss() {
        let (peak, rss) = (peak_rss_kib().unwrap(), rss_kib().unwrap());
        assert!(peak > 0 && rss > 0);
        reset_peak();
        assert!(peak_rss_kib().unwrap() > 0);
    }
}
