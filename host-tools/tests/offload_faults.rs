//! Fault tests of the agent's offload pipeline (`msao_agent::host::workload::Pipeline`): a cloud that
//! is down, dies mid-run, is slower than the deadline, answers garbage, 5xx or the wrong
//! shape, or refuses the agent's bearer token, and an unreadable frame. Each fault must leave every request answered (locally),
//! counted in the [`RunSummary`] and reported to the [`Observer`], with no request lost.
//!
//! The cloud is the reference server (`msao_host::cloud`) in-process on 127.0.0.1:0; fault
//! servers put one faulty `/v2/models/vqa-cloud/infer` route in front of the real router, so
//! health and metadata are exactly the real ones. The workload is generated from
//! `.cache/easy-vqa/test` (3 scenes × 4 frames). Needs `libonnxruntime.so` and the models
//! (`scripts/setup.sh`) and `scripts/fetch-easy-vqa.sh`.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use msao::message::{Fault, FaultCode, RequestTrace};
use msao_agent::host::inference::{BrainOptions, EdgeBrain};
use msao_agent::host::models::{ModelCatalog, OrtRuntime, RuntimeOptions};
use msao_agent::host::workload::{
    AnswerRecord, Observer, OffloadConfig, PolicyKind, RunOptions, RunSummary, Workload, run,
};
use msao_host::cloud::{BearerAuth, CloudState, router, serve};
use msao_host::workload::{AudioMode, Config, dataset::Dataset, generate};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tempfile::TempDir;

/// The small deadline of the fault tests, ms.
const DEADLINE_MS: u64 = 300;
/// A deadline the healthy reference server always meets, even on a loaded 2-core machine.
const GENEROUS_MS: u64 = 20_000;
/// How long the slow fake server sleeps before answering (≫ [`DEADLINE_MS`]).
const SLOW: Duration = Duration::from_secs(3);
/// Requests of the generated workload.
const REQUESTS: usize = 12;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn models_dir() -> PathBuf {
    repo().join("models")
}

/// A runtime for the shared servers (never dropped).
fn background() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn cloud_state() -> Arc<CloudState> {
    static STATE: OnceLock<Arc<CloudState>> = OnceLock::new();
    Arc::clone(STATE.get_or_init(|| {
        Arc::new(CloudState::load(&models_dir()).unwrap_or_else(|e| {
            panic!("{e:#}\n(run scripts/setup.sh for ONNX Runtime and the models)")
        }))
    }))
}

/// Serves `app` on 127.0.0.1:0 on `rt`; returns its base URL.
fn serve_on(rt: &tokio::runtime::Runtime, app: Router) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The healthy reference server, shared.
fn real_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let state = cloud_state();
        let listener = background()
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        background().spawn(async move {
            serve(listener, state, std::future::pending())
                .await
                .unwrap()
        });
        url
    })
}

/// The edge brain, shared; holding it also serialises the tests (two cores, and the small
/// deadlines must not be eaten by another test's model runs).
fn brain() -> MutexGuard<'static, EdgeBrain> {
    static BRAIN: OnceLock<Mutex<EdgeBrain>> = OnceLock::new();
    BRAIN
        .get_or_init(|| {
            let runtime = OrtRuntime::new(&RuntimeOptions::default())
                .unwrap_or_else(|e| panic!("{e}\n(run scripts/setup.sh)"));
            let catalog = ModelCatalog::load_dir(&models_dir()).unwrap();
            let options = BrainOptions {
                audio: false,
                ..BrainOptions::default()
            };
            let pipeline =
                msao_agent::host::models::PipelineSpec::load_default(&models_dir()).unwrap();
            Mutex::new(EdgeBrain::load(&runtime, &catalog, &pipeline, &options).unwrap())
        })
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// A fresh 3 scenes × 4 frames workload (one request per frame) in a tempdir.
fn workload() -> (TempDir, Workload) {
    let data = repo().join(".cache/easy-vqa/test");
    let dataset =
        Dataset::open(&data).unwrap_or_else(|e| panic!("{e}\n(run scripts/fetch-easy-vqa.sh)"));
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        seed: 7,
        scenes: 3,
        hold: 4,
        width: 640,
        height: 480,
        scale: (1.0, 3.0),
        noise: 2,
        audio: AudioMode::None,
    };
    generate(&dataset, &config, dir.path(), &mut |_, _| {}).unwrap();
    let w = Workload::open(dir.path()).unwrap();
    assert_eq!(w.requests.len(), REQUESTS);
    (dir, w)
}

