//! The agent's Open Inference Protocol v2 client (`msao_agent::cloud`) against a second server
//! we did not write: KServe 0.21.0's Python `ModelServer` (Apache-2.0, PyPI `kserve`) serving
//! the cloud model through `tests/kserve/server.py` (the same numpy compact-tensor decoder +
//! onnxruntime as the MLServer peer, `tests/mlserver/vqa_cloud.py`).
//!
//! KServe is the peer that sends `null` for optional fields: its model metadata carries
//! `"versions": null`, which the client once refused ("invalid type: null, expected a
//! sequence"), so every request fell back. Its `GET /v2` lists no `binary_tensor_data`, so
//! `auto` settles on JSON; its REST decodes and answers the binary tensor extension all the
//! same, so both forms are checked.
//!
//! Checked: KServe listens on 127.0.0.1 only (its 0.0.0.0 is wrapped); the raw metadata has
//! `"versions": null` and the client reads it; logits for real compact tensors equal
//! [`CloudHead::run`](msao_agent::brain::CloudHead::run) on the same bytes within 1e-4, same
//! answer, as JSON and as binary; corrupt compact tensors are an HTTP 400 that the client
//! calls a bad request (not a malformed answer), and the server still answers after them;
//! tensors of the wrong datatype or shape are refused by the client without a request; and
//! the agent's offload pipeline (`offload::run`, policy `offload-all`) gets every answer of a
//! small workload from KServe, with no fault.
//!
//! Setup: `tests/kserve/setup.sh` makes `.cache/kserve-venv` (pip, PyPI) unless
//! `MSAO_KSERVE_VENV` names a venv that already imports `kserve`. If the install fails (no
//! registry access), the test prints `SKIPPED: KServe could not be installed: <reason>` and
//! passes, unless `MSAO_REQUIRE_KSERVE=1` (CI sets it), which makes that a failure. Nothing
//! else skips: ONNX Runtime and the MiniLM files (`scripts/setup.sh`) are required.

mod oip_peer;

use msao::message::{Fault, RequestTrace};
use msao_agent::cloud::{CloudClient, CloudConfig, TensorFormat};
use msao_agent::offload::{
    AnswerRecord, Observer, OffloadConfig, PolicyKind, RunOptions, Workload, run,
};
use oip_peer::{
    Install, MODEL, Server, assert_contract, assert_corrupt_tensors_refused, assert_real_answers,
    assert_wrong_tensors_not_sent, edge_brain, free_ports, installed_or_skip, real_cases,
    repo_root, runtime_and_catalog,
};
use std::path::Path;
use std::time::Duration;

/// KServe start (imports, model load) took ~6 s here; more on a busy machine.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The pipeline's deadline: generous, a loaded 2-core machine must not turn answers into
/// fallbacks.
const PIPELINE_DEADLINE_MS: u64 = 20_000;

/// Starts `tests/kserve/server.py` on a free port, in a temporary working directory.
fn start_server(python: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let [http] = free_ports::<1>();
    let script = repo_root().join("tests/kserve/server.py");
    Server::spawn(
        "KServe",
        python,
        &[python.as_os_str(), script.as_os_str()],
        &[
            ("MSAO_KSERVE_PORT", http.to_string()),
            ("MSAO_KSERVE_HOST", "127.0.0.1".into()),
        ],
        http,
        dir,
    )
}

