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
//! that lacks it is created there by the script). If the install fails (no registry access),
//! the test prints `SKIPPED: MLServer could not be installed: <reason>` and passes, unless
//! `MSAO_REQUIRE_MLSERVER=1`, which makes that a failure. Nothing else skips: ONNX Runtime
//! and the MiniLM files (`scripts/setup.sh`) are required as in `tests/edge_brain.rs`.

use msao::compact;
use msao::message::{ExecProvider, Precision};
use msao_agent::brain::{BrainOptions, CloudHead, EdgeBrain, EdgeRequest, ImageInput};
use msao_agent::cloud::{
    CloudClient, CloudConfig, CloudError, CloudFaultKind, InferTensor, TensorData, TensorFormat,
};
use msao_agent::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// MLServer start (Python imports, model load) took ~4 s here; 10–30 s on a busy machine.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// Per-infer deadline given to the client.
const INFER_DEADLINE: Duration = Duration::from_secs(5);
const MODEL: &str = "vqa-cloud";
const QUESTIONS: [&str; 2] = ["what is the red shape?", "what color is the circle?"];
const FRAMES: [&str; 2] = ["easyvqa-test-0.png", "easyvqa-test-3.png"];
const INFER_PATH: &str = "/v2/models/vqa-cloud/infer";
/// `python -c THIS PROGRAM ARGS…`: PR_SET_PDEATHSIG (1) = SIGKILL (9), then exec PROGRAM.
const EXEC_WITH_PDEATHSIG: &str = "import ctypes, os, sys\n\
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n\
    os.execv(sys.argv[1], sys.argv[1:])";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn mlserver_dir() -> PathBuf {
    repo_root().join("tests/mlserver")
}

// ------------------------------------------------------------------------------ install

/// The venv's `mlserver` command, or why it could not be installed.
fn install_mlserver() -> Result<PathBuf, String> {
    let given = std::env::var_os("MSAO_MLSERVER_VENV").map(PathBuf::from);
    if let Some(venv) = &given {
        let bin = venv.join("bin/mlserver");
        if bin.is_file() {
            eprintln!(
                "mlserver_compat: using MSAO_MLSERVER_VENV={}",
                venv.display()
            );
            return Ok(bin);
        }
    }
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(mlserver_dir().join("setup.sh"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run tests/mlserver/setup.sh: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stdout}{stderr}");
    if !out.status.success() {
        let reason = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("setup.sh failed without a message");
        return Err(format!("{reason} ({})", out.status));
    }
    eprintln!(
        "mlserver_compat: setup.sh took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let venv = given.unwrap_or_else(|| repo_root().join(".cache/mlserver-venv"));
    let bin = venv.join("bin/mlserver");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "setup.sh succeeded but {} is missing",
            bin.display()
        ))
    }
}

// ------------------------------------------------------------------------------ server

/// A running `mlserver start`; killed (and reaped) on drop, also when the test panics.
struct Server {
    child: Child,
    log: PathBuf,
    port: u16,
    spawned: Instant,
    // Kept alive for the server's lifetime; removed after the child is gone.
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Infer requests the server has logged (uvicorn access log; `debug` is on).
    fn infer_requests(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(&format!("POST {INFER_PATH}")))
            .count()
    }
}

/// Distinct free TCP ports on 127.0.0.1 (released again before MLServer binds them).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// Starts MLServer on a temporary copy of `tests/mlserver/` (so the repository's
/// `settings.json` and the source tree stay untouched): free ports, the model's `uri` made
/// absolute, access log on.
fn start_server(mlserver: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join(MODEL);
    std::fs::create_dir_all(&model_dir).unwrap();
    let src = mlserver_dir();
    std::fs::copy(src.join("runtime.py"), model_dir.join("runtime.py")).unwrap();

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

    let log = dir.path().join("mlserver.log");
    let out = std::fs::File::create(&log).unwrap();
    // Through the venv's Python, which asks Linux to SIGKILL it when the test's thread dies
    // (PR_SET_PDEATHSIG survives exec): no leak even if the test binary is killed and the
    // drop guard never runs.
    let python = mlserver.with_file_name("python");
    let child = Command::new(&python)
        .arg("-c")
        .arg(EXEC_WITH_PDEATHSIG)
        .arg(mlserver)
        .arg("start")
        .arg(dir.path())
        .current_dir(dir.path())
        // The model is the one model-settings.json names (runtime.py's override is for by-hand runs).
        .env_remove("MSAO_VQA_CLOUD_ONNX")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} via {}: {e}",
                mlserver.display(),
                python.display()
            )
        });
    eprintln!(
        "mlserver_compat: started MLServer pid {} on http {http}, grpc {grpc}",
        child.id()
    );
    Server {
        child,
        log,
        port: http,
        spawned: Instant::now(),
        _dir: dir,
    }
}

