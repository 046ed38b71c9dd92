//! The telemetry path: producers → one bounded queue per sink → one thread per sink →
//! transport.
//!
//! | file        | owns |
//! |-------------|------|
//! | `queue`     | [`TelemetryQueue`]: bounded, drop-oldest samples, events kept first, counters |
//! | `bus`       | [`Bus`]: publishing to every sink's queue, summing drop counters |
//! | `reopen`    | [`Reopening`]: a sink that (re)opens its transport with backoff |
//! | `worker`    | [`SinkWorker`]: the sink thread (sequence numbers, encoding and signing, failure streaks) |
//! | `requests`  | [`Inbox`]: host requests read back on each sink's link, admitted by [`crate::control::ControlAuth`], queued bounded |
//! | `pipeline`  | [`Telemetry`]: starting the sink threads and the bounded flush at shutdown |
//!
//! A slow or dead transport only ever fills its own queue; producers never wait on it.

mod bus;
mod pipeline;
mod queue;
mod reopen;
mod requests;
mod worker;

pub use bus::Bus;
pub use pipeline::{Control, FLUSH_TIMEOUT, Telemetry, TelemetryError};
pub use queue::{Eviction, MAX_DEPTH, QueueError, Queued, TelemetryQueue};
pub use reopen::{MAX_BACKOFF, MIN_BACKOFF, Reopening};
pub use requests::{
    Inbox, InboxStats, Incoming, REQUEST_POLL, Replies, RequestSender, Requests, request_queue,
};
pub use worker::{FlushDeadline, RECOVER_AFTER, SinkWorker, WorkerReport};
