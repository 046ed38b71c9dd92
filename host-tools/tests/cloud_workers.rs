//! `msao-host cloud` serves concurrent requests: with `--workers N` it loads N sessions of
//! each model and up to N requests hold one at once. Proved by the state's own counter
//! (`max_concurrent`, the most runs holding a session at the same time), never by timing.
//!
//! Needs `libonnxruntime.so` and the models (`scripts/setup.sh`).

use msao_agent::host::models::RuntimeOptions;
use msao_agent::host::oip::{CloudClient, CloudConfig, CloudFaultKind, InferTensor, TensorFormat};
use msao_host::cloud::{CloudState, serve};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);
/// Requests sent at once in one round.
const AT_ONCE: usize = 8;
/// Rounds before giving up on seeing two runs overlap (one is nearly always enough).
const ROUNDS: usize = 50;
/// Rounds for one worker, where two runs must never overlap.
const ONE_WORKER_ROUNDS: usize = 3;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn frame() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-agent/tests/fixtures/golden");
    std::fs::read(dir.join("easyvqa-test-0.png")).unwrap()
}

/// A server with `workers` sessions per model on 127.0.0.1:0, served by this runtime, with
/// room for every request of a round to wait.
async fn start(workers: usize) -> (String, Arc<CloudState>) {
    start_queue(workers, AT_ONCE).await
}

