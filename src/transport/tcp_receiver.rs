//! The host's TCP receiver: a capped number of agents, one reader thread each, fair shares
//! of one bounded channel, and an accept loop that backs off instead of spinning.
//!
//! Bounds, and what happens past them:
//! * at most [`TcpLimits::max_peers`] connections; a further one is closed at once and
//!   counted in [`ReceiverCounters::refused_peers`];
//! * each peer has [`PEER_CREDIT`] chunks of at most [`READ_CHUNK`] bytes in flight; a peer
//!   that sends faster than the consumer reads waits for its own chunks to be taken, so its
//!   TCP window fills and the kernel slows the sender (backpressure, nothing lost), while
//!   every other peer keeps its own credit: a flooding peer cannot starve the others;
//! * `accept` errors (`EMFILE`, `ENFILE`, …) are counted and the loop sleeps
//!   [`ACCEPT_BACKOFF`] before trying again.
//!
//! Frames are not buffered here: a run without `0x00` is the decoder's to bound (it drops it
//! as `oversize` past `MAX_FRAME`).

use super::{Endpoint, Received, Receiver, ReceiverCounters, WRITE_TIMEOUT};
use std::{
    collections::HashMap,
    io::{self, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, SystemTime},
};

/// Default cap on simultaneous TCP peers: a fleet segment is tens of devices, and each peer
/// costs a thread, two descriptors and [`PEER_CREDIT`] × [`READ_CHUNK`] bytes.
pub const DEFAULT_MAX_PEERS: usize = 64;
/// Largest accepted `--max-peers`: keeps the worst case (threads, memory) in the tens of MB.
pub const MAX_MAX_PEERS: usize = 4096;
/// Chunks one peer may have waiting for the consumer: enough to keep reading while the
/// consumer handles the previous chunk, small enough that a flood waits on its own socket.
pub const PEER_CREDIT: usize = 4;
/// Bytes read from a peer at a time (four full frames of `MAX_FRAME`).
pub const READ_CHUNK: usize = 4 * 1024;
/// Pause after a failed `accept` (descriptor limit, out of memory): retrying at once would
/// spin on a backlog it cannot drain.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often a reader waiting for credit checks whether the receiver was dropped.
const CLOSE_POLL: Duration = Duration::from_millis(100);

/// Limits of a [`TcpReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Most simultaneous connections (1..=[`MAX_MAX_PEERS`]).
    pub max_peers: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_peers: DEFAULT_MAX_PEERS,
        }
    }
}

/// Accepts up to [`TcpLimits::max_peers`] agents on `tcp://HOST:PORT`; each connection's
/// write half is kept for replies.
pub struct TcpReceiver {
    endpoint: Endpoint,
    rx: mpsc::Receiver<(Received, Arc<Credit>)>,
    shared: Arc<Shared>,
}

/// State shared by the accept loop, the readers and the receiver.
#[derive(Default)]
struct Shared {
    /// Write halves of the open connections, by source.
    peers: Mutex<HashMap<String, TcpStream>>,
    active: AtomicUsize,
    refused: AtomicU64,
    accept_errors: AtomicU64,
    last_errno: AtomicI32,
    closed: AtomicBool,
}

/// One peer's share of the channel: chunks it may still send before one is taken.
struct Credit {
    left: Mutex<usize>,
    freed: Condvar,
}

impl Credit {
    fn new() -> Self {
        Self {
            left: Mutex::new(PEER_CREDIT),
            freed: Condvar::new(),
        }
    }

