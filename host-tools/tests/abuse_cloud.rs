//! Attacks on `msao-host cloud` (the real binary on 127.0.0.1) and on the agent's cloud
//! client (a hostile server inside the test): oversized bodies, slowloris, too many
//! connections, SIGTERM with connections held, an endless answer. Each test bounds its own
//! time (liveness limits only) and counts; memory is the peak RSS (`VmHWM`) after
//! resetting it (`/proc/PID/clear_refs`).
//!
//! Needs `libonnxruntime.so` and the models (`scripts/setup.sh`).

use msao_agent::host::oip::wire::{ModelMetadataBody, ServerMetadata};
use msao_agent::host::oip::{
    CloudClient, CloudConfig, CloudError, CloudFaultKind, DataType, InferTensor, ModelMetadata,
    TensorFormat, TensorSpec,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// A running `msao-host cloud`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_msao-host"))
        .args([
            "cloud",
            "--listen",
            "127.0.0.1:0",
            "--quiet",
            "--workers",
            "1",
        ])
        .arg("--models")
        .arg(models_dir())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{first}"))
        .parse()
        .unwrap();
    Server { child, addr }
}

/// One kibibyte-rounded line of `/proc/PID/status`, in bytes.
fn status_kib(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Resets the peak RSS of `pid` to its current RSS.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// The whole answer on `s` until the server closes (or the read timeout passes).
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /v2/health/ready` on a fresh connection: the status line.
fn health(addr: SocketAddr) -> String {
    let mut s = connect(addr);
    s.write_all(b"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_all(&mut s).lines().next().unwrap_or("").to_owned()
}

const FORTY_MB: usize = 40_000_000;

#[test]
fn an_oversized_declared_body_is_refused_at_once_naming_the_limit() {
    let srv = server(&[]);
    for (model, binary) in [
        ("vqa-cloud", false),
        ("vqa-cloud-dense", true),
        ("vqa-full", false),
    ] {
        let mut s = connect(srv.addr);
        let extra = if binary {
            "Inference-Header-Content-Length: 100\r\n"
        } else {
            ""
        };
        // Headers only: the answer must come without a byte of the body.
        write!(
            s,
            "POST /v2/models/{model}/infer HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n{extra}Content-Length: {FORTY_MB}\r\n\r\n"
        )
        .unwrap();
        let answer = read_all(&mut s);
        assert!(answer.starts_with("HTTP/1.1 413"), "{model}: {answer}");
        assert!(answer.contains(&format!("{FORTY_MB} bytes")), "{answer}");
        assert!(answer.contains("-byte limit of model"), "{answer}");
        assert!(answer.contains(model), "{answer}");
    }
    assert_eq!(health(srv.addr), "HTTP/1.1 200 OK");
}

#[test]
fn oversized_chunked_bodies_are_cut_off_and_memory_stays_bounded() {
    let srv = server(&[]);
    assert_eq!(health(srv.addr), "HTTP/1.1 200 OK");
    let pid = srv.child.id();
    reset_peak(pid);
    let base = status_kib(pid, "VmHWM:");
    // Three at once, as the attack that took 3.5 GB did; each sends 40 MB of one JSON array.
    let senders: Vec<_> = (0..3)
        .map(|_| {
            let addr = srv.addr;
            std::thread::spawn(move || {
                let mut s = connect(addr);
                let mut reader = s.try_clone().unwrap();
                let answer = std::thread::spawn(move || read_all(&mut reader));
                let head = "POST /v2/models/vqa-cloud/infer HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                let mut sent = 0usize;
                let chunk = vec![b'1'; 64 * 1024];
                let ok = s.write_all(head.as_bytes()).is_ok()
                    && s.write_all(b"7\r\n{\"in\":[\r\n").is_ok();
                while ok && sent < FORTY_MB {
                    let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                    if s.write_all(&framed).is_err() {
                        break;
                    }
                    sent += chunk.len();
                }
                let _ = s.shutdown(std::net::Shutdown::Write);
                (sent, answer.join().unwrap())
            })
        })
        .collect();
    for t in senders {
        let (sent, answer) = t.join().unwrap();
        // The server answers 413 and closes; a client still writing may see the reset
        // before it reads the answer, but then it cannot have sent the whole body.
        assert!(
            answer.starts_with("HTTP/1.1 413") || sent < FORTY_MB,
            "sent {sent}: {answer}"
        );
        if !answer.is_empty() {
            assert!(
                answer.contains("-byte limit of model `vqa-cloud`"),
                "{answer}"
            );
        }
    }
    let grown = status_kib(pid, "VmHWM:").saturating_sub(base);
    // One body buffered whole would be 40 MB; its parse far more.
    assert!(grown < 24 << 20, "peak RSS grew {grown} bytes");
    assert_eq!(health(srv.addr), "HTTP/1.1 200 OK");
}

#[test]
fn a_slowloris_client_is_closed_after_the_header_timeout_and_health_answers_meanwhile() {
    let srv = server(&["--header-timeout", "2s", "--idle-timeout", "60s"]);
    let mut slow = connect(srv.addr);
    slow.write_all(b"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let start = Instant::now();
    let mut trickle = slow.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        // One header byte every 200 ms, never the blank line; at most 60 (12 s).
        for _ in 0..60 {
            if trickle.write_all(b"X").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let mut answered = 0;
    let reader = std::thread::spawn(move || {
        let got = read_all(&mut slow);
        (got, start.elapsed())
    });
    while !reader.is_finished() && start.elapsed() < Duration::from_secs(15) {
        assert_eq!(health(srv.addr), "HTTP/1.1 200 OK");
        answered += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let (got, after) = reader.join().unwrap();
    writer.join().unwrap();
    assert!(
        !got.contains("200 OK"),
        "the slow request was never served: {got}"
    );
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(10),
        "closed after {after:?}"
    );
    assert!(answered >= 2, "health answered {answered} times meanwhile");
}

#[test]
fn connections_beyond_the_cap_are_closed_cleanly_and_idle_ones_time_out() {
    let srv = server(&["--max-connections", "4", "--idle-timeout", "3s"]);
    // Each held connection is known to the server once its request was answered.
    let held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(srv.addr);
            s.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            s
        })
        .collect();
    let start = Instant::now();
    for i in 0..8 {
        let mut extra = connect(srv.addr);
        let _ = extra.write_all(b"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\n\r\n");
        let got = read_all(&mut extra);
        assert!(
            got.is_empty(),
            "connection {i} beyond the cap was served: {got}"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "refusals were not at once"
    );
    let mut srv = srv;
    assert!(srv.child.try_wait().unwrap().is_none(), "the server died");
    // The held ones are idle: the server closes them, and then serves again.
    for mut s in held {
        let got = read_all(&mut s);
        assert!(got.is_empty(), "{got}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "idle connections kept"
    );
    assert_eq!(health(srv.addr), "HTTP/1.1 200 OK");
}

#[test]
fn sigterm_with_connections_held_exits_0_within_the_grace_period() {
    let mut srv = server(&["--shutdown-grace", "2s", "--header-timeout", "60s"]);
    // One idle keep-alive connection, one in the middle of its headers.
    let mut idle = connect(srv.addr);
    idle.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    assert!(idle.read(&mut buf).unwrap() > 0);
    let mut partial = connect(srv.addr);
    partial
        .write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(s) = srv.child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(read_all(&mut idle), "");
    assert_eq!(read_all(&mut partial), "");
}

// ---- the agent's client against a hostile server ----

fn fake_metadata() -> ModelMetadata {
    let spec = |name: &str, shape: &[i64]| TensorSpec {
        name: name.into(),
        datatype: DataType::F32,
        shape: shape.to_vec(),
    };
    ModelMetadata {
        name: "m".into(),
        versions: vec!["1".into()],
        platform: "fake".into(),
        inputs: vec![spec("question", &[1, 4])],
        outputs: vec![spec("logits", &[1, 13])],
    }
}

/// How the fake server answers `POST …/infer`.
#[derive(Clone, Copy)]
enum Infer {
    /// A chunked body that never ends.
    Endless,
    /// `Content-Length` of 4 GiB, then the same endless bytes.
    Declared,
    /// `429` with `Retry-After: 1`.
    Busy,
}

/// Serves the control routes right and `infer` as `mode`; counts the bytes it wrote.
async fn fake_server(mode: Infer, written: Arc<AtomicU64>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let written = Arc::clone(&written);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: headers, then the body by Content-Length.
                    let end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut b = [0u8; 4096];
                        match s.read(&mut b).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&b[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < end + len {
                        let mut b = [0u8; 4096];
                        match s.read(&mut b).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&b[..n]),
                        }
                    }
                    buf.drain(..end + len);
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let json = |body: String| {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let reply = match path.as_str() {
                        "/v2" => json(
                            serde_json::to_string(&ServerMetadata {
                                name: "hostile".into(),
                                version: "1".into(),
                                extensions: vec![],
                            })
                            .unwrap(),
                        ),
                        "/v2/models/m" => json(
                            serde_json::to_string(&ModelMetadataBody::from_metadata(
                                &fake_metadata(),
                            ))
                            .unwrap(),
                        ),
                        p if p.ends_with("/ready") => json(String::new()),
                        _ => {
                            let head = match mode {
                                Infer::Busy => {
                                    let body = r#"{"error":"busy: all sessions are running"}"#;
                                    let r = format!(
                                        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                                        body.len()
                                    );
                                    let _ = s.write_all(r.as_bytes()).await;
                                    continue;
                                }
                                Infer::Endless => "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
                                Infer::Declared => format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", 4u64 << 30),
                            };
                            if s.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let piece = vec![b' '; 64 * 1024];
                            let chunked = matches!(mode, Infer::Endless);
                            let framed = if chunked {
                                [format!("{:x}\r\n", piece.len()).as_bytes(), &piece, b"\r\n"]
                                    .concat()
                            } else {
                                piece
                            };
                            // Up to 4 GiB, or until the client hangs up.
                            for _ in 0..(1u64 << 16) {
                                if s.write_all(&framed).await.is_err() {
                                    return;
                                }
                                written.fetch_add(framed.len() as u64, Ordering::Relaxed);
                            }
                            return;
                        }
                    };
                    if s.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn fake_client(addr: SocketAddr) -> CloudClient {
    CloudClient::new(&CloudConfig {
        url: format!("http://{addr}"),
        model: "m".into(),
        tensor_format: TensorFormat::Json,
        ..CloudConfig::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_stops_an_endless_answer_at_its_cap_and_reports_the_fault() {
    let me = std::process::id();
    for mode in [Infer::Endless, Infer::Declared] {
        let written = Arc::new(AtomicU64::new(0));
        let addr = fake_server(mode, Arc::clone(&written)).await;
        let client = fake_client(addr);
        client.connect().await.unwrap();
        reset_peak(me);
        let base = status_kib(me, "VmHWM:");
        let question = InferTensor::f32("question", vec![1, 4], vec![0.0; 4]);
        let start = Instant::now();
        let e = client
            .infer(vec![question], Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(e, CloudError::TooLarge { .. }), "{e}");
        assert_eq!(e.kind(), CloudFaultKind::Malformed);
        assert!(e.to_string().contains("cap of an infer answer"), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not stopped at the cap"
        );
        let grown = status_kib(me, "VmHWM:").saturating_sub(base);
        assert!(grown < 32 << 20, "peak RSS grew {grown} bytes");
        // The server got to write little more than the cap and the socket buffers.
        let w = written.load(Ordering::Relaxed);
        assert!(w < 64 << 20, "{w} bytes written before the client hung up");
    }
}

/// A 429 is a `busy` fault, and its `Retry-After: 1` opens the client's breaker for about
/// that second (the agent's retry time is set to a minute here, so only the header can
/// explain a breaker closed again after a second and a half).
#[tokio::test]
async fn a_429_is_a_busy_fault_and_its_retry_after_is_honoured() {
    let addr = fake_server(Infer::Busy, Arc::new(AtomicU64::new(0))).await;
    let client = fake_client(addr).retry_after(Duration::from_secs(60));
    assert!(!client.is_open());
    let question = InferTensor::f32("question", vec![1, 4], vec![0.0; 4]);
    let e = client
        .infer(vec![question], Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), CloudFaultKind::Busy, "{e}");
    assert_eq!(e.kind().name(), "busy");
    assert!(e.to_string().contains("429"), "{e}");
    assert!(client.is_open(), "the server asked for a second's rest");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!client.is_open(), "Retry-After: 1, not the 60 s retry time");
}
