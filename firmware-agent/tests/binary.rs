//! The real `msao-agent` binary: exit codes for bad config and usage, and a short run on a
//! fixture tree streaming to a UDP socket.

use msao::{
    decoder::decode_frame,
    message::{Hello, Message, Sample},
};
use std::{net::UdpSocket, process::Command, time::Duration};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_msao-agent");

#[test]
fn unknown_config_key_exits_2_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, "device_id = \"t\"\n[telemetry]\nsinks = [\"udp://127.0.0.1:9\"]\nsample_intervall = \"1s\"\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("unknown field `sample_intervall`"),
        "{stderr}"
    );
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--sample-interval", "0s"][..],
        &["--telemetry", "udp://nohost"],
        &["--frobnicate"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn streams_hello_and_samples_then_stops_after_duration() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let url = format!("udp://{}", socket.local_addr().unwrap());
    let out = Command::new(BIN)
        .args(["--device-id", "fixture-box", "--telemetry", &url])
        .args([
            "--sample-interval",
            "20ms",
            "--hello-interval",
            "1h",
            "--duration",
            "300ms",
        ])
        .arg("--sysfs-root")
        .arg(common::fixture("linux-x86"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The agent has exited, so everything it sent is waiting in the socket buffer.
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let mut messages = Vec::new();
    while let Ok(n) = socket.recv(&mut buf) {
        let frame = decode_frame(&mut buf[..n - 1]).unwrap();
        messages.push((frame.header.seq, frame.message));
    }
    let seqs: Vec<u32> = messages.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (0..messages.len() as u32).collect::<Vec<_>>(),
        "no gaps, in order"
    );

    let Some((_, Message::Hello(hello))) = messages.first() else {
        panic!("first frame is not Hello: {messages:?}")
    };
    let Hello {
        device_id,
        hardware,
        sample_interval_ms,
        ..
    } = hello;
    assert_eq!(device_id.as_str(), "fixture-box");
    assert_eq!(*sample_interval_ms, 20);
    assert_eq!(hardware.board.as_str(), "ThinkPad X1 Carbon Gen 9");
    assert_eq!(hardware.thermal_zones.len(), 9);

    let samples: Vec<&Sample> = messages
        .iter()
        .filter_map(|(_, m)| {
            if let Message::Sample(s) = m {
                Some(s)
            } else {
                None
            }
        })
        .collect();
    assert!(!samples.is_empty(), "no samples in {messages:?}");
    for s in &samples {
        assert_eq!(s.temps_cdeg[1], Some(4568));
        assert_eq!(s.mem_used_kib, Some(6_426_869));
        assert_eq!(s.cores.len(), 4);
        assert_eq!(s.drops.samples + s.drops.events + s.drops.send_failed, 0);
    }
    let hellos = messages
        .iter()
        .filter(|(_, m)| matches!(m, Message::Hello(_)))
        .count();
    assert_eq!(hellos, 1, "hello_interval 1h: only the start Hello");
}

#[test]
fn sigterm_flushes_and_exits_0() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let url = format!("udp://{}", socket.local_addr().unwrap());
    let mut child = Command::new(BIN)
        .args([
            "--device-id",
            "sigterm",
            "--telemetry",
            &url,
            "--sample-interval",
            "20ms",
        ])
        .arg("--sysfs-root")
        .arg(common::fixture("linux-x86"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The first frame proves the agent runs (and has its signal handler installed).
    let mut buf = [0u8; 2048];
    let n = socket.recv(&mut buf).unwrap();
    let first = decode_frame(&mut buf[..n - 1]).unwrap();
    assert!(matches!(first.message, Message::Hello(_)));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
}
