//! `ProfileResult`: measured performance of one model on one execution provider.

use super::common::{ExecProvider, Precision};
use crate::wire_struct;

wire_struct! {
    /// Latency distribution, warm-up excluded.
    pub struct LatencyStats {
        /// Mean.
        pub mean_us: u32,
        /// Median.
        pub p50_us: u32,
        /// 90th percentile.
        pub p90_us: u32,
        /// 95th percentile.
        pub p95_us: u32,
        /// 99th percentile.
        pub p99_us: u32,
        /// Minimum.
        pub min_us: u32,
        /// Maximum.
        pub max_us: u32,
    }
}

wire_struct! {
    /// Measured performance of one (model, provider, precision, batch).
    pub struct ProfileResult {
        /// The `ProfileRequest` this answers; `None` when the agent profiled on its own.
        pub request_id: Option<u32>,
        /// Position of this result in the reply (0-based).
        pub index: u16,
        /// Results in the whole reply, so a host knows when it has them all.
        pub total: u16,
        /// Model name (manifest name).
        pub model: heapless::String<32>,
        /// Execution provider that ran.
        pub provider: ExecProvider,
        /// Precision.
        pub precision: Precision,
        /// Batch size.
        pub batch: u16,
        /// Warm-up iterations (excluded).
        pub warmup: u32,
        /// Timed iterations.
        pub iterations: u32,
        /// Latency distribution.
        pub latency: LatencyStats,
        /// Inferences per second, ×1000.
        pub throughput_milli: u32,
        /// Peak resident memory during the run.
        pub peak_mem_kib: Option<u32>,
        /// Energy per inference, when power rails exist.
        pub energy_uj: Option<u32>,
        /// Power mode during the run.
        pub power_mode: Option<u8>,
        /// Hottest thermal zone when the timed run started.
        pub temp_start_cdeg: Option<i16>,
        /// Hottest thermal zone when the timed run ended.
        pub temp_end_cdeg: Option<i16>,
        /// Measured at background priority (below the request path: Linux `SCHED_IDLE`),
        /// so latencies include waiting for cores the request path was using.
        pub background: bool,
    }
}
