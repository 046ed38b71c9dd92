//! One receiver thread per transport URL, all feeding one bounded channel, with its
//! overflow policy, drop counters and rate-limited warnings.
//!
//! At most [`CHANNEL_CAPACITY`] chunks wait for the consumer. When it is full:
//! * a UDP datagram is dropped and counted in [`IngestCounters::queue_full`] (blocking
//!   would only move the loss into the kernel's socket buffer, where nobody counts it);
//! * a TCP or serial chunk waits (backpressure: the stream's flow control slows the
//!   sender, nothing is lost; each TCP peer has its own share, see `msao::transport`).
//!
//! The same policy holds for `listen`, `record` and `demo`. Refused connections, failed
//! `accept`s and full-queue drops are warned about at most once per [`WARN_INTERVAL`].
//! Dropping an [`Ingest`] stops its threads within [`POLL`].
use anyhow::Context as _;
use msao::transport::{self, Endpoint, Received, Receiver, ReceiverCounters, TcpLimits};
use serde_json::json;
use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

/// Chunks buffered between the receiver threads and the consumer: at most 64 × 64 KiB
/// (UDP) or 64 × 4 KiB (TCP) of memory, and a frame from a quiet peer waits behind at
/// most this many chunks from a busy one.
pub const CHANNEL_CAPACITY: usize = 64;
/// How often receiver threads check whether to stop.
pub const POLL: Duration = Duration::from_millis(100);
/// Shortest gap between two warnings about refusals or drops from one receiver: one line
/// per ten seconds says what happened without flooding the terminal.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Counts of what the receive side refused or dropped before decoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounters {
    /// UDP datagrams dropped because [`CHANNEL_CAPACITY`] chunks were waiting.
    pub queue_full: u64,
    /// TCP connections closed at once because the peer cap was reached.
    pub refused_peers: u64,
    /// Failed `accept` calls (descriptor limit and the like), each followed by a pause.
    pub accept_errors: u64,
}

impl IngestCounters {
    /// `{"queue_full":…,"refused_peers":…,"accept_errors":…}`.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "queue_full": self.queue_full,
            "refused_peers": self.refused_peers,
            "accept_errors": self.accept_errors,
        })
    }

    /// One summary line, empty when nothing was refused or dropped.
    pub fn human(&self) -> String {
        if *self == Self::default() {
            return String::new();
        }
        format!(
            "receive: {} datagrams dropped (queue full), {} connections refused (peer cap), \
             {} accept errors",
            self.queue_full, self.refused_peers, self.accept_errors
        )
    }
}

#[derive(Default)]
struct Shared {
    queue_full: AtomicU64,
    refused_peers: AtomicU64,
    accept_errors: AtomicU64,
}

/// What the consumer gets.
#[derive(Debug)]
pub enum Inbound {
    /// Bytes from a peer (empty: the peer closed its stream).
    Chunk(Received),
    /// Something to tell the user (already rate-limited).
    Warning(String),
    /// A receiver failed for good; its thread ended.
    Failed {
        /// Its endpoint.
        endpoint: Endpoint,
        /// Why.
        error: io::Error,
    },
}

/// Result of [`Ingest::recv`].
#[derive(Debug)]
pub enum Poll {
    /// Something arrived.
    Inbound(Inbound),
    /// Nothing within the timeout.
    Idle,
    /// Every receiver thread has ended.
    Closed,
}

/// Running receiver threads.
pub struct Ingest {
    rx: mpsc::Receiver<Inbound>,
    stop: Arc<AtomicBool>,
    alive: Arc<AtomicUsize>,
    endpoints: Vec<Endpoint>,
    counters: Arc<Shared>,
}

/// Binds, accepts or opens every endpoint (errors name the URL).
pub fn open_all(urls: &[Endpoint], tcp: TcpLimits) -> anyhow::Result<Vec<Box<dyn Receiver>>> {
    urls.iter()
        .map(|url| {
            transport::open_receiver_with(url, tcp)
                .with_context(|| format!("cannot listen on {url}"))
        })
        .collect()
}

/// Parses `--max-peers` (1..=[`transport::MAX_MAX_PEERS`]).
pub fn max_peers(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("`{s}`: {e}"))?;
    if (1..=transport::MAX_MAX_PEERS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} is outside 1..={} (each peer costs a thread and two descriptors)",
            transport::MAX_MAX_PEERS
        ))
    }
}

