//! `msao-host profile --agent URL` against the agent's real telemetry pipeline and control
//! thread on loopback UDP and TCP: Hello → ProfileRequest back on the link → results and
//! Capability → capability document, signed with the control key both ways. The profiler
//! behind the control thread is scripted here (test only); the real one is exercised by the
//! end-to-end test in `tests/`.

mod common;

use msao::message::*;
use msao::sign::ControlKey;
use msao_agent::{
    clock::Clock,
    config::ProfileLimits,
    control::{self, ControlAuth, ProfileService},
    telemetry::{Control, Telemetry},
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
        _: &dyn Fn() -> bool,
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

/// The key both sides hold in these tests, as hex.
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A key file (mode 600) holding `hex`, in `dir`.
fn key_file(dir: &std::path::Path, hex: &str) -> String {
    let path = dir.join("control.key");
    std::fs::write(&path, hex).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs an agent (telemetry + control thread) with the control key `hex`, streaming to
/// `url` until `stop`.
fn agent(
    url: &str,
    service: impl ProfileService + 'static,
    stop: Arc<AtomicBool>,
    hex: &str,
) -> std::thread::JoinHandle<()> {
    let endpoint: msao::transport::Endpoint = url.parse().unwrap();
    let key = ControlKey::from_hex(hex).unwrap();
    std::thread::spawn(move || {
        let clock = Clock::start();
        let control = Control {
            auth: Arc::new(ControlAuth::new(Some(key), [1, 2, 3, 4], true)),
            queue: 2,
        };
        let mut telemetry = Telemetry::start(&[endpoint], 64, clock, &control).unwrap();
        let requests = telemetry.take_requests().unwrap();
        let bus = telemetry.bus().clone();
        let limits = ProfileLimits::default();
        let _control = control::spawn(requests, Box::new(service), bus, clock, limits).unwrap();
        let hello = vector("hello");
        while !stop.load(Ordering::Relaxed) {
            telemetry.publish(clock.now_us(), &hello);
            std::thread::sleep(Duration::from_millis(100));
        }
        telemetry.finish(Duration::from_millis(200));
    })
}

/// Runs `msao-host profile --agent URL --key-file (the test key) ARGS…` on a thread, then
/// an agent holding `agent_key` on `url` with `service`; returns what the host returned.
fn profile_against_agent(
    url: &str,
    args: &[&str],
    service: impl ProfileService + 'static,
    agent_key: &str,
) -> (anyhow::Result<()>, String, String) {
    profile_with_decoy(url, args, service, agent_key, None)
}

/// [`profile_against_agent`], and, when `decoy` is given, that frame sent to the host from
/// another UDP socket before the agent starts (a replayed `Hello`).
fn profile_with_decoy(
    url: &str,
    args: &[&str],
    service: impl ProfileService + 'static,
    agent_key: &str,
    decoy: Option<Vec<u8>>,
) -> (anyhow::Result<()>, String, String) {
    let stop = Arc::new(AtomicBool::new(false));
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), KEY_HEX);
    let argv: Vec<String> = ["profile", "--agent", url, "--key-file", &key]
        .iter()
        .chain(args)
        .map(|a| a.to_string())
        .collect();
    // The host binds first; the agent's TCP sink reconnects until it is there anyway.
    let host = std::thread::spawn(move || {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        common::run(&argv)
    });
    std::thread::sleep(Duration::from_millis(200));
    let _decoy = decoy.map(|frame| {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .send_to(&frame, url.trim_start_matches("udp://"))
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        socket
    });
    let agent = agent(url, service, Arc::clone(&stop), agent_key);
    let returned = host.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    agent.join().unwrap();
    returned
}