/// Polls `GET /v2/health/ready` until it answers 200; panics with the server's log if the
/// server exits or [`READY_TIMEOUT`] passes. Returns the time since the server was spawned.
async fn wait_ready(server: &mut Server) -> Duration {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("{}/v2/health/ready", server.url());
    loop {
        if let Ok(r) = http.get(&url).send().await
            && r.status().is_success()
        {
            return server.spawned.elapsed();
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "MLServer exited ({status}) before it was ready; log:\n{}",
                server.log_tail()
            );
        }
        if started.elapsed() > READY_TIMEOUT {
            panic!(
                "MLServer not ready after {READY_TIMEOUT:?}; log:\n{}",
                server.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

// ------------------------------------------------------------------------------ requests

/// One real request: a compact tensor from the edge model and its question embedding, with
/// the reference answer of [`CloudHead::run`] on the same bytes.
struct Case {
    label: String,
    compact: Vec<u8>,
    question: Vec<f32>,
    logits: Vec<f32>,
    answer: usize,
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Easy-VQA fixture frames × questions through the edge brain (INT8 image, FP32 text, as in
/// `tests/edge_brain.rs`), each encoded three ways: the MAS keep-mask, every patch, none.
fn real_cases() -> Vec<Case> {
    let rt = OrtRuntime::new(&RuntimeOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n(run scripts/setup.sh to fetch ONNX Runtime)"));
    let catalog =
        ModelCatalog::load_dir(&repo_root().join("models")).unwrap_or_else(|e| panic!("{e}"));
    let mut brain = EdgeBrain::load(
        &rt,
        &catalog,
        &BrainOptions {
            text_precision: Precision::Fp32,
            ..BrainOptions::default()
        },
    )
    .unwrap_or_else(|e| {
        panic!("{e}\n(EdgeBrain needs the MiniLM ONNX files: run scripts/setup.sh)")
    });
    let mut cloud =
        CloudHead::from_catalog(&rt, &catalog, ExecProvider::Cpu).unwrap_or_else(|e| panic!("{e}"));
    let (total, dim) = (cloud.patches(), cloud.dim());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");

    let mut cases = Vec::new();
    for frame in FRAMES {
        for question in QUESTIONS {
            brain.reset_stream();
            let r = brain
                .process(&EdgeRequest {
                    request_id: 1,
                    image: ImageInput::File(&fixtures.join(frame)),
                    question,
                    audio: None,
                })
                .unwrap_or_else(|e| panic!("{frame}: {e}"));
            assert_eq!(r.features.len(), total * dim, "{frame}");
            let mut tensors = vec![("mas", r.compact.clone())];
            for (label, keep) in [("all", vec![true; total]), ("none", vec![false; total])] {
                let mut buf = vec![0u8; compact::MAX_ENCODED];
                let n = compact::encode_features(&mut buf, &r.features, dim, &keep)
                    .unwrap_or_else(|e| panic!("{frame}: {e}"));
                buf.truncate(n);
                tensors.push((label, buf));
            }
            for (keep, bytes) in tensors {
                let out = cloud
                    .run(&bytes, &r.question_embedding)
                    .unwrap_or_else(|e| panic!("{frame} {keep}: {e}"));
                cases.push(Case {
                    label: format!("{frame} / {question:?} / keep {keep} ({} B)", bytes.len()),
                    compact: bytes,
                    question: r.question_embedding.clone(),
                    answer: out.answer,
                    logits: out.logits,
                });
            }
        }
    }
    cases
}

fn request(compact: &[u8], question: &[f32]) -> Vec<InferTensor> {
    vec![
        InferTensor::u8("compact", vec![1, compact.len() as i64], compact.to_vec()),
        InferTensor::f32(
            "question",
            vec![1, question.len() as i64],
            question.to_vec(),
        ),
    ]
}

// ------------------------------------------------------------------------------ the test

#[test]
fn agent_client_talks_to_mlserver() {
    let mlserver = match install_mlserver() {
        Ok(bin) => bin,
        Err(reason) => {
            if std::env::var("MSAO_REQUIRE_MLSERVER").as_deref() == Ok("1") {
                panic!("MLServer could not be installed (MSAO_REQUIRE_MLSERVER=1): {reason}");
            }
            eprintln!("SKIPPED: MLServer could not be installed: {reason}");
            return;
        }
    };
    let mut server = start_server(&mlserver);
    // The edge and reference cloud runs overlap MLServer's start.
    let cases = real_cases();
    assert_eq!(cases.len(), 12);
    assert!(
        cases.iter().any(|c| c.compact.len() == 16),
        "a none-kept case"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ready = wait_ready(&mut server).await;
        eprintln!(
            "mlserver_compat: MLServer ready {:.1} s after it was started",
            ready.as_secs_f64()
        );
        exercise(&server, &cases).await;
    });
}

async fn exercise(server: &Server, cases: &[Case]) {
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
    let m = &neg.metadata;
    assert_eq!(m.name, MODEL);
    let specs = |t: &[msao_agent::cloud::TensorSpec]| -> Vec<(String, String, Vec<i64>)> {
        t.iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.datatype.wire_name().to_owned(),
                    s.shape.clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        specs(&m.inputs),
        vec![
            ("compact".into(), "UINT8".into(), vec![1, -1]),
            ("question".into(), "FP32".into(), vec![1, 384]),
        ]
    );
    assert_eq!(
        specs(&m.outputs),
        vec![("logits".into(), "FP32".into(), vec![1, 13])]
    );

    // --- real requests: same logits as the in-process cloud head on the same bytes.
    let mut worst = 0.0f32;
    for case in cases {
        let reply = client
            .infer(request(&case.compact, &case.question), INFER_DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\nlog:\n{}", case.label, server.log_tail()));
        assert_eq!(reply.format, TensorFormat::Json, "{}", case.label);
        let logits = reply
            .f32("logits")
            .unwrap_or_else(|e| panic!("{}: {e}", case.label));
        assert_eq!(
            reply.output("logits").unwrap().shape,
            vec![1, 13],
            "{}",
            case.label
        );
        assert_eq!(logits.len(), case.logits.len(), "{}", case.label);
        let diff = logits
            .iter()
            .zip(&case.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        worst = worst.max(diff);
        assert!(
            diff <= 1e-4,
            "{}: MLServer logits {logits:?} vs CloudHead {:?} (max |diff| {diff})",
            case.label,
            case.logits
        );
        assert_eq!(argmax(logits), case.answer, "{}", case.label);
        eprintln!(
            "mlserver_compat: {}: answer {} ok, max |diff| {diff:e}, {} B up, {} B down, {:?}",
            case.label, case.answer, reply.bytes_up, reply.bytes_down, reply.elapsed
        );
    }
    eprintln!(
        "mlserver_compat: {} infers, worst |diff| {worst:e}",
        cases.len()
    );

    // --- corrupt compact tensors: an HTTP error naming the fault, quickly; no hang.
    let good = &cases[0];
    let mut bad_magic = good.compact.clone();
    bad_magic[0] = b'X';
    let mut bad_version = good.compact.clone();
    bad_version[2] = 2;
    let mut trailing = good.compact.clone();
    trailing.push(0);
    for (label, bytes, fault) in [
        ("bad magic", bad_magic, "BadMagic"),
        ("version 2", bad_version, "UnsupportedVersion"),
        ("trailing byte", trailing, "TrailingBytes"),
        ("header only", good.compact[..10].to_vec(), "Truncated"),
    ] {
        let started = Instant::now();
        let err = client
            .infer(request(&bytes, &good.question), INFER_DEADLINE)
            .await
            .expect_err(label);
        let took = started.elapsed();
        match &err {
            CloudError::Status { code, body } => {
                assert!(
                    *code == 400 || *code >= 500,
                    "{label}: HTTP {code} ({body})"
                );
                assert!(body.contains(fault), "{label}: error body {body:?}");
            }
            other => panic!("{label}: expected CloudError::Status, got {other:?}"),
        }
        assert!(took < INFER_DEADLINE, "{label}: took {took:?}");
        eprintln!("mlserver_compat: {label}: {err} ({took:?})");
    }
    // The server (and the client) still work after the errors.
    let again = client
        .infer(request(&good.compact, &good.question), INFER_DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("good request after bad ones: {e}"));
    assert_eq!(argmax(again.f32("logits").unwrap()), good.answer);

    // --- wrong datatype / shape: refused by the client, nothing sent.
    let before = server.infer_requests();
    assert!(
        before >= cases.len(),
        "the access log shows {before} infers; expected at least {}",
        cases.len()
    );
    let n = good.compact.len() as i64;
    let as_f32: Vec<f32> = good.compact.iter().map(|b| f32::from(*b)).collect();
    let as_f64: Vec<f64> = good.question.iter().map(|x| f64::from(*x)).collect();
    let wrong: [(&str, Vec<InferTensor>); 4] = [
        (
            "compact as FP32",
            vec![
                InferTensor::f32("compact", vec![1, n], as_f32),
                InferTensor::f32("question", vec![1, 384], good.question.clone()),
            ],
        ),
        (
            "question as FP64",
            vec![
                InferTensor::u8("compact", vec![1, n], good.compact.clone()),
                InferTensor::new("question", vec![1, 384], TensorData::F64(as_f64)),
            ],
        ),
        (
            "question [1, 383]",
            vec![
                InferTensor::u8("compact", vec![1, n], good.compact.clone()),
                InferTensor::f32("question", vec![1, 383], good.question[..383].to_vec()),
            ],
        ),
        (
            "question missing",
            vec![InferTensor::u8("compact", vec![1, n], good.compact.clone())],
        ),
    ];
    for (label, inputs) in wrong {
        let err = client.infer(inputs, INFER_DEADLINE).await.expect_err(label);
        assert!(
            matches!(err, CloudError::Shape { .. }),
            "{label}: expected CloudError::Shape, got {err:?}"
        );
        assert_eq!(err.kind(), CloudFaultKind::WrongShape, "{label}");
        eprintln!("mlserver_compat: {label}: refused: {err}");
    }
    // Give the access log a moment, then check no request reached the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.infer_requests(),
        before,
        "a refused request reached the server"
    );
}
