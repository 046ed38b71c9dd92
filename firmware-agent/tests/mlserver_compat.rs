//! The agent's Open Inference Protocol v2 client ([`msao_agent::cloud`]) against a server we
//! did not write: MLServer 1.7.1 (Seldon, Apache-2.0, from PyPI) serving the cloud model
//! through the custom runtime in `tests/mlserver/` (numpy compact-tensor decoder +
//! onnxruntime). MLServer's REST takes JSON tensors only (no `binary_tensor_data`), so the
//! client must detect and use JSON.
//!
//! Checked: format detection and model metadata; logits for real compact tensors (easy-VQA
//! fixture frames through [`EdgeBrain`], MAS / all / no patches kept) equal to
//! [`CloudHead::run`] on the same bytes within 1e-4, same answer; a corrupt compact tensor is
//! an HTTP 4xx/5xx [`CloudError::Status`], not a hang, and the server still answers after it;
//! tensors of the wrong datatype or shape are refused by the client without a request.
//!
//! Setup: `tests/mlserver/setup.sh` makes `.cache/mlserver-venv` (pip, PyPI) unless
//! `MSAO_MLSERVER_VENV` names a venv that already has `bin/mlserver` (a venv named there
//! that lacks it is created there by the script). What this test shares with the KServe one
//! (`kserve_compat.rs`) is in `oip_peer/`. If the install fails (no registry access),
//! the test prints `SKIPPED: MLServer could not be installed: <reason>` and passes, unless
//! `MSAO_REQUIRE_MLSERVER=1`, which makes that a failure. Nothing else skips: ONNX Runtime
//! and the MiniLM files (`scripts/setup.sh`) are required as in `tests/edge_brain.rs`.

mod oip_peer;

use msao_agent::cloud::{CloudClient, CloudConfig, TensorFormat};
use oip_peer::{
    Install, MODEL, Server, assert_contract, assert_corrupt_tensors_refused, assert_real_answers,
    assert_wrong_tensors_not_sent, edge_brain, free_ports, installed_or_skip, real_cases,
    runtime_and_catalog,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// MLServer start (Python imports, model load) took ~4 s here; 10–30 s on a busy machine.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

fn mlserver_dir() -> PathBuf {
    oip_peer::repo_root().join("tests/mlserver")
}

/// Starts MLServer on a temporary copy of `tests/mlserver/` (so the repository's
/// `settings.json` and the source tree stay untouched): free ports, the model's `uri` made
/// absolute, access log on.
fn start_server(mlserver: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join(MODEL);
    std::fs::create_dir_all(&model_dir).unwrap();
    let src = mlserver_dir();
    for file in ["runtime.py", "vqa_cloud.py"] {
        std::fs::copy(src.join(file), model_dir.join(file)).unwrap();
    }

    let read_json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(src.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("tests/mlserver/{name}: {e}"))
    };
    let mut model_settings = read_json("model-settings.json");
    let uri = model_settings["parameters"]["uri"].as_str().unwrap();
    let onnx = src.join(uri).canonicalize().unwrap_or_else(|e| {
        panic!("model-settings.json uri {uri} (relative to tests/mlserver): {e}")
    });
    model_settings["parameters"]["uri"] = onnx.display().to_string().into();
    std::fs::write(
        model_dir.join("model-settings.json"),
        model_settings.to_string(),
    )
    .unwrap();

    let [http, grpc, metrics] = free_ports::<3>();
    let mut settings = read_json("settings.json");
    settings["http_port"] = http.into();
    settings["grpc_port"] = grpc.into();
    settings["metrics_port"] = metrics.into();
    // Access log lines prove which requests reached the server.
    settings["debug"] = true.into();
    std::fs::write(dir.path().join("settings.json"), settings.to_string()).unwrap();

    eprintln!("mlserver_compat: grpc port {grpc}");
    let python = mlserver.with_file_name("python");
    let root = dir.path().to_path_buf();
    Server::spawn(
        "MLServer",
        &python,
        &[mlserver.as_os_str(), "start".as_ref(), root.as_os_str()],
        &[],
        http,
        dir,
    )
}

#[test]
fn agent_client_talks_to_mlserver() {
    let install = Install {
        test: "mlserver_compat",
        dir: "mlserver",
        venv_env: "MSAO_MLSERVER_VENV",
        bin_rel: "bin/mlserver",
        module: "mlserver",
    };
    let Some(mlserver) = installed_or_skip(install.run(), "MLServer", "MSAO_REQUIRE_MLSERVER")
    else {
        return;
    };
    let mut server = start_server(&mlserver);
    // The edge and reference cloud runs overlap MLServer's start.
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
            "mlserver_compat: MLServer ready {:.1} s after it was started",
            ready.as_secs_f64()
        );
        let cfg = CloudConfig {
            url: server.url(),
            model: MODEL.into(),
            tensor_format: TensorFormat::Auto,
            ..Default::default()
        };
        let client = CloudClient::new(&cfg).unwrap_or_else(|e| panic!("{e}"));

        // --- negotiation: no binary extension → JSON; metadata as model-settings.json declares.
        let neg = client
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect: {e}\nlog:\n{}", server.log_tail()));
        eprintln!(
            "mlserver_compat: connected to {} ({:?})",
            neg.server, neg.format
        );
        assert_eq!(
            neg.format,
            TensorFormat::Json,
            "MLServer has no binary_tensor_data"
        );
        assert!(
            neg.server.to_lowercase().contains("mlserver"),
            "server: {}",
            neg.server
        );
        assert_contract(&neg.metadata);

        // --- real requests: same logits as the in-process cloud head on the same bytes.
        let worst = assert_real_answers(&client, &server, &cases, TensorFormat::Json).await;
        eprintln!(
            "mlserver_compat: {} infers, worst |diff| {worst:e}",
            cases.len()
        );
        // --- corrupt compact tensors: an HTTP error naming the fault, quickly; no hang.
        assert_corrupt_tensors_refused(&client, &cases).await;
        // --- wrong datatype / shape: refused by the client, nothing sent.
        assert_wrong_tensors_not_sent(&client, &server, &cases).await;
    });
}
