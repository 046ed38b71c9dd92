//! Queue semantics: bound, drop-oldest for samples, events kept in preference, counters,
//! order.

use msao::message::{Fault, Message, Sample, TelemetryDrops};
use msao_agent::{
    system::{LinuxReader, SystemReader},
    telemetry::{Bus, Eviction, MAX_DEPTH, QueueError, TelemetryQueue},
};
use std::sync::Arc;

mod common;

fn sample() -> Sample {
    LinuxReader::new(common::fixture("linux-x86")).sample()
}

fn s() -> Message {
    Message::Sample(sample())
}

fn ev(text: &str) -> Message {
    Message::Fault(Fault::new(2, text))
}

/// (timestamp, kind) of everything left, in pop order.
fn drain(q: &TelemetryQueue) -> Vec<(u64, &'static str)> {
    std::iter::from_fn(|| q.pop())
        .map(|f| (f.timestamp_us, f.message.kind()))
        .collect()
}

fn drops(samples: u32, events: u32, send_failed: u32) -> TelemetryDrops {
    TelemetryDrops {
        samples,
        events,
        send_failed,
    }
}

#[test]
fn depth_is_bounded() {
    assert_eq!(
        TelemetryQueue::new(0, "x").unwrap_err(),
        QueueError::Depth {
            depth: 0,
            max: MAX_DEPTH
        }
    );
    assert!(TelemetryQueue::new(MAX_DEPTH + 1, "x").is_err());
    assert!(TelemetryQueue::new(MAX_DEPTH, "x").is_ok());
}

#[test]
fn keeps_push_order_across_kinds() {
    let q = TelemetryQueue::new(8, "x").unwrap();
    for (t, m) in [(1, s()), (2, ev("a")), (3, s()), (4, s()), (5, ev("b"))] {
        assert_eq!(q.push(t, m), None);
    }
    assert_eq!(q.len(), 5);
    assert_eq!(
        drain(&q),
        [
            (1, "sample"),
            (2, "fault"),
            (3, "sample"),
            (4, "sample"),
            (5, "fault")
        ]
    );
    assert!(q.is_empty());
    assert_eq!(q.drops(), drops(0, 0, 0));
}

#[test]
fn full_of_samples_drops_the_oldest_sample() {
    let q = TelemetryQueue::new(3, "x").unwrap();
    for t in 1..=3 {
        q.push(t, s());
    }
    assert_eq!(q.push(4, s()), Some(Eviction::OldestSample));
    assert_eq!(q.push(5, s()), Some(Eviction::OldestSample));
    assert_eq!(q.len(), 3);
    assert_eq!(drain(&q), [(3, "sample"), (4, "sample"), (5, "sample")]);
    assert_eq!(q.drops(), drops(2, 0, 0));
}

#[test]
fn an_event_evicts_a_sample_before_any_event() {
    let q = TelemetryQueue::new(3, "x").unwrap();
    q.push(1, ev("a"));
    q.push(2, s());
    q.push(3, ev("b"));
    assert_eq!(q.push(4, ev("c")), Some(Eviction::OldestSample));
    assert_eq!(q.push(5, ev("d")), Some(Eviction::OldestEvent));
    assert_eq!(drain(&q), [(3, "fault"), (4, "fault"), (5, "fault")]);
    assert_eq!(q.drops(), drops(1, 1, 0));
}

#[test]
fn a_sample_never_evicts_an_event() {
    let q = TelemetryQueue::new(2, "x").unwrap();
    q.push(1, ev("a"));
    q.push(2, ev("b"));
    assert_eq!(q.push(3, s()), Some(Eviction::NewSample));
    assert_eq!(drain(&q), [(1, "fault"), (2, "fault")]);
    assert_eq!(q.drops(), drops(1, 0, 0));
}

#[test]
fn oldest_sample_goes_even_when_events_are_older() {
    let q = TelemetryQueue::new(3, "x").unwrap();
    q.push(1, ev("a"));
    q.push(2, s());
    q.push(3, s());
    assert_eq!(q.push(4, s()), Some(Eviction::OldestSample));
    assert_eq!(drain(&q), [(1, "fault"), (3, "sample"), (4, "sample")]);
}

#[test]
fn messages_come_out_unchanged() {
    let q = TelemetryQueue::new(2, "x").unwrap();
    let m = s();
    q.push(7, m.clone());
    q.push(8, ev("kept"));
    assert_eq!(q.pop().map(|f| f.message), Some(m));
    assert_eq!(q.pop().map(|f| f.message), Some(ev("kept")));
    assert_eq!(q.pop(), None);
}

#[test]
fn bus_publishes_everywhere_and_sums_counters() {
    let a = Arc::new(TelemetryQueue::new(1, "a").unwrap());
    let b = Arc::new(TelemetryQueue::new(2, "b").unwrap());
    let bus = Bus::new(vec![Arc::clone(&a), Arc::clone(&b)]);
    bus.publish(1, &s());
    bus.publish(2, &s());
    bus.publish(3, &s());
    bus.publish_except(1, 4, &ev("to a only"));
    b.count_send_failed();
    b.count_send_failed();
    // a (depth 1): 3 samples → 2 evicted, then the event evicts the last sample;
    // b (depth 2): 1 evicted.
    assert_eq!(a.drops(), drops(3, 0, 0));
    assert_eq!(b.drops(), drops(1, 0, 2));
    assert_eq!(bus.drops(), drops(4, 0, 2));
    assert_eq!(drain(&a), [(4, "fault")]);
    assert_eq!(drain(&b), [(2, "sample"), (3, "sample")]);
}