impl Ingest {
    /// Starts one thread per receiver.
    pub fn start(receivers: Vec<Box<dyn Receiver>>) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let stop = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(AtomicUsize::new(0));
        let endpoints = receivers.iter().map(|r| r.endpoint().clone()).collect();
        let counters = Arc::new(Shared::default());
        for receiver in receivers {
            let (tx, stop, alive2) = (tx.clone(), stop.clone(), alive.clone());
            let counters2 = counters.clone();
            let name = format!("recv {}", receiver.endpoint());
            alive.fetch_add(1, Ordering::SeqCst);
            thread::Builder::new()
                .name(name)
                .spawn(move || {
                    receive_loop(receiver, &tx, &stop, &counters2);
                    alive2.fetch_sub(1, Ordering::SeqCst);
                })
                .context("cannot start a receiver thread")?;
        }
        Ok(Self {
            rx,
            stop,
            alive,
            endpoints,
            counters,
        })
    }

    /// What was refused or dropped so far.
    pub fn counters(&self) -> IngestCounters {
        let c = &self.counters;
        IngestCounters {
            queue_full: c.queue_full.load(Ordering::Relaxed),
            refused_peers: c.refused_peers.load(Ordering::Relaxed),
            accept_errors: c.accept_errors.load(Ordering::Relaxed),
        }
    }

    /// The bound endpoints (port 0 resolved), in URL order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Waits up to `timeout` for the next chunk or failure.
    pub fn recv(&self, timeout: Duration) -> Poll {
        match self.rx.recv_timeout(timeout) {
            Ok(m) => Poll::Inbound(m),
            Err(mpsc::RecvTimeoutError::Timeout) if self.alive.load(Ordering::SeqCst) > 0 => {
                Poll::Idle
            }
            Err(_) => Poll::Closed,
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Turns a receiver's counters into totals and, at most once per [`WARN_INTERVAL`], a
/// warning naming what changed since the last one.
struct Watch {
    seen: ReceiverCounters,
    queue_full: u64,
    warned: IngestCounters,
    next_warning: Instant,
}

impl Watch {
    fn new() -> Self {
        Self {
            seen: ReceiverCounters::default(),
            queue_full: 0,
            warned: IngestCounters::default(),
            next_warning: Instant::now(),
        }
    }

    fn check(&mut self, receiver: &dyn Receiver, shared: &Shared) -> Option<String> {
        let now = receiver.counters();
        let refused = now.refused_peers.saturating_sub(self.seen.refused_peers);
        let errors = now.accept_errors.saturating_sub(self.seen.accept_errors);
        shared.refused_peers.fetch_add(refused, Ordering::Relaxed);
        shared.accept_errors.fetch_add(errors, Ordering::Relaxed);
        self.seen = now;
        let total = IngestCounters {
            queue_full: self.queue_full,
            refused_peers: now.refused_peers,
            accept_errors: now.accept_errors,
        };
        if total == self.warned || Instant::now() < self.next_warning {
            return None;
        }
        let mut parts = Vec::new();
        let new_refused = total.refused_peers - self.warned.refused_peers;
        if new_refused > 0 {
            parts.push(format!(
                "refused {new_refused} connections (peer cap reached, {} open; see --max-peers)",
                now.peers
            ));
        }
        let new_errors = total.accept_errors - self.warned.accept_errors;
        if new_errors > 0 {
            let why = now.last_accept_errno.map_or_else(
                || "unknown error".to_string(),
                |n| io::Error::from_raw_os_error(n).to_string(),
            );
            parts.push(format!(
                "accept failed {new_errors} times ({why}); retrying every {} ms",
                transport::ACCEPT_BACKOFF.as_millis()
            ));
        }
        let new_full = total.queue_full - self.warned.queue_full;
        if new_full > 0 {
            parts.push(format!(
                "dropped {new_full} datagrams: {CHANNEL_CAPACITY} chunks were waiting for output"
            ));
        }
        self.warned = total;
        self.next_warning = Instant::now() + WARN_INTERVAL;
        Some(format!(
            "warning: {}: {} (next report in {} s at the earliest)",
            receiver.endpoint(),
            parts.join("; "),
            WARN_INTERVAL.as_secs()
        ))
    }
}

fn receive_loop(
    mut receiver: Box<dyn Receiver>,
    tx: &mpsc::SyncSender<Inbound>,
    stop: &AtomicBool,
    shared: &Shared,
) {
    let mut watch = Watch::new();
    while !stop.load(Ordering::SeqCst) {
        if let Some(w) = watch.check(receiver.as_ref(), shared) {
            // Never block on a warning: the counts reach the summary either way.
            let _ = tx.try_send(Inbound::Warning(w));
        }
        match receiver.recv(POLL) {
            Ok(Some(chunk)) if chunk.is_datagram() => match tx.try_send(Inbound::Chunk(chunk)) {
                Ok(()) => {}
                Err(mpsc::TrySendError::Full(_)) => {
                    watch.queue_full += 1;
                    shared.queue_full.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::TrySendError::Disconnected(_)) => return,
            },
            Ok(Some(chunk)) => {
                if tx.send(Inbound::Chunk(chunk)).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            // Transient socket conditions: try again after a pause, never spin.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionRefused
                ) =>
            {
                thread::sleep(POLL);
            }
            Err(error) => {
                let endpoint = receiver.endpoint().clone();
                let _ = tx.send(Inbound::Failed { endpoint, error });
                return;
            }
        }
    }
}