    /// Waits for a slot; `false` once the receiver is gone.
    fn take(&self, closed: &AtomicBool) -> bool {
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        while *left == 0 {
            if closed.load(Ordering::SeqCst) {
                return false;
            }
            left = self
                .freed
                .wait_timeout(left, CLOSE_POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *left -= 1;
        true
    }

    fn give(&self) {
        *self.left.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.freed.notify_one();
    }
}

impl TcpReceiver {
    /// Binds with the default limits and starts accepting (port 0 picks a free one).
    pub fn bind(endpoint: Endpoint) -> io::Result<Self> {
        Self::bind_with(endpoint, TcpLimits::default())
    }

    /// Binds with `limits` and starts accepting.
    pub fn bind_with(endpoint: Endpoint, limits: TcpLimits) -> io::Result<Self> {
        let Endpoint::Tcp(addr) = &endpoint else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{endpoint} is not tcp"),
            ));
        };
        if !(1..=MAX_MAX_PEERS).contains(&limits.max_peers) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "max peers {} is outside 1..={MAX_MAX_PEERS}",
                    limits.max_peers
                ),
            ));
        }
        let listener = TcpListener::bind(addr.as_str())?;
        let endpoint = Endpoint::Tcp(listener.local_addr()?.to_string());
        // Every peer's credit fits at once: a reader never blocks on the channel itself.
        let (tx, rx) = mpsc::sync_channel(limits.max_peers * PEER_CREDIT);
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        thread::Builder::new()
            .name("tcp-accept".into())
            .spawn(move || accept_loop(listener, tx, accepting, limits))?;
        Ok(Self {
            endpoint,
            rx,
            shared,
        })
    }
}

impl Drop for TcpReceiver {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
    }
}

type Tx = mpsc::SyncSender<(Received, Arc<Credit>)>;

fn accept_loop(listener: TcpListener, tx: Tx, shared: Arc<Shared>, limits: TcpLimits) {
    while !shared.closed.load(Ordering::SeqCst) {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                shared.accept_errors.fetch_add(1, Ordering::Relaxed);
                shared
                    .last_errno
                    .store(e.raw_os_error().unwrap_or(0), Ordering::Relaxed);
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        if shared.active.load(Ordering::SeqCst) >= limits.max_peers {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            // Closing at once is the refusal: the agent sees end of stream and backs off.
            let _ = stream.shutdown(std::net::Shutdown::Both);
            continue;
        }
        let source = format!("tcp://{peer}");
        if let Ok(writer) = stream.try_clone() {
            let _ = writer.set_write_timeout(Some(WRITE_TIMEOUT));
            lock(&shared.peers).insert(source.clone(), writer);
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let (tx, reading) = (tx.clone(), Arc::clone(&shared));
        let spawned = thread::Builder::new()
            .name("tcp-read".into())
            .spawn(move || {
                read_loop(stream, &source, &tx, &reading);
                lock(&reading.peers).remove(&source);
                reading.active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            // The closure (and the stream) is gone; undo its bookkeeping.
            shared.active.fetch_sub(1, Ordering::SeqCst);
            shared.accept_errors.fetch_add(1, Ordering::Relaxed);
            shared
                .last_errno
                .store(e.raw_os_error().unwrap_or(0), Ordering::Relaxed);
            lock(&shared.peers).remove(&format!("tcp://{peer}"));
            thread::sleep(ACCEPT_BACKOFF);
        }
    }
}

/// The map stays usable even if a reader thread panicked while holding it.
fn lock(peers: &Mutex<HashMap<String, TcpStream>>) -> MutexGuard<'_, HashMap<String, TcpStream>> {
    peers.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_loop(mut stream: TcpStream, source: &str, tx: &Tx, shared: &Shared) {
    let credit = Arc::new(Credit::new());
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        if !credit.take(&shared.closed) {
            return;
        }
        let chunk = Received {
            source: source.to_string(),
            bytes: buf[..n].to_vec(),
            at: SystemTime::now(),
        };
        if tx.send((chunk, Arc::clone(&credit))).is_err() || n == 0 {
            return;
        }
    }
}

impl Receiver for TcpReceiver {
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        match self.rx.recv_timeout(timeout) {
            Ok((r, credit)) => {
                credit.give();
                Ok(Some(r))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "tcp accept thread ended",
            )),
        }
    }

    fn reply(&mut self, source: &str, frame: &[u8]) -> io::Result<()> {
        let mut peers = lock(&self.shared.peers);
        let stream = peers.get_mut(source).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                format!("no open connection from {source}"),
            )
        })?;
        stream.write_all(frame)
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn counters(&self) -> ReceiverCounters {
        let errno = self.shared.last_errno.load(Ordering::Relaxed);
        ReceiverCounters {
            refused_peers: self.shared.refused.load(Ordering::Relaxed),
            accept_errors: self.shared.accept_errors.load(Ordering::Relaxed),
            last_accept_errno: (errno != 0).then_some(errno),
            peers: self.shared.active.load(Ordering::SeqCst) as u64,
        }
    }
}
