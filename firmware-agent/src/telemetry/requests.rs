//! Requests from the host, read by the sink threads on their links and handed to the
//! agent's control thread.
//!
//! The host answers on the same link the agent streams to (the TCP connection, the UDP
//! peer, the serial line), so no extra port or listener is needed on the device. Each sink
//! thread decodes what arrives with its own [`Decoder`]; only `ProfileRequest` is acted on,
//! anything else is counted and logged once.

use log::{debug, warn};
use msao::{
    Decoder, Event,
    message::{Message, ProfileRequest},
    transport::FrameSink,
};
use std::{
    sync::mpsc,
    time::{Duration, Instant},
};

/// How often an idle sink thread looks for requests; while sending a burst it looks at
/// most this often, so polling never slows the stream.
pub const REQUEST_POLL: Duration = Duration::from_millis(50);

/// Bytes read per poll; a request frame is far smaller.
const READ_CHUNK: usize = 1024;

/// Reads rounds per poll, so a flood from the host cannot starve sending.
const MAX_READS_PER_POLL: usize = 8;

/// A request and the sink it came in on.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Index of the sink (as in the configured list).
    pub sink: usize,
    /// The request.
    pub request: ProfileRequest,
}

/// Counters of what arrived on one link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxStats {
    /// Requests forwarded to the control thread.
    pub requests: u64,
    /// Decoded frames that are not requests (agent → host messages echoed back, …).
    pub unexpected: u64,
    /// Frames dropped by the decoder (any cause).
    pub dropped: u64,
}

/// One sink's reading side.
pub struct Inbox {
    sink_index: usize,
    tx: mpsc::Sender<Incoming>,
    decoder: Box<Decoder>,
    last_poll: Option<Instant>,
    stats: InboxStats,
    warned_read_error: bool,
}

impl Inbox {
    /// Forwards requests read on sink `sink_index` to `tx`.
    pub fn new(sink_index: usize, tx: mpsc::Sender<Incoming>) -> Self {
        Self {
            sink_index,
            tx,
            decoder: Box::default(),
            last_poll: None,
            stats: InboxStats::default(),
            warned_read_error: false,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> InboxStats {
        self.stats
    }

    /// Polls `sink` unless it was polled less than [`REQUEST_POLL`] ago and `idle` is false.
    pub fn poll(&mut self, sink: &mut dyn FrameSink, idle: bool) {
        let now = Instant::now();
        if !idle
            && self
                .last_poll
                .is_some_and(|t| now.duration_since(t) < REQUEST_POLL)
        {
            return;
        }
        self.last_poll = Some(now);
        let mut buf = [0u8; READ_CHUNK];
        for _ in 0..MAX_READS_PER_POLL {
            let n = match sink.poll_incoming(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    if !self.warned_read_error {
                        warn!(
                            "telemetry sink {}: reading requests failed: {e}",
                            sink.endpoint()
                        );
                        self.warned_read_error = true;
                    }
                    return;
                }
            };
            self.feed(&buf[..n], sink);
        }
    }

    /// Decodes bytes read from `sink` and forwards requests.
    pub fn feed(&mut self, bytes: &[u8], sink: &dyn FrameSink) {
        let mut input = bytes;
        while let Some(event) = self.decoder.push(&mut input) {
            match event {
                Event::Frame(f) => match f.message {
                    Message::ProfileRequest(request) => {
                        self.stats.requests += 1;
                        debug!(
                            "profile request {} on {}",
                            request.request_id,
                            sink.endpoint()
                        );
                        let incoming = Incoming {
                            sink: self.sink_index,
                            request,
                        };
                        if self.tx.send(incoming).is_err() {
                            warn!("profile request dropped: the control thread has stopped");
                        }
                    }
                    other => {
                        self.stats.unexpected += 1;
                        if self.stats.unexpected == 1 {
                            warn!(
                                "telemetry sink {}: ignoring a `{}` frame from the host (only profile requests are accepted)",
                                sink.endpoint(),
                                other.kind()
                            );
                        }
                    }
                },
                Event::Dropped { cause, len, .. } => {
                    self.stats.dropped += 1;
                    debug!(
                        "telemetry sink {}: dropped {len} incoming bytes ({})",
                        sink.endpoint(),
                        cause.name()
                    );
                }
            }
        }
    }
}
