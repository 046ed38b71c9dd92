//! The request API of the real `msao-agent` binary on loopback: answers for the golden
//! easy-VQA frames (plain and SSE, the `msao` object matching the published trace's id),
//! every refusal in OpenAI's error envelope with its status (400, 401, 404, 413, 429 with
//! `Retry-After`), and SIGTERM with requests in flight: each gets exactly one answer or a
//! `503`, none hangs, and the agent exits 0.
//!
//! Needs ONNX Runtime and the models (`scripts/setup.sh`), as `tests/edge_brain.rs`.

use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_msao-agent");
/// Liveness bound on the agent's start (model loading on a loaded 2-core box).
const START_BOUND: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden(file: &str) -> Vec<u8> {
    std::fs::read(
        repo()
            .join("firmware-agent/tests/fixtures/golden")
            .join(file),
    )
    .unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A cloud that accepts connections and never answers (every offload times out).
fn silent_cloud() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

struct Agent {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Starts the agent with `extra` TOML after `[runtime]` and waits for `/health` 200.
    fn start(extra: &str, envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let repo = repo();
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "[runtime]\nonnxruntime = \"{}\"\nmodels_dir = \"{}\"\n{extra}",
                repo.join(".cache/onnxruntime/libonnxruntime.so").display(),
                repo.join("models").display(),
            ),
        )
        .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(&config)
            .arg("--api")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--telemetry")
            .arg(format!("udp://127.0.0.1:{}", free_port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        // Drain the log so the pipe never fills; echo it for a failing test.
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("agent: {line}");
            }
        });
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the agent exited before it was ready: {status}");
            }
            let health = ureq_get(&format!("{base}/health"));
            if health.is_some_and(|(s, _)| s == 200) {
                break;
            }
            assert!(
                started.elapsed() < START_BOUND,
                "not ready in {START_BOUND:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            base,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn wait_exit(&mut self, bound: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if started.elapsed() > bound {
                let _ = self.child.kill();
                panic!("the agent did not exit within {bound:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A GET from a plain thread (no runtime needed): status and body, `None` when refused.
fn ureq_get(url: &str) -> Option<(u16, String)> {
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

fn chat(question: &str, png: &[u8]) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(png);
    json!({
        "model": "easy-vqa",
        "messages": [
            {"role": "system", "content": "answer in one word"},
            {"role": "user", "content": [
                {"type": "text", "text": question},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{data}")}},
            ]},
        ],
    })
}

struct Got {
    status: u16,
    retry_after: Option<String>,
    content_type: String,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn post(url: &str, body: Vec<u8>, token: Option<&str>) -> Got {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(60))
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let header = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    Got {
        status: r.status().as_u16(),
        retry_after: header("retry-after"),
        content_type: header("content-type").unwrap_or_default(),
        body: r.text().await.unwrap(),
    }
}

fn assert_error(got: &Got, status: u16, code: &str, says: &str) {
    assert_eq!(got.status, status, "{}", got.body);
    let e = &got.json()["error"];
    assert_eq!(e["code"], code, "{}", got.body);
    assert!(
        e["type"].is_string() && e.get("param").is_some(),
        "{}",
        got.body
    );
    let message = e["message"].as_str().unwrap();
    assert!(message.contains(says), "`{message}` should say `{says}`");
}

#[test]
fn golden_frames_are_answered_plain_and_streamed_with_their_trace_ids() {
    let agent = Agent::start("[offload]\npolicy = \"edge-only\"\n", &[]);
    let (status, models) = ureq_get(&agent.url("/v1/models")).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&models).unwrap()["data"][0]["id"],
        "easy-vqa"
    );
    let rt = rt();
    let mut ids = Vec::new();
    for (file, question, expected) in [
        ("easyvqa-test-0.png", "what is the red shape?", "triangle"),
        ("easyvqa-test-3.png", "what color is the circle?", "yellow"),
    ] {
        let url = agent.url("/v1/chat/completions");
        let body = chat(question, &golden(file));
        let plain = rt.block_on(post(&url, serde_json::to_vec(&body).unwrap(), None));
        assert_eq!(plain.status, 200, "{}", plain.body);
        let v = plain.json();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["message"]["content"], expected, "{v}");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["msao"]["decision"], "local");
        assert_eq!(v["msao"]["source"], "local");
        // WordPiece: `what | is | the | red | shape | ?` (six tokens each), none generated.
        assert_eq!(
            v["usage"],
            json!({"prompt_tokens": 6, "completion_tokens": 0, "total_tokens": 6}),
            "{v}"
        );
        assert!(
            v["msao"]["stages_ms"]["total"].as_f64().unwrap() > 0.0,
            "{v}"
        );
        ids.push(v["msao"]["request_id"].as_u64().unwrap());

        let mut streamed = body.clone();
        streamed["stream"] = json!(true);
        let s = rt.block_on(post(&url, serde_json::to_vec(&streamed).unwrap(), None));
        assert_eq!(s.status, 200, "{}", s.body);
        assert!(
            s.content_type.starts_with("text/event-stream"),
            "{}",
            s.content_type
        );
        let events: Vec<&str> = s
            .body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        assert_eq!(events.last(), Some(&"[DONE]"), "{}", s.body);
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, expected);
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "stop"
        );
        assert_eq!(chunks.last().unwrap()["usage"], v["usage"]);
        ids.push(
            chunks.last().unwrap()["msao"]["request_id"]
                .as_u64()
                .unwrap(),
        );
    }
    // One id per request, counting from 2^31 (never a workload's).
    assert_eq!(ids, (0..4).map(|i| (1u64 << 31) + i).collect::<Vec<_>>());
}

