//! `msao-host profile --agent URL` against the agent's real telemetry pipeline and control
//! thread on loopback UDP and TCP: Hello → ProfileRequest back on the link → results and
//! Capability → capability document. The profiler behind the control thread is scripted
//! here (test only); the real one is exercised by the end-to-end test in `tests/`.

mod common;

use msao::message::*;
use msao_agent::{
    clock::Clock,
    control::{self, ProfileService},
    telemetry::Telemetry,
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

struct Scripted(Result<u16, String>);

fn vector(name: &str) -> Message {
    let path = format!("{}/../spec/vectors/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(v["message"].clone()).unwrap()
}

impl ProfileService for Scripted {
    fn plan(&mut self, _: &ProfileRequest) -> Result<u16, String> {
        self.0.clone()
    }
    fn profile(
        &mut self,
        req: &ProfileRequest,
        emit: &mut dyn FnMut(ProfileResult, u16),
    ) -> Result<u16, String> {
        let n = self.0.clone()?;
        let Message::ProfileResult(mut r) = vector("profile_result") else {
            unreachable!()
        };
        r.iterations = req.iterations;
        for i in 0..n {
            r.model = truncated(&format!("model-{i}"));
            emit(r.clone(), i);
        }
        Ok(n)
    }
    fn capability(&mut self) -> Capability {
        let Message::Capability(c) = vector("capability") else {
            unreachable!()
        };
        c
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs an agent (telemetry + control thread) streaming to `url` until `stop`.
fn agent(url: &str, service: Scripted, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let endpoint: msao::transport::Endpoint = url.parse().unwrap();
    std::thread::spawn(move || {
        let clock = Clock::start();
        let mut telemetry = Telemetry::start(&[endpoint], 64, clock, [1, 2, 3, 4]).unwrap();
        let requests = telemetry.take_requests().unwrap();
        let _control =
            control::spawn(requests, Box::new(service), telemetry.bus().clone(), clock).unwrap();
        let hello = vector("hello");
        while !stop.load(Ordering::Relaxed) {
            telemetry.publish(clock.now_us(), &hello);
            std::thread::sleep(Duration::from_millis(100));
        }
        telemetry.finish(Duration::from_millis(200));
    })
}

fn round_trip(scheme: &str) {
    let url = format!("{scheme}://127.0.0.1:{}", free_port());
    let stop = Arc::new(AtomicBool::new(false));
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("cap.json");
    // The host binds first; the agent's TCP sink reconnects until it is there anyway.
    let host = {
        let url = url.clone();
        let out_file = out_file.clone();
        std::thread::spawn(move || {
            common::run(&[
                "profile",
                "--agent",
                &url,
                "--device",
                "orin-nano-07",
                "--iterations",
                "7",
                "--wait",
                "20s",
                "--timeout",
                "20s",
                "--out",
                out_file.to_str().unwrap(),
            ])
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let agent = agent(&url, Scripted(Ok(3)), Arc::clone(&stop));
    let (result, out, err) = host.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    agent.join().unwrap();
    result.unwrap_or_else(|e| panic!("{e:#}\n{err}"));
    assert!(
        out.contains("=== Performance summary: model-2 · tensorrt · int8 · batch 1 ==="),
        "{out}"
    );
    assert!(out.contains("Timed: 7 iterations"), "{out}");
    let doc = msao_host::capability::CapabilityDoc::read(&out_file).unwrap();
    assert_eq!(doc.device.device_id, "orin-nano-07");
    assert_eq!(doc.performance.len(), 3);
    assert!(
        doc.source.starts_with(&format!("{scheme}://127.0.0.1:")),
        "{}",
        doc.source
    );
}

#[test]
fn profile_round_trip_over_udp() {
    round_trip("udp");
}

#[test]
fn profile_round_trip_over_tcp() {
    round_trip("tcp");
}

#[test]
fn an_agent_that_cannot_profile_makes_the_host_fail_with_its_reason() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let stop = Arc::new(AtomicBool::new(false));
    let host = {
        let url = url.clone();
        std::thread::spawn(move || {
            common::run(&[
                "profile",
                "--agent",
                &url,
                "--model",
                "nope",
                "--timeout",
                "20s",
            ])
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let agent = agent(
        &url,
        Scripted(Err("no model named `nope`".into())),
        Arc::clone(&stop),
    );
    let (result, _out, _err) = host.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    agent.join().unwrap();
    let err = format!("{:#}", result.unwrap_err());
    assert!(
        err.contains("the agent could not profile: no model named `nope`"),
        "{err}"
    );
}

#[test]
fn no_agent_is_a_clear_error_after_the_wait() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let (result, _out, _err) = common::run(&["profile", "--agent", &url, "--wait", "300ms"]);
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains("no Hello from any agent"), "{err}");
}
