//! [`Watches`]: standing questions (`[[watch]]`: camera, question, interval). Every interval
//! each watch submits its question about its camera's newest frame to the request queue —
//! the frame is taken when the pipeline starts the request — and each answer is published
//! as a `RequestTrace` (by the pipeline, as for every request) and broadcast as a
//! [`WatchEvent`] (the API's `GET /v1/watch`, server-sent events).
//!
//! A watch never has two requests in flight: when its previous question is still being
//! answered at the next tick, that tick is skipped (counted), so a slow pipeline is not
//! buried under stale questions. A full queue refuses the tick (counted) like any source.

use super::Cameras;
use crate::offload::{Arrival, Frame, Reply, Request, Submitter};
use crate::shutdown::Shutdown;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// Request ids of standing questions start here (the API's are below, the workload's from 0).
pub const FIRST_WATCH_ID: u32 = 0xC000_0000;
/// Events kept for a slow subscriber before it misses some.
pub const EVENT_BUFFER: usize = 256;

/// One standing question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// The camera asked about.
    pub camera: String,
    /// The question.
    pub question: String,
    /// How often.
    pub interval: Duration,
}

/// One answered standing question.
#[derive(Debug, Clone, Serialize)]
pub struct WatchEvent {
    /// Index of the watch in the config.
    pub watch: usize,
    /// Its camera.
    pub camera: String,
    /// Its question.
    pub question: String,
    /// The request id (its `RequestTrace` carries it).
    pub request_id: u32,
    /// The answer, `None` when none could be produced.
    pub answer: Option<String>,
    /// Its confidence.
    pub confidence: Option<f32>,
    /// `local`, `offload` or `speculate`.
    pub decision: &'static str,
    /// `local`, `cloud`, `fallback` or `error`.
    pub source: &'static str,
    /// The frame answered about: its number, capture time (Unix seconds) and age when the
    /// pipeline took it (ms).
    pub frame_seq: Option<u64>,
    /// Capture time, Unix seconds.
    pub captured_at: Option<f64>,
    /// Age of the frame when the request started, ms.
    pub frame_age_ms: Option<f64>,
    /// Capture → answer committed, ms.
    pub capture_to_answer_ms: Option<f64>,
    /// What went wrong, if anything.
    pub fault: Option<String>,
}

/// Counters of the standing questions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WatchCounts {
    /// Questions submitted.
    pub submitted: u64,
    /// Questions answered.
    pub answered: u64,
    /// Ticks skipped: the previous question of that watch was still in flight.
    pub skipped_busy: u64,
    /// Ticks refused by a full queue.
    pub refused: u64,
}

#[derive(Default)]
struct Counters {
    submitted: AtomicU64,
    answered: AtomicU64,
    skipped_busy: AtomicU64,
    refused: AtomicU64,
}

/// The running standing questions.
pub struct Watches {
    events: broadcast::Sender<WatchEvent>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Watches {
    /// Starts asking `specs` (cameras checked by the config) through `submitter` until
    /// `stop`.
    pub fn start(
        specs: Vec<WatchSpec>,
        cameras: Cameras,
        submitter: Submitter,
        stop: Arc<Shutdown>,
    ) -> std::io::Result<Self> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let counters = Arc::new(Counters::default());
        let thread = if specs.is_empty() {
            None
        } else {
            let (tx, c) = (events.clone(), Arc::clone(&counters));
            Some(
                std::thread::Builder::new()
                    .name("watch".into())
                    .spawn(move || ask(&specs, &cameras, &submitter, &tx, &c, &stop))?,
            )
        };
        Ok(Self {
            events,
            counters,
            thread,
        })
    }

    /// A receiver of the events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }

    /// The sending end (the API hands out receivers).
    pub fn sender(&self) -> broadcast::Sender<WatchEvent> {
        self.events.clone()
    }

    /// The counters now.
    pub fn counts(&self) -> WatchCounts {
        let c = &self.counters;
        WatchCounts {
            submitted: c.submitted.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
            skipped_busy: c.skipped_busy.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }

    /// Waits for the thread (after the stop was requested).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            log::warn!("the watch thread panicked");
        }
    }
}

fn unix_s(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The scheduling loop: each watch ticks on its own interval, from the start.
fn ask(
    specs: &[WatchSpec],
    cameras: &Cameras,
    submitter: &Submitter,
    events: &broadcast::Sender<WatchEvent>,
    counters: &Arc<Counters>,
    stop: &Shutdown,
) {
    let start = Instant::now();
    let mut due: Vec<Instant> = specs.iter().map(|_| start).collect();
    let busy: Vec<Arc<AtomicBool>> = specs.iter().map(|_| Arc::default()).collect();
    let next_id = AtomicU32::new(FIRST_WATCH_ID);
    loop {
        let Some(&next) = due.iter().min() else {
            return;
        };
        if stop.wait_until(next) {
            return;
        }
        let now = Instant::now();
        for (i, spec) in specs.iter().enumerate() {
            if due[i] > now {
                continue;
            }
            // The next tick on the grid (ticks missed while late are not made up).
            while due[i] <= now {
                due[i] += spec.interval;
            }
            let Some(slot) = cameras.get(&spec.camera) else {
                continue;
            };
            if slot.peek().is_none() {
                continue; // no frame yet (starting, or the camera is reconnecting)
            }
            if busy[i].swap(true, Ordering::AcqRel) {
                counters.skipped_busy.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let (tx, flag, c) = (events.clone(), Arc::clone(&busy[i]), Arc::clone(counters));
            let (camera, question) = (spec.camera.clone(), spec.question.clone());
            let request = Request {
                id,
                frame: Frame::Latest(Arc::clone(slot)),
                question: spec.question.clone(),
                audio: None,
                arrival: Arrival::At(now),
                stream: Some(format!("camera:{}", spec.camera)),
            };
            let reply = Box::new(move |reply: Reply| {
                flag.store(false, Ordering::Release);
                let Reply::Answered(a) = reply else { return };
                c.answered.fetch_add(1, Ordering::Relaxed);
                let frame = a.frame.as_ref();
                let _ = tx.send(WatchEvent {
                    watch: i,
                    camera,
                    question,
                    request_id: a.request_id,
                    answer: a.answer.clone(),
                    confidence: a.confidence,
                    decision: a.decision,
                    source: a.source,
                    frame_seq: frame.map(|f| f.seq),
                    captured_at: frame.map(|f| unix_s(f.wall)),
                    frame_age_ms: frame.map(|f| f.age_at_start.as_secs_f64() * 1e3),
                    capture_to_answer_ms: frame.map(|f| f.at.elapsed().as_secs_f64() * 1e3),
                    fault: a.fault.clone(),
                });
            });
            match submitter.try_submit(request, reply) {
                Ok(()) => {
                    counters.submitted.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    busy[i].store(false, Ordering::Release);
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
