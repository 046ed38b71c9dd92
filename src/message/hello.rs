//! `Hello`: who the device is; sent at start and periodically so a host can attach mid-stream.

use super::capability::CapabilitySummary;
use crate::wire_struct;

wire_struct! {
    /// Build facts as sent on the wire.
    pub struct WireBuild {
        /// Agent version.
        pub version: heapless::String<16>,
        /// Short git revision or `unknown`.
        pub git_rev: heapless::String<16>,
        /// Target triple.
        pub target: heapless::String<40>,
        /// Cargo profile.
        pub profile: heapless::String<8>,
    }
}

wire_struct! {
    /// What the device is made of. Names here give meaning to the index-based
    /// arrays of [`crate::message::Sample`].
    pub struct HardwareSummary {
        /// Board or machine model (device-tree model, DMI product name).
        pub board: heapless::String<48>,
        /// CPU model name.
        pub cpu_model: heapless::String<48>,
        /// Logical CPU count.
        pub cpu_cores: u16,
        /// Total memory.
        pub mem_total_kib: Option<u32>,
        /// GPU name, `None` when no GPU is visible.
        pub gpu: Option<heapless::String<32>>,
        /// Thermal zone names; `Sample::temps_cdeg[i]` is zone `i`.
        pub thermal_zones: heapless::Vec<heapless::String<20>, 12>,
        /// Power rail names; `Sample::rails_mw[i]` is rail `i`.
        pub rails: heapless::Vec<heapless::String<16>, 8>,
    }
}

wire_struct! {
    /// Identity, build and hardware summary.
    pub struct Hello {
        /// Configured device id.
        pub device_id: heapless::String<32>,
        /// Agent build.
        pub build: WireBuild,
        /// Wire version of the sender.
        pub wire_version: u8,
        /// Schema fingerprint of the sender.
        pub schema: [u8; 8],
        /// Hardware summary.
        pub hardware: HardwareSummary,
        /// Interval between samples.
        pub sample_interval_ms: u32,
        /// Runtime providers, L4T release and power mode.
        pub capability: CapabilitySummary,
    }
}

impl WireBuild {
    /// This build's facts, cut to the wire bounds.
    pub fn current() -> Self {
        let b = crate::build_info::BUILD;
        Self {
            version: super::truncated(b.version),
            git_rev: super::truncated(b.git_rev),
            target: super::truncated(b.target),
            profile: super::truncated(b.profile),
        }
    }
}