fn config(policy: PolicyKind, url: &str, deadline_ms: u64) -> OffloadConfig {
    let mut c = OffloadConfig {
        policy,
        deadline_ms,
        ..OffloadConfig::default()
    };
    c.cloud.url = url.to_owned();
    c.cloud.deadline_ms = deadline_ms;
    c.validate().unwrap();
    c
}

/// A URL nothing listens on.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

/// Records what the pipeline reports; optionally kills a server after N answers.
#[derive(Default)]
struct Seen {
    answers: Vec<(AnswerRecord, RequestTrace)>,
    faults: Vec<Fault>,
    /// (after this many answers, the server's runtime to shut down).
    kill: Option<(usize, tokio::runtime::Runtime)>,
    killed_at: Option<usize>,
}

impl Observer for Seen {
    fn answer(&mut self, record: &AnswerRecord, trace: &RequestTrace) {
        self.answers.push((record.clone(), trace.clone()));
        if self
            .kill
            .as_ref()
            .is_some_and(|(n, _)| self.answers.len() == *n)
            && let Some((n, rt)) = self.kill.take()
        {
            // Drops every server task: the listener and open connections close, in-flight
            // requests are never answered.
            rt.shutdown_background();
            self.killed_at = Some(n);
        }
    }
    fn fault(&mut self, fault: &Fault) {
        self.faults.push(fault.clone());
    }
}

impl Seen {
    fn record(&self, id: u32) -> &AnswerRecord {
        &self
            .answers
            .iter()
            .find(|(r, _)| r.request_id == id)
            .unwrap()
            .0
    }

    fn faults_with(&self, code: FaultCode) -> Vec<&str> {
        self.faults
            .iter()
            .filter(|f| f.code == code as u16)
            .map(|f| f.message.as_str())
            .collect()
    }
}

fn counts(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

/// No request lost: every request answered exactly once, and the summary agrees with
/// what the observer saw.
fn assert_all_answered(w: &Workload, s: &RunSummary, seen: &Seen) {
    assert_eq!(s.requests, w.requests.len(), "{s:?}");
    let mut ids: Vec<u32> = seen.answers.iter().map(|(r, _)| r.request_id).collect();
    ids.sort_unstable();
    let mut want: Vec<u32> = w.requests.iter().map(|r| r.request_id).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "every request id exactly once");
    for (r, t) in &seen.answers {
        assert_eq!(t.request_id, r.request_id);
    }
    assert_eq!(s.sources.values().sum::<usize>(), s.requests, "{s:?}");
    assert_eq!(s.decisions.values().sum::<usize>(), s.requests, "{s:?}");
    let mut sources: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (r, _) in &seen.answers {
        *sources.entry(r.source).or_default() += 1;
    }
    assert_eq!(sources, s.sources);
    assert_eq!(s.latencies_us.len(), s.requests);
}

/// A fallback is the local head's answer, with the fault named.
fn assert_fallback(r: &AnswerRecord, kind: &str) {
    assert_eq!(r.source, "fallback", "{r:?}");
    assert!(r.answer.is_some(), "{r:?}");
    assert_eq!(r.answer, r.local_answer, "{r:?}");
    assert_eq!(r.confidence, r.local_confidence, "{r:?}");
    let fault = r.fault.as_deref().unwrap_or_default();
    assert!(fault.starts_with(&format!("{kind}: ")), "{r:?}");
    assert_eq!((r.bytes_up, r.bytes_down), (0, 0), "{r:?}");
}

