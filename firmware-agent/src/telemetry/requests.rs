//! Requests from the host, read by the sink threads on their links and handed to the
//! agent's control thread.
//!
//! The host answers on the same link the agent streams to (the TCP connection, the UDP
//! peer, the serial line), so no extra port or listener is needed on the device. Each sink
//! thread decodes what arrives with its own [`Decoder`] (checking signatures with the
//! agent's key); only a `ProfileRequest` or `ProfileCancel` that [`ControlAuth`] admits is
//! acted on, anything else is counted and logged once. Requests wait in a bounded queue;
//! when it is full the host gets a `busy` fault at once instead of a silent wait. A cancel
//! marks its request id in the queue's [`Cancels`], which the control thread asks before
//! every inference.

use super::Bus;
use crate::clock::Clock;
use crate::control::{Cancels, ControlAuth, LinkKind};
use log::{debug, info, warn};
use msao::{
    Decoder, DropCause, Event,
    message::{Fault, FaultCode, Message, ProfileRequest},
    transport::FrameSink,
};
use std::{
    sync::{Arc, mpsc},
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

/// The sink threads' side of the control thread's queue: admitted requests, and the ids of
/// those a host cancelled.
#[derive(Debug, Clone)]
pub struct RequestSender {
    tx: mpsc::SyncSender<Incoming>,
    cancels: Arc<Cancels>,
}

/// The control thread's side of the queue.
#[derive(Debug)]
pub struct Requests {
    /// Admitted requests, in arrival order.
    pub rx: mpsc::Receiver<Incoming>,
    /// Request ids a host asked to stop.
    pub cancels: Arc<Cancels>,
}

impl RequestSender {
    /// Queues `incoming` unless `depth` requests already wait.
    pub fn try_send(&self, incoming: Incoming) -> Result<(), mpsc::TrySendError<Incoming>> {
        self.tx.try_send(incoming)
    }

    /// Asks the control thread to stop `request_id` (running or queued).
    pub fn cancel(&self, request_id: u32) {
        self.cancels.cancel(request_id);
    }
}

/// A queue where at most `depth` requests wait behind the running one.
pub fn request_queue(depth: usize) -> (RequestSender, Requests) {
    let (tx, rx) = mpsc::sync_channel(depth);
    let cancels = Arc::new(Cancels::new());
    (
        RequestSender {
            tx,
            cancels: Arc::clone(&cancels),
        },
        Requests { rx, cancels },
    )
}

/// Counters of what arrived on one link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxStats {
    /// Requests forwarded to the control thread.
    pub requests: u64,
    /// Cancels admitted and passed on.
    pub cancels: u64,
    /// Requests and cancels refused ([`ControlAuth::admit`]: no key, unsigned, replayed,
    /// other agent).
    pub refused: u64,
    /// Requests refused because the queue was full (`busy` fault sent).
    pub busy: u64,
    /// Frames whose signature did not match the key (forged, or another key).
    pub forged: u64,
    /// Decoded frames that are not requests (agent → host messages echoed back, …).
    pub unexpected: u64,
    /// Frames dropped by the decoder (any cause, forged ones included).
    pub dropped: u64,
}

/// Where an inbox answers a request it cannot queue.
#[derive(Debug, Clone)]
pub struct Replies {
    /// The telemetry bus.
    pub bus: Bus,
    /// The agent's clock.
    pub clock: Clock,
}

/// One sink's reading side.
pub struct Inbox {
    sink_index: usize,
    queue: RequestSender,
    auth: Arc<ControlAuth>,
    link: LinkKind,
    replies: Replies,
    decoder: Box<Decoder>,
    last_poll: Option<Instant>,
    stats: InboxStats,
    warned_read_error: bool,
    warned_refusal: bool,
    /// Each read is one datagram, decoded on its own (UDP).
    datagrams: bool,
}

