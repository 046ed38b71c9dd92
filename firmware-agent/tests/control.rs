//! The control thread's contract: results numbered and tagged with the request id, a
//! Capability after every reply, a Fault naming the request when nothing can be measured
//! or the request is beyond the limits; and the inbox's: only admitted requests pass
//! (signed, fresh, for this agent run), a full queue answers `busy`.

use msao::message::*;
use msao::sign::ControlKey;
use msao_agent::{
    clock::Clock,
    config::ProfileLimits,
    control::{self, ControlAuth, LinkKind, ProfileService},
    telemetry::{Bus, Inbox, Incoming, Replies, Requests, TelemetryQueue, request_queue},
};
use std::sync::Arc;

/// This agent run's boot id in these tests.
const ME: [u8; 4] = [7, 7, 7, 7];

/// A stand-in for the ONNX Runtime profiler (test only): `n` results, or an error.
struct Scripted {
    results: Result<u16, String>,
}

fn result(model: &str) -> ProfileResult {
    ProfileResult {
        request_id: None,
        index: 0,
        total: 0,
        model: truncated(model),
        provider: ExecProvider::Cpu,
        precision: Precision::Fp32,
        batch: 1,
        warmup: 1,
        iterations: 2,
        latency: LatencyStats {
            mean_us: 10,
            p50_us: 10,
            p90_us: 11,
            p95_us: 12,
            p99_us: 13,
            min_us: 9,
            max_us: 14,
        },
        throughput_milli: 100_000,
        peak_mem_kib: None,
        energy_uj: None,
        power_mode: None,
        temp_start_cdeg: None,
        temp_end_cdeg: None,
        background: false,
    }
}

impl ProfileService for Scripted {
    fn plan(&mut self, _: &ProfileRequest) -> Result<u16, String> {
        self.results.clone()
    }
    fn profile(
        &mut self,
        _: &ProfileRequest,
        emit: &mut dyn FnMut(ProfileResult, u16),
        _: &dyn Fn() -> bool,
    ) -> Result<u16, String> {
        let n = self.results.clone()?;
        for i in 0..n {
            emit(result(&format!("model-{i}")), i);
        }
        Ok(n)
    }
    fn capability(&mut self) -> Capability {
        Capability {
            device_id: truncated("dev"),
            hardware: HardwareSummary {
                board: truncated("b"),
                cpu_model: truncated("c"),
                cpu_cores: 1,
                mem_total_kib: None,
                gpu: None,
                thermal_zones: heapless::Vec::new(),
                rails: heapless::Vec::new(),
            },
            cpu_max_mhz: None,
            gpu: GpuFacts {
                compute_capability: None,
                sm_count: None,
                mem_kib: None,
                max_freq_mhz: None,
            },
            power_modes: heapless::Vec::new(),
            power_mode: None,
            software: SoftwareVersions {
                l4t: None,
                cuda: None,
                tensorrt: None,
                onnxruntime: None,
                kernel: None,
            },
            providers: heapless::Vec::new(),
            pipeline: None,
        }
    }
}

fn request(id: u32) -> ProfileRequest {
    ProfileRequest {
        request_id: id,
        target_boot_id: ME,
        model: None,
        provider: None,
        precision: None,
        batch: 1,
        warmup: 1,
        iterations: 2,
    }
}

/// [`control::serve`] with a fresh clock, never cancelled.
fn serve(
    req: &ProfileRequest,
    service: &mut dyn ProfileService,
    bus: &Bus,
    limits: &ProfileLimits,
    background: bool,
) {
    let context = control::Context {
        bus,
        clock: Clock::start(),
        limits,
        background,
        cancelled: &|| false,
    };
    control::serve(req, service, &context);
}

fn published(queue: &TelemetryQueue) -> Vec<Message> {
    std::iter::from_fn(|| queue.pop())
        .map(|q| q.message)
        .collect()
}

