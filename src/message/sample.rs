//! `Sample`: periodic system state. Every optional reading is `None` when unsupported.

use crate::wire_struct;

wire_struct! {
    /// One logical CPU.
    pub struct CoreReading {
        /// Busy share since the previous sample; `None` when the core is offline.
        pub load_pm: Option<u16>,
        /// Current frequency.
        pub freq_mhz: Option<u16>,
    }
}

wire_struct! {
    /// Telemetry frames dropped on the device so far (cumulative since start, so a lost
    /// `Sample` loses no count).
    pub struct TelemetryDrops {
        /// Samples evicted from a full queue (drop-oldest).
        pub samples: u32,
        /// Other messages evicted from a full queue.
        pub events: u32,
        /// Frames a transport failed to send.
        pub send_failed: u32,
    }
}

wire_struct! {
    /// Periodic system state.
    pub struct Sample {
        /// Overall CPU busy share since the previous sample.
        pub cpu_load_pm: Option<u16>,
        /// Per logical CPU.
        pub cores: heapless::Vec<CoreReading, 16>,
        /// Memory in use (total − available).
        pub mem_used_kib: Option<u32>,
        /// Total memory.
        pub mem_total_kib: Option<u32>,
        /// GPU busy share.
        pub gpu_load_pm: Option<u16>,
        /// GPU clock.
        pub gpu_freq_mhz: Option<u16>,
        /// External memory controller busy share.
        pub emc_load_pm: Option<u16>,
        /// Temperatures, index = `HardwareSummary::thermal_zones`.
        pub temps_cdeg: heapless::Vec<Option<i16>, 12>,
        /// Power per rail, index = `HardwareSummary::rails`.
        pub rails_mw: heapless::Vec<Option<u32>, 8>,
        /// Total input power (board rule in spec §4.3).
        pub total_power_mw: Option<u32>,
        /// Power mode id (nvpmodel).
        pub power_mode: Option<u8>,
        /// Telemetry drop counters.
        pub drops: TelemetryDrops,
    }
}
