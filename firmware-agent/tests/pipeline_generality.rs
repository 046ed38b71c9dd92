//! Pipelines are data: a second pipeline, unlike easy-VQA in every name and shape, runs end
//! to end through the real binaries with TOML only. `tests/tinymodels/make_tiny.py` builds
//! three tiny ONNX models (other model and tensor names, three labels, a one-channel gray
//! 32×32 input, a 16-d text embedding), their manifests and the pipeline file; the pipeline
//! has no audio model and no region step, and its cloud models (`tiny-cloud`, `tiny-full`,
//! with their own tensor names) are served by `msao-host cloud` from that pipeline.
//!
//! The tiny heads answer in closed form (see make_tiny.py): `light` when the frame's mean
//! luma is above ½, `dark` below — locally on the whole frame, in the cloud on the patches it
//! receives. The frames are built so that every subset of their patches MAS may keep gives
//! the same answer, so each of edge-only, cloud-only (JPEG to `tiny-full`) and MSAO with a
//! threshold that offloads everything (compact tensor to `tiny-cloud`) must answer exactly.
//!
//! A second pipeline file over the same models, `tiny-gray-det`, adds an ONNX detector as
//! the region step (`[region] kind = "detector"`): the answer follows the box it proposes.
//! A third, `tiny-gray-split`, runs the head as a graph of its own (`[head] kind =
//! "separate"`: `tiny-head` fed `tiny-enc`'s embedding and the question).
//!
//! Setup: `tests/tinymodels/setup.sh` makes `.cache/tinymodels-venv` (numpy, onnx from PyPI)
//! unless `MSAO_TINYMODELS_VENV` names one that imports `onnx`. If the install fails the
//! test prints `SKIPPED: …` and passes, unless `MSAO_REQUIRE_TINYMODELS=1` (as CI sets).

mod oip_peer;

use base64::Engine as _;
use image::{Rgb, RgbImage};
use oip_peer::{Install, free_ports, installed_or_skip, repo_root};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const AGENT: &str = env!("CARGO_BIN_EXE_msao-agent");
const START_BOUND: Duration = Duration::from_secs(60);

/// `msao-host`, built beside the agent by `cargo test --workspace`.
fn host_binary() -> PathBuf {
    let host =
        Path::new(AGENT).with_file_name(format!("msao-host{}", std::env::consts::EXE_SUFFIX));
    assert!(
        host.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds msao-host too)",
        host.display()
    );
    host
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Echoes a child's stderr with a prefix (for a failing test), so the pipe never fills.
fn drain(child: &mut Child, who: &'static str) {
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("{who}: {line}");
            }
        });
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get(url: &str) -> Option<(u16, String)> {
    rt().block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        Some((r.status().as_u16(), r.text().await.ok()?))
    })
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    rt().block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    })
}

fn wait_until(what: &str, child: &mut Child, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before it was ready: {status}");
        }
        assert!(
            started.elapsed() < START_BOUND,
            "{what} not ready in {START_BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A 64×64 frame of four quadrants with these gray levels (top-left, top-right,
/// bottom-left, bottom-right), as a PNG data URL.
fn quadrants(levels: [u8; 4]) -> String {
    let img = RgbImage::from_fn(64, 64, |x, y| {
        let g = levels[usize::from(y >= 32) * 2 + usize::from(x >= 32)];
        Rgb([g, g, g])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(&png);
    format!("data:image/png;base64,{data}")
}

fn chat(model: &str, question: &str, image: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": question},
            {"type": "image_url", "image_url": {"url": image}},
        ]}],
    })
}

