//! The sink thread: takes frames from its queue, numbers, encodes and sends them; counts
//! failures and reports each failure streak once.
//!
//! Sequence numbers are per stream and assigned here, at send time, so a gap seen by the
//! host means frames lost after encoding (transport failure or loss on the way); frames
//! evicted from the queue never got a number and are counted in `Sample.drops` instead.

use super::{Bus, Inbox, Queued, TelemetryQueue, requests::REQUEST_POLL};
use crate::clock::Clock;
use log::{debug, error, info, warn};
use msao::sign::ControlKey;
use msao::{
    frame,
    header::FrameHeader,
    message::{Fault, FaultCode, Message},
    transport::FrameSink,
};
use std::{
    io,
    sync::{Arc, OnceLock},
    thread::{self, JoinHandle},
    time::Instant,
};

/// Consecutive successful sends that end a failure streak. A UDP socket towards a closed
/// port fails every other send (ICMP port unreachable), which without this would start
/// a "new" streak, log line and fault five times a second.
pub const RECOVER_AFTER: u32 = 10;

/// When the sink threads must stop sending; unset while running.
#[derive(Debug, Default)]
pub struct FlushDeadline(OnceLock<Instant>);

impl FlushDeadline {
    /// Not yet stopping.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the threads to drain until `at`, then stop. The first call wins.
    pub fn set(&self, at: Instant) {
        let _ = self.0.set(at);
    }

    /// The deadline, once stopping.
    pub fn get(&self) -> Option<Instant> {
        self.0.get().copied()
    }
}

/// What one sink thread did, returned when it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// The sink URL.
    pub endpoint: String,
    /// Frames sent.
    pub sent: u64,
    /// Frames the transport (or encoder) refused.
    pub failed: u64,
    /// Frames still queued when the flush deadline passed.
    pub abandoned: u64,
    /// Failure streaks (each raised one `Fault`).
    pub streaks: u32,
    /// What arrived from the host on this link (requests taken, refused, busy, forged).
    pub inbox: Option<super::InboxStats>,
}

struct Streak {
    ok_run: u32,
    failed: u64,
    /// The streak's fault, still to be sent on this sink once it works again.
    pending: Option<Queued>,
}

/// One sink's sending loop. Create with [`SinkWorker::new`], run with [`SinkWorker::spawn`]
/// or [`SinkWorker::run`].
pub struct SinkWorker {
    index: usize,
    queue: Arc<TelemetryQueue>,
    bus: Bus,
    sink: Box<dyn FrameSink>,
    boot_id: [u8; 4],
    clock: Clock,
    flush: Arc<FlushDeadline>,
    seq: u32,
    streak: Option<Streak>,
    report: WorkerReport,
    inbox: Option<Inbox>,
    key: Option<ControlKey>,
}

impl SinkWorker {
    /// Signs every frame with `key` (when given), so a host holding it can tell this
    /// agent's frames from forged ones.
    pub fn with_signing(mut self, key: Option<ControlKey>) -> Self {
        self.key = key;
        self
    }

    /// Also reads host requests on this sink's link and forwards them through `inbox`.
    pub fn with_inbox(mut self, inbox: Inbox) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// The worker for sink `index` of `bus`, draining `queue` (that sink's queue) into `sink`.
    pub fn new(
        index: usize,
        queue: Arc<TelemetryQueue>,
        bus: Bus,
        sink: Box<dyn FrameSink>,
        boot_id: [u8; 4],
        clock: Clock,
        flush: Arc<FlushDeadline>,
    ) -> Self {
        let endpoint = sink.endpoint().to_string();
        Self {
            index,
            queue,
            bus,
            sink,
            boot_id,
            clock,
            flush,
            seq: 0,
            streak: None,
            inbox: None,
            key: None,
            report: WorkerReport {
                endpoint,
                ..WorkerReport::default()
            },
        }
    }

    /// Runs the loop on a new thread named `sink-N`.
    pub fn spawn(self) -> io::Result<JoinHandle<WorkerReport>> {
        thread::Builder::new()
            .name(format!("sink-{}", self.index))
            .spawn(move || self.run())
    }

