//! The request API against a client the project did not write: the official `openai`
//! Python package (PyPI, Apache-2.0, pinned in `tests/openai/setup.sh`), plain and
//! streaming, against the running `msao-agent` binary on loopback. `tests/openai/client.py`
//! asks about the golden easy-VQA frames; the answers must be the frames' easy-VQA labels,
//! the streamed text the same as the plain one, and an unknown model the client's
//! `NotFoundError`.
//!
//! Setup: `tests/openai/setup.sh` makes `.cache/openai-venv` (pip, PyPI) unless
//! `MSAO_OPENAI_VENV` names a venv that already imports `openai`. If the install fails
//! (no registry access), the test prints `SKIPPED: …` and passes, unless
//! `MSAO_REQUIRE_OPENAI=1` (as CI sets), which makes that a failure.

mod oip_peer;

use oip_peer::{Install, free_ports, golden_fixtures, installed_or_skip, repo_root};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_msao-agent");

#[test]
fn the_official_openai_client_gets_the_pipelines_answers() {
    let install = Install {
        test: "api_openai",
        dir: "openai",
        venv_env: "MSAO_OPENAI_VENV",
        bin_rel: "bin/python",
        module: "openai",
    };
    let Some(python) = installed_or_skip(install.run(), "openai", "MSAO_REQUIRE_OPENAI") else {
        return;
    };
    let [api, telemetry] = free_ports::<2>();
    let repo = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\nonnxruntime = \"{}\"\nmodels_dir = \"{}\"\n[offload]\npolicy = \"edge-only\"\n",
            repo.join(".cache/onnxruntime/libonnxruntime.so").display(),
            repo.join("models").display(),
        ),
    )
    .unwrap();
    let mut agent = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["--api", &format!("127.0.0.1:{api}")])
        .args(["--telemetry", &format!("udp://127.0.0.1:{telemetry}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{api}/v1");
    // Ready once the health probe says so (the client itself does not retry).
    let started = Instant::now();
    while !std::net::TcpStream::connect(("127.0.0.1", api)).is_ok_and(|mut s| {
        use std::io::{Read, Write};
        let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut r = String::new();
        let _ = s.read_to_string(&mut r);
        r.starts_with("HTTP/1.1 200")
    }) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "agent not ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let cases = [
        ("easyvqa-test-0.png", "what is the red shape?", "triangle"),
        ("easyvqa-test-3.png", "what color is the circle?", "yellow"),
    ];
    for (file, question, expected) in cases {
        let out = Command::new(&python)
            .arg(repo.join("tests/openai/client.py"))
            .arg(&base)
            .arg(golden_fixtures().join(file))
            .arg(question)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "client.py: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let answer = &lines[0];
        assert_eq!(answer["plain"], expected, "{answer}");
        assert_eq!(answer["streamed"], expected, "{answer}");
        assert_eq!(answer["finish_reason"], "stop");
        assert_eq!(answer["source"], "local");
        assert!(answer["request_id"].as_u64().unwrap() >= 1 << 31);
        assert!(answer["chunks"].as_u64().unwrap() >= 2, "{answer}");
        assert_eq!(answer["models"], serde_json::json!(["easy-vqa"]));
        assert_eq!(lines[1]["unknown_model"], 404, "{}", lines[1]);
        assert_eq!(lines[1]["code"], "model_not_found");
    }
    let _ = agent.kill();
    let _ = agent.wait();
}