#[test]
fn refusals_use_the_openai_error_envelope() {
    let agent = Agent::start(
        "[offload]\npolicy = \"edge-only\"\n[api]\nmax_body_bytes = 65536\n[limits]\nmax_question_bytes = 64\n",
        &[],
    );
    let url = agent.url("/v1/chat/completions");
    let rt = rt();
    let send = |v: &Value| rt.block_on(post(&url, serde_json::to_vec(v).unwrap(), None));
    let png = golden("easyvqa-test-0.png");
    let with_url = |u: &str| {
        let mut v = chat("what shape?", &png);
        v["messages"][1]["content"][1]["image_url"]["url"] = json!(u);
        v
    };
    assert_error(
        &send(&with_url("data:image/png;base64,@@@")),
        400,
        "invalid_base64",
        "bad base64",
    );
    let junk = base64::engine::general_purpose::STANDARD.encode(b"not an image at all");
    assert_error(
        &send(&with_url(&format!("data:image/png;base64,{junk}"))),
        400,
        "invalid_image",
        "image_url",
    );
    assert_error(
        &send(&with_url("https://example.com/cat.jpg")),
        400,
        "remote_image_refused",
        "remote image URLs are refused",
    );
    assert_error(
        &send(&with_url("data:image/gif;base64,R0lGOD")),
        400,
        "unsupported_image_type",
        "image/gif",
    );
    let mut part = chat("what shape?", &png);
    part["messages"][1]["content"][1] = json!({"type": "file", "file": {}});
    assert_error(&send(&part), 400, "unsupported_content_part", "`file`");
    let mut model = chat("what shape?", &png);
    model["model"] = json!("gpt-4o");
    assert_error(&send(&model), 404, "model_not_found", "gpt-4o");
    let long = chat(&"why ".repeat(40), &png);
    assert_error(&send(&long), 400, "question_too_long", "max_question_bytes");
    let mut no_image = chat("what shape?", &png);
    no_image["messages"][1]["content"] = json!("what shape?");
    assert_error(&send(&no_image), 400, "no_image", "no image_url");
    // A bare string is accepted as Ollama does.
    let mut bare = chat("what is the red shape?", &png);
    let u = bare["messages"][1]["content"][1]["image_url"]["url"].clone();
    bare["messages"][1]["content"][1]["image_url"] = u;
    let ok = send(&bare);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["choices"][0]["message"]["content"], "triangle");
    // 413 before parsing, said by Content-Length or found while reading.
    let big = vec![b' '; 70_000];
    let got = rt.block_on(post(&url, big, None));
    assert_error(&got, 413, "request_too_large", "max_body_bytes");
    let got = rt.block_on(post(&url, b"{not json".to_vec(), None));
    assert_error(&got, 400, "invalid_json", "request body");
    // Still serving after all of that.
    assert_eq!(send(&chat("what is the red shape?", &png)).status, 200);
}

