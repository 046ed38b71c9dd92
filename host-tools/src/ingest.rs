//! One receiver thread per transport URL, all feeding one bounded channel.
//!
//! A slow consumer blocks the receiver threads once [`CHANNEL_CAPACITY`] chunks wait; for
//! UDP the kernel then drops datagrams, which the agents' sequence numbers reveal.
//! Dropping an [`Ingest`] stops its threads within [`POLL`].
use anyhow::Context as _;
use msao::transport::{self, Endpoint, Received, Receiver};
use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::Duration,
};

/// Chunks buffered between the receiver threads and the consumer.
pub const CHANNEL_CAPACITY: usize = 4096;
/// How often receiver threads check whether to stop.
pub const POLL: Duration = Duration::from_millis(100);

/// What the consumer gets.
#[derive(Debug)]
pub enum Inbound {
    /// Bytes from a peer (empty: the peer closed its stream).
    Chunk(Received),
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
}

/// Binds, accepts or opens every endpoint (errors name the URL).
pub fn open_all(urls: &[Endpoint]) -> anyhow::Result<Vec<Box<dyn Receiver>>> {
    urls.iter()
        .map(|url| transport::open_receiver(url).with_context(|| format!("cannot listen on {url}")))
        .collect()
}

impl Ingest {
    /// Starts one thread per receiver.
    pub fn start(receivers: Vec<Box<dyn Receiver>>) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(CHANNEL_CAPACITY);
        let stop = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(AtomicUsize::new(0));
        let endpoints = receivers.iter().map(|r| r.endpoint().clone()).collect();
        for receiver in receivers {
            let (tx, stop, alive2) = (tx.clone(), stop.clone(), alive.clone());
            let name = format!("recv {}", receiver.endpoint());
            alive.fetch_add(1, Ordering::SeqCst);
            thread::Builder::new()
                .name(name)
                .spawn(move || {
                    receive_loop(receiver, &tx, &stop);
                    alive2.fetch_sub(1, Ordering::SeqCst);
                })
                .context("cannot start a receiver thread")?;
        }
        Ok(Self {
            rx,
            stop,
            alive,
            endpoints,
        })
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

fn receive_loop(
    mut receiver: Box<dyn Receiver>,
    tx: &mpsc::SyncSender<Inbound>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        match receiver.recv(POLL) {
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
