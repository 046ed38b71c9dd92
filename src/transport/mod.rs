//! Byte transports for frames: one trait per direction, one file per transport.
//!
//! * [`FrameSink`] — the agent's direction: send whole frames (one UDP datagram each).
//! * [`Receiver`] — the host's direction: receive byte chunks from one or many peers,
//!   each tagged with its source so every peer gets its own decoder.
//!
//! Addresses are [`Endpoint`] URLs, used the same way by every tool:
//! `udp://HOST:PORT`, `tcp://HOST:PORT`, `serial:///dev/ttyTHS1?baud=921600`.

mod endpoint;
mod serial;
mod tcp;
mod tcp_receiver;
mod udp;

pub use endpoint::{Endpoint, EndpointError};
pub use serial::{SerialReceiver, SerialSink};
pub use tcp::TcpSink;
pub use tcp_receiver::{
    ACCEPT_BACKOFF, DEFAULT_MAX_PEERS, MAX_MAX_PEERS, PEER_CREDIT, READ_CHUNK, TcpLimits,
    TcpReceiver,
};
pub use udp::{UdpReceiver, UdpSink};

use std::{io, time::Duration, time::SystemTime};

/// Sends whole frames towards a host.
pub trait FrameSink: Send {
    /// Sends one frame (terminator included). An error means the frame was not sent; the
    /// caller counts it. Must not block longer than the transport's write timeout.
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()>;
    /// Reads bytes the host sent back on the same link (requests such as
    /// `ProfileRequest`) into `buf`, waiting at most [`POLL_WAIT`]; `Ok(0)` when there are
    /// none or the link is down. Never blocks on writes. The default is for links that
    /// carry no replies; every transport in this module overrides it (the conformance
    /// test checks each).
    fn poll_incoming(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _ = buf;
        Ok(0)
    }
    /// The endpoint, for messages.
    fn endpoint(&self) -> &Endpoint;
}

/// Longest a sink's [`FrameSink::poll_incoming`] waits for bytes.
pub const POLL_WAIT: Duration = Duration::from_millis(1);

/// Maps "nothing to read yet" to `Ok(0)`.
pub(crate) fn nothing_yet(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(0)
        }
        other => other,
    }
}

/// Bytes received from one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The peer: `udp://ADDR`, `tcp://ADDR` or `serial://PATH`.
    pub source: String,
    /// The bytes; empty means the peer closed its stream (TCP) and its decoder should be
    /// flushed.
    pub bytes: Vec<u8>,
    /// Wall-clock receive time.
    pub at: SystemTime,
}

impl Received {
    /// True for a UDP datagram: one frame per datagram, so its decoder must end the frame
    /// at the datagram's end ([`crate::Decoder::end_datagram`]) instead of carrying bytes
    /// into the next one.
    pub fn is_datagram(&self) -> bool {
        is_datagram_source(&self.source)
    }
}

/// True for sources named `udp://…` (see [`Received::is_datagram`]).
pub fn is_datagram_source(source: &str) -> bool {
    source.starts_with("udp://")
}

/// What a receiver refused before any byte reached its caller (all zero for transports
/// that refuse nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverCounters {
    /// Connections closed at once because the peer cap was reached.
    pub refused_peers: u64,
    /// Failed `accept` calls (each followed by a pause).
    pub accept_errors: u64,
    /// The OS error number of the latest failed `accept`.
    pub last_accept_errno: Option<i32>,
    /// Connections open now.
    pub peers: u64,
}

/// Receives bytes on the host side.
pub trait Receiver: Send {
    /// Waits up to `timeout` for the next chunk; `Ok(None)` on timeout.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>>;
    /// Sends a frame back to one peer, named as in [`Received::source`] (a request to an
    /// agent). Fails when that peer is unknown or gone.
    fn reply(&mut self, source: &str, frame: &[u8]) -> io::Result<()>;
    /// The endpoint, for messages.
    fn endpoint(&self) -> &Endpoint;
    /// Refusals so far.
    fn counters(&self) -> ReceiverCounters {
        ReceiverCounters::default()
    }
}

/// Write timeout of every sink: a stalled host costs the agent at most this per frame, on
/// the sink's own thread.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(500);

/// Opens the sink for an endpoint.
pub fn open_sink(endpoint: &Endpoint) -> io::Result<Box<dyn FrameSink>> {
    Ok(match endpoint {
        Endpoint::Udp(_) => Box::new(UdpSink::open(endpoint.clone())?),
        Endpoint::Tcp(_) => Box::new(TcpSink::new(endpoint.clone())),
        Endpoint::Serial { .. } => Box::new(SerialSink::open(endpoint.clone())?),
    })
}

/// Binds, accepts or opens the receiver for an endpoint, with default limits.
pub fn open_receiver(endpoint: &Endpoint) -> io::Result<Box<dyn Receiver>> {
    open_receiver_with(endpoint, TcpLimits::default())
}

/// As [`open_receiver`], with the limits of a TCP receiver.
pub fn open_receiver_with(endpoint: &Endpoint, tcp: TcpLimits) -> io::Result<Box<dyn Receiver>> {
    Ok(match endpoint {
        Endpoint::Udp(_) => Box::new(UdpReceiver::bind(endpoint.clone())?),
        Endpoint::Tcp(_) => Box::new(TcpReceiver::bind_with(endpoint.clone(), tcp)?),
        Endpoint::Serial { .. } => Box::new(SerialReceiver::open(endpoint.clone())?),
    })
}