/// Every request offloaded to a cloud that fails the same way: all fall back, each counted
/// once under `kind` and reported as a cloud fault.
fn assert_every_request_fell_back(w: &Workload, s: &RunSummary, seen: &Seen, kind: &'static str) {
    assert_all_answered(w, s, seen);
    assert_eq!(s.decisions, counts(&[("offload", REQUESTS)]), "{s:?}");
    assert_eq!(s.sources, counts(&[("fallback", REQUESTS)]), "{s:?}");
    assert_eq!(s.cloud_faults, counts(&[(kind, REQUESTS)]), "{s:?}");
    assert_eq!(s.input_faults, 0);
    for (r, _) in &seen.answers {
        assert_fallback(r, kind);
    }
    let cloud = seen.faults_with(FaultCode::Cloud);
    assert_eq!(cloud.len(), REQUESTS, "{:?}", seen.faults);
    assert_eq!(cloud.len(), seen.faults.len(), "only cloud faults");
    for m in cloud {
        assert!(m.starts_with(&format!("{kind}: ")), "{m}");
    }
}

#[test]
fn cloud_down_at_start_every_request_answered_locally() {
    let mut brain = brain();
    let (_dir, w) = workload();
    let url = closed_port();

    // offload-all keeps asking: every request falls back, every attempt counted.
    let mut seen = Seen::default();
    let c = config(PolicyKind::OffloadAll, &url, DEADLINE_MS);
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_every_request_fell_back(&w, &s, &seen, "unreachable");
    for (r, _) in &seen.answers {
        let fault = r.fault.as_deref().unwrap();
        assert!(fault.contains(url.trim_start_matches("http://")), "{fault}");
    }

    // MSAO at threshold 1.0 wants the cloud for every unsure request; after the first
    // refusal it answers locally until `retry_after_ms`, so fewer attempts, none lost.
    let mut seen = Seen::default();
    let c = OffloadConfig {
        retry_after_ms: 60_000,
        ..config(PolicyKind::Msao, &url, DEADLINE_MS)
    };
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_all_answered(&w, &s, &seen);
    let fallback = s.sources.get("fallback").copied().unwrap_or(0);
    let local = s.sources.get("local").copied().unwrap_or(0);
    assert!(fallback >= 1, "{s:?}");
    assert_eq!(fallback + local, REQUESTS, "{s:?}");
    assert_eq!(
        s.cloud_faults,
        counts(&[("unreachable", fallback)]),
        "{s:?}"
    );
    assert_eq!(seen.faults_with(FaultCode::Cloud).len(), fallback);
    for (r, _) in &seen.answers {
        assert!(r.answer.is_some(), "{r:?}");
        if r.source == "fallback" {
            assert_fallback(r, "unreachable");
        }
    }
}

