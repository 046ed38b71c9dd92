//! The control thread's contract: results numbered and tagged with the request id, a
//! Capability after every reply, a Fault naming the request when nothing can be measured.

use msao::message::*;
use msao_agent::{
    clock::Clock,
    control::{self, ProfileService},
    telemetry::{Bus, Inbox, Incoming, TelemetryQueue},
};
use std::sync::{Arc, mpsc};

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
        }
    }
}

fn request(id: u32) -> ProfileRequest {
    ProfileRequest {
        request_id: id,
        model: None,
        provider: None,
        precision: None,
        batch: 1,
        warmup: 1,
        iterations: 2,
    }
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
    control::serve(
        &request(9),
        &mut Scripted { results: Ok(3) },
        &bus,
        Clock::start(),
    );
    let msgs = published(&queue);
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    for (i, m) in msgs[..3].iter().enumerate() {
        let Message::ProfileResult(r) = m else {
            panic!("{m:?}")
        };
        assert_eq!((r.request_id, r.index, r.total), (Some(9), i as u16, 3));
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
    control::serve(&request(12), &mut service, &bus, Clock::start());
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
fn control_thread_serves_requests_from_the_inbox_channel() {
    let queue = Arc::new(TelemetryQueue::new(64, "test").unwrap());
    let bus = Bus::new(vec![Arc::clone(&queue)]);
    let (tx, rx) = mpsc::channel();
    let handle = control::spawn(
        rx,
        Box::new(Scripted { results: Ok(2) }),
        bus,
        Clock::start(),
    )
    .unwrap();
    tx.send(Incoming {
        sink: 0,
        request: request(1),
    })
    .unwrap();
    tx.send(Incoming {
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

#[test]
fn inbox_forwards_requests_and_counts_the_rest() {
    use msao::{FrameHeader, frame};
    struct Null(msao::transport::Endpoint);
    impl msao::transport::FrameSink for Null {
        fn send_frame(&mut self, _: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn endpoint(&self) -> &msao::transport::Endpoint {
            &self.0
        }
    }
    let sink = Null("udp://127.0.0.1:9".parse().unwrap());
    let (tx, rx) = mpsc::channel();
    let mut inbox = Inbox::new(3, tx);
    let mut bytes = Vec::new();
    for m in [
        Message::ProfileRequest(request(5)),
        Message::Fault(Fault::new(1, "echo")),
    ] {
        let mut buf = [0u8; frame::MAX_FRAME];
        bytes.extend_from_slice(
            frame::encode(&FrameHeader::new([0; 4], 0, 0), &m, &mut buf).unwrap(),
        );
    }
    bytes.extend_from_slice(&[0x05, 0x01, 0x00]); // garbage frame
    inbox.feed(&bytes, &sink);
    assert_eq!(
        rx.try_recv().unwrap(),
        Incoming {
            sink: 3,
            request: request(5)
        }
    );
    let s = inbox.stats();
    assert_eq!((s.requests, s.unexpected, s.dropped), (1, 1, 1));
}
