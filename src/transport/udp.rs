//! UDP: one frame per datagram, so a lost datagram loses exactly one frame.

use super::{Endpoint, FrameSink, POLL_WAIT, Received, Receiver, WRITE_TIMEOUT, nothing_yet};
use std::{
    io,
    net::UdpSocket,
    time::{Duration, SystemTime},
};

/// Sends each frame as one datagram to `udp://HOST:PORT`.
pub struct UdpSink {
    socket: UdpSocket,
    endpoint: Endpoint,
}

impl UdpSink {
    /// Resolves the address and creates an unbound-port socket connected to it.
    pub fn open(endpoint: Endpoint) -> io::Result<Self> {
        let Endpoint::Udp(addr) = &endpoint else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{endpoint} is not udp"),
            ));
        };
        let target = std::net::ToSocketAddrs::to_socket_addrs(addr.as_str())?
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{addr} resolves to nothing"),
                )
            })?;
        let local = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(target)?;
        socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
        // SO_RCVTIMEO affects reads only, so polling for requests never slows sends.
        socket.set_read_timeout(Some(POLL_WAIT))?;
        Ok(Self { socket, endpoint })
    }
}

impl FrameSink for UdpSink {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        // ECONNREFUSED from an earlier ICMP "port unreachable" is reported here; the
        // frame is counted as failed and the next one is tried normally.
        self.socket.send(frame).map(|_| ())
    }

    fn poll_incoming(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The socket is connected, so only the host's datagrams arrive here. An ICMP
        // "port unreachable" surfaces as ECONNREFUSED: nothing to read, not a failure.
        match nothing_yet(self.socket.recv(buf)) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(0),
            other => other,
        }
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Receives datagrams on a bound `udp://HOST:PORT`; each datagram's source is its peer.
pub struct UdpReceiver {
    socket: UdpSocket,
    endpoint: Endpoint,
    buf: Box<[u8]>,
}

impl UdpReceiver {
    /// Binds the address (`udp://0.0.0.0:7878`; port 0 picks a free one).
    pub fn bind(endpoint: Endpoint) -> io::Result<Self> {
        let Endpoint::Udp(addr) = &endpoint else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{endpoint} is not udp"),
            ));
        };
        let socket = UdpSocket::bind(addr.as_str())?;
        let endpoint = Endpoint::Udp(socket.local_addr()?.to_string());
        Ok(Self {
            socket,
            endpoint,
            buf: vec![0; 65_536].into_boxed_slice(),
        })
    }
}

impl Receiver for UdpReceiver {
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match self.socket.recv_from(&mut self.buf) {
            Ok((n, peer)) => Ok(Some(Received {
                source: format!("udp://{peer}"),
                bytes: self.buf[..n].to_vec(),
                at: SystemTime::now(),
            })),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn reply(&mut self, source: &str, frame: &[u8]) -> io::Result<()> {
        let peer: std::net::SocketAddr = source
            .strip_prefix("udp://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{source}` is not a UDP peer"),
                )
            })?;
        self.socket.send_to(frame, peer).map(|_| ())
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}
