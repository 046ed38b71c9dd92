//! TCP: the agent connects to a collector and reconnects with backoff; the host accepts
//! many agents at once.

use super::{Endpoint, FrameSink, POLL_WAIT, Received, Receiver, WRITE_TIMEOUT, nothing_yet};
use std::{
    collections::HashMap,
    io::{self, Read, Write},
    net::{TcpListener, TcpStream, ToSocketAddrs},
    sync::{Arc, Mutex, PoisonError, mpsc},
    thread,
    time::{Duration, Instant, SystemTime},
};

/// First reconnect delay; doubles per failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Connects to `tcp://HOST:PORT` on first use and again after any error, with exponential
/// backoff. While disconnected (or waiting out the backoff) `send_frame` fails at once,
/// so the caller counts the frame and never waits on a dead collector.
pub struct TcpSink {
    endpoint: Endpoint,
    stream: Option<TcpStream>,
    backoff: Duration,
    next_attempt: Instant,
}

impl TcpSink {
    /// A sink that will connect when the first frame is sent.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            stream: None,
            backoff: MIN_BACKOFF,
            next_attempt: Instant::now(),
        }
    }

    /// True while a connection is up.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    fn connect(&mut self) -> io::Result<&mut TcpStream> {
        let Endpoint::Tcp(addr) = &self.endpoint else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a tcp endpoint",
            ));
        };
        let now = Instant::now();
        if now < self.next_attempt {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("{} down, retrying", self.endpoint),
            ));
        }
        let result = addr.to_socket_addrs().and_then(|mut addrs| {
            let target = addrs
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
            let stream = TcpStream::connect_timeout(&target, WRITE_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
            // Reads only poll for host requests; SO_RCVTIMEO does not affect writes.
            stream.set_read_timeout(Some(POLL_WAIT))?;
            // A lone 0x00 ends any partial frame the collector may still hold.
            (&stream).write_all(&[0])?;
            Ok(stream)
        });
        match result {
            Ok(stream) => {
                self.backoff = MIN_BACKOFF;
                Ok(self.stream.insert(stream))
            }
            Err(e) => {
                self.next_attempt = now + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                Err(e)
            }
        }
    }
}

impl FrameSink for TcpSink {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let stream = match self.stream.as_mut() {
            Some(s) => s,
            None => self.connect()?,
        };
        let result = stream.write_all(frame);
        if result.is_err() {
            self.stream = None;
            self.next_attempt = Instant::now() + self.backoff;
        }
        result
    }

    fn poll_incoming(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        match stream.read(buf) {
            // A read of 0 bytes is end of stream: the collector closed; reconnect on the
            // next send.
            Ok(0) => {
                self.stream = None;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                let r = nothing_yet(Err(e));
                if r.is_err() {
                    self.stream = None;
                }
                r
            }
        }
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Accepts any number of agents on `tcp://HOST:PORT`; one reader thread per connection
/// feeds a shared channel, and each connection's write half is kept for replies.
pub struct TcpReceiver {
    endpoint: Endpoint,
    rx: mpsc::Receiver<Received>,
    peers: Peers,
}

/// Write halves of the open connections, by source.
type Peers = Arc<Mutex<HashMap<String, TcpStream>>>;

impl TcpReceiver {
    /// Binds and starts accepting (port 0 picks a free one).
    pub fn bind(endpoint: Endpoint) -> io::Result<Self> {
        let Endpoint::Tcp(addr) = &endpoint else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{endpoint} is not tcp"),
            ));
        };
        let listener = TcpListener::bind(addr.as_str())?;
        let endpoint = Endpoint::Tcp(listener.local_addr()?.to_string());
        let (tx, rx) = mpsc::channel();
        let peers = Peers::default();
        let accepted = Arc::clone(&peers);
        thread::Builder::new()
            .name("tcp-accept".into())
            .spawn(move || accept_loop(listener, tx, accepted))?;
        Ok(Self {
            endpoint,
            rx,
            peers,
        })
    }
}

fn accept_loop(listener: TcpListener, tx: mpsc::Sender<Received>, peers: Peers) {
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let source = match stream.peer_addr() {
            Ok(peer) => format!("tcp://{peer}"),
            Err(_) => "tcp://unknown".into(),
        };
        if let Ok(writer) = stream.try_clone() {
            let _ = writer.set_write_timeout(Some(WRITE_TIMEOUT));
            lock(&peers).insert(source.clone(), writer);
        }
        let tx = tx.clone();
        let peers = Arc::clone(&peers);
        let spawned = thread::Builder::new()
            .name("tcp-read".into())
            .spawn(move || {
                read_loop(stream, &source, tx);
                lock(&peers).remove(&source);
            });
        if spawned.is_err() {
            continue;
        }
    }
}

/// The map stays usable even if a reader thread panicked while holding it.
fn lock(peers: &Peers) -> std::sync::MutexGuard<'_, HashMap<String, TcpStream>> {
    peers.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_loop(mut stream: TcpStream, source: &str, tx: mpsc::Sender<Received>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        let chunk = Received {
            source: source.to_string(),
            bytes: buf[..n].to_vec(),
            at: SystemTime::now(),
        };
        if tx.send(chunk).is_err() || n == 0 {
            return;
        }
    }
}

impl Receiver for TcpReceiver {
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => Ok(Some(r)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "tcp accept thread ended",
            )),
        }
    }

    fn reply(&mut self, source: &str, frame: &[u8]) -> io::Result<()> {
        let mut peers = lock(&self.peers);
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
}
