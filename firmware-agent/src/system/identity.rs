//! Board and CPU model names for `HardwareSummary`.

use super::{ReadError, SysRoot};

const BOARD_SOURCES: [&str; 2] = ["proc/device-tree/model", "sys/class/dmi/id/product_name"];

/// Board model: the device-tree `model` (Jetson, other ARM boards), else the DMI product
/// name (x86).
pub fn read_board(root: &SysRoot) -> Result<String, ReadError> {
    BOARD_SOURCES
        .iter()
        .filter_map(|rel| root.read_text(rel).ok())
        .map(|text| text.trim().to_string())
        .find(|text| !text.is_empty())
        .ok_or_else(|| ReadError::NoSource {
            tried: BOARD_SOURCES
                .iter()
                .map(|rel| root.path(rel).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// CPU model from `/proc/cpuinfo`: `model name` (x86, some ARM kernels), else the core type
/// named by `CPU implementer`/`CPU part` (arm64 kernels give only these numbers).
pub fn read_cpu_model(root: &SysRoot) -> Result<String, ReadError> {
    let text = root.read_text("proc/cpuinfo")?;
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    if let Some(name) = value("model name").filter(|n| !n.is_empty()) {
        return Ok(name);
    }
    let arm = value("CPU implementer").zip(value("CPU part"));
    if let Some(name) = arm.as_ref().and_then(|(i, p)| arm_core(i, p)) {
        return Ok(name.to_string());
    }
    if let Some((i, p)) = arm {
        return Ok(format!("ARM implementer {i} part {p}"));
    }
    Err(ReadError::MissingKey {
        path: root.path("proc/cpuinfo"),
        key: "model name",
    })
}

/// Core names for the implementer/part pairs found on Jetson modules.
fn arm_core(implementer: &str, part: &str) -> Option<&'static str> {
    let num = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    Some(match (num(implementer)?, num(part)?) {
        (0x41, 0xd07) => "ARM Cortex-A57",
        (0x41, 0xd08) => "ARM Cortex-A72",
        (0x41, 0xd42) => "ARM Cortex-A78AE",
        (0x4e, 0x004) => "NVIDIA Carmel",
        _ => return None,
    })
}
