//! A bounded queue between the producers and one sink.
//!
//! Semantics, when the queue holds `depth` frames and another arrives:
//! * a new **sample** evicts the oldest queued sample (fresh state beats stale state);
//!   if every queued frame is an event, the new sample itself is dropped;
//! * a new **event** (`Hello`, `Fault`, later `RequestTrace`) evicts the oldest sample if
//!   there is one, and only otherwise the oldest event.
//!
//! Every eviction is counted (`TelemetryDrops::samples` / `events`); the sink thread adds
//! `send_failed`. Frames leave in the order they were pushed.
//!
//! ```
//! use msao::message::{Fault, Message};
//! use msao_agent::telemetry::TelemetryQueue;
//! let q = TelemetryQueue::new(1, "doc").unwrap();
//! q.push(1, Message::Fault(Fault::new(2, "first")));
//! q.push(2, Message::Fault(Fault::new(2, "second"))); // evicts "first": no sample to evict
//! assert_eq!(q.drops().events, 1);
//! assert_eq!(q.pop().map(|f| f.timestamp_us), Some(2));
//! ```
//!
//! Storage is two `heapless::Deque`s (samples inline, events boxed since they are rare and
//! large) behind an `embassy_sync` critical-section mutex, so the queue is fixed-size and
//! the lock is held only for a push or pop.

use core::cell::RefCell;
use embassy_sync::blocking_mutex::{Mutex, raw::CriticalSectionRawMutex};
use heapless::Deque;
use msao::message::{Message, Sample, TelemetryDrops};
use std::{
    sync::{
        OnceLock,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    thread::Thread,
};

/// Deepest queue allowed (`telemetry.queue_depth`): 25 s of samples at 100 ms.
pub const MAX_DEPTH: usize = 256;

/// A frame waiting to be sent: the message and when it was produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Agent time when the message was produced.
    pub timestamp_us: u64,
    /// The message.
    pub message: Message,
}

/// What a push had to drop to stay within the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The oldest queued sample.
    OldestSample,
    /// The oldest queued event (there was no sample to evict).
    OldestEvent,
    /// The pushed sample itself (the queue held only events).
    NewSample,
}

/// A queue that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// Depth 0 or above [`MAX_DEPTH`].
    #[error("queue depth {depth} is outside 1..={max}")]
    Depth {
        /// Requested depth.
        depth: usize,
        /// [`MAX_DEPTH`].
        max: usize,
    },
}

struct Stamped<T> {
    /// Push order across both deques, so pop can interleave them correctly.
    order: u64,
    timestamp_us: u64,
    item: T,
}

struct State {
    samples: Deque<Stamped<Sample>, MAX_DEPTH>,
    events: Deque<Stamped<Box<Message>>, MAX_DEPTH>,
    next_order: u64,
    evicted_samples: u32,
    evicted_events: u32,
}

impl State {
    fn len(&self) -> usize {
        self.samples.len() + self.events.len()
    }

    fn push(&mut self, depth: usize, timestamp_us: u64, message: Message) -> Option<Eviction> {
        let full = self.len() >= depth;
        let order = self.next_order;
        self.next_order = self.next_order.wrapping_add(1);
        match message {
            Message::Sample(item) => {
                let mut evicted = None;
                if full {
                    self.evicted_samples = self.evicted_samples.saturating_add(1);
                    if self.samples.pop_front().is_none() {
                        return Some(Eviction::NewSample);
                    }
                    evicted = Some(Eviction::OldestSample);
                }
                let stamped = Stamped {
                    order,
                    timestamp_us,
                    item,
                };
                if self.samples.push_back(stamped).is_err() {
                    // Unreachable while depth ≤ MAX_DEPTH; counted rather than assumed.
                    self.evicted_samples = self.evicted_samples.saturating_add(1);
                    return Some(Eviction::NewSample);
                }
                evicted
            }
            other => {
                let mut evicted = None;
                if full {
                    if self.samples.pop_front().is_some() {
                        self.evicted_samples = self.evicted_samples.saturating_add(1);
                        evicted = Some(Eviction::OldestSample);
                    } else if self.events.pop_front().is_some() {
                        self.evicted_events = self.evicted_events.saturating_add(1);
                        evicted = Some(Eviction::OldestEvent);
                    }
                }
                let stamped = Stamped {
                    order,
                    timestamp_us,
                    item: Box::new(other),
                };
                if self.events.push_back(stamped).is_err() {
                    self.evicted_events = self.evicted_events.saturating_add(1);
                    return Some(Eviction::OldestEvent);
                }
                evicted
            }
        }
    }