#[test]
fn cloud_killed_mid_run_later_requests_fall_back() {
    const KILL_AFTER: usize = 4;
    const IN_FLIGHT: usize = 2;
    let mut brain = brain();
    let (_dir, w) = workload();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = serve_on(&rt, router(cloud_state()));
    let mut seen = Seen {
        kill: Some((KILL_AFTER, rt)),
        ..Seen::default()
    };
    let c = OffloadConfig {
        max_in_flight: IN_FLIGHT,
        ..config(PolicyKind::OffloadAll, &url, GENEROUS_MS)
    };
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_eq!(seen.killed_at, Some(KILL_AFTER), "the kill happened");
    assert_all_answered(&w, &s, &seen);
    let order: Vec<&str> = seen.answers.iter().map(|(r, _)| r.source).collect();
    // Before the kill the healthy server answered everything.
    assert!(
        order[..KILL_AFTER].iter().all(|s| *s == "cloud"),
        "{order:?}"
    );
    // Requests prepared after the kill (all but the few already in flight or finished but
    // not yet absorbed) fall back.
    let settled = KILL_AFTER + 2 * IN_FLIGHT;
    assert!(
        order[settled..].iter().all(|s| *s == "fallback"),
        "{order:?}"
    );
    let cloud = s.sources.get("cloud").copied().unwrap_or(0);
    let fallback = s.sources.get("fallback").copied().unwrap_or(0);
    assert_eq!(cloud + fallback, REQUESTS, "{s:?}");
    assert!(
        cloud >= KILL_AFTER && fallback >= REQUESTS - settled,
        "{s:?}"
    );
    assert_eq!(s.cloud_faults.values().sum::<usize>(), fallback, "{s:?}");
    assert!(
        s.cloud_faults.get("unreachable").copied().unwrap_or(0) >= 1,
        "{s:?}"
    );
    assert_eq!(seen.faults_with(FaultCode::Cloud).len(), fallback);
    for (r, t) in &seen.answers {
        match r.source {
            "cloud" => {
                assert!(r.bytes_up > 0 && r.bytes_down > 0, "{r:?}");
                assert!(t.bytes_up > 0, "{t:?}");
                assert!(r.fault.is_none(), "{r:?}");
            }
            _ => assert_eq!(r.answer, r.local_answer, "{r:?}"),
        }
    }
}

/// One faulty infer route in front of the real server (health and metadata are real).
#[derive(Clone, Copy, Debug)]
enum Bad {
    Slow,
    Garbage,
    Status503,
    Logits7,
}

/// Serves a [`Bad`] server on the shared runtime; returns its URL and an infer-call counter.
fn bad_server(mode: Bad) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let infer = post(move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let r: Response = match mode {
                Bad::Slow => {
                    tokio::time::sleep(SLOW).await;
                    StatusCode::OK.into_response()
                }
                Bad::Garbage => (StatusCode::OK, "\u{1}garbage, not OIP\u{0}").into_response(),
                Bad::Status503 => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({"error": "overloaded"})),
                )
                    .into_response(),
                Bad::Logits7 => axum::Json(json!({
                    "model_name": "vqa-cloud",
                    "outputs": [{"name": "logits", "datatype": "FP32", "shape": [1, 7],
                                 "data": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]}]
                }))
                .into_response(),
            };
            r
        }
    });
    let app = Router::new()
        .route("/v2/models/vqa-cloud/infer", infer)
        .fallback_service(router(cloud_state()));
    (serve_on(background(), app), calls)
}

#[test]
fn cloud_slower_than_the_deadline_times_out_and_falls_back() {
    let mut brain = brain();
    let (_dir, w) = workload();
    let (url, calls) = bad_server(Bad::Slow);
    let mut seen = Seen::default();
    let c = config(PolicyKind::OffloadAll, &url, DEADLINE_MS);
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_every_request_fell_back(&w, &s, &seen, "timeout");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        REQUESTS,
        "each request reached the server"
    );
    for (r, _) in &seen.answers {
        assert!(r.fault.as_deref().unwrap().contains("300 ms"), "{r:?}");
        // Answered at the deadline, not when the server finally would.
        assert!(r.latency_us < SLOW.as_micros() as u64, "{r:?}");
    }
}

#[test]
fn bad_cloud_answers_are_counted_by_kind_and_fall_back() {
    let mut brain = brain();
    let (_dir, w) = workload();
    for (mode, kind, detail) in [
        (Bad::Garbage, "malformed", "malformed cloud answer"),
        (Bad::Status503, "server-error", "HTTP 503: overloaded"),
        (Bad::Logits7, "wrong-shape", "tensor `logits`"),
    ] {
        let (url, calls) = bad_server(mode);
        let mut seen = Seen::default();
        let c = config(PolicyKind::OffloadAll, &url, DEADLINE_MS);
        let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
        assert_every_request_fell_back(&w, &s, &seen, kind);
        assert_eq!(calls.load(Ordering::SeqCst), REQUESTS, "{mode:?}");
        for (r, _) in &seen.answers {
            let fault = r.fault.as_deref().unwrap();
            assert!(fault.contains(detail), "{mode:?}: {fault}");
        }
    }
}

