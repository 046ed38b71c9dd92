//! `CameraStats`: one camera's frame counters, cumulative since the agent started (so a
//! lost frame loses no count).

use crate::wire_struct;

wire_struct! {
    /// One camera's counters, sent periodically (every Hello interval) while it is
    /// configured.
    pub struct CameraStats {
        /// The camera's name (`camera://NAME`).
        pub camera: heapless::String<32>,
        /// Frames delivered by the source.
        pub captured: u64,
        /// Frames replaced by a newer one before any request took them.
        pub dropped_stale: u64,
        /// Frames at least one request answered about.
        pub used: u64,
        /// Failures of the source (open, read, stall, end of a live stream).
        pub errors: u32,
        /// Reopenings after a failure.
        pub reconnects: u32,
        /// Age of the newest frame when sent; `None` while the camera has none.
        pub frame_age_ms: Option<u32>,
    }
}
