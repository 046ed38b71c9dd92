//! End to end with real processes: `msao-agent` streams to `msao-host listen --json` over
//! UDP and TCP on loopback; the host prints what the agent sent; SIGTERM stops the agent
//! cleanly.

use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// The workspace's binaries, built on demand (they belong to other packages, so cargo
/// does not build them for this package's tests).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>")
        .to_path_buf();
    let path = dir.join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "msao-agent", "-p", "msao-host"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
    }
    assert!(path.exists(), "{} missing after build", path.display());
    path
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let s = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// Spawns the host listener and a thread forwarding its stdout lines.
fn listen(url: &str) -> (Killed, mpsc::Receiver<String>) {
    let mut child = Command::new(binary("msao-host"))
        .args(["listen", url, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn msao-host");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Killed(child), rx)
}

/// The control key of the profiling test (hex), given to both binaries by environment.
const KEY_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

fn agent(url: &str, device: &str) -> Child {
    agent_keyed(url, device, None)
}

/// An agent streaming to `url`; with `key`, it holds that control key.
fn agent_keyed(url: &str, device: &str, key: Option<&str>) -> Child {
    let mut cmd = Command::new(binary("msao-agent"));
    match key {
        Some(k) => cmd.env("MSAO_CONTROL_KEY", k),
        None => cmd.env_remove("MSAO_CONTROL_KEY"),
    };
    cmd.args([
        "--device-id",
        device,
        "--telemetry",
        url,
        "--sample-interval",
        "50ms",
        "--hello-interval",
        "300ms",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::inherit())
    .spawn()
    .expect("spawn msao-agent")
}

/// Reads JSON lines until `hellos` Hello and `samples` Sample frames from `device` arrived.
fn expect_frames(rx: &mpsc::Receiver<String>, device: &str, samples: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let (mut n_hello, mut n_sample) = (0, 0);
    while (n_hello == 0 || n_sample < samples) && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
        assert!(v["type"].is_string(), "every line has a type: {line}");
        if v["device"] == device {
            match v["type"].as_str() {
                Some("hello") => n_hello += 1,
                Some("sample") => n_sample += 1,
                _ => {}
            }
        }
        seen.push(v);
    }
    assert!(
        n_hello >= 1,
        "no hello from {device}; got {} lines",
        seen.len()
    );
    assert!(n_sample >= samples, "only {n_sample} samples from {device}");
    seen
}

fn stop_cleanly(mut agent: Child) {
    let pid = agent.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = agent.try_wait().expect("wait") {
            assert!(status.success(), "agent exited with {status} on SIGTERM");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "agent did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_sample_content(frames: &[Value], device: &str) {
    let hello = frames
        .iter()
        .find(|v| v["type"] == "hello" && v["device"] == device)
        .expect("hello");
    assert_eq!(hello["data"]["device_id"], device);
    let cores = hello["data"]["hardware"]["cpu_cores"]
        .as_u64()
        .expect("cpu_cores");
    assert!(cores >= 1);
    let samples: Vec<&Value> = frames
        .iter()
        .filter(|v| v["type"] == "sample" && v["device"] == device)
        .collect();
    let last = samples.last().expect("a sample");
    let data = &last["data"];
    // Real readings of this machine: memory is always readable on Linux.
    let used = data["mem_used_kib"]
        .as_u64()
        .expect("mem_used_kib readable");
    let total = data["mem_total_kib"]
        .as_u64()
        .expect("mem_total_kib readable");
    assert!(used > 0 && used <= total, "mem {used}/{total}");
    assert_eq!(data["cores"].as_array().map(Vec::len), Some(cores as usize));
    // No Jetson GPU here: unsupported is null, not zero.
    if !std::path::Path::new("/sys/devices/platform/gpu.0/load").exists() {
        assert!(
            data["gpu_load_pm"].is_null(),
            "GPU load must be unsupported, got {}",
            data["gpu_load_pm"]
        );
    }
    // Sequence numbers of this stream increase.
    let seqs: Vec<u64> = frames
        .iter()
        .filter(|v| v["device"] == device)
        .filter_map(|v| v["seq"].as_u64())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "seq not increasing: {seqs:?}"
    );
}

#[test]
fn agent_streams_to_host_over_udp() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let (_host, rx) = listen(&url);
    std::thread::sleep(Duration::from_millis(300));
    let agent = agent(&url, "e2e-udp");
    let frames = expect_frames(&rx, "e2e-udp", 5);
    check_sample_content(&frames, "e2e-udp");
    stop_cleanly(agent);
}

#[test]
fn agent_streams_to_host_over_tcp() {
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let (_host, rx) = listen(&url);
    std::thread::sleep(Duration::from_millis(300));
    let agent = agent(&url, "e2e-tcp");
    let frames = expect_frames(&rx, "e2e-tcp", 5);
    check_sample_content(&frames, "e2e-tcp");
    stop_cleanly(agent);
}

/// `msao-host profile --agent` asks a real agent over its telemetry link; the agent
/// profiles its installed models (Silero VAD, on ONNX Runtime; needs `scripts/setup.sh`)
/// and the host writes the capability document.
#[test]
fn host_profiles_a_running_agent_over_its_telemetry_link() {
    let url = format!("udp://127.0.0.1:{}", free_port());
    let dir = std::env::temp_dir().join(format!("msao-e2e-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let doc_path = dir.join("capability.json");
    let host = Command::new(binary("msao-host"))
        .args([
            "profile",
            "--agent",
            &url,
            "--device",
            "e2e-profile",
            "--model",
            "silero-vad",
        ])
        .args([
            "--warmup",
            "5",
            "--iterations",
            "50",
            "--wait",
            "30s",
            "--timeout",
            "120s",
        ])
        .arg("--out")
        .arg(&doc_path)
        .env("MSAO_CONTROL_KEY", KEY_HEX)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn msao-host profile");
    std::thread::sleep(Duration::from_millis(300));
    let agent = agent_keyed(&url, "e2e-profile", Some(KEY_HEX));
    let output = host.wait_with_output().expect("host output");
    stop_cleanly(agent);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "host failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("=== Performance summary: silero-vad · cpu · fp32 · batch 1 ==="),
        "{stdout}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&doc_path).expect("document"))
        .expect("document is JSON");
    assert_eq!(doc["format"], "msao-capability");
    assert_eq!(doc["device"]["device_id"], "e2e-profile");
    assert_eq!(doc["software"]["onnxruntime"], "1.31.1");
    let perf = doc["performance"].as_array().expect("performance");
    assert_eq!(perf.len(), 2, "fp32 and fp16 Silero VAD: {perf:?}");
    for p in perf {
        assert_eq!(p["iterations"], 50);
        let l = &p["latency_ms"];
        let (p50, p99, max) = (
            l["p50"].as_f64().unwrap(),
            l["p99"].as_f64().unwrap(),
            l["max"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{l}");
        // Energy exists exactly when the machine reports power rails (RAPL, INA3221).
        let has_rails = !doc["hardware"]["power_rails"]
            .as_array()
            .is_none_or(Vec::is_empty);
        let energy = &p["energy_mj_per_inference"];
        if has_rails {
            assert!(
                energy.as_f64().is_some_and(|e| e > 0.0),
                "rails but no energy: {energy}"
            );
        } else {
            assert!(
                energy.is_null(),
                "no rails here: energy must be null, got {energy}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
