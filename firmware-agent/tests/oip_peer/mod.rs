//! What the tests against real OIP v2 peers (`mlserver_compat.rs`, `kserve_compat.rs`) share:
//! installing the peer with its setup script (skip loudly or fail), running it as a child
//! that cannot outlive the test, real compact tensors from the edge brain with their
//! reference logits, and the checks every peer must pass.

#![allow(dead_code)]

use msao::compact;
use msao::message::{ExecProvider, Precision};
use msao_agent::brain::{BrainOptions, CloudHead, EdgeBrain, EdgeRequest, ImageInput};
use msao_agent::cloud::{
    CloudClient, CloudError, CloudFaultKind, InferTensor, TensorData, TensorFormat, TensorSpec,
};
use msao_agent::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Per-infer deadline given to the client.
pub const INFER_DEADLINE: Duration = Duration::from_secs(5);
/// The served model.
pub const MODEL: &str = "vqa-cloud";
pub const QUESTIONS: [&str; 2] = ["what is the red shape?", "what color is the circle?"];
pub const FRAMES: [&str; 2] = ["easyvqa-test-0.png", "easyvqa-test-3.png"];
pub const INFER_PATH: &str = "/v2/models/vqa-cloud/infer";
/// `python -c THIS PROGRAM ARGS…`: PR_SET_PDEATHSIG (1) = SIGKILL (9), then exec PROGRAM.
pub const EXEC_WITH_PDEATHSIG: &str = "import ctypes, os, sys\n\
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n\
    os.execv(sys.argv[1], sys.argv[1:])";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn golden_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

// ------------------------------------------------------------------------------ install

/// One peer's installation: `tests/<dir>/setup.sh` makes a venv (default
/// `.cache/<dir>-venv`, or `$<venv_env>`) holding `bin_rel`.
pub struct Install {
    /// Test name, for log lines.
    pub test: &'static str,
    /// Folder under `tests/` holding `setup.sh`.
    pub dir: &'static str,
    /// Variable naming an existing venv (then the script is skipped if `bin_rel` is there).
    pub venv_env: &'static str,
    /// The program the test needs, relative to the venv.
    pub bin_rel: &'static str,
    /// A Python module a venv named by `venv_env` must import to be used as it is.
    pub module: &'static str,
}

impl Install {
    /// The venv's program, or why it could not be installed.
    pub fn run(&self) -> Result<PathBuf, String> {
        let given = std::env::var_os(self.venv_env).map(PathBuf::from);
        if let Some(venv) = &given {
            let bin = venv.join(self.bin_rel);
            let imports = || {
                Command::new(venv.join("bin/python"))
                    .args(["-c", &format!("import {}", self.module)])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if bin.is_file() && imports() {
                eprintln!("{}: using {}={}", self.test, self.venv_env, venv.display());
                return Ok(bin);
            }
        }
        let started = Instant::now();
        let script = repo_root().join("tests").join(self.dir).join("setup.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run tests/{}/setup.sh: {e}", self.dir))?;
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
            "{}: setup.sh took {:.1} s",
            self.test,
            started.elapsed().as_secs_f64()
        );
        let venv = given.unwrap_or_else(|| {
            repo_root()
                .join(".cache")
                .join(format!("{}-venv", self.dir))
        });
        let bin = venv.join(self.bin_rel);
        if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!(
                "setup.sh succeeded but {} is missing",
                bin.display()
            ))
        }
    }
}

/// `Some(program)`, or `None` after printing `SKIPPED: <peer> could not be installed: …`;
/// panics instead when `$require_env` is `1` (CI sets it).
pub fn installed_or_skip(
    result: Result<PathBuf, String>,
    peer: &str,
    require_env: &str,
) -> Option<PathBuf> {
    match result {
        Ok(bin) => Some(bin),
        Err(reason) => {
            if std::env::var(require_env).as_deref() == Ok("1") {
                panic!("{peer} could not be installed ({require_env}=1): {reason}");
            }
            eprintln!("SKIPPED: {peer} could not be installed: {reason}");
            eprintln!("SKIPPED: (set {require_env}=1 to make this a failure, as CI does)");
            None
        }
    }
}

