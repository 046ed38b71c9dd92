//! TCP: the agent connects to a collector and reconnects with backoff; the host accepts
//! many agents at once.

use super::{Endpoint, FrameSink, Received, Receiver, WRITE_TIMEOUT};
use std::{
    io::{self, Read, Write},
    net::{TcpListener, TcpStream, ToSocketAddrs},
    sync::mpsc,
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

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Accepts any number of agents on `tcp://HOST:PORT`; one reader thread per connection
/// feeds a shared channel.
pub struct TcpReceiver {
    endpoint: Endpoint,
    rx: mpsc::Receiver<Received>,
}

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
        thread::Builder::new()
            .name("tcp-accept".into())
            .spawn(move || accept_loop(listener, tx))?;
        Ok(Self { endpoint, rx })
    }
}

fn accept_loop(listener: TcpListener, tx: mpsc::Sender<Received>) {
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let source = match stream.peer_addr() {
            Ok(peer) => format!("tcp://{peer}"),
            Err(_) => "tcp://unknown".into(),
        };
        let tx = tx.clone();
        let spawned = thread::Builder::new()
            .name("tcp-read".into())
            .spawn(move || read_loop(stream, source, tx));
        if spawned.is_err() {
            continue;
        }
    }
}

fn read_loop(mut stream: TcpStream, source: String, tx: mpsc::Sender<Received>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        let chunk = Received {
            source: source.clone(),
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

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}