#[test]
fn a_cloud_that_refuses_the_token_is_rejected_and_falls_back() {
    let mut brain = brain();
    let (_dir, w) = workload();
    let auth = BearerAuth::new("the-right-token".into(), msao_host::cloud::error);
    let url = serve_on(background(), auth.protect(router(cloud_state())));

    let mut c = config(PolicyKind::OffloadAll, &url, GENEROUS_MS);
    c.cloud.bearer_token = Some("a-wrong-token".into());
    let mut seen = Seen::default();
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_every_request_fell_back(&w, &s, &seen, "rejected");
    for (r, _) in &seen.answers {
        let fault = r.fault.as_deref().unwrap();
        assert!(
            fault.contains("401") && fault.contains("wrong bearer token"),
            "{fault}"
        );
    }
    assert!(auth.rejected() >= REQUESTS as u64, "{}", auth.rejected());

    // The right token: the same server answers every request.
    c.cloud.bearer_token = Some("the-right-token".into());
    let refused = auth.rejected();
    let mut seen = Seen::default();
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_all_answered(&w, &s, &seen);
    assert_eq!(s.sources, counts(&[("cloud", REQUESTS)]), "{s:?}");
    assert!(s.cloud_faults.is_empty(), "{s:?}");
    assert_eq!(auth.rejected(), refused);
}