/// The agent on the tiny pipeline under `offload` (TOML lines of `[offload]`).
fn agent(models: &Path, pipeline: &Path, offload: &str, dir: &Path) -> (Killed, String) {
    let [api, telemetry] = free_ports::<2>();
    let config = dir.join(format!("agent-{api}.toml"));
    std::fs::write(
        &config,
        format!(
            "[runtime]\nonnxruntime = \"{}\"\nmodels_dir = \"{}\"\npipeline = \"{}\"\n[offload]\n{offload}",
            repo_root().join(".cache/onnxruntime/libonnxruntime.so").display(),
            models.display(),
            pipeline.display(),
        ),
    )
    .unwrap();
    let mut child = Command::new(AGENT)
        .arg("--config")
        .arg(&config)
        .args(["--api", &format!("127.0.0.1:{api}")])
        .args(["--telemetry", &format!("udp://127.0.0.1:{telemetry}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drain(&mut child, "agent");
    let base = format!("http://127.0.0.1:{api}");
    wait_until("the agent", &mut child, || {
        get(&format!("{base}/health")).is_some_and(|(s, _)| s == 200)
    });
    (Killed(child), base)
}

#[test]
fn a_second_pipeline_runs_end_to_end_from_toml_only() {
    let install = Install {
        test: "pipeline_generality",
        dir: "tinymodels",
        venv_env: "MSAO_TINYMODELS_VENV",
        bin_rel: "bin/python",
        module: "onnx",
    };
    let Some(python) = installed_or_skip(install.run(), "numpy + onnx", "MSAO_REQUIRE_TINYMODELS")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let made = Command::new(&python)
        .arg(repo_root().join("tests/tinymodels/make_tiny.py"))
        .arg(&models)
        .arg(repo_root().join("models/minilm/tokenizer.json"))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "make_tiny.py: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pipeline = models.join("pipelines/tiny-gray.toml");

    // The reference cloud serves the tiny pipeline's cloud models, under its names.
    let mut cloud = Command::new(host_binary())
        .args(["cloud", "--listen", "127.0.0.1:0", "--workers", "1"])
        .arg("--models")
        .arg(&models)
        .arg("--pipeline")
        .arg(&pipeline)
        .arg("--onnxruntime")
        .arg(repo_root().join(".cache/onnxruntime/libonnxruntime.so"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drain(&mut cloud, "cloud");
    // The first line is the address; the rest is read on so the server never meets a
    // closed stdout (it would stop).
    let mut out = BufReader::new(cloud.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    std::thread::spawn(move || for _ in out.lines().map_while(Result::ok) {});
    let cloud = Killed(cloud);
    let cloud_url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("msao-host cloud said `{first}`"))
        .to_string();
    let (status, meta) = get(&format!("{cloud_url}/v2/models/tiny-cloud")).unwrap();
    assert_eq!(status, 200, "{meta}");
    let meta: Value = serde_json::from_str(&meta).unwrap();
    let inputs: Vec<&str> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["packed", "qvec"], "{meta}");
    assert_eq!(meta["outputs"][0]["name"], "verdict");
    assert_eq!(meta["outputs"][0]["shape"], json!([1, 3]));
    assert_eq!(
        get(&format!("{cloud_url}/v2/models/vqa-cloud")).unwrap().0,
        404
    );

    // Every patch of `light` is at least 160/255 and the frame's mean is above ½; every patch
    // of `dark` at most 100/255: whatever MAS keeps, local and cloud answers agree.
    let light = quadrants([255, 255, 160, 255]);
    let dark = quadrants([0, 100, 0, 0]);
    let question = "how bright is it?";
    // No threshold file comes with this pipeline: each run sets one.
    let runs = [
        (
            "policy = \"edge-only\"\nthreshold = 0.5\n".to_string(),
            "local",
            &["local"][..],
        ),
        (
            format!(
                "policy = \"cloud-only\"\nthreshold = 0.5\n[offload.cloud]\nurl = \"{cloud_url}\"\n"
            ),
            "cloud",
            &["offload"][..],
        ),
        (
            // A threshold no confidence reaches: every request goes to the compact model.
            format!("policy = \"msao\"\nthreshold = 1.0\n[offload.cloud]\nurl = \"{cloud_url}\"\n"),
            "cloud",
            &["offload", "speculate"][..],
        ),
    ];
    for (offload, source, decisions) in runs {
        let (_agent, base) = agent(&models, &pipeline, &offload, dir.path());
        let (status, listed) = get(&format!("{base}/v1/models")).unwrap();
        assert_eq!(status, 200);
        let listed: Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed["data"][0]["id"], "tiny-gray", "{listed}");
        for (image, expected) in [(&light, "light"), (&dark, "dark")] {
            let (status, r) = post(
                &format!("{base}/v1/chat/completions"),
                &chat("tiny-gray", question, image),
            );
            assert_eq!(status, 200, "{offload}: {r}");
            assert_eq!(r["model"], "tiny-gray");
            assert_eq!(
                r["choices"][0]["message"]["content"], expected,
                "{offload}: {r}"
            );
            let m = &r["msao"];
            assert_eq!(m["source"], source, "{offload}: {r}");
            assert!(
                decisions.contains(&m["decision"].as_str().unwrap()),
                "{offload}: {r}"
            );
            if source == "cloud" {
                assert!(m["bytes_up"].as_u64().unwrap() > 0, "{r}");
            }
            assert!(m["region"].is_null(), "no region step: {r}");
        }
        // easy-VQA is not loaded, and the pipeline has no audio model.
        let (status, r) = post(
            &format!("{base}/v1/chat/completions"),
            &chat("easy-vqa", question, &light),
        );
        assert_eq!(status, 404, "{r}");
        let mut with_audio = chat("tiny-gray", question, &light);
        with_audio["messages"][0]["content"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "input_audio", "input_audio": {"data": silence_wav(), "format": "wav"}}));
        let (status, r) = post(&format!("{base}/v1/chat/completions"), &with_audio);
        assert!(
            (400..500).contains(&status)
                && r["error"]["message"].as_str().unwrap().contains("audio"),
            "{status}: {r}"
        );
    }
    drop(cloud);

    // The same pipeline with an ONNX detector as its region step (tiny-det: the brightest
    // quadrant when its mean luma reaches 0.5, boxes in yxyx order). A frame that is dark as
    // a whole but has one light quadrant is answered about that quadrant alone.
    let detect = models.join("pipelines/tiny-gray-det.toml");
    let edge_only = "policy = \"edge-only\"\nthreshold = 0.5\n";
    let (_agent, base) = agent(&models, &detect, edge_only, dir.path());
    for (levels, expected, region) in [
        ([0, 200, 0, 0], "light", json!([32, 0, 32, 32])),
        ([0, 0, 230, 0], "light", json!([0, 32, 32, 32])),
        // No quadrant reaches the score: the whole frame, which is dark.
        ([0, 100, 0, 0], "dark", Value::Null),
    ] {
        let (status, r) = post(
            &format!("{base}/v1/chat/completions"),
            &chat("tiny-gray-det", question, &quadrants(levels)),
        );
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            r["choices"][0]["message"]["content"], expected,
            "{levels:?}: {r}"
        );
        assert_eq!(r["msao"]["region"], region, "{levels:?}: {r}");
    }

    // The head as a graph of its own: the same closed-form answers, edge only.
    let split = models.join("pipelines/tiny-gray-split.toml");
    let (_agent, base) = agent(&models, &split, edge_only, dir.path());
    for (image, expected) in [(&light, "light"), (&dark, "dark")] {
        let (status, r) = post(
            &format!("{base}/v1/chat/completions"),
            &chat("tiny-gray-split", question, image),
        );
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["choices"][0]["message"]["content"], expected, "{r}");
        assert_eq!(r["msao"]["source"], "local", "{r}");
        let c = r["msao"]["confidence"].as_f64().unwrap();
        assert!(
            c > 0.5 && c <= 1.0,
            "softmax of the separate head's logits: {r}"
        );
    }
}

/// 0.1 s of 16 kHz mono silence as a base64 WAV.
fn silence_wav() -> String {
    let mut wav = Vec::new();
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(std::io::Cursor::new(&mut wav), spec).unwrap();
        for _ in 0..1600 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(&wav)
}