#[test]
fn results_are_numbered_then_capability_follows() {
    let queue = Arc::new(TelemetryQueue::new(64, "test").unwrap());
    let bus = Bus::new(vec![Arc::clone(&queue)]);
    serve(
        &request(9),
        &mut Scripted { results: Ok(3) },
        &bus,
        &ProfileLimits::default(),
        true,
    );
    let msgs = published(&queue);
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    for (i, m) in msgs[..3].iter().enumerate() {
        let Message::ProfileResult(r) = m else {
            panic!("{m:?}")
        };
        assert_eq!((r.request_id, r.index, r.total), (Some(9), i as u16, 3));
        assert!(
            r.background,
            "the result says it ran at background priority"
        );
    }
    assert!(matches!(msgs[3], Message::Capability(_)));
}

#[test]
fn a_request_that_cannot_be_served_gets_a_fault_naming_it() {
    let queue = Arc::new(TelemetryQueue::new(64, "test").unwrap());
    let bus = Bus::new(vec![Arc::clone(&queue)]);
    let mut service = Scripted {
        results: Err("no model named `nope`".into()),
    };
    let limits = ProfileLimits::default();
    serve(&request(12), &mut service, &bus, &limits, false);
    let msgs = published(&queue);
    let Message::Fault(f) = &msgs[0] else {
        panic!("{msgs:?}")
    };
    assert_eq!(f.code, FaultCode::Model as u16);
    assert!(
        f.message.starts_with("profile 12: no model named `nope`"),
        "{}",
        f.message
    );
    assert!(matches!(msgs.last(), Some(Message::Capability(_))));
}

#[test]
fn requests_beyond_the_limits_get_a_fault_naming_the_limit() {
    let limits = ProfileLimits::default();
    for (req, key) in [
        (
            ProfileRequest {
                iterations: 1_000_000,
                ..request(20)
            },
            "max_iterations",
        ),
        (
            ProfileRequest {
                warmup: 1_000_000,
                ..request(21)
            },
            "max_warmup",
        ),
        (
            ProfileRequest {
                batch: 4096,
                ..request(22)
            },
            "max_batch",
        ),
    ] {
        let queue = Arc::new(TelemetryQueue::new(64, "test").unwrap());
        let bus = Bus::new(vec![Arc::clone(&queue)]);
        let mut service = Scripted { results: Ok(3) };
        serve(&req, &mut service, &bus, &limits, false);
        let msgs = published(&queue);
        assert!(
            !msgs.iter().any(|m| matches!(m, Message::ProfileResult(_))),
            "nothing is measured: {msgs:?}"
        );
        let Message::Fault(f) = &msgs[0] else {
            panic!("{msgs:?}")
        };
        let prefix = format!("profile {}:", req.request_id);
        assert!(
            f.message.starts_with(&prefix) && f.message.contains(key),
            "{}",
            f.message
        );
    }
}