#[test]
fn unreadable_frame_fails_only_its_own_request() {
    let mut brain = brain();
    let (dir, w) = workload();
    let victim = &w.requests[5];
    let frame = w.frame(victim).unwrap().file.clone();
    let name = Path::new(&frame).file_name().unwrap().to_str().unwrap();
    std::fs::write(dir.path().join(&frame), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    assert!(
        w.requests
            .iter()
            .filter(|r| r.frame == victim.frame)
            .count()
            == 1,
        "one request per frame"
    );

    let mut seen = Seen::default();
    let c = config(PolicyKind::OffloadAll, real_url(), GENEROUS_MS);
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_all_answered(&w, &s, &seen);
    assert_eq!(s.input_faults, 1, "{s:?}");
    assert_eq!(
        s.sources,
        counts(&[("cloud", REQUESTS - 1), ("error", 1)]),
        "{s:?}"
    );
    assert!(s.cloud_faults.is_empty(), "{s:?}");
    let r = seen.record(victim.request_id);
    assert_eq!(r.source, "error");
    assert_eq!(r.answer, None);
    assert_eq!(
        r.correct,
        Some(false),
        "a labelled request without an answer is wrong"
    );
    let fault = r.fault.as_deref().unwrap();
    assert!(fault.contains(name), "{fault}");
    let t = &seen
        .answers
        .iter()
        .find(|(r, _)| r.request_id == victim.request_id)
        .unwrap()
        .1;
    assert_eq!(t.outcome, msao::message::Outcome::Error);
    let input = seen.faults_with(FaultCode::Input);
    assert_eq!(input.len(), 1, "{:?}", seen.faults);
    assert_eq!(seen.faults.len(), 1, "no other fault: {:?}", seen.faults);
    assert!(
        input[0].contains(name),
        "the telemetry fault names the file: {}",
        input[0]
    );
    for (r, _) in &seen.answers {
        if r.request_id != victim.request_id {
            assert_eq!(r.source, "cloud", "{r:?}");
            assert!(r.answer.is_some() && r.fault.is_none(), "{r:?}");
        }
    }
}

/// A threshold between the local confidences of an edge-only run, so that some requests
/// are confident and some are not; returns it and the confidences per request.
fn split_threshold(brain: &mut EdgeBrain, w: &Workload) -> (f32, BTreeMap<u32, f32>) {
    let mut seen = Seen::default();
    let c = config(PolicyKind::EdgeOnly, &closed_port(), GENEROUS_MS);
    let s = run(brain, &c, 1.0, w, &RunOptions::default(), &mut seen).unwrap();
    assert_eq!(s.sources, counts(&[("local", REQUESTS)]), "{s:?}");
    let conf: BTreeMap<u32, f32> = seen
        .answers
        .iter()
        .map(|(r, _)| (r.request_id, r.local_confidence.unwrap()))
        .collect();
    let mut v: Vec<f32> = conf.values().copied().collect();
    v.sort_by(f32::total_cmp);
    let mid = v.len() / 2;
    let (lo, hi) = (v[mid - 1], v[mid]);
    assert!(
        lo < hi,
        "no gap at the median of the local confidences: {v:?}"
    );
    ((lo + hi) / 2.0, conf)
}

#[test]
fn speculation_awaits_the_cloud_for_unconfident_requests() {
    let mut brain = brain();
    let (_dir, w) = workload();
    let (threshold, conf) = split_threshold(&mut brain, &w);
    let mut seen = Seen::default();
    let c = OffloadConfig {
        speculate_head_fraction: 0.0,
        ..config(PolicyKind::Msao, real_url(), GENEROUS_MS)
    };
    let s = run(
        &mut brain,
        &c,
        threshold,
        &w,
        &RunOptions::default(),
        &mut seen,
    )
    .unwrap();
    assert_all_answered(&w, &s, &seen);
    assert!(s.cloud_faults.is_empty() && seen.faults.is_empty(), "{s:?}");
    let unsure = conf.values().filter(|c| **c < threshold).count();
    assert_eq!(unsure, REQUESTS / 2);
    for (r, t) in &seen.answers {
        assert_eq!(
            r.local_confidence,
            Some(conf[&r.request_id]),
            "same stream, same head"
        );
        if conf[&r.request_id] < threshold {
            assert_eq!(r.decision, "speculate", "{r:?}");
            assert_eq!(r.source, "cloud", "{r:?}");
            assert!(r.bytes_up > 0 && r.bytes_down > 0, "{r:?}");
            assert_eq!((r.bytes_wasted, t.bytes_wasted), (0, 0), "{r:?}");
        } else {
            assert_eq!(r.source, "local", "{r:?}");
            assert_eq!(r.bytes_up, 0, "{r:?}");
        }
    }
    assert_eq!(s.sources.get("cloud").copied(), Some(unsure), "{s:?}");
}

/// What speculation promises (run.rs module docs): the upload starts first, a confident
/// local head commits and the upload is called off; only the body bytes already handed to
/// the connection count as wasted (often none: the abort comes right after the spawn).
#[test]
fn speculation_commits_confident_local_answers_and_counts_wasted_bytes() {
    let mut brain = brain();
    let (_dir, w) = workload();
    let (threshold, conf) = split_threshold(&mut brain, &w);
    let mut seen = Seen::default();
    let c = OffloadConfig {
        speculate_head_fraction: 0.0,
        ..config(PolicyKind::Msao, real_url(), GENEROUS_MS)
    };
    let s = run(
        &mut brain,
        &c,
        threshold,
        &w,
        &RunOptions::default(),
        &mut seen,
    )
    .unwrap();
    assert_all_answered(&w, &s, &seen);
    assert_eq!(s.decisions, counts(&[("speculate", REQUESTS)]), "{s:?}");
    for (r, t) in &seen.answers {
        assert_eq!(r.bytes_wasted, u64::from(t.bytes_wasted), "{r:?}");
        if conf[&r.request_id] >= threshold {
            assert_eq!(r.source, "local", "{r:?}");
            assert_eq!(r.bytes_up, 0, "a cancelled upload completes nothing: {r:?}");
            // At most the whole body: compact tensor + 384 f32 question + OIP header.
            assert!(r.bytes_wasted <= 4096, "{r:?}");
        } else {
            assert_eq!(r.source, "cloud", "{r:?}");
            assert_eq!(r.bytes_wasted, 0, "an awaited upload wastes nothing: {r:?}");
        }
    }
}

/// Each baseline uploads what a real client of its kind would: cloud-only a JPEG far
/// smaller than the raw frame, cloud-features every patch as int8 (smaller than the JPEG),
/// offload-all only the patches MAS kept (never more than every patch).
#[test]
fn baseline_payloads_are_what_real_clients_send() {
    let mut brain = brain();
    let (_dir, w) = workload();
    let raw = f64::from(w.width * w.height * 3);
    let mut per_request = BTreeMap::new();
    for policy in [
        PolicyKind::CloudOnly,
        PolicyKind::CloudFeatures,
        PolicyKind::OffloadAll,
    ] {
        let mut seen = Seen::default();
        let c = config(policy, real_url(), GENEROUS_MS);
        let s = run(&mut brain, &c, 0.5, &w, &RunOptions::default(), &mut seen).unwrap();
        assert_all_answered(&w, &s, &seen);
        assert!(s.cloud_faults.is_empty(), "{policy:?}: {s:?}");
        assert!(
            seen.answers.iter().all(|(r, _)| r.source == "cloud"),
            "{policy:?}: every answer from the cloud"
        );
        per_request.insert(policy.name(), s.bytes_up as f64 / REQUESTS as f64);
    }
    let (jpeg, features, compact) = (
        per_request["cloud-only"],
        per_request["cloud-features"],
        per_request["offload-all"],
    );
    assert!(jpeg * 4.0 < raw, "JPEG {jpeg} B vs raw {raw} B");
    assert!(features < jpeg, "features {features} B vs JPEG {jpeg} B");
    assert!(
        compact <= features,
        "compact {compact} B vs features {features} B"
    );
}

#[test]
fn msao_stops_offloading_into_a_cloud_that_times_out() {
    let mut brain = brain();
    let (_dir, w) = workload();
    let (url, calls) = bad_server(Bad::Slow);
    let mut seen = Seen::default();
    let mut c = config(PolicyKind::Msao, &url, DEADLINE_MS);
    // One request at a time, so each timeout is seen before the next decision (bar the
    // one request that may take the freed slot first).
    c.max_in_flight = 1;
    // Threshold 1.0: no local answer is confident, so without timeouts every request
    // would go to the cloud.
    let s = run(&mut brain, &c, 1.0, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_all_answered(&w, &s, &seen);
    let to_cloud = REQUESTS - s.decisions.get("local").copied().unwrap_or(0);
    assert!(
        s.cloud_faults.get("timeout").copied().unwrap_or(0) >= 1,
        "{s:?}"
    );
    assert!(
        to_cloud <= 3,
        "offload share did not fall: {to_cloud}/{REQUESTS}: {s:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), to_cloud, "{s:?}");
    // Liveness: every answer well before the slow server would have answered.
    for (r, _) in &seen.answers {
        assert!(r.latency_us < SLOW.as_micros() as u64, "{r:?}");
    }
}

#[test]
fn a_question_over_the_limit_fails_only_its_own_request_and_is_counted() {
    let mut brain = brain();
    let (_dir, mut w) = workload();
    w.requests[3].question = "why ".repeat(1_000);
    let mut seen = Seen::default();
    let c = config(PolicyKind::EdgeOnly, &closed_port(), DEADLINE_MS);
    let s = run(&mut brain, &c, 0.5, &w, &RunOptions::default(), &mut seen).unwrap();
    assert_all_answered(&w, &s, &seen);
    assert_eq!(s.input_faults, 1, "{s:?}");
    assert_eq!(
        s.limit_faults,
        counts(&[("limits.max_question_bytes", 1)]),
        "{s:?}"
    );
    let r = seen.record(w.requests[3].request_id);
    assert_eq!(r.source, "error", "{r:?}");
    assert!(
        r.fault.as_deref().unwrap().contains("max_question_bytes"),
        "{r:?}"
    );
}