impl Inbox {
    /// Forwards the requests and cancels `auth` admits, read on sink `sink_index` (a
    /// `link`), to `queue`; a full queue is answered with a `busy` fault on `replies`.
    pub fn new(
        sink_index: usize,
        queue: RequestSender,
        auth: Arc<ControlAuth>,
        link: LinkKind,
        replies: Replies,
    ) -> Self {
        let decoder = Box::new(match auth.key() {
            Some(k) => Decoder::with_key(k.clone()),
            None => Decoder::new(),
        });
        Self {
            sink_index,
            queue,
            auth,
            link,
            replies,
            decoder,
            last_poll: None,
            stats: InboxStats::default(),
            warned_read_error: false,
            warned_refusal: false,
            datagrams: false,
        }
    }

    /// Each read is one datagram (UDP): decoded on its own, so a cut datagram costs only
    /// itself, never the next request.
    pub fn datagrams(mut self, yes: bool) -> Self {
        self.datagrams = yes;
        self
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
            if self.datagrams && self.decoder.end_datagram().is_some() {
                self.stats.dropped += 1;
            }
        }
    }

    /// Decodes bytes read from `sink` and forwards requests.
    pub fn feed(&mut self, bytes: &[u8], sink: &dyn FrameSink) {
        let mut input = bytes;
        while let Some(event) = self.decoder.push(&mut input) {
            match event {
                Event::Frame(f) => match &f.message {
                    Message::ProfileRequest(request) => {
                        match self.auth.admit(&f, request.target_boot_id, self.link) {
                            Ok(()) => self.forward(request.clone(), sink),
                            Err(r) => self.refuse("request", request.request_id, r, sink),
                        }
                    }
                    Message::ProfileCancel(c) => {
                        match self.auth.admit(&f, c.target_boot_id, self.link) {
                            Ok(()) => {
                                self.stats.cancels += 1;
                                info!(
                                    "profile request {}: cancel from the host on {}",
                                    c.request_id,
                                    sink.endpoint()
                                );
                                self.queue.cancel(c.request_id);
                            }
                            Err(r) => self.refuse("cancel", c.request_id, r, sink),
                        }
                    }
                    other => {
                        self.stats.unexpected += 1;
                        if self.stats.unexpected == 1 {
                            warn!(
                                "telemetry sink {}: ignoring a `{}` frame from the host (only profile requests and cancels are accepted)",
                                sink.endpoint(),
                                other.kind()
                            );
                        }
                    }
                },
                Event::Dropped { cause, len, .. } => {
                    self.stats.dropped += 1;
                    if cause == DropCause::Signature {
                        self.stats.forged += 1;
                        if self.stats.forged == 1 {
                            warn!(
                                "telemetry sink {}: a frame signed with another key (or forged) was dropped",
                                sink.endpoint()
                            );
                        }
                    }
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

impl Inbox {
    fn refuse(&mut self, what: &str, id: u32, why: crate::control::Refusal, sink: &dyn FrameSink) {
        self.stats.refused += 1;
        // Once per link at warn level: a flood is not a log flood.
        let line = format!(
            "telemetry sink {}: profile {what} {id} refused: {}",
            sink.endpoint(),
            why.explain()
        );
        match std::mem::replace(&mut self.warned_refusal, true) {
            false => warn!("{line} (further refusals logged at debug)"),
            true => debug!("{line}"),
        }
    }

    fn forward(&mut self, request: ProfileRequest, sink: &dyn FrameSink) {
        let id = request.request_id;
        debug!("profile request {id} on {}", sink.endpoint());
        let incoming = Incoming {
            sink: self.sink_index,
            request,
        };
        match self.queue.try_send(incoming) {
            Ok(()) => self.stats.requests += 1,
            Err(mpsc::TrySendError::Full(_)) => {
                self.stats.busy += 1;
                warn!("profile request {id} refused: busy (the queue of waiting requests is full)");
                let fault = Fault::new(
                    FaultCode::Model as u16,
                    &format!("profile {id}: busy: other requests are queued; retry later"),
                );
                self.replies
                    .bus
                    .publish(self.replies.clock.now_us(), &Message::Fault(fault));
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                warn!("profile request {id} dropped: the control thread has stopped");
            }
        }
    }
}
