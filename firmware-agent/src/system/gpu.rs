//! The integrated Tegra GPU: finding its `load` file (per-mille, averaged by nvgpu) and its
//! name, by scanning.
//!
//! Known homes of `load`: `/sys/devices/platform/gpu.0/load` (Orin, JetPack 6),
//! `/sys/devices/gpu.0/load` (Nano, TX2, Xavier on JetPack 4), the GPU devfreq node's
//! parent device (`/sys/class/devfreq/<gpu>/device/load`), and platform devices named after
//! the GPU (`/sys/devices/platform/17000000.ga10b/load` on Orin with JetPack 5,
//! `/sys/devices/platform/bus@0/17000000.gpu/load` on Orin with JetPack 6). The fixed paths
//! come first because they are the documented ones; the scan finds the rest, so a path
//! recalled wrongly here costs nothing as long as the GPU device is named after the GPU.

use super::{Devfreq, ReadError, SysRoot, devfreq::is_gpu_name};

/// Fixed candidates, tried first.
const FIXED: [&str; 2] = ["sys/devices/platform/gpu.0/load", "sys/devices/gpu.0/load"];
/// Directories whose GPU-named children are searched for a `load` file.
const SCANNED: [&str; 3] = [
    "sys/devices/platform",
    "sys/devices/platform/bus@0",
    "sys/devices",
];

/// GPU load file, relative to the root: the first candidate that exists, in the order the
/// module documentation gives. `devfreq` is the GPU devfreq node when one was found.
pub fn find_load(root: &SysRoot, devfreq: Option<&Devfreq>) -> Result<String, ReadError> {
    let mut candidates: Vec<String> = FIXED.iter().map(|s| (*s).to_string()).collect();
    if let Some(node) = devfreq {
        candidates.push(format!("{}/device/load", node.dir));
    }
    for dir in SCANNED {
        // A directory that cannot be listed contributes nothing; the others may still hit.
        let Ok(names) = root.list_dir(dir) else {
            continue;
        };
        candidates.extend(
            names
                .into_iter()
                .filter(|n| is_gpu_name(n))
                .map(|n| format!("{dir}/{n}/load")),
        );
    }
    let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
    root.first_existing(&refs)
        .map(str::to_owned)
        .map_err(|e| match e {
            // Listing every scanned path would be long; say where was looked instead.
            ReadError::NoSource { .. } => ReadError::NoSource {
                tried: format!(
                    "{}, {}, the GPU devfreq node's device/load and GPU-named devices under {}",
                    root.path(FIXED[0]).display(),
                    root.path(FIXED[1]).display(),
                    SCANNED
                        .iter()
                        .map(|d| root.path(d).display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            other => other,
        })
}

/// GPU busy share in per-mille. nvgpu already averages it over its own window, so it is
/// not a delta between samples.
pub fn read_load_pm(root: &SysRoot, rel: &str) -> Result<u16, ReadError> {
    let pm: u64 = root.read_num(rel, "per-mille")?;
    u16::try_from(pm)
        .ok()
        .filter(|pm| *pm <= 1000)
        .ok_or_else(|| ReadError::OutOfRange {
            path: root.path(rel),
            value: i64::try_from(pm).unwrap_or(i64::MAX),
            what: "gpu_load_pm (0..=1000)",
        })
}

/// nvgpu chip names by SoC (`nvidia,tegra234` in the device-tree `compatible`). Used only to
/// name the GPU when the devfreq node is called plain `gpu` (JetPack 6); never to find files.
const CHIPS: [(&str, &str); 4] = [
    ("tegra234", "ga10b"),
    ("tegra194", "gv11b"),
    ("tegra186", "gp10b"),
    ("tegra210", "gm20b"),
];

/// The GPU's name for `HardwareSummary::gpu`: the chip part of the devfreq node name
/// (`17000000.ga10b` → `ga10b`), else the chip of the SoC named in the device tree, else
/// the node name as it is.
pub fn name(root: &SysRoot, devfreq: Option<&Devfreq>) -> String {
    let node = devfreq.map(|d| d.node.as_str());
    let chip = node.map(|n| n.rsplit_once('.').map_or(n, |(_, chip)| chip));
    if let Some(chip) = chip.filter(|c| !c.eq_ignore_ascii_case("gpu") && !c.is_empty()) {
        return chip.to_string();
    }
    let compatible = root
        .read_text("proc/device-tree/compatible")
        .unwrap_or_default();
    CHIPS
        .iter()
        .find(|(soc, _)| compatible.split('\0').any(|c| c.ends_with(soc)))
        .map(|(_, chip)| (*chip).to_string())
        .or_else(|| node.map(str::to_owned))
        .unwrap_or_else(|| "tegra-gpu".to_string())
}
