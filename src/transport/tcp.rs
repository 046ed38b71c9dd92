//! TCP: the agent connects to a collector and reconnects with backoff; the host accepts
//! up to [`TcpLimits::max_peers`] agents at once (the receiver is in `tcp_receiver.rs`).

use super::{Endpoint, FrameSink, POLL_WAIT, WRITE_TIMEOUT, nothing_yet};
use std::{
    io::{self, Read, Write},
    net::{TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
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
