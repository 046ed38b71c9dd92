//! Choosing the reader for the machine under the root, by looking at what is there.
//!
//! Jetson when any Tegra sign is present: `/etc/nv_tegra_release`, a device-tree
//! `compatible` naming `nvidia,tegra…`, nvgpu's GPU `load` file, or an INA3221 rail. A GPU
//! devfreq node alone is no sign (Mali boards have one too). (Any one
//! suffices: a container may see `/sys` but not `/etc`, a custom image may lack the
//! release file.) Otherwise x86 when a RAPL zone exists or `/proc/cpuinfo` has x86's
//! `vendor_id`; otherwise the generic Linux reader.

use super::{JetsonReader, LinuxReader, SysRoot, SystemReader, X86Reader, gpu, ina3221};
use std::{fmt, path::PathBuf};

/// Which reader fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderKind {
    /// [`JetsonReader`].
    Jetson,
    /// [`X86Reader`].
    X86,
    /// [`LinuxReader`].
    Linux,
}

/// The choice and the first piece of evidence for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The reader.
    pub kind: ReaderKind,
    /// Why, for the start-up log line (`/etc/nv_tegra_release exists`).
    pub evidence: String,
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self.kind, self.evidence)
    }
}

/// Looks under `root` and picks a reader.
pub fn detect(root: &SysRoot) -> Detection {
    let found = |kind, evidence: String| Detection { kind, evidence };
    if root.exists("etc/nv_tegra_release") {
        let p = root.path("etc/nv_tegra_release");
        return found(ReaderKind::Jetson, format!("{} exists", p.display()));
    }
    let compatible = root
        .read_text("proc/device-tree/compatible")
        .unwrap_or_default();
    if let Some(c) = compatible
        .split('\0')
        .find(|c| c.starts_with("nvidia,tegra"))
    {
        return found(
            ReaderKind::Jetson,
            format!("device tree is compatible with {c}"),
        );
    }
    if let Ok(load) = gpu::find_load(root, None) {
        let p = root.path(load);
        return found(ReaderKind::Jetson, format!("GPU load file {}", p.display()));
    }
    if let Some(rail) = ina3221::discover(root)
        .ok()
        .and_then(|r| r.into_iter().next())
    {
        return found(ReaderKind::Jetson, format!("INA3221 rail {}", rail.name));
    }
    let rapl = root
        .list_dir("sys/class/powercap")
        .unwrap_or_default()
        .into_iter()
        .find(|n| n.starts_with("intel-rapl:"));
    if let Some(zone) = rapl {
        return found(ReaderKind::X86, format!("RAPL zone {zone}"));
    }
    let cpuinfo = root.read_text("proc/cpuinfo").unwrap_or_default();
    if let Some(line) = cpuinfo.lines().find(|l| l.starts_with("vendor_id")) {
        return found(ReaderKind::X86, format!("/proc/cpuinfo `{}`", line.trim()));
    }
    found(
        ReaderKind::Linux,
        "no Jetson or x86 power source found".to_string(),
    )
}

/// The reader [`detect`] picks, created on `root`, and the detection.
pub fn open_reader(root: impl Into<PathBuf>) -> (Box<dyn SystemReader>, Detection) {
    let root: PathBuf = root.into();
    let detection = detect(&SysRoot::new(root.clone()));
    let reader: Box<dyn SystemReader> = match detection.kind {
        ReaderKind::Jetson => Box::new(JetsonReader::new(root)),
        ReaderKind::X86 => Box::new(X86Reader::new(root)),
        ReaderKind::Linux => Box::new(LinuxReader::new(root)),
    };
    (reader, detection)
}
