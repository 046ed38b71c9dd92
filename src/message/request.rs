//! Host → agent requests, sent back over the telemetry link (TCP connection, UDP peer
//! address, serial line) in ordinary frames.

use super::common::{ExecProvider, Precision};
use crate::wire_struct;

wire_struct! {
    /// Asks the agent to profile its models and reply with one `ProfileResult` per
    /// (model, provider, precision) measured, then a `Capability`.
    pub struct ProfileRequest {
        /// Chosen by the host; echoed in every `ProfileResult` of the reply.
        pub request_id: u32,
        /// Boot id of the agent run this request is for (from its `Hello`'s header): any
        /// other agent, and the same agent after a restart, refuses it.
        pub target_boot_id: [u8; 4],
        /// Only this model (manifest name); `None` = every installed model.
        pub model: Option<heapless::String<32>>,
        /// Only this provider; `None` = every available provider.
        pub provider: Option<ExecProvider>,
        /// Only this precision; `None` = every precision installed.
        pub precision: Option<Precision>,
        /// Batch size.
        pub batch: u16,
        /// Warm-up iterations (not timed).
        pub warmup: u32,
        /// Timed iterations.
        pub iterations: u32,
    }
}

wire_struct! {
    /// Asks the agent to stop a `ProfileRequest` it is running or has queued. The agent
    /// stops before the next inference, sends the results measured so far, then a `Fault`
    /// `profile <request_id>: cancelled …`. Admitted by the same rules as the request
    /// (signed, newer, naming this agent run); an id it does not know changes nothing.
    pub struct ProfileCancel {
        /// The `ProfileRequest::request_id` to stop.
        pub request_id: u32,
        /// Boot id of the agent run asked (as in the request).
        pub target_boot_id: [u8; 4],
    }
}