#[test]
fn a_bearer_token_from_the_environment_is_required_when_set() {
    let agent = Agent::start(
        "[offload]\npolicy = \"edge-only\"\n[api]\ntoken_env = \"TEST_API_TOKEN\"\n",
        &[("TEST_API_TOKEN", "s3cret-token")],
    );
    let url = agent.url("/v1/chat/completions");
    let rt = rt();
    let body = serde_json::to_vec(&chat(
        "what is the red shape?",
        &golden("easyvqa-test-0.png"),
    ))
    .unwrap();
    let none = rt.block_on(post(&url, body.clone(), None));
    assert_eq!(none.status, 401, "{}", none.body);
    assert!(
        none.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no Authorization")
    );
    let wrong = rt.block_on(post(&url, body.clone(), Some("s3cret-toke")));
    assert_eq!(wrong.status, 401);
    let right = rt.block_on(post(&url, body, Some("s3cret-token")));
    assert_eq!(right.status, 200, "{}", right.body);
    // The model list needs it too; the health probe does not.
    assert_eq!(ureq_get(&agent.url("/v1/models")).unwrap().0, 401);
    assert_eq!(ureq_get(&agent.url("/health")).unwrap().0, 200);
}

/// Offloads into a cloud that never answers: one request holds the only cloud slot for
/// its deadline, the next waits for the slot, one waits in the queue of 1 — and the rest
/// are refused at once with `429` and `Retry-After`. Every accepted one is answered, as a
/// flagged local fallback.
#[test]
fn a_full_queue_is_refused_429_and_every_accepted_request_is_answered() {
    let (_cloud, cloud_url) = silent_cloud();
    let agent = Agent::start(
        &format!(
            "[offload]\npolicy = \"offload-all\"\nthreshold = 0.5\ndeadline_ms = 3000\nmax_in_flight = 1\n\
             [offload.cloud]\nurl = \"{cloud_url}\"\n[api]\nqueue = 1\n"
        ),
        &[],
    );
    let url = agent.url("/v1/chat/completions");
    let body = serde_json::to_vec(&chat(
        "what is the red shape?",
        &golden("easyvqa-test-0.png"),
    ))
    .unwrap();
    let rt = rt();
    let got: Vec<Got> = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..8u64 {
            let (url, body) = (url.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                // In order: the first takes the slot before the others arrive.
                tokio::time::sleep(Duration::from_millis(if i == 0 { 0 } else { 400 + 50 * i }))
                    .await;
                post(&url, body, None).await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let refused: Vec<&Got> = got.iter().filter(|g| g.status == 429).collect();
    let answered: Vec<&Got> = got.iter().filter(|g| g.status == 200).collect();
    assert_eq!(refused.len() + answered.len(), got.len(), "only 200 or 429");
    assert!(refused.len() >= 4, "{} refused of 8", refused.len());
    assert!(answered.len() >= 2, "{} answered of 8", answered.len());
    for r in &refused {
        assert_eq!(r.retry_after.as_deref(), Some("1"));
        assert_error(r, 429, "queue_full", "queue is full");
    }
    for a in &answered {
        let v = a.json();
        assert_eq!(v["msao"]["source"], "fallback", "{v}");
        assert_eq!(v["msao"]["fallback"], true);
        assert_eq!(v["choices"][0]["message"]["content"], "triangle");
    }
}

#[test]
fn sigterm_with_requests_in_flight_answers_each_once_and_exits_0() {
    let (_cloud, cloud_url) = silent_cloud();
    let mut agent = Agent::start(
        &format!(
            "[offload]\npolicy = \"offload-all\"\nthreshold = 0.5\ndeadline_ms = 2000\nmax_in_flight = 2\n\
             [offload.cloud]\nurl = \"{cloud_url}\"\n[api]\nqueue = 8\nshutdown_grace = \"5s\"\n"
        ),
        &[],
    );
    let url = agent.url("/v1/chat/completions");
    let body = serde_json::to_vec(&chat(
        "what is the red shape?",
        &golden("easyvqa-test-0.png"),
    ))
    .unwrap();
    let rt = rt();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            rt.spawn(async move { post(&url, body, None).await })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(600));
    let signalled = Instant::now();
    agent.sigterm();
    let got: Vec<Got> = rt.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(
                tokio::time::timeout(Duration::from_secs(20), t)
                    .await
                    .expect("a request hung")
                    .unwrap(),
            );
        }
        out
    });
    for g in &got {
        match g.status {
            200 => assert_eq!(g.json()["msao"]["source"], "fallback", "{}", g.body),
            503 => assert_error(g, 503, "unavailable", "stop"),
            s => panic!("status {s}: {}", g.body),
        }
    }
    assert!(
        got.iter().any(|g| g.status == 200),
        "the ones in flight finish"
    );
    let status = agent.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{status}");
    eprintln!(
        "exited {:.1} s after SIGTERM",
        signalled.elapsed().as_secs_f64()
    );
}