#[test]
fn control_thread_serves_requests_from_the_inbox_channel() {
    let queue = Arc::new(TelemetryQueue::new(64, "test").unwrap());
    let bus = Bus::new(vec![Arc::clone(&queue)]);
    let (tx, rx) = request_queue(2);
    let handle = control::spawn(
        rx,
        Box::new(Scripted { results: Ok(2) }),
        bus,
        Clock::start(),
        ProfileLimits::default(),
    )
    .unwrap();
    tx.try_send(Incoming {
        sink: 0,
        request: request(1),
    })
    .unwrap();
    tx.try_send(Incoming {
        sink: 0,
        request: request(2),
    })
    .unwrap();
    drop(tx);
    handle.join().unwrap();
    let ids: Vec<Option<u32>> = published(&queue)
        .iter()
        .filter_map(|m| {
            if let Message::ProfileResult(r) = m {
                Some(r.request_id)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ids, [Some(1), Some(1), Some(2), Some(2)]);
}

struct Null(msao::transport::Endpoint);
impl msao::transport::FrameSink for Null {
    fn send_frame(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn endpoint(&self) -> &msao::transport::Endpoint {
        &self.0
    }
}

/// A frame as a host run `host_boot` sends it at `ts`, signed when `key` is given.
fn wire(m: &Message, key: Option<&ControlKey>, host_boot: [u8; 4], ts: u64) -> Vec<u8> {
    use msao::{FrameHeader, frame};
    let mut buf = [0u8; frame::MAX_FRAME];
    let h = FrameHeader::new(host_boot, 0, ts);
    match key {
        Some(k) => frame::encode_signed(&h, m, k, &mut buf).unwrap().to_vec(),
        None => frame::encode(&h, m, &mut buf).unwrap().to_vec(),
    }
}

/// An inbox on `url` with `auth`, its request channel of `queue`, and the queue its
/// `busy` faults go to.
fn inbox(
    url: &str,
    auth: ControlAuth,
    queue: usize,
) -> (Inbox, Requests, Arc<TelemetryQueue>, Null) {
    let sink = Null(url.parse().unwrap());
    let faults = Arc::new(TelemetryQueue::new(64, "test").unwrap());
    let (tx, rx) = request_queue(queue);
    let replies = Replies {
        bus: Bus::new(vec![Arc::clone(&faults)]),
        clock: Clock::start(),
    };
    let link = LinkKind::of(&sink.0);
    (
        Inbox::new(3, tx, Arc::new(auth), link, replies),
        rx,
        faults,
        sink,
    )
}

#[test]
fn inbox_forwards_requests_and_counts_the_rest() {
    // A serial line without a key takes unsigned requests (physical access).
    let (mut inbox, rx, _, sink) = inbox(
        "serial:///dev/ttyTHS1?baud=115200",
        ControlAuth::new(None, ME, true),
        2,
    );
    let mut bytes = wire(&Message::ProfileRequest(request(5)), None, [1; 4], 1);
    bytes.extend(wire(
        &Message::Fault(Fault::new(1, "echo")),
        None,
        [1; 4],
        2,
    ));
    bytes.extend_from_slice(&[0x05, 0x01, 0x00]); // garbage frame
    inbox.feed(&bytes, &sink);
    assert_eq!(
        rx.rx.try_recv().unwrap(),
        Incoming {
            sink: 3,
            request: request(5)
        }
    );
    let s = inbox.stats();
    assert_eq!((s.requests, s.unexpected, s.dropped), (1, 1, 1));
}

#[test]
fn network_requests_need_the_key_and_are_taken_once() {
    let key = ControlKey::new(&[0x11; 32]).unwrap();
    let req = Message::ProfileRequest(request(6));
    // No key on the agent: a network link refuses even a signed request.
    let (mut open, rx, _, sink) = inbox("udp://127.0.0.1:9", ControlAuth::new(None, ME, true), 2);
    open.feed(&wire(&req, None, [1; 4], 1), &sink);
    assert!(rx.rx.try_recv().is_err());
    assert_eq!(open.stats().refused, 1);

    let (mut inbox, rx, _, sink) = inbox(
        "tcp://127.0.0.1:9",
        ControlAuth::new(Some(key.clone()), ME, true),
        2,
    );
    // Unsigned, signed with another key, for another agent run: none passes.
    inbox.feed(&wire(&req, None, [1; 4], 1), &sink);
    let other = ControlKey::new(&[0x22; 32]).unwrap();
    inbox.feed(&wire(&req, Some(&other), [1; 4], 2), &sink);
    let elsewhere = Message::ProfileRequest(ProfileRequest {
        target_boot_id: [0; 4],
        ..request(6)
    });
    inbox.feed(&wire(&elsewhere, Some(&key), [1; 4], 3), &sink);
    assert!(rx.rx.try_recv().is_err());
    let s = inbox.stats();
    assert_eq!((s.refused, s.forged), (2, 1), "{s:?}");

    // Signed for this run: taken once; the same bytes again are a replay.
    let good = wire(&req, Some(&key), [1; 4], 10);
    inbox.feed(&good, &sink);
    inbox.feed(&good, &sink);
    assert_eq!(rx.rx.try_recv().unwrap().request, request(6));
    assert!(rx.rx.try_recv().is_err());
    assert_eq!(inbox.stats().refused, 3);
}

#[test]
fn a_full_queue_is_answered_busy() {
    let key = ControlKey::new(&[0x11; 32]).unwrap();
    let (mut inbox, rx, faults, sink) = inbox(
        "udp://127.0.0.1:9",
        ControlAuth::new(Some(key.clone()), ME, true),
        1,
    );
    for (i, ts) in [(30, 1), (31, 2)] {
        inbox.feed(
            &wire(&Message::ProfileRequest(request(i)), Some(&key), [1; 4], ts),
            &sink,
        );
    }
    assert_eq!(rx.rx.try_recv().unwrap().request.request_id, 30);
    assert!(rx.rx.try_recv().is_err());
    assert_eq!(inbox.stats().busy, 1);
    let msgs = published(&faults);
    let Some(Message::Fault(f)) = msgs.first() else {
        panic!("{msgs:?}")
    };
    assert!(f.message.starts_with("profile 31: busy"), "{}", f.message);
}

#[test]
fn a_serial_line_can_be_closed_to_unsigned_requests() {
    let auth = ControlAuth::new(None, ME, false);
    let (mut inbox, rx, _, sink) = inbox("serial:///dev/ttyS0?baud=9600", auth, 2);
    inbox.feed(
        &wire(&Message::ProfileRequest(request(1)), None, [1; 4], 1),
        &sink,
    );
    assert!(rx.rx.try_recv().is_err());
    assert_eq!(inbox.stats().refused, 1);
}

/// Over UDP each read is one datagram: a cut one (no terminator) costs only itself, and
/// the signed request in the next datagram is taken.
#[test]
fn a_cut_datagram_does_not_spoil_the_next_request() {
    struct Datagrams(msao::transport::Endpoint, Vec<Vec<u8>>);
    impl msao::transport::FrameSink for Datagrams {
        fn send_frame(&mut self, _: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn poll_incoming(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1.is_empty() {
                return Ok(0);
            }
            let d = self.1.remove(0);
            buf[..d.len()].copy_from_slice(&d);
            Ok(d.len())
        }
        fn endpoint(&self) -> &msao::transport::Endpoint {
            &self.0
        }
    }
    let key = ControlKey::new(&[0x11; 32]).unwrap();
    let (inbox, rx, _, _) = inbox(
        "udp://127.0.0.1:9",
        ControlAuth::new(Some(key.clone()), ME, true),
        2,
    );
    let mut inbox = inbox.datagrams(true);
    let good = wire(&Message::ProfileRequest(request(8)), Some(&key), [1; 4], 1);
    let cut = good[..good.len() / 2].to_vec();
    let mut sink = Datagrams("udp://127.0.0.1:9".parse().unwrap(), vec![cut, good]);
    inbox.poll(&mut sink, true);
    assert_eq!(rx.rx.try_recv().unwrap().request.request_id, 8);
    assert_eq!(inbox.stats().dropped, 1, "{:?}", inbox.stats());
}

/// A profiler stand-in (test only) that measures until `cancelled` says stop, at most
/// `runs` results.
struct UntilCancelled {
    runs: u16,
    calls: Arc<std::sync::atomic::AtomicU16>,
}

impl ProfileService for UntilCancelled {
    fn plan(&mut self, _: &ProfileRequest) -> Result<u16, String> {
        Ok(self.runs)
    }
    fn profile(
        &mut self,
        _: &ProfileRequest,
        emit: &mut dyn FnMut(ProfileResult, u16),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<u16, String> {
        use std::sync::atomic::Ordering;
        for i in 0..self.runs {
            if cancelled() {
                return Err(format!("cancelled by the host after {i} runs"));
            }
            emit(result(&format!("model-{i}")), i);
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
        Ok(self.runs)
    }
    fn capability(&mut self) -> Capability {
        Scripted { results: Ok(0) }.capability()
    }
}

#[test]
fn a_cancel_admitted_by_the_inbox_stops_the_running_profile() {
    use std::sync::atomic::{AtomicU16, Ordering};
    let key = ControlKey::new(&[0x11; 32]).unwrap();
    let (mut inbox, requests, _, sink) = inbox(
        "udp://127.0.0.1:9",
        ControlAuth::new(Some(key.clone()), ME, true),
        2,
    );
    inbox.feed(
        &wire(&Message::ProfileRequest(request(40)), Some(&key), [1; 4], 1),
        &sink,
    );
    let cancel = |id, key: Option<&ControlKey>, ts| {
        let m = Message::ProfileCancel(ProfileCancel {
            request_id: id,
            target_boot_id: ME,
        });
        wire(&m, key, [1; 4], ts)
    };
    // Unsigned, then for another agent run: refused, nothing cancelled.
    inbox.feed(&cancel(40, None, 2), &sink);
    let other = Message::ProfileCancel(ProfileCancel {
        request_id: 40,
        target_boot_id: [9; 4],
    });
    inbox.feed(&wire(&other, Some(&key), [1; 4], 3), &sink);
    assert_eq!((inbox.stats().refused, inbox.stats().cancels), (2, 0));
    assert!(!requests.cancels.is_cancelled(40));

    // The service runs until told to stop; the signed cancel arrives after 3 results.
    let queue = Arc::new(TelemetryQueue::new(64, "test").unwrap());
    let bus = Bus::new(vec![Arc::clone(&queue)]);
    let calls = Arc::new(AtomicU16::new(0));
    let incoming = requests.rx.try_recv().unwrap();
    let cancels = Arc::clone(&requests.cancels);
    let seen = Arc::clone(&calls);
    let cancelled = move || {
        if seen.load(Ordering::SeqCst) == 3 {
            inbox.feed(&cancel(40, Some(&key), 4), &sink);
        }
        cancels.is_cancelled(40)
    };
    let cancelled = std::cell::RefCell::new(cancelled);
    let check = || (cancelled.borrow_mut())();
    let context = control::Context {
        bus: &bus,
        clock: Clock::start(),
        limits: &ProfileLimits::default(),
        background: false,
        cancelled: &check,
    };
    let mut service = UntilCancelled {
        runs: 100,
        calls: Arc::clone(&calls),
    };
    control::serve(&incoming.request, &mut service, &context);
    let msgs = published(&queue);
    let results = msgs
        .iter()
        .filter(|m| matches!(m, Message::ProfileResult(_)))
        .count();
    assert_eq!(results, 3, "{msgs:?}");
    let Some(Message::Fault(f)) = msgs.get(3) else {
        panic!("{msgs:?}")
    };
    assert_eq!(f.message, "profile 40: cancelled by the host after 3 runs");
    assert!(
        matches!(msgs.get(4), Some(Message::Capability(_))),
        "{msgs:?}"
    );
}

#[test]
fn a_request_cancelled_while_queued_never_starts() {
    let queue = Arc::new(TelemetryQueue::new(64, "test").unwrap());
    let bus = Bus::new(vec![Arc::clone(&queue)]);
    let (tx, rx) = request_queue(2);
    for id in [1, 2] {
        tx.try_send(Incoming {
            sink: 0,
            request: request(id),
        })
        .unwrap();
    }
    tx.cancel(2);
    drop(tx);
    let service = UntilCancelled {
        runs: 2,
        calls: Arc::default(),
    };
    let handle = control::spawn(
        rx,
        Box::new(service),
        bus,
        Clock::start(),
        ProfileLimits::default(),
    )
    .unwrap();
    handle.join().unwrap();
    let msgs = published(&queue);
    let ids: Vec<Option<u32>> = msgs
        .iter()
        .filter_map(|m| match m {
            Message::ProfileResult(r) => Some(r.request_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [Some(1), Some(1)], "{msgs:?}");
    let faults: Vec<&str> = msgs
        .iter()
        .filter_map(|m| match m {
            Message::Fault(f) => Some(f.message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        faults,
        ["profile 2: cancelled by the host before it started"]
    );
}
