//! A devfreq node (`/sys/class/devfreq/<dev>/{cur,min,max}_freq`, Hz) and finding the GPU's.
//!
//! The GPU node's name changes with the release: `57000000.gpu` (Nano, JetPack 4),
//! `17000000.gp10b` (TX2), `17000000.gv11b` (Xavier), `17000000.ga10b` (Orin, JetPack 5),
//! `17000000.gpu` (Orin, JetPack 6), and nodes such as `gpu-gpc-0` on some kernels. So the
//! node is found by looking at each one, never by a board table.

use super::{ReadError, SysRoot};

const DEVFREQ: &str = "sys/class/devfreq";

/// Names that mark an integrated Tegra GPU: the generic word and the nvgpu chip names.
pub const GPU_WORDS: [&str; 5] = ["gpu", "ga10b", "gv11b", "gp10b", "gm20b"];

/// Whether a device or node name names the GPU (`17000000.ga10b`, `gpu.0`, `gpu-gpc-0`).
pub fn is_gpu_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    GPU_WORDS.iter().any(|w| lower.contains(w))
}

/// One devfreq node, relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devfreq {
    /// `sys/class/devfreq/<node>`.
    pub dir: String,
    /// `<node>`.
    pub node: String,
}

impl Devfreq {
    /// Current clock in MHz.
    pub fn cur_mhz(&self, root: &SysRoot) -> Result<u16, ReadError> {
        self.mhz(root, "cur_freq")
    }

    /// Lowest clock the governor may pick, in MHz.
    pub fn min_mhz(&self, root: &SysRoot) -> Result<u16, ReadError> {
        self.mhz(root, "min_freq")
    }

    /// Highest clock the governor may pick, in MHz (on Jetson: the power mode's cap).
    pub fn max_mhz(&self, root: &SysRoot) -> Result<u16, ReadError> {
        self.mhz(root, "max_freq")
    }

    fn mhz(&self, root: &SysRoot, file: &str) -> Result<u16, ReadError> {
        let rel = format!("{}/{file}", self.dir);
        let hz: u64 = root.read_num(&rel, "Hz")?;
        hz_to_mhz(hz).ok_or_else(|| ReadError::OutOfRange {
            path: root.path(&rel),
            value: i64::try_from(hz).unwrap_or(i64::MAX),
            what: "MHz (u16)",
        })
    }
}

/// Hz to MHz, rounded to nearest; `None` above 65535 MHz.
pub fn hz_to_mhz(hz: u64) -> Option<u16> {
    u16::try_from(hz.saturating_add(500_000) / 1_000_000).ok()
}

/// The GPU's devfreq node: the first node (by name) whose directory name, `name` file or
/// `device` link target names a GPU ([`is_gpu_name`]).
pub fn find_gpu(root: &SysRoot) -> Result<Devfreq, ReadError> {
    let nodes = root.list_dir(DEVFREQ)?;
    nodes
        .into_iter()
        .find(|node| {
            let dir = format!("{DEVFREQ}/{node}");
            is_gpu_name(node)
                || root
                    .read_text(format!("{dir}/name"))
                    .is_ok_and(|n| is_gpu_name(&n))
                || root
                    .link_name(format!("{dir}/device"))
                    .is_some_and(|n| is_gpu_name(&n))
        })
        .map(|node| Devfreq {
            dir: format!("{DEVFREQ}/{node}"),
            node,
        })
        .ok_or_else(|| ReadError::NoSource {
            tried: format!(
                "{}/* (no node named after a GPU: {})",
                root.path(DEVFREQ).display(),
                GPU_WORDS.join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rounding() {
        for n in [
            "17000000.ga10b",
            "57000000.gpu",
            "gpu-gpc-0",
            "17000000.GV11B",
        ] {
            assert!(is_gpu_name(n), "{n}");
        }
        for n in ["15340000.vic", "13e10000.host1x:nvdec@15480000", "emc"] {
            assert!(!is_gpu_name(n), "{n}");
        }
        assert_eq!(hz_to_mhz(1_300_500_000), Some(1301));
        assert_eq!(hz_to_mhz(76_800_000), Some(77));
        assert_eq!(hz_to_mhz(306_000_000), Some(306));
        assert_eq!(hz_to_mhz(0), Some(0));
        assert_eq!(hz_to_mhz(70_000_000_000), None);
    }
}
