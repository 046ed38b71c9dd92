//! Starting one queue and thread per sink, and stopping them with a bounded flush.

use super::{
    Bus, FlushDeadline, Inbox, QueueError, Reopening, Requests, SinkWorker, TelemetryQueue,
    WorkerReport, request_queue, requests::Replies,
};
use crate::clock::Clock;
use crate::control::{ControlAuth, LinkKind};
use msao::{
    message::{Message, TelemetryDrops},
    transport::{Endpoint, FrameSink},
};
use std::{
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// How long the sink threads may keep draining at shutdown. A frame in flight when it
/// passes may add one transport write timeout (500 ms).
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The telemetry path could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// Bad queue depth.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The OS refused a thread.
    #[error("cannot start the sender thread for {endpoint}: {source}")]
    Spawn {
        /// The sink.
        endpoint: String,
        /// Why.
        source: std::io::Error,
    },
}

/// How the sinks treat host requests: the rules (and key), and how many admitted
/// requests may wait for the control thread.
#[derive(Debug, Clone)]
pub struct Control {
    /// Which requests are acted on; its key also signs every frame sent.
    pub auth: Arc<ControlAuth>,
    /// Requests waiting behind the running one; more get a `busy` fault.
    pub queue: usize,
}

impl Control {
    /// No key (network requests refused, serial ones accepted), a queue of 2: for tests
    /// and tools that never take requests.
    pub fn unkeyed(boot_id: [u8; 4]) -> Self {
        Self {
            auth: Arc::new(ControlAuth::new(None, boot_id, true)),
            queue: crate::config::ProfileLimits::default().queue,
        }
    }
}

/// Running sink threads and the bus that feeds them.
#[derive(Debug)]
pub struct Telemetry {
    bus: Bus,
    flush: Arc<FlushDeadline>,
    workers: Vec<JoinHandle<WorkerReport>>,
    requests: Option<Requests>,
}

impl Telemetry {
    /// Opens (lazily, with retry) and starts one sink per endpoint. Frames carry
    /// `control`'s boot id and are signed with its key when it has one; host requests it
    /// admits wait in a queue of `control.queue` ([`Control`]).
    pub fn start(
        endpoints: &[Endpoint],
        depth: usize,
        clock: Clock,
        control: &Control,
    ) -> Result<Self, TelemetryError> {
        let sinks = endpoints
            .iter()
            .map(|e| Box::new(Reopening::new(e.clone())) as Box<dyn FrameSink>)
            .collect();
        Self::start_with(sinks, depth, clock, control)
    }

    /// Starts one thread per given sink (tests pass in-memory sinks).
    pub fn start_with(
        sinks: Vec<Box<dyn FrameSink>>,
        depth: usize,
        clock: Clock,
        control: &Control,
    ) -> Result<Self, TelemetryError> {
        let boot_id = control.auth.boot_id();
        let queues = sinks
            .iter()
            .map(|s| TelemetryQueue::new(depth, s.endpoint().to_string()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let bus = Bus::new(queues.clone());
        let flush = Arc::new(FlushDeadline::new());
        let (tx, rx) = request_queue(control.queue);
        let mut telemetry = Self {
            bus: bus.clone(),
            flush: Arc::clone(&flush),
            workers: Vec::new(),
            requests: Some(rx),
        };
        for (i, (sink, queue)) in sinks.into_iter().zip(queues).enumerate() {
            let endpoint = sink.endpoint().to_string();
            let link = LinkKind::of(sink.endpoint());
            let datagrams = matches!(sink.endpoint(), Endpoint::Udp(_));
            let worker = SinkWorker::new(
                i,
                queue,
                bus.clone(),
                sink,
                boot_id,
                clock,
                Arc::clone(&flush),
            )
            .with_signing(control.auth.key().cloned())
            .with_inbox(
                Inbox::new(
                    i,
                    tx.clone(),
                    Arc::clone(&control.auth),
                    link,
                    Replies {
                        bus: bus.clone(),
                        clock,
                    },
                )
                .datagrams(datagrams),
            );
            match worker.spawn() {
                Ok(handle) => telemetry.workers.push(handle),
                Err(source) => {
                    // Stop the threads already running before reporting the failure.
                    telemetry.finish(Duration::ZERO);
                    return Err(TelemetryError::Spawn { endpoint, source });
                }
            }
        }
        Ok(telemetry)
    }

    /// Host requests read on any sink's link; `None` after the first call.
    pub fn take_requests(&mut self) -> Option<Requests> {
        self.requests.take()
    }

    /// The producers' handle.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Queues a message for every sink.
    pub fn publish(&self, timestamp_us: u64, message: &Message) {
        self.bus.publish(timestamp_us, message);
    }

    /// Drop counters summed over sinks.
    pub fn drops(&self) -> TelemetryDrops {
        self.bus.drops()
    }

    /// Lets each sink drain its queue for at most `flush`, then joins the threads.
    pub fn finish(self, flush: Duration) -> Vec<WorkerReport> {
        self.flush.set(Instant::now() + flush);
        for q in self.bus.queues() {
            q.wake();
        }
        self.workers
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(report) => Some(report),
                Err(_) => {
                    log::error!("a telemetry sink thread panicked; its counts are lost");
                    None
                }
            })
            .collect()
    }
}
