//! Control requests as an attacker on the same network sends them, against the real
//! `msao-agent` binary holding a control key, on loopback UDP: spoofed unsigned requests,
//! requests signed with another key, a replayed signed request, one for another agent run,
//! and a flood of correctly signed ones. Only what the key holder asked is profiled, once,
//! and the flood is answered `busy` beyond the queue instead of piling up. A long profile
//! stops at the key holder's `ProfileCancel` (and not at a forged one), and a batch whose
//! memory, measured at batch 1, is beyond the agent's share is refused before it runs.
//!
//! Needs `libonnxruntime.so` in `.cache/onnxruntime` and the models (`scripts/setup.sh`):
//! the profiles run Silero VAD, the smallest installed model, and MiniLM.

use msao::{
    Decoder, Event, frame,
    header::FrameHeader,
    message::{Message, ProfileCancel, ProfileRequest, truncated},
    sign::ControlKey,
};
use std::{
    net::{SocketAddr, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_msao-agent");
const KEY_HEX: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
/// How long the agent's answers are awaited (a liveness bound on a loaded 2-core box).
const PATIENCE: Duration = Duration::from_secs(60);

struct Agent(Child);
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What the agent sent, decoded with the key: Hellos give its run's boot id.
struct Host {
    socket: UdpSocket,
    decoder: Decoder,
    agent: Option<SocketAddr>,
    boot_id: [u8; 4],
    seen: Vec<Message>,
}

impl Host {
    fn recv_for(&mut self, wait: Duration) {
        let end = Instant::now() + wait;
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            let Ok((n, from)) = self.socket.recv_from(&mut buf) else {
                continue;
            };
            self.agent = Some(from);
            let mut input = &buf[..n];
            while let Some(event) = self.decoder.push(&mut input) {
                if let Event::Frame(f) = event {
                    self.boot_id = f.header.boot_id;
                    self.seen.push(f.message);
                }
            }
            self.decoder.end_datagram();
        }
    }

    /// Waits until `done` holds for what was seen, or [`PATIENCE`] passes.
    fn until(&mut self, done: impl Fn(&[Message]) -> bool) {
        let end = Instant::now() + PATIENCE;
        while !done(&self.seen) && Instant::now() < end {
            self.recv_for(Duration::from_millis(200));
        }
    }

    fn send(&self, request: &Message, key: Option<&ControlKey>, host_boot: [u8; 4], ts: u64) {
        let mut buf = [0u8; frame::MAX_FRAME];
        let h = FrameHeader::new(host_boot, 0, ts);
        let wire = match key {
            Some(k) => frame::encode_signed(&h, request, k, &mut buf).unwrap(),
            None => frame::encode(&h, request, &mut buf).unwrap(),
        };
        self.socket.send_to(wire, self.agent.unwrap()).unwrap();
    }
}

fn request(id: u32, target: [u8; 4]) -> Message {
    Message::ProfileRequest(ProfileRequest {
        request_id: id,
        target_boot_id: target,
        model: Some(truncated("silero-vad")),
        provider: None,
        precision: None,
        batch: 1,
        warmup: 1,
        iterations: 5,
    })
}

fn results_for(seen: &[Message], id: u32) -> usize {
    seen.iter()
        .filter(|m| matches!(m, Message::ProfileResult(r) if r.request_id == Some(id)))
        .count()
}

fn fault_for(seen: &[Message], id: u32) -> Option<String> {
    let prefix = format!("profile {id}:");
    seen.iter().find_map(|m| match m {
        Message::Fault(f) if f.message.starts_with(&prefix) => Some(f.message.to_string()),
        _ => None,
    })
}

/// Starts the agent holding the key (with `config` as its config file, if any) and waits
/// for its first `Hello`.
fn start(config: Option<&Path>) -> (Agent, Host) {
    let key = ControlKey::from_hex(KEY_HEX).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let url = format!("udp://{}", socket.local_addr().unwrap());
    let mut cmd = Command::new(BIN);
    if let Some(path) = config {
        cmd.arg("--config").arg(path);
    }
    let agent = Agent(
        cmd.env("MSAO_CONTROL_KEY", KEY_HEX)
            .args(["--device-id", "abuse-control", "--telemetry", &url])
            .args(["--sample-interval", "50ms", "--hello-interval", "200ms"])
            .arg("--sysfs-root")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linux-x86"))
            .env(
                "MSAO_ORT_LIB",
                repo().join(".cache/onnxruntime/libonnxruntime.so"),
            )
            .env("MSAO_MODELS_DIR", repo().join("models"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut host = Host {
        socket,
        decoder: Decoder::with_key(key),
        agent: None,
        boot_id: [0; 4],
        seen: Vec::new(),
    };
    host.until(|seen| seen.iter().any(|m| matches!(m, Message::Hello(_))));
    assert!(host.agent.is_some(), "no Hello from the agent");
    (agent, host)
}

/// Peak resident memory of a running process (`VmHWM`), KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    msao_agent::profile::memory::parse_status_kib(&status, "VmHWM:").unwrap()
}

#[test]
fn only_signed_fresh_requests_for_this_run_are_served_and_floods_are_answered_busy() {
    let key = ControlKey::from_hex(KEY_HEX).unwrap();
    let (_agent, mut host) = start(None);
    let me = host.boot_id;

    // Spoofed: unsigned, signed with another key, for another agent run.
    let other = ControlKey::new(&[0x5c; 32]).unwrap();
    host.send(&request(1, me), None, [1; 4], 1);
    host.send(&request(2, me), Some(&other), [1; 4], 2);
    host.send(&request(3, [0xee; 4]), Some(&key), [1; 4], 3);
    // The key holder's request, then the very same bytes again (a replay).
    host.send(&request(4, me), Some(&key), [2; 4], 10);
    host.send(&request(4, me), Some(&key), [2; 4], 10);
    host.until(|seen| {
        results_for(seen, 4) >= 1 && seen.iter().any(|m| matches!(m, Message::Capability(_)))
    });
    host.recv_for(Duration::from_secs(2));
    let served = results_for(&host.seen, 4);
    assert!(served >= 1, "the signed request was not served");
    for id in [1, 2, 3] {
        assert_eq!(results_for(&host.seen, id), 0, "request {id} was served");
    }
    let capabilities = host
        .seen
        .iter()
        .filter(|m| matches!(m, Message::Capability(_)))
        .count();
    assert_eq!(capabilities, 1, "the replay was served too");
    // The capability announces the pipeline the agent serves, with its label count.
    let announced = host
        .seen
        .iter()
        .find_map(|m| match m {
            Message::Capability(c) => c.pipeline.clone(),
            _ => None,
        })
        .expect("the capability names the pipeline");
    assert_eq!(
        (announced.name.as_str(), announced.labels),
        ("easy-vqa", 13)
    );
    assert_ne!(announced.fingerprint, [0; 8]);

    // A flood of correctly signed requests: the queue (2) plus the running one are
    // served, the rest answered busy at once.
    for (i, id) in (100..130).enumerate() {
        host.send(&request(id, me), Some(&key), [3; 4], 100 + i as u64);
    }
    host.until(|seen| {
        (100..130).all(|id| results_for(seen, id) > 0 || fault_for(seen, id).is_some())
    });
    let busy = (100..130)
        .filter(|id| fault_for(&host.seen, *id).is_some_and(|f| f.contains("busy")))
        .count();
    let answered = (100..130)
        .filter(|id| results_for(&host.seen, *id) > 0)
        .count();
    assert!(
        busy >= 20,
        "only {busy} of 30 flooded requests were refused busy"
    );
    assert!(
        (1..=10).contains(&answered),
        "{answered} flooded requests were profiled"
    );
    assert_eq!(busy + answered, 30, "every flooded request got an answer");
}

fn minilm(id: u32, target: [u8; 4], batch: u16, iterations: u32) -> Message {
    Message::ProfileRequest(ProfileRequest {
        request_id: id,
        target_boot_id: target,
        model: Some(truncated("minilm-l6")),
        provider: None,
        precision: Some(msao::message::Precision::Fp32),
        batch,
        warmup: 0,
        iterations,
    })
}

fn cancel(id: u32, target: [u8; 4]) -> Message {
    Message::ProfileCancel(ProfileCancel {
        request_id: id,
        target_boot_id: target,
    })
}

#[test]
fn a_long_profile_stops_at_the_key_holders_cancel_only() {
    let key = ControlKey::from_hex(KEY_HEX).unwrap();
    let other = ControlKey::new(&[0x5c; 32]).unwrap();
    let (_agent, mut host) = start(None);
    let me = host.boot_id;
    // 10,000 MiniLM runs: minutes of CPU on this box, well past PATIENCE.
    host.send(&minilm(7, me, 1, 10_000), Some(&key), [4; 4], 10);
    host.recv_for(Duration::from_secs(2));
    // Forged and unsigned cancels change nothing; the key holder's (a later timestamp of
    // the same host run) stops the profile before its next run.
    host.send(&cancel(7, me), Some(&other), [4; 4], 11);
    host.send(&cancel(7, me), None, [4; 4], 12);
    host.recv_for(Duration::from_secs(1));
    assert_eq!(fault_for(&host.seen, 7), None, "stopped by a forged cancel");
    host.send(&cancel(7, me), Some(&key), [4; 4], 13);
    host.until(|seen| fault_for(seen, 7).is_some());
    let fault = fault_for(&host.seen, 7).expect("no answer to the cancel");
    assert!(
        fault.starts_with("profile 7: cancelled by the host after "),
        "{fault}"
    );
    assert_eq!(results_for(&host.seen, 7), 0);
    // The agent serves the next request as usual.
    host.send(&request(8, me), Some(&key), [4; 4], 14);
    host.until(|seen| results_for(seen, 8) > 0);
    assert!(
        results_for(&host.seen, 8) > 0,
        "no profile after the cancel"
    );
}

#[test]
fn a_batch_beyond_the_memory_share_is_refused_before_it_runs() {
    let key = ControlKey::from_hex(KEY_HEX).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    // Batch 4096 passes max_batch; 0.1 % of the available memory is far below what MiniLM
    // needs at batch 4096 (1.85 GB measured).
    std::fs::write(
        &config,
        "[control]\nmax_batch = 4096\nmax_memory_share = 0.001\n",
    )
    .unwrap();
    let (agent, mut host) = start(Some(&config));
    let me = host.boot_id;
    host.send(&minilm(9, me, 4096, 1), Some(&key), [5; 4], 10);
    host.until(|seen| fault_for(seen, 9).is_some());
    let fault = fault_for(&host.seen, 9).expect("no answer to the batch");
    assert!(
        fault.starts_with("profile 9: batch 4096 needs ~") && fault.contains("max_memory_share"),
        "{fault}"
    );
    assert_eq!(results_for(&host.seen, 9), 0);
    // Refused from one run at batch 1: the agent never held the batch. Bound: a quarter of
    // what batch 4096 took; the agent with MiniLM loaded measured well under it.
    let peak = peak_rss_kib(agent.0.id());
    assert!(peak < 460 * 1024, "peak RSS {peak} KiB");
    // Batch 1 is not checked (nothing to scale) and still served.
    host.send(&minilm(10, me, 1, 2), Some(&key), [5; 4], 11);
    host.until(|seen| results_for(seen, 10) > 0);
    assert!(results_for(&host.seen, 10) > 0, "batch 1 was not served");
}
