//! A sink that opens its transport on demand and retries with backoff after a failed open.
//!
//! `open_sink` fails for a serial device that is not there yet or a UDP host that does not
//! resolve; at boot both are common and temporary. Like the TCP sink, this one fails fast
//! (the frame is counted) while it waits out the backoff, so its thread never stalls.

use msao::transport::{Endpoint, FrameSink, open_sink};
use std::{
    io,
    time::{Duration, Instant},
};

/// First delay after a failed open; doubles per failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between open attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Opens `endpoint` lazily, again after backoff when opening fails.
pub struct Reopening {
    endpoint: Endpoint,
    sink: Option<Box<dyn FrameSink>>,
    backoff: Duration,
    next_attempt: Instant,
}

impl Reopening {
    /// Tries to open at once; on failure logs why and retries when frames arrive.
    pub fn new(endpoint: Endpoint) -> Self {
        let mut s = Self {
            endpoint,
            sink: None,
            backoff: MIN_BACKOFF,
            next_attempt: Instant::now(),
        };
        if let Err(e) = s.open() {
            log::warn!(
                "telemetry sink {}: cannot open yet ({e}); will retry",
                s.endpoint
            );
        }
        s
    }

    fn open(&mut self) -> io::Result<&mut Box<dyn FrameSink>> {
        let now = Instant::now();
        if now < self.next_attempt {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!(
                    "{} not open, retrying in {:?}",
                    self.endpoint,
                    self.next_attempt - now
                ),
            ));
        }
        match open_sink(&self.endpoint) {
            Ok(sink) => {
                self.backoff = MIN_BACKOFF;
                Ok(self.sink.insert(sink))
            }
            Err(e) => {
                self.next_attempt = now + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                Err(e)
            }
        }
    }
}

impl FrameSink for Reopening {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let sink = match self.sink.as_mut() {
            Some(s) => s,
            None => self.open()?,
        };
        let result = sink.send_frame(frame);
        // A serial port that went away (USB adapter unplugged) is reopened; UDP and TCP
        // errors are the inner sink's own business (TCP reconnects, UDP's next send works).
        if let (Err(e), Endpoint::Serial { .. }) = (&result, &self.endpoint)
            && e.kind() != io::ErrorKind::TimedOut
        {
            self.sink = None;
            self.next_attempt = Instant::now() + self.backoff;
        }
        result
    }

    fn poll_incoming(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.sink.as_mut() {
            Some(sink) => sink.poll_incoming(buf),
            None => Ok(0),
        }
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}