/// An image server on loopback: `/frame.png` (a golden frame), `/missing` (404), `/moved`
/// (302 to `/frame.png`) and `/big` (2 MiB, over the agent's frame limit of 1 MiB).
fn image_server() -> String {
    use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
    let png = golden("easyvqa-test-0.png");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        rt().block_on(async move {
            let app = Router::new()
                .route("/frame.png", get(move || async move { png.clone() }))
                .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
                .route(
                    "/moved",
                    get(|| async {
                        (StatusCode::FOUND, [("location", "/frame.png")]).into_response()
                    }),
                )
                .route("/big", get(|| async { vec![0u8; 2 << 20] }));
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    format!("{addr}")
}

#[test]
fn remote_image_urls_are_fetched_only_from_allowed_hosts() {
    let host = image_server();
    let agent = Agent::start(
        &format!(
            "[offload]\npolicy = \"edge-only\"\n[limits]\nmax_frame_bytes = 1048576\n[api]\nremote_image_hosts = [\"{host}\"]\n"
        ),
        &[],
    );
    let rt = rt();
    let send = |url: &str| {
        let body = json!({
            "model": "easy-vqa",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is the red shape?"},
                {"type": "image_url", "image_url": {"url": url}},
            ]}],
        });
        rt.block_on(post(
            &agent.url("/v1/chat/completions"),
            serde_json::to_vec(&body).unwrap(),
            None,
        ))
    };
    let ok = send(&format!("http://{host}/frame.png"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["choices"][0]["message"]["content"], "triangle");
    assert_error(
        &send(&format!("http://{host}/missing")),
        400,
        "remote_image_unavailable",
        "404",
    );
    assert_error(
        &send(&format!("http://{host}/moved")),
        400,
        "remote_image_unavailable",
        "302",
    );
    assert_error(
        &send(&format!("http://{host}/big")),
        400,
        "remote_image_unavailable",
        "larger than 1048576 bytes",
    );
    // The same server by another name, and another port: not on the list.
    let port = host.rsplit_once(':').unwrap().1;
    assert_error(
        &send(&format!("http://localhost:{port}/frame.png")),
        400,
        "remote_image_refused",
        "remote_image_hosts",
    );
    assert_error(
        &send("http://127.0.0.1:9/frame.png"),
        400,
        "remote_image_refused",
        "127.0.0.1:9",
    );
}

fn chat_about(question: &str, image_url: &str) -> Value {
    json!({
        "model": "easy-vqa",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": question},
            {"type": "image_url", "image_url": {"url": image_url}},
        ]}],
    })
}

/// Waits until `GET /v1/cameras` says `name` has a frame.
fn wait_camera_ready(agent: &Agent, name: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = ureq_get(&agent.url("/v1/cameras")).unwrap();
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let cam = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no camera {name} in {body}"))
            .clone();
        if cam["ready"] == true {
            return cam;
        }
        assert!(
            started.elapsed() < START_BOUND,
            "camera {name} never ready: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads `GET /v1/watch` until `n` answer events came; their data.
async fn watch_events(url: &str, n: usize) -> Vec<Value> {
    let mut r = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(60), r.chunk())
            .await
            .expect("an event within 60 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            if block.contains("event: answer") {
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap();
                events.push(serde_json::from_str(data).unwrap());
            }
        }
    }
    events
}