    /// Sends until the flush deadline is set, then drains until the queue is empty or the
    /// deadline passes. Parks while the queue is empty; a push or the stop unparks it.
    pub fn run(mut self) -> WorkerReport {
        self.queue.set_consumer(thread::current());
        loop {
            if let Some(deadline) = self.flush.get() {
                self.drain(deadline);
                break;
            }
            let next = self.queue.pop();
            if let Some(inbox) = self.inbox.as_mut() {
                inbox.poll(self.sink.as_mut(), next.is_none());
            }
            match next {
                Some(frame) => self.deliver(frame),
                // An unpark between the empty pop and here is not lost: park returns at
                // once. With an inbox, wake up regularly to look for host requests.
                None if self.inbox.is_some() => thread::park_timeout(REQUEST_POLL),
                None => thread::park(),
            }
        }
        self.report.inbox = self.inbox.as_ref().map(Inbox::stats);
        let r = &self.report;
        info!(
            "telemetry sink {}: {} frames sent, {} failed, {} left unsent at shutdown",
            r.endpoint, r.sent, r.failed, r.abandoned
        );
        if let Some(i) = r.inbox.filter(|i| i.refused + i.busy + i.forged > 0) {
            warn!(
                "telemetry sink {}: host requests: {} taken, {} refused, {} busy, {} forged frames",
                r.endpoint, i.requests, i.refused, i.busy, i.forged
            );
        }
        self.report
    }

    fn drain(&mut self, deadline: Instant) {
        while let Some(frame) = self.queue.pop() {
            if Instant::now() >= deadline {
                let mut left = 1u64;
                while self.queue.pop().is_some() {
                    left += 1;
                }
                self.report.abandoned = left;
                warn!(
                    "telemetry sink {}: flush deadline passed, {left} frames not sent",
                    self.report.endpoint
                );
                return;
            }
            self.deliver(frame);
        }
    }

    fn deliver(&mut self, frame: Queued) {
        match self.transmit(&frame) {
            Ok(()) => self.succeeded(),
            Err(e) => self.failed(&e),
        }
    }

    fn transmit(&mut self, q: &Queued) -> io::Result<()> {
        let header = FrameHeader::new(self.boot_id, self.seq, q.timestamp_us);
        self.seq = self.seq.wrapping_add(1);
        let mut buf = [0u8; frame::MAX_FRAME];
        let encoded = match &self.key {
            Some(key) => frame::encode_signed(&header, &q.message, key, &mut buf),
            None => frame::encode(&header, &q.message, &mut buf),
        };
        let bytes = encoded.map_err(|e| {
            // Cannot happen: the protocol crate proves at compile time that every message
            // fits MAX_FRAME. Counted like a send failure if it ever does.
            error!("cannot encode {} frame: {e}", q.message.kind());
            io::Error::other(e.to_string())
        })?;
        let result = self.sink.send_frame(bytes);
        match &result {
            Ok(()) => self.report.sent += 1,
            Err(_) => {
                self.report.failed += 1;
                self.queue.count_send_failed();
            }
        }
        result
    }

    fn succeeded(&mut self) {
        let Some(streak) = self.streak.as_mut() else {
            return;
        };
        streak.ok_run += 1;
        if let Some(fault) = streak.pending.take() {
            // The sink works again: it gets the fault about its own outage now.
            if let Err(e) = self.transmit(&fault) {
                debug!(
                    "telemetry sink {}: fault not sent yet: {e}",
                    self.report.endpoint
                );
                if let Some(s) = self.streak.as_mut() {
                    s.pending = Some(fault);
                    s.ok_run = 0;
                }
                return;
            }
        }
        if let Some(s) = self.streak.as_ref().filter(|s| s.ok_run >= RECOVER_AFTER) {
            info!(
                "telemetry sink {}: sending again after {} failed frames",
                self.report.endpoint, s.failed
            );
            self.streak = None;
        }
    }

    fn failed(&mut self, e: &io::Error) {
        if let Some(s) = self.streak.as_mut() {
            s.ok_run = 0;
            s.failed += 1;
            return;
        }
        let endpoint = &self.report.endpoint;
        warn!("telemetry sink {endpoint}: send failed ({e}); counting failures until it recovers");
        let fault = Message::Fault(Fault::new(
            FaultCode::Transport as u16,
            &format!("{endpoint}: {e}"),
        ));
        let timestamp_us = self.clock.now_us();
        // Healthy sinks hear about it now; this one when it works again.
        self.bus.publish_except(self.index, timestamp_us, &fault);
        self.report.streaks = self.report.streaks.saturating_add(1);
        self.streak = Some(Streak {
            ok_run: 0,
            failed: 1,
            pending: Some(Queued {
                timestamp_us,
                message: fault,
            }),
        });
    }
}