    fn pop(&mut self) -> Option<Queued> {
        let sample_first = match (self.samples.front(), self.events.front()) {
            (Some(s), Some(e)) => s.order < e.order,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if sample_first {
            let s = self.samples.pop_front()?;
            Some(Queued {
                timestamp_us: s.timestamp_us,
                message: Message::Sample(s.item),
            })
        } else {
            let e = self.events.pop_front()?;
            Some(Queued {
                timestamp_us: e.timestamp_us,
                message: *e.item,
            })
        }
    }
}

/// Bounded queue for one sink; see the module docs for what is dropped when full.
pub struct TelemetryQueue {
    depth: usize,
    label: String,
    state: Mutex<CriticalSectionRawMutex, RefCell<State>>,
    send_failed: AtomicU32,
    warned_full: AtomicBool,
    consumer: OnceLock<Thread>,
}

impl TelemetryQueue {
    /// A queue holding at most `depth` frames; `label` (the sink URL) names it in logs.
    pub fn new(depth: usize, label: impl Into<String>) -> Result<Self, QueueError> {
        if !(1..=MAX_DEPTH).contains(&depth) {
            return Err(QueueError::Depth {
                depth,
                max: MAX_DEPTH,
            });
        }
        let state = State {
            samples: Deque::new(),
            events: Deque::new(),
            next_order: 0,
            evicted_samples: 0,
            evicted_events: 0,
        };
        Ok(Self {
            depth,
            label: label.into(),
            state: Mutex::new(RefCell::new(state)),
            send_failed: AtomicU32::new(0),
            warned_full: AtomicBool::new(false),
            consumer: OnceLock::new(),
        })
    }

    /// Queues a message, evicting per the module rules when full; never blocks beyond the
    /// short critical section. Wakes the consumer.
    pub fn push(&self, timestamp_us: u64, message: Message) -> Option<Eviction> {
        // The RefCell is only borrowed inside this closure, which does not re-enter the
        // queue, so borrow_mut cannot find it already borrowed.
        let evicted = self
            .state
            .lock(|s| s.borrow_mut().push(self.depth, timestamp_us, message));
        if evicted.is_some() && !self.warned_full.swap(true, Ordering::Relaxed) {
            // Once per queue: the counters in every Sample carry the rest.
            log::warn!(
                "telemetry queue for {} is full ({} frames); dropping, counted in Sample.drops",
                self.label,
                self.depth
            );
        }
        self.wake();
        evicted
    }

    /// The oldest frame, if any.
    pub fn pop(&self) -> Option<Queued> {
        self.state.lock(|s| s.borrow_mut().pop())
    }

    /// Frames queued now.
    pub fn len(&self) -> usize {
        self.state.lock(|s| s.borrow().len())
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The sink URL this queue feeds.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Counts one frame the transport failed to send.
    pub fn count_send_failed(&self) {
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .send_failed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(1))
            });
    }

    /// Cumulative counters of this queue and its sink.
    pub fn drops(&self) -> TelemetryDrops {
        let (samples, events) = self.state.lock(|s| {
            let s = s.borrow();
            (s.evicted_samples, s.evicted_events)
        });
        TelemetryDrops {
            samples,
            events,
            send_failed: self.send_failed.load(Ordering::Relaxed),
        }
    }

    /// Registers the thread that [`push`](Self::push) wakes; the first registration wins.
    pub fn set_consumer(&self, thread: Thread) -> bool {
        self.consumer.set(thread).is_ok()
    }

    /// Wakes the consumer (a no-op before one registered: it drains before parking).
    pub fn wake(&self) {
        if let Some(t) = self.consumer.get() {
            t.unpark();
        }
    }
}

impl std::fmt::Debug for TelemetryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryQueue")
            .field("label", &self.label)
            .field("depth", &self.depth)
            .field("len", &self.len())
            .field("drops", &self.drops())
            .finish()
    }
}
