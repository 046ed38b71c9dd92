//! Serial (UART, USB CDC): 8N1, no flow control, via the `serialport` crate.

use super::{Endpoint, FrameSink, Received, Receiver, WRITE_TIMEOUT, nothing_yet};
use serialport::SerialPort;
use std::{
    io::{self, Read, Write},
    time::{Duration, SystemTime},
};

fn open_port(endpoint: &Endpoint) -> io::Result<Box<dyn SerialPort>> {
    let Endpoint::Serial { path, baud } = endpoint else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{endpoint} is not serial"),
        ));
    };
    serialport::new(path.as_str(), *baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(WRITE_TIMEOUT)
        .open()
        .map_err(|e| io::Error::other(format!("cannot open {path} at {baud} baud: {e}")))
}

/// Writes frames to a serial port.
pub struct SerialSink {
    port: Box<dyn SerialPort>,
    endpoint: Endpoint,
}

impl SerialSink {
    /// Opens the port and writes a lone `0x00` so the receiver drops any partial frame.
    pub fn open(endpoint: Endpoint) -> io::Result<Self> {
        let mut port = open_port(&endpoint)?;
        port.write_all(&[0])?;
        Ok(Self { port, endpoint })
    }
}

impl FrameSink for SerialSink {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.port.write_all(frame)?;
        self.port.flush()
    }

    fn poll_incoming(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Read only what is already buffered, so the call never waits on the line.
        let ready = usize::try_from(self.port.bytes_to_read()?).unwrap_or(usize::MAX);
        if ready == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = ready.min(buf.len());
        nothing_yet(self.port.read(&mut buf[..n]))
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Reads bytes from a serial port.
pub struct SerialReceiver {
    port: Box<dyn SerialPort>,
    endpoint: Endpoint,
    source: String,
    buf: Box<[u8]>,
}

impl SerialReceiver {
    /// Opens the port named by the endpoint.
    pub fn open(endpoint: Endpoint) -> io::Result<Self> {
        let port = open_port(&endpoint)?;
        Ok(Self::from_port(port, endpoint))
    }

    /// Wraps an already open port (a pseudo-terminal in tests).
    pub fn from_port(port: Box<dyn SerialPort>, endpoint: Endpoint) -> Self {
        let source = match &endpoint {
            Endpoint::Serial { path, .. } => format!("serial://{path}"),
            other => other.to_string(),
        };
        Self {
            port,
            endpoint,
            source,
            buf: vec![0; 4096].into_boxed_slice(),
        }
    }
}

impl Receiver for SerialReceiver {
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Received>> {
        self.port
            .set_timeout(timeout.max(Duration::from_millis(1)))?;
        match self.port.read(&mut self.buf) {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(Received {
                source: self.source.clone(),
                bytes: self.buf[..n].to_vec(),
                at: SystemTime::now(),
            })),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn reply(&mut self, _source: &str, frame: &[u8]) -> io::Result<()> {
        // One serial line, one peer.
        self.port.write_all(frame)?;
        self.port.flush()
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}