/// [`start`] with `queue` requests allowed to wait for a session.
async fn start_queue(workers: usize, queue: usize) -> (String, Arc<CloudState>) {
    let state = tokio::task::spawn_blocking(move || {
        let pipeline = msao_agent::host::models::PipelineSpec::load_default(&models_dir())?;
        CloudState::load_workers(
            &models_dir(),
            &pipeline,
            &RuntimeOptions::default(),
            workers,
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e:#}\n(run scripts/setup.sh for ONNX Runtime and the models)"))
    .with_queue(queue);
    let state = Arc::new(state);
    assert_eq!(state.workers(), workers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, Arc::clone(&state), std::future::pending()));
    (url, state)
}

/// Sends [`AT_ONCE`] identical `vqa-full` requests together; their logits.
async fn round(client: &CloudClient, image: &[u8]) -> Vec<Vec<f32>> {
    let calls = (0..AT_ONCE).map(|_| {
        let c = client.clone();
        let inputs = vec![
            InferTensor::bytes("image", vec![1], vec![image.to_vec()]),
            InferTensor::bytes(
                "question",
                vec![1],
                vec![b"what is the red shape?".to_vec()],
            ),
        ];
        tokio::spawn(async move { c.infer(inputs, DEADLINE).await })
    });
    let mut logits = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        let reply = call.await.unwrap().unwrap();
        logits.push(reply.f32("logits").unwrap().to_vec());
    }
    logits
}

/// Rounds until two runs overlapped (or `rounds`); the first round's logits.
async fn until_overlap(url: &str, state: &CloudState, rounds: usize) -> Vec<Vec<f32>> {
    let client = CloudClient::new(&CloudConfig {
        url: url.into(),
        model: "vqa-full".into(),
        tensor_format: TensorFormat::Binary,
        deadline_ms: 60_000,
        ..CloudConfig::default()
    })
    .unwrap();
    let image = frame();
    let first = round(&client, &image).await;
    for _ in 1..rounds {
        if state.stats("vqa-full").max_concurrent >= 2 {
            break;
        }
        round(&client, &image).await;
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_run_two_requests_at_once_and_never_more() {
    let (url, state) = start(2).await;
    let logits = until_overlap(&url, &state, ROUNDS).await;
    let s = state.stats("vqa-full");
    assert!(s.max_concurrent <= 2, "more runs than sessions: {s:?}");
    assert!(
        s.max_concurrent >= 2,
        "{AT_ONCE} requests at once over up to {ROUNDS} rounds never overlapped: {s:?}"
    );
    assert_eq!(s.errors, 0, "{s:?}");
    assert_eq!(s.served, s.requests);
    // Every session answers the same request with the same logits: no state crosses over.
    for l in &logits {
        assert_eq!(l, &logits[0]);
    }
    // The other models were not run: their counters say so.
    assert_eq!(state.stats("vqa-cloud").max_concurrent, 0);
}

/// With one session and no queue, requests sent together are answered or refused `429`
/// (the `busy` fault), never left waiting; rounds until one was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_answers_busy_instead_of_waiting() {
    let (url, state) = start_queue(1, 0).await;
    let client = CloudClient::new(&CloudConfig {
        url,
        model: "vqa-full".into(),
        tensor_format: TensorFormat::Binary,
        deadline_ms: 60_000,
        ..CloudConfig::default()
    })
    .unwrap();
    let image = frame();
    let (mut ok, mut busy) = (0u64, 0u64);
    for _ in 0..ROUNDS {
        let calls: Vec<_> = (0..AT_ONCE)
            .map(|_| {
                let c = client.clone();
                let inputs = vec![
                    InferTensor::bytes("image", vec![1], vec![image.clone()]),
                    InferTensor::bytes("question", vec![1], vec![b"what shape?".to_vec()]),
                ];
                tokio::spawn(async move { c.infer(inputs, DEADLINE).await })
            })
            .collect();
        for call in calls {
            match call.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(e.kind(), CloudFaultKind::Busy, "{e}");
                    assert!(e.to_string().contains("busy: all 1 sessions"), "{e}");
                    busy += 1;
                }
            }
        }
        if busy > 0 {
            break;
        }
    }
    assert!(busy > 0, "{AT_ONCE} at once never found the session busy");
    let s = state.stats("vqa-full");
    assert_eq!((s.served, s.busy), (ok, busy), "{s:?}");
    assert_eq!(state.gate().refused(), busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_worker_runs_one_request_at_a_time() {
    let (url, state) = start(1).await;
    until_overlap(&url, &state, ONE_WORKER_ROUNDS).await;
    let s = state.stats("vqa-full");
    assert_eq!(s.max_concurrent, 1, "{s:?}");
    assert_eq!(
        s.served,
        (AT_ONCE * ONE_WORKER_ROUNDS) as u64,
        "all waited for the one session, all answered"
    );
}

/// `msao-host cloud --workers 2 --json` says how many workers it serves with, at start and
/// at the end.
#[test]
fn cloud_command_reports_its_workers() {
    use clap::Parser;
    use msao_host::cmd::{Cli, Command};
    use msao_host::env::Env;

    struct Lines(std::sync::mpsc::Sender<Vec<u8>>);
    impl std::io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.send(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let models = models_dir();
    let argv = |workers: &str| {
        let m = models.to_str().unwrap();
        let args = ["msao-host", "cloud", "--listen", "127.0.0.1:0", "--json"];
        let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        v.extend(["--models", m, "--workers", workers].map(String::from));
        v
    };
    for bad in ["0", "x"] {
        assert!(Cli::try_parse_from(argv(bad)).is_err(), "--workers {bad}");
    }
    let cli = Cli::try_parse_from(argv("2")).unwrap();
    assert!(matches!(cli.command, Command::Cloud(_)));
    let (mut env, _err) = Env::captured();
    let stop = env.shutdown.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || cli.command.run(&mut Lines(tx), &mut env));
    let mut text = String::new();
    while !text.contains('\n') {
        text.push_str(&String::from_utf8(rx.recv().unwrap()).unwrap());
    }
    let listening: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(listening["event"], "listening");
    assert_eq!(listening["workers"], 2, "{listening}");
    stop.request();
    handle.join().unwrap().unwrap();
    let rest: String = rx.iter().map(|b| String::from_utf8(b).unwrap()).collect();
    let all = text + &rest;
    let stopped: serde_json::Value = serde_json::from_str(all.lines().last().unwrap()).unwrap();
    assert_eq!(stopped["event"], "stopped");
    assert_eq!(stopped["workers"], 2, "{stopped}");
    assert_eq!(
        stopped["models"]["vqa-full"]["max_concurrent"], 0,
        "{stopped}"
    );
}