#[test]
fn a_camera_is_asked_about_by_name_and_its_standing_question_streams_answers() {
    // A still-image camera (every build): the golden frame, cycled at 20 fps.
    let frames = tempfile::tempdir().unwrap();
    std::fs::write(
        frames.path().join("frame.png"),
        golden("easyvqa-test-0.png"),
    )
    .unwrap();
    let extra = format!(
        "[offload]\npolicy = \"edge-only\"\n\
         [[camera]]\nname = \"stills\"\nuri = \"file://{}/\"\nfps = 20\n\
         [[watch]]\ncamera = \"stills\"\nquestion = \"What shape is in the image?\"\ninterval = \"100ms\"\n",
        frames.path().display()
    );
    let agent = Agent::start(&extra, &[]);
    wait_camera_ready(&agent, "stills");
    let url = agent.url("/v1/chat/completions");
    let q = "What shape is in the image?";
    let rt = rt();
    let inline = rt.block_on(post(
        &url,
        serde_json::to_vec(&chat(q, &golden("easyvqa-test-0.png"))).unwrap(),
        None,
    ));
    let by_name = rt.block_on(post(
        &url,
        serde_json::to_vec(&chat_about(q, "camera://stills")).unwrap(),
        None,
    ));
    assert_eq!(by_name.status, 200, "{}", by_name.body);
    let (a, b) = (inline.json(), by_name.json());
    assert_eq!(
        b["choices"][0]["message"]["content"], a["choices"][0]["message"]["content"],
        "the camera's frame is the same image"
    );
    let frame = &b["msao"]["frame"];
    assert_eq!(frame["camera"], "stills", "{b}");
    assert!(frame["seq"].as_u64().unwrap() >= 1, "{frame}");
    assert!(frame["age_ms"].as_f64().unwrap() >= 0.0, "{frame}");
    assert!(frame["captured_at"].as_f64().unwrap() > 1.7e9, "{frame}");
    assert!(
        a["msao"]["frame"].is_null(),
        "an inline image has no camera frame"
    );

    let unknown = rt.block_on(post(
        &url,
        serde_json::to_vec(&chat_about(q, "camera://back")).unwrap(),
        None,
    ));
    assert_error(&unknown, 404, "unknown_camera", "cameras: stills");

    // The standing question: answers as server-sent events, each about a camera frame.
    let events = rt.block_on(watch_events(&agent.url("/v1/watch"), 3));
    for e in &events {
        assert_eq!(e["camera"], "stills", "{e}");
        assert_eq!(e["question"], q, "{e}");
        assert_eq!(e["answer"], a["choices"][0]["message"]["content"], "{e}");
        assert!(e["request_id"].as_u64().unwrap() >= 0xC000_0000, "{e}");
        assert!(
            e["capture_to_answer_ms"].as_f64().unwrap() >= e["frame_age_ms"].as_f64().unwrap(),
            "{e}"
        );
    }
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e["request_id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let cam = wait_camera_ready(&agent, "stills");
    let c = &cam["counts"];
    assert!(
        c["used"].as_u64().unwrap() >= 2 && c["captured"].as_u64() >= c["used"].as_u64(),
        "{cam}"
    );
    assert_eq!(c["errors"], 0, "{cam}");
}

#[cfg(feature = "camera")]
#[test]
fn a_live_test_pattern_is_answered_about_its_newest_frame() {
    let agent = Agent::start(
        "[offload]\npolicy = \"edge-only\"\n[[camera]]\nname = \"live\"\nuri = \"test://ball\"\nwidth = 640\nheight = 480\nfps = 30\n",
        &[],
    );
    wait_camera_ready(&agent, "live");
    let url = agent.url("/v1/chat/completions");
    let rt = rt();
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let got = rt.block_on(post(
            &url,
            serde_json::to_vec(&chat_about("What colour is the shape?", "camera://live")).unwrap(),
            None,
        ));
        assert_eq!(got.status, 200, "{}", got.body);
        let frame = got.json()["msao"]["frame"].clone();
        seqs.push(frame["seq"].as_u64().unwrap());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "newer frames each time: {seqs:?}"
    );
}
