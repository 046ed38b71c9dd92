//! Shutdown under load: the real `msao-agent` binary, running a workload (and, in half the
//! runs, a profile requested over its UDP link), gets SIGTERM and must exit 0 every time —
//! the threads that run ONNX Runtime sessions are joined before the runtime is torn down.
//!
//! Needs `libonnxruntime.so` in `.cache/onnxruntime` and the models (`scripts/setup.sh`);
//! the workload is made here from the golden fixture frames.

mod common;

use msao::{
    Decoder, Event, frame,
    header::FrameHeader,
    message::{Message, ProfileRequest},
    sign::ControlKey,
};
use std::{
    io::{BufRead, BufReader},
    net::UdpSocket,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_msao-agent");
/// Agent runs: half stopped during the workload, half during a profile (1 in 8 crashed).
const RUNS: usize = 16;
/// Liveness bound on one run's start and on its exit after SIGTERM (a loaded 2-core box).
const BOUND: Duration = Duration::from_secs(120);
/// The control key the agent gets by environment and the requests are signed with.
const KEY_HEX: &str = "0f0e0d0c0b0a090807060504030201000f0e0d0c0b0a09080706050403020100";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn config(dir: &Path) -> PathBuf {
    let repo = repo();
    let workload = dir.join("workload");
    std::fs::create_dir_all(&workload).unwrap();
    // 2,000 requests at 20 fps: far longer than any run lasts before its SIGTERM.
    common::golden_workload(&workload, 2_000);
    let path = dir.join("agent.toml");
    let text = format!(
        "[runtime]\nonnxruntime = \"{}\"\nmodels_dir = \"{}\"\n\
         [workload]\ndir = \"{}\"\nfps = 20.0\n\
         [offload]\npolicy = \"edge-only\"\nthreshold = 0.5\n\
         [control]\nmax_iterations = 1000000\n",
        repo.join(".cache/onnxruntime/libonnxruntime.so").display(),
        repo.join("models").display(),
        workload.display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Lines of the agent's log, read on a thread so the pipe never fills.
fn log_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a log line containing `needle`; the lines seen so far on failure.
fn wait_for(log: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let end = Instant::now() + BOUND;
    while Instant::now() < end {
        if let Ok(line) = log.recv_timeout(Duration::from_millis(200)) {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return;
            }
        }
    }
    panic!("no `{needle}` in the agent's log: {seen:#?}");
}

fn profile_request(target_boot_id: [u8; 4]) -> Message {
    Message::ProfileRequest(ProfileRequest {
        request_id: 41,
        target_boot_id,
        model: None,
        provider: None,
        precision: None,
        batch: 1,
        warmup: 5,
        // Far more than can finish before the signal: the profile is in flight at SIGTERM.
        iterations: 1_000_000,
    })
}

fn one_run(run: usize, cfg: &Path) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(BOUND)).unwrap();
    let url = format!("udp://{}", socket.local_addr().unwrap());
    let mut child = Command::new(BIN)
        .env("MSAO_CONTROL_KEY", KEY_HEX)
        .arg("--config")
        .arg(cfg)
        .args(["--device-id", "abuse", "--telemetry", &url])
        .args(["--sample-interval", "50ms"])
        .arg("--sysfs-root")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linux-x86"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = log_lines(&mut child);
    let mut seen = Vec::new();
    // The first frame gives the agent's address; the workload is running once it logs.
    let mut buf = [0u8; 2048];
    let (n, agent) = socket.recv_from(&mut buf).unwrap();
    let mut first = &buf[..n];
    let boot_id = match Decoder::new().push(&mut first) {
        Some(Event::Frame(f)) => f.header.boot_id,
        other => panic!("run {run}: the agent's first datagram: {other:?}"),
    };
    wait_for(&log, "requests, policy", &mut seen);
    if run % 2 == 1 {
        let mut wire = [0u8; frame::MAX_FRAME];
        let key = ControlKey::from_hex(KEY_HEX).unwrap();
        let n = frame::encode_signed(
            &FrameHeader::new([0xab; 4], 0, 1),
            &profile_request(boot_id),
            &key,
            &mut wire,
        )
        .unwrap()
        .len();
        socket.send_to(&wire[..n], agent).unwrap();
        wait_for(&log, "profile request 41", &mut seen);
        // Into the model loads and runs (not a timing claim: any moment must be safe).
        std::thread::sleep(Duration::from_millis(50 * (run as u64 % 8)));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let end = Instant::now() + BOUND;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("run {run}: the agent did not exit after SIGTERM: {seen:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    seen.extend(log.try_iter());
    assert_eq!(
        status.code(),
        Some(0),
        "run {run}: {status}; log: {seen:#?}"
    );
    assert!(
        !seen.iter().any(|l| l.contains("not implemented")),
        "run {run}: a session was used after teardown: {seen:#?}"
    );
}

#[test]
fn sigterm_during_a_workload_or_a_profile_always_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    for run in 0..RUNS {
        one_run(run, &cfg);
    }
}
