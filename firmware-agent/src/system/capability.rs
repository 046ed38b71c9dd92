//! The reader's side of the capability document: [`describe`] fills `msao::message::Capability`
//! with what the system under the root says about itself.
//!
//! Left for the runtime to fill: `providers`, `software.onnxruntime`, and the GPU's
//! compute capability and SM count (they come from the loaded libraries, not from files).

use super::{
    ReadError, SysRoot, SystemReader, TotalRule, devfreq, nvpmodel,
    software::{read_cuda, read_kernel, read_tensorrt},
};
use log::debug;
use msao::message::{Capability, GpuFacts, HardwareSummary, SoftwareVersions, truncated};

const CPU_DIR: &str = "sys/devices/system/cpu";
/// Most power modes a `Capability` carries (`power_modes` capacity).
pub const MAX_POWER_MODES: usize = 8;

/// What `reader` and the files under `root` say about this device. `device_id` is the
/// configured id (cut to 32 bytes). Never fails: what cannot be read is `None` or empty.
pub fn describe(reader: &dyn SystemReader, root: &SysRoot, device_id: &str) -> Capability {
    let hardware = reader.hardware();
    let summary = reader.capability();
    let gpu = gpu_facts(root, &hardware);
    let power_modes = power_modes(root);
    let version = |what: &str, r: Result<String, ReadError>| {
        r.map_err(|e| debug!("capability: no {what} version ({e})"))
            .ok()
    };
    let software = SoftwareVersions {
        l4t: summary.l4t.clone(),
        cuda: version("CUDA", read_cuda(root)).map(|v| truncated(&v)),
        tensorrt: version("TensorRT", read_tensorrt(root)).map(|v| truncated(&v)),
        onnxruntime: None,
        kernel: version("kernel", read_kernel(root)).map(|v| truncated(&v)),
    };
    Capability {
        device_id: truncated(device_id),
        cpu_max_mhz: cpu_max_mhz(root),
        hardware,
        gpu,
        power_modes,
        power_mode: summary.power_mode,
        software,
        providers: heapless::Vec::new(),
        // The pipeline is the profiler's to fill in (it knows the models).
        pipeline: None,
    }
}

/// How `Sample::total_power_mw` is formed for these rails (spec §4.3), in words, for the
/// JSON capability document: `VDD_IN (the module's input rail)`, `sum of connected rails
/// (…)`, or `none (no power rails)`.
pub fn total_power_rule(hardware: &HardwareSummary) -> String {
    let names: Vec<&str> = hardware.rails.iter().map(|n| n.as_str()).collect();
    TotalRule::for_rails(&names).describe(&names)
}

/// Highest `cpuinfo_max_freq` (kHz) over all CPUs, in MHz.
pub fn cpu_max_mhz(root: &SysRoot) -> Option<u16> {
    root.numbered_entries(CPU_DIR, "cpu")
        .ok()?
        .into_iter()
        .filter_map(|(_, cpu)| {
            root.read_num::<u64>(format!("{CPU_DIR}/{cpu}/cpufreq/cpuinfo_max_freq"), "kHz")
                .ok()
        })
        .max()
        .and_then(|khz| u16::try_from(khz.saturating_add(500) / 1000).ok())
}

/// GPU facts a file can give: the devfreq maximum and, for the integrated GPU a Jetson
/// reader found, its memory (the system memory it shares).
fn gpu_facts(root: &SysRoot, hardware: &HardwareSummary) -> GpuFacts {
    let node = hardware
        .gpu
        .as_ref()
        .and_then(|_| devfreq::find_gpu(root).ok());
    GpuFacts {
        compute_capability: None,
        sm_count: None,
        mem_kib: hardware.gpu.as_ref().and(hardware.mem_total_kib),
        max_freq_mhz: node.and_then(|n| n.max_mhz(root).ok()),
    }
}

/// Mode names indexed by nvpmodel id; ids without a definition are empty names, ids at or
/// beyond [`MAX_POWER_MODES`] are left out (logged at debug level).
fn power_modes(root: &SysRoot) -> heapless::Vec<heapless::String<16>, MAX_POWER_MODES> {
    let mut out = heapless::Vec::new();
    let Ok(modes) = nvpmodel::read_modes(root) else {
        return out;
    };
    for mode in &modes {
        let id = usize::from(mode.id);
        if id >= MAX_POWER_MODES {
            debug!(
                "capability: power mode {} ({}) is beyond the 8 carried",
                mode.id, mode.name
            );
            continue;
        }
        while out.len() <= id {
            if out.push(heapless::String::new()).is_err() {
                break;
            }
        }
        if let Some(slot) = out.get_mut(id) {
            *slot = truncated(&mode.name);
        }
    }
    out
}