/// The KServe model metadata exactly as it comes off the wire.
async fn raw_metadata(server: &Server) -> serde_json::Value {
    let url = format!("{}/v2/models/{MODEL}", server.url());
    let body = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .unwrap();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

#[derive(Default)]
struct Seen {
    answers: Vec<AnswerRecord>,
    faults: Vec<Fault>,
}

impl Observer for Seen {
    fn answer(&mut self, record: &AnswerRecord, _: &RequestTrace) {
        self.answers.push(record.clone());
    }
    fn fault(&mut self, fault: &Fault) {
        self.faults.push(fault.clone());
    }
}

/// A workload of the two fixture frames × two questions, in `dir`.
fn fixture_workload(dir: &Path) -> Workload {
    let fixtures = oip_peer::golden_fixtures();
    let mut frames = Vec::new();
    let mut requests = Vec::new();
    for (i, frame) in oip_peer::FRAMES.iter().enumerate() {
        std::fs::copy(fixtures.join(frame), dir.join(frame)).unwrap();
        frames.push(serde_json::json!({"index": i, "file": frame, "scene": i}));
        for question in oip_peer::QUESTIONS {
            let id = requests.len();
            requests.push(serde_json::json!({"request_id": id, "frame": i, "question": question}));
        }
    }
    let (w, h) = image::image_dimensions(fixtures.join(oip_peer::FRAMES[0])).unwrap();
    let manifest = serde_json::json!({
        "format": "msao-workload", "version": 1, "width": w, "height": h,
        "frames": frames, "requests": requests,
    });
    std::fs::write(dir.join("workload.json"), manifest.to_string()).unwrap();
    Workload::open(dir).unwrap()
}

#[test]
fn agent_client_and_pipeline_talk_to_kserve() {
    let install = Install {
        test: "kserve_compat",
        dir: "kserve",
        venv_env: "MSAO_KSERVE_VENV",
        bin_rel: "bin/python",
        module: "kserve",
    };
    let Some(python) = installed_or_skip(install.run(), "KServe", "MSAO_REQUIRE_KSERVE") else {
        return;
    };
    let mut server = start_server(&python);
    // The edge and reference cloud runs overlap KServe's start.
    let (ort, catalog) = runtime_and_catalog();
    let mut brain = edge_brain(&ort, &catalog);
    let cases = real_cases(&ort, &catalog, &mut brain);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ready = server.wait_ready(READY_TIMEOUT).await;
        eprintln!(
            "kserve_compat: KServe ready {:.1} s after it was started",
            ready.as_secs_f64()
        );
        // --- loopback only: KServe's hard-coded 0.0.0.0 is wrapped by server.py.
        assert_eq!(
            oip_peer::listening_on(server.port),
            ["0100007F"],
            "KServe must listen on 127.0.0.1:{} only",
            server.port
        );
        // --- the reason this peer is here: `null` for an optional field.
        let raw = raw_metadata(&server).await;
        assert!(
            raw.get("versions").is_some_and(serde_json::Value::is_null),
            "KServe 0.21 sends \"versions\": null; got {raw}"
        );

        // --- negotiation: no binary extension advertised → JSON; metadata read despite null.
        let cfg = CloudConfig {
            url: server.url(),
            model: MODEL.into(),
            tensor_format: TensorFormat::Auto,
            ..Default::default()
        };
        let client = CloudClient::new(&cfg).unwrap_or_else(|e| panic!("{e}"));
        let neg = client
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect: {e}\nlog:\n{}", server.log_tail()));
        eprintln!(
            "kserve_compat: connected to {} ({:?})",
            neg.server, neg.format
        );
        assert_eq!(
            neg.format,
            TensorFormat::Json,
            "KServe lists no binary_tensor_data"
        );
        assert!(
            neg.server.starts_with("kserve 0.21"),
            "server: {}",
            neg.server
        );
        assert!(neg.metadata.versions.is_empty(), "{:?}", neg.metadata);
        assert_contract(&neg.metadata);

        // --- real requests, JSON then binary: the in-process cloud head's logits.
        let worst = assert_real_answers(&client, &server, &cases, TensorFormat::Json).await;
        let binary = CloudClient::new(&CloudConfig {
            tensor_format: TensorFormat::Binary,
            ..cfg.clone()
        })
        .unwrap();
        let worst_bin = assert_real_answers(&binary, &server, &cases, TensorFormat::Binary).await;
        eprintln!(
            "kserve_compat: {} JSON + {} binary infers, worst |diff| {:e}",
            cases.len(),
            cases.len(),
            worst.max(worst_bin)
        );

        // --- corrupt compact tensors: HTTP 400, a bad request; the server stays up.
        assert_corrupt_tensors_refused(&client, &cases).await;
        // --- wrong datatype / shape: refused by the client, nothing sent.
        assert_wrong_tensors_not_sent(&client, &server, &cases).await;
    });

    // --- the agent's offload pipeline, every request to KServe (outside the runtime above:
    // `offload::run` starts its own).
    let dir = tempfile::tempdir().unwrap();
    let workload = fixture_workload(dir.path());
    let mut config = OffloadConfig {
        policy: PolicyKind::OffloadAll,
        deadline_ms: PIPELINE_DEADLINE_MS,
        ..OffloadConfig::default()
    };
    config.cloud.url = server.url();
    config.cloud.deadline_ms = PIPELINE_DEADLINE_MS;
    config.validate().unwrap();
    let before = server.infer_requests();
    let mut seen = Seen::default();
    let summary = run(
        &mut brain,
        &config,
        1.0,
        &workload,
        &RunOptions::default(),
        &mut seen,
    )
    .unwrap_or_else(|e| panic!("offload run: {e}\nlog:\n{}", server.log_tail()));
    eprintln!("kserve_compat: pipeline {summary:?}");
    assert!(
        seen.faults.is_empty(),
        "faults: {:?}\nlog:\n{}",
        seen.faults,
        server.log_tail()
    );
    assert!(
        summary.cloud_faults.is_empty(),
        "{:?}",
        summary.cloud_faults
    );
    assert_eq!(seen.answers.len(), workload.requests.len());
    for r in &seen.answers {
        assert_eq!(r.source, "cloud", "{r:?}");
        assert!(r.fault.is_none(), "{r:?}");
        assert!(r.answer.is_some(), "{r:?}");
        assert!(r.bytes_up > 0 && r.bytes_down > 0, "{r:?}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.infer_requests(),
        before + workload.requests.len(),
        "each pipeline request reached KServe"
    );
}