// ------------------------------------------------------------------------------ server

/// A running peer; killed (and reaped) on drop, also when the test panics.
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
    pub port: u16,
    pub spawned: Instant,
    /// Name in messages (`MLServer`, `KServe`).
    pub peer: &'static str,
    // Kept alive for the server's lifetime; removed after the child is gone.
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Spawns `python -c EXEC_WITH_PDEATHSIG program args…` in `dir` with stdout and stderr
    /// in `dir/server.log`. Through the venv's Python, which asks Linux to SIGKILL the server
    /// when the test's thread dies (PR_SET_PDEATHSIG survives exec): no leak even if the
    /// test binary is killed and the drop guard never runs.
    pub fn spawn(
        peer: &'static str,
        python: &Path,
        program: &[&std::ffi::OsStr],
        envs: &[(&str, String)],
        port: u16,
        dir: tempfile::TempDir,
    ) -> Self {
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(python);
        cmd.arg("-c")
            .arg(EXEC_WITH_PDEATHSIG)
            .args(program)
            .current_dir(dir.path())
            // The model is the repository's (the override is for by-hand runs).
            .env_remove("MSAO_VQA_CLOUD_ONNX")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {peer} via {}: {e}", python.display()));
        eprintln!("{peer}: started pid {} on http port {port}", child.id());
        Self {
            child,
            log,
            port,
            spawned: Instant::now(),
            peer,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Infer requests the server has logged (uvicorn access log lines).
    pub fn infer_requests(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(&format!("POST {INFER_PATH}")))
            .count()
    }

    /// Polls `GET /v2/health/ready` until it answers 200; panics with the server's log if
    /// the server exits or `timeout` passes. Returns the time since the server was spawned.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Duration {
        let started = Instant::now();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let url = format!("{}/v2/health/ready", self.url());
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return self.spawned.elapsed();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before it was ready; log:\n{}",
                    self.peer,
                    self.log_tail()
                );
            }
            if started.elapsed() > timeout {
                panic!(
                    "{} not ready after {timeout:?}; log:\n{}",
                    self.peer,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Distinct free TCP ports on 127.0.0.1 (released again before the server binds them).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// Local addresses (`hex IP`, as `/proc/net/tcp{,6}` writes them) listening on `port`.
pub fn listening_on(port: u16) -> Vec<String> {
    let suffix = format!(":{port:04X}");
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is column 1, state column 3; 0A = LISTEN.
            if cols.len() > 3
                && cols[3] == "0A"
                && let Some(ip) = cols[1].strip_suffix(&suffix)
            {
                found.push(ip.to_owned());
            }
        }
    }
    found
}

// ------------------------------------------------------------------------------ requests

/// One real request: a compact tensor from the edge model and its question embedding, with
/// the reference answer of [`CloudHead::run`] on the same bytes.
pub struct Case {
    pub label: String,
    pub compact: Vec<u8>,
    pub question: Vec<f32>,
    pub logits: Vec<f32>,
    pub answer: usize,
}

pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// The shipped easy-VQA pipeline.
pub fn pipeline() -> msao_agent::pipelines::PipelineSpec {
    msao_agent::pipelines::PipelineSpec::load_default(&repo_root().join("models"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The runtime and catalog the edge brain and the reference cloud head load from.
pub fn runtime_and_catalog() -> (OrtRuntime, ModelCatalog) {
    let rt = OrtRuntime::new(&RuntimeOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n(run scripts/setup.sh to fetch ONNX Runtime)"));
    let catalog =
        ModelCatalog::load_dir(&repo_root().join("models")).unwrap_or_else(|e| panic!("{e}"));
    (rt, catalog)
}

/// The edge brain as `tests/edge_brain.rs` loads it (INT8 image, FP32 text).
pub fn edge_brain(rt: &OrtRuntime, catalog: &ModelCatalog) -> EdgeBrain {
    EdgeBrain::load(
        rt,
        catalog,
        &pipeline(),
        &BrainOptions {
            text_precision: Some(Precision::Fp32),
            ..BrainOptions::default()
        },
    )
    .unwrap_or_else(|e| {
        panic!("{e}\n(EdgeBrain needs the MiniLM ONNX files: run scripts/setup.sh)")
    })
}

/// Easy-VQA fixture frames × questions through the edge brain, each encoded three ways: the
/// MAS keep-mask, every patch, none.
pub fn real_cases(rt: &OrtRuntime, catalog: &ModelCatalog, brain: &mut EdgeBrain) -> Vec<Case> {
    let mut cloud = CloudHead::from_catalog(rt, catalog, &pipeline(), ExecProvider::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
    let (total, dim) = (cloud.patches(), cloud.dim());
    let fixtures = golden_fixtures();

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
    assert_eq!(cases.len(), 12);
    assert!(
        cases.iter().any(|c| c.compact.len() == 16),
        "a none-kept case"
    );
    cases
}

pub fn request(compact: &[u8], question: &[f32]) -> Vec<InferTensor> {
    vec![
        InferTensor::u8("compact", vec![1, compact.len() as i64], compact.to_vec()),
        InferTensor::f32(
            "question",
            vec![1, question.len() as i64],
            question.to_vec(),
        ),
    ]
}

// ------------------------------------------------------------------------------ checks

/// (name, wire datatype, shape) of each spec.
pub fn specs(t: &[TensorSpec]) -> Vec<(String, String, Vec<i64>)> {
    t.iter()
        .map(|s| {
            (
                s.name.clone(),
                s.datatype.wire_name().to_owned(),
                s.shape.clone(),
            )
        })
        .collect()
}

/// The served contract: `compact` UINT8 [1,-1] + `question` FP32 [1,384] → `logits` FP32 [1,13].
pub fn assert_contract(m: &msao_agent::cloud::ModelMetadata) {
    assert_eq!(m.name, MODEL);
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
}

/// Every case through `client`: same logits as the in-process cloud head on the same bytes
/// (within 1e-4, same arg-max), in `format`. Returns the worst |diff|.
pub async fn assert_real_answers(
    client: &CloudClient,
    server: &Server,
    cases: &[Case],
    format: TensorFormat,
) -> f32 {
    let mut worst = 0.0f32;
    for case in cases {
        let reply = client
            .infer(request(&case.compact, &case.question), INFER_DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\nlog:\n{}", case.label, server.log_tail()));
        assert_eq!(reply.format, format, "{}", case.label);
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
            "{}: {} logits {logits:?} vs CloudHead {:?} (max |diff| {diff})",
            case.label,
            server.peer,
            case.logits
        );
        assert_eq!(argmax(logits), case.answer, "{}", case.label);
        eprintln!(
            "{}: {:?} {}: answer {} ok, max |diff| {diff:e}, {} B up, {} B down, {:?}",
            server.peer,
            format,
            case.label,
            case.answer,
            reply.bytes_up,
            reply.bytes_down,
            reply.elapsed
        );
    }
    worst
}

/// Corrupt compact tensors: an HTTP 400 (or 5xx) naming the spec's fault, quickly; a 400 is
/// a bad request, never a malformed answer. The server still answers a good one afterwards.
pub async fn assert_corrupt_tensors_refused(client: &CloudClient, cases: &[Case]) {
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
                if *code == 400 {
                    assert_eq!(err.kind(), CloudFaultKind::BadRequest, "{label}");
                    assert!(!err.to_string().contains("malformed"), "{label}: {err}");
                }
            }
            other => panic!("{label}: expected CloudError::Status, got {other:?}"),
        }
        assert!(took < INFER_DEADLINE, "{label}: took {took:?}");
        eprintln!("{label}: {err} ({took:?})");
    }
    let again = client
        .infer(request(&good.compact, &good.question), INFER_DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("good request after bad ones: {e}"));
    assert_eq!(argmax(again.f32("logits").unwrap()), good.answer);
}

/// Wrong datatype / shape / a missing input: refused by the client with
/// [`CloudError::Shape`], and the server's access log shows none of them was sent.
pub async fn assert_wrong_tensors_not_sent(client: &CloudClient, server: &Server, cases: &[Case]) {
    let good = &cases[0];
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
        eprintln!("{label}: refused: {err}");
    }
    // Give the access log a moment, then check no request reached the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.infer_requests(),
        before,
        "a refused request reached the server"
    );
}
