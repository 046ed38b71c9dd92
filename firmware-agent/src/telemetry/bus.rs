//! Publishing to every sink's queue at once, and the drop counters summed over sinks.

use super::TelemetryQueue;
use msao::message::{Message, TelemetryDrops};
use std::sync::Arc;

/// The producers' handle: one queue per sink. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bus {
    queues: Arc<[Arc<TelemetryQueue>]>,
}

impl Bus {
    /// A bus over these queues (index = sink index).
    pub fn new(queues: Vec<Arc<TelemetryQueue>>) -> Self {
        Self {
            queues: queues.into(),
        }
    }

    /// The queues.
    pub fn queues(&self) -> &[Arc<TelemetryQueue>] {
        &self.queues
    }

    /// Queues `message` for every sink.
    pub fn publish(&self, timestamp_us: u64, message: &Message) {
        for q in self.queues.iter() {
            q.push(timestamp_us, message.clone());
        }
    }

    /// Queues `message` for every sink but `skip` (a failing sink telling the others).
    pub fn publish_except(&self, skip: usize, timestamp_us: u64, message: &Message) {
        for (i, q) in self.queues.iter().enumerate() {
            if i != skip {
                q.push(timestamp_us, message.clone());
            }
        }
    }

    /// Drop counters summed over all sinks, for the next `Sample`.
    pub fn drops(&self) -> TelemetryDrops {
        let zero = TelemetryDrops {
            samples: 0,
            events: 0,
            send_failed: 0,
        };
        self.queues
            .iter()
            .map(|q| q.drops())
            .fold(zero, |a, d| TelemetryDrops {
                samples: a.samples.saturating_add(d.samples),
                events: a.events.saturating_add(d.events),
                send_failed: a.send_failed.saturating_add(d.send_failed),
            })
    }
}
