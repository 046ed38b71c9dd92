//! Hostile request inputs against the real `msao-agent` binary: a decompression-bomb PNG
//! (a few hundred bytes whose header claims 12000 × 12000 pixels, 432 MB decoded) and a
//! 1 MB question, between ordinary requests. Each hostile request gets its one answer
//! (outcome `error`, naming the limit), the others are answered, the run completes, and
//! the agent's peak RSS (VmHWM, polled from `/proc`) stays far below what decoding the
//! bomb would take. The bomb's pixel data is short, so a decoder that trusted the header
//! would fail with a decode error rather than fill 432 MB: the fault naming
//! `max_image_size` is what shows the header was checked first.
//!
//! Needs `libonnxruntime.so` in `.cache/onnxruntime` and the models (`scripts/setup.sh`).

mod common;

use serde_json::Value;
use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_msao-agent");
/// Peak RSS allowed, KiB. Measured here (2026-12-04, x86-64): 133 MiB with the edge models
/// and ONNX Runtime loaded; decoding the bomb alone would add 432 MB (the old agent reached
/// 968 MB), so 384 MiB leaves room for another machine's allocator and still fails a decode.
const RSS_BOUND_KIB: u64 = 384 * 1024;

/// CRC-32 (ISO-HDLC, as PNG chunks use), bitwise.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small real PNG with its IHDR rewritten to claim `w` × `h` (CRC fixed): what a
/// decompression bomb looks like to a decoder that trusts the header.
fn bomb_png(path: &Path, w: u32, h: u32) {
    let mut bytes = Vec::new();
    image::RgbImage::new(8, 8)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    // Signature (8), then IHDR: length (4), "IHDR" (4), width, height, …, CRC.
    assert_eq!(&bytes[12..16], b"IHDR");
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_bomb_image_and_a_huge_question_fail_only_their_own_requests() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("workload");
    std::fs::create_dir_all(&wl).unwrap();
    common::golden_workload(&wl, 4);
    bomb_png(&wl.join("bomb.png"), 12_000, 12_000);
    // Requests 4 (the bomb frame) and 5 (a 1 MB question) after the four ordinary ones.
    let path = wl.join("workload.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["frames"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"index": 2, "file": "bomb.png", "scene": 2}));
    let requests = manifest["requests"].as_array_mut().unwrap();
    requests
        .push(serde_json::json!({"request_id": 4, "frame": 2, "question": "what shape is it?"}));
    requests
        .push(serde_json::json!({"request_id": 5, "frame": 0, "question": "a".repeat(1 << 20)}));
    requests
        .push(serde_json::json!({"request_id": 6, "frame": 1, "question": "what shape is it?"}));
    std::fs::write(&path, manifest.to_string()).unwrap();

    let answers = dir.path().join("answers.jsonl");
    let summary = dir.path().join("summary.json");
    let mut child = Command::new(BIN)
        .env_remove("MSAO_CONTROL_KEY")
        .env(
            "MSAO_ORT_LIB",
            repo.join(".cache/onnxruntime/libonnxruntime.so"),
        )
        .env("MSAO_MODELS_DIR", repo.join("models"))
        .args(["--telemetry", "udp://127.0.0.1:9", "--policy", "edge-only"])
        .args(["--fps", "4"])
        .arg("--workload")
        .arg(&wl)
        .arg("--answers")
        .arg(&answers)
        .arg("--summary")
        .arg(&summary)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(120);
    let mut peak = 0;
    let status = loop {
        if let Some(hwm) = vm_hwm_kib(child.id()) {
            peak = peak.max(hwm);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < end,
            "the agent did not finish its 7 requests"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "agent: {status}");
    assert!(peak > 0, "VmHWM was never read");
    eprintln!("agent peak RSS: {peak} KiB");
    assert!(
        peak < RSS_BOUND_KIB,
        "peak RSS {peak} KiB ≥ the {RSS_BOUND_KIB} KiB bound"
    );

    let lines: Vec<Value> = std::fs::read_to_string(&answers)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7, "one answer per request: {lines:?}");
    let by_id = |id: u64| {
        lines
            .iter()
            .find(|r| r["request_id"] == id)
            .unwrap_or_else(|| panic!("no answer for request {id}"))
    };
    for (id, key) in [(4, "max_image"), (5, "max_question_bytes")] {
        let r = by_id(id);
        assert_eq!(r["source"], "error", "{r}");
        let fault = r["fault"].as_str().unwrap_or_default();
        assert!(fault.contains(key), "request {id}: {fault}");
    }
    for id in [0, 1, 2, 3, 6] {
        assert_eq!(by_id(id)["source"], "local", "{}", by_id(id));
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["limit_faults"]["limits.max_image_size"], 1, "{s}");
    assert_eq!(s["limit_faults"]["limits.max_question_bytes"], 1, "{s}");
}
