//! `Capability`: what a device is and runs (the wire form of the capability document),
//! and the compact `CapabilitySummary` carried in every `Hello`.

use super::common::ExecProvider;
use super::hello::HardwareSummary;
use crate::wire_struct;

wire_struct! {
    /// Software stack versions; `None` when not installed or not detectable.
    pub struct SoftwareVersions {
        /// L4T release, e.g. `R36.4.3` (`/etc/nv_tegra_release`).
        pub l4t: Option<heapless::String<16>>,
        /// CUDA runtime version, e.g. `12.6`.
        pub cuda: Option<heapless::String<16>>,
        /// TensorRT version, e.g. `10.3.0`.
        pub tensorrt: Option<heapless::String<16>>,
        /// ONNX Runtime library version actually loaded, e.g. `1.31.1`.
        pub onnxruntime: Option<heapless::String<16>>,
        /// Kernel release (`uname -r`).
        pub kernel: Option<heapless::String<40>>,
    }
}

wire_struct! {
    /// GPU facts from the CUDA driver (cudarc) or the device tree.
    pub struct GpuFacts {
        /// Compute capability `[major, minor]`.
        pub compute_capability: Option<[u8; 2]>,
        /// Streaming multiprocessors.
        pub sm_count: Option<u16>,
        /// GPU-visible memory (shared with the CPU on Jetson).
        pub mem_kib: Option<u32>,
        /// Highest GPU clock (devfreq `max_freq`).
        pub max_freq_mhz: Option<u16>,
    }
}

wire_struct! {
    /// Compact capability summary, carried in every `Hello`.
    pub struct CapabilitySummary {
        /// Execution providers the loaded runtime offers (empty: no runtime loaded).
        pub providers: heapless::Vec<ExecProvider, 3>,
        /// L4T release, when on a Jetson.
        pub l4t: Option<heapless::String<16>>,
        /// Current power mode id (nvpmodel).
        pub power_mode: Option<u8>,
        /// Name of the current power mode, e.g. `15W`, `MAXN`.
        pub power_mode_name: Option<heapless::String<16>>,
    }
}

wire_struct! {
    /// The pipeline the agent serves requests with.
    pub struct PipelineSummary {
        /// Its name (the request API's `model`).
        pub name: heapless::String<32>,
        /// First 8 bytes of the SHA-256 over the pipeline file, each role's model file
        /// (manifest sha256, at the loaded precision) and the label tables: what a host
        /// compares to know two devices answer with the same models and labels.
        pub fingerprint: [u8; 8],
        /// Classes of the local head (the labels file's length).
        pub labels: u16,
    }
}

wire_struct! {
    /// What the device is and runs. Measured performance follows as `ProfileResult` frames.
    pub struct Capability {
        /// Configured device id.
        pub device_id: heapless::String<32>,
        /// Hardware summary (also in `Hello`).
        pub hardware: HardwareSummary,
        /// Highest CPU clock over all cores.
        pub cpu_max_mhz: Option<u16>,
        /// GPU facts.
        pub gpu: GpuFacts,
        /// Power modes defined on this board, index = nvpmodel id.
        pub power_modes: heapless::Vec<heapless::String<16>, 8>,
        /// Current power mode id.
        pub power_mode: Option<u8>,
        /// Software stack.
        pub software: SoftwareVersions,
        /// Execution providers the loaded runtime offers.
        pub providers: heapless::Vec<ExecProvider, 3>,
        /// The pipeline it serves, when its models are installed.
        pub pipeline: Option<PipelineSummary>,
    }
}