fn round_trip(scheme: &str) {
    let url = format!("{scheme}://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("cap.json");
    let args = [
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
    ];
    let (result, out, err) = profile_against_agent(&url, &args, Scripted(Ok(3)), KEY_HEX);
    result.unwrap_or_else(|e| panic!("{e:#}\n{err}"));
    assert!(
        out.contains("=== Performance summary: model-2 · tensorrt · int8 · batch 1 ==="),
        "{out}"
    );
    assert!(out.contains("Timed: 7 iterations"), "{out}");
    let doc = msao_host::capability::CapabilityDoc::read(&out_file).unwrap();
    assert_eq!(doc.device.device_id, "orin-nano-07");
    assert_eq!(doc.performance.len(), 3);
    let pipeline = doc
        .pipeline
        .as_ref()
        .expect("the vector's capability names a pipeline");
    assert_eq!(
        (
            pipeline.name.as_str(),
            pipeline.fingerprint.as_str(),
            pipeline.labels
        ),
        ("easy-vqa", "5e1f0b9a33c4702d", 13)
    );
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
    let service = Scripted(Err("no model named `nope`".into()));
    let args = ["--model", "nope", "--timeout", "20s"];
    let (result, _out, _err) = profile_against_agent(&url, &args, service, KEY_HEX);
    let err = format!("{:#}", result.unwrap_err());
    assert!(
        err.contains("the agent could not profile: no model named `nope`"),
        "{err}"
    );
}

#[test]
fn no_agent_is_a_clear_error_after_the_wait() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), KEY_HEX);
    let args = [
        "profile",
        "--agent",
        &url,
        "--wait",
        "300ms",
        "--key-file",
        &key,
    ];
    let (result, _out, _err) = common::run(&args);
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains("no signed Hello from any agent"), "{err}");
}

#[test]
fn without_a_key_a_network_profile_is_refused_at_once() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let (result, _out, _err) = common::run(&["profile", "--agent", &url, "--wait", "10s"]);
    let err = format!("{:#}", result.unwrap_err());
    assert!(
        err.contains("no control key") && err.contains("MSAO_CONTROL_KEY"),
        "{err}"
    );
}

/// An agent holding another key: its frames are not trusted, so the host never sends it
/// a request and says why.
#[test]
fn an_agent_with_another_key_is_not_trusted() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let other = "ff".repeat(32);
    let (result, _out, _err) =
        profile_against_agent(&url, &["--wait", "2s"], Scripted(Ok(3)), &other);
    let err = format!("{:#}", result.unwrap_err());
    assert!(
        err.contains("no signed Hello") && err.contains("not signed with this key"),
        "{err}"
    );
}

/// A profile that runs until the host cancels it (test only).
struct UntilCancelled;

impl ProfileService for UntilCancelled {
    fn plan(&mut self, _: &ProfileRequest) -> Result<u16, String> {
        Ok(1)
    }
    fn profile(
        &mut self,
        _: &ProfileRequest,
        _: &mut dyn FnMut(ProfileResult, u16),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<u16, String> {
        for runs in 0.. {
            if cancelled() {
                return Err(format!("cancelled by the host after {runs} runs"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        unreachable!()
    }
    fn capability(&mut self) -> Capability {
        Scripted(Ok(0)).capability()
    }
}

/// Out of `--timeout`, the host cancels its request and the agent confirms.
#[test]
fn a_host_out_of_time_cancels_its_request() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let args = ["--wait", "20s", "--timeout", "1s"];
    let (result, _out, err) = profile_against_agent(&url, &args, UntilCancelled, KEY_HEX);
    let e = format!("{:#}", result.unwrap_err());
    assert!(
        e.contains("did not finish within 1s") && e.contains("the agent cancelled request"),
        "{e}\n{err}"
    );
}

/// A signed `Hello` of the agent run, replayed from another address before the agent is
/// heard: the host sends its request to both, so the real agent still answers.
#[test]
fn a_replayed_hello_from_elsewhere_does_not_divert_the_request() {
    use msao::{FrameHeader, frame};
    let url = format!("udp://127.0.0.1:{}", free_port());
    let key = ControlKey::from_hex(KEY_HEX).unwrap();
    let mut buf = [0u8; frame::MAX_FRAME];
    // The agent in these tests runs under boot id 01020304 (see `agent`).
    let header = FrameHeader::new([1, 2, 3, 4], 0, 1);
    let replayed = frame::encode_signed(&header, &vector("hello"), &key, &mut buf)
        .unwrap()
        .to_vec();
    let args = ["--wait", "20s", "--timeout", "20s"];
    let (result, out, err) =
        profile_with_decoy(&url, &args, Scripted(Ok(2)), KEY_HEX, Some(replayed));
    result.unwrap_or_else(|e| panic!("{e:#}\n{err}"));
    assert!(out.contains("model-1"), "{out}");
}
