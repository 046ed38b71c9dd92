//! Camera benchmark: a 30 fps 640×480 source sustained, through `videotestsrc` and through an
//! RTSP loopback (H.264 from an in-process RTSP server run in a child process, so its
//! encoder's CPU is not counted), in two phases per source:
//!
//! 1. **capture only** — the camera's capture, decode and RGB conversion, nothing asking:
//!    frames per second and CPU used (process CPU time ÷ wall time, in % of one core);
//! 2. **standing questions** — the edge-only easy-VQA pipeline answering a `[[watch]]` every
//!    N frames: frames captured, dropped as stale and used, capture → answer latency p50/p99,
//!    the frame's age when the pipeline took it (max), and how many answers were about a
//!    frame older than one frame interval.
//!
//! ```sh
//! cargo bench -p msao-agent --features rtsp-server --bench camera -- [--seconds 10] [--every 3,1]
//! ```
//!
//! Needs the GStreamer packages (`.ci/run` lists them), ONNX Runtime and the models
//! (`scripts/setup.sh`). Prints a table and one JSON line per run.

use gstreamer as gst;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use msao_agent::brain::{BrainOptions, EdgeBrain};
use msao_agent::camera::{CameraSet, CameraSpec, CameraUri, WatchEvent, WatchSpec, Watches};
use msao_agent::encoders::InputLimits;
use msao_agent::offload::{NoSink, OffloadConfig, Pipeline, PolicyKind, queue};
use msao_agent::pipelines::PipelineSpec;
use msao_agent::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
use msao_agent::shutdown::Shutdown;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FPS: u32 = 30;
const SIZE: (u32, u32) = (640, 480);
const CHILD_ENV: &str = "MSAO_BENCH_RTSP_SERVER";
const QUESTION: &str = "What shape is in the image?";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// This process's CPU time (user + system), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based); here 0 is field 3.
    let hz = 100.0; // USER_HZ on Linux
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / hz)
}

/// The child: an RTSP server of a 640×480 30 fps H.264 test pattern on 127.0.0.1, port
/// printed on stdout, until stdin closes.
fn rtsp_child() {
    gst::init().expect("GStreamer");
    let ctx = gst::glib::MainContext::new();
    ctx.with_thread_default(|| {
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0");
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(&format!(
            "( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width={},height={},framerate={FPS}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={FPS} ! rtph264pay name=pay0 pt=96 )",
            SIZE.0, SIZE.1
        ));
        factory.set_shared(true);
        server.mount_points().expect("mounts").add_factory("/cam", factory);
        server.attach(Some(&ctx)).expect("the RTSP server binds");
        println!("{}", server.bound_port());
        let main_loop = gst::glib::MainLoop::new(Some(&ctx), false);
        let quit = main_loop.clone();
        std::thread::spawn(move || {
            // The parent closes stdin (or dies): stop.
            let _ = std::io::stdin().lock().lines().count();
            quit.quit();
        });
        main_loop.run();
    })
    .expect("main context");
}

struct Source {
    label: &'static str,
    uri: String,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn start_camera(uri: &str) -> (CameraSet, Arc<Shutdown>) {
    let stop = Arc::new(Shutdown::new());
    let spec = CameraSpec {
        name: "bench".into(),
        uri: CameraUri::parse(uri).expect("uri"),
        size: Some(SIZE),
        fps: Some(FPS),
    };
    let set = CameraSet::start(
        &[spec],
        InputLimits::default(),
        msao_agent::camera::STALL,
        |name: &str, e: &msao_agent::camera::CameraError| eprintln!("camera {name}: {e}"),
        &stop,
    )
    .expect("camera");
    (set, stop)
}

fn wait_frames(set: &CameraSet, n: u64) {
    let cams = set.cameras();
    let cam = cams.get("bench").expect("camera");
    let started = Instant::now();
    while cam.counts().captured < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no frames from the camera"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Phase 1: capture only.
fn capture_only(src: &Source, seconds: f64) -> serde_json::Value {
    let (set, stop) = start_camera(&src.uri);
    wait_frames(&set, u64::from(FPS)); // warm-up: a second of frames
    let cams = set.cameras();
    let cam = cams.get("bench").expect("camera");
    let (c0, t0, w0) = (cam.counts(), cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let (c1, t1, wall) = (cam.counts(), cpu_time(), w0.elapsed());
    stop.request();
    set.join();
    let cpu = (t1 - t0).as_secs_f64() / wall.as_secs_f64() * 100.0;
    let fps = (c1.captured - c0.captured) as f64 / wall.as_secs_f64();
    println!(
        "{:<14} capture only          {:>6.1} fps  CPU {:>5.1} % of one core  ({} errors)",
        src.label,
        fps,
        cpu,
        c1.errors - c0.errors
    );
    serde_json::json!({"source": src.label, "phase": "capture", "seconds": wall.as_secs_f64(),
        "fps": fps, "cpu_percent_of_one_core": cpu, "errors": c1.errors - c0.errors})
}

/// Phase 2: a standing question every `every` frames through the edge-only pipeline.
fn with_questions(
    src: &Source,
    seconds: f64,
    every: u32,
    brain: &mut EdgeBrain,
) -> serde_json::Value {
    let (set, stop) = start_camera(&src.uri);
    wait_frames(&set, u64::from(FPS));
    let cameras = set.cameras();
    let config = OffloadConfig {
        policy: PolicyKind::EdgeOnly,
        ..OffloadConfig::default()
    };
    let (submitter, q) = queue(8);
    let watches = Watches::start(
        vec![WatchSpec {
            camera: "bench".into(),
            question: QUESTION.into(),
            interval: Duration::from_secs_f64(f64::from(every) / f64::from(FPS)),
        }],
        cameras.clone(),
        submitter,
        Arc::clone(&stop),
    )
    .expect("watches");
    let mut events = watches.subscribe();
    let cam = Arc::clone(cameras.get("bench").expect("camera"));
    let c0 = cam.counts();
    let started = Instant::now();
    let collector = std::thread::spawn(move || {
        let mut got: Vec<WatchEvent> = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_secs(5), events.recv()).await
            {
                got.push(e);
            }
        });
        got
    });
    let stopper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(seconds));
            stop.request();
        })
    };
    let mut pipeline = Pipeline::new(brain, &config, 1.0).expect("pipeline");
    pipeline.serve(q, Some(&stop), &mut NoSink);
    drop(pipeline);
    let wall = started.elapsed();
    let c1 = cam.counts();
    let counts = watches.counts();
    watches.join();
    stopper.join().expect("stopper");
    set.join();
    let got = collector.join().expect("collector");
    let mut latency: Vec<f64> = got.iter().filter_map(|e| e.capture_to_answer_ms).collect();
    let mut age: Vec<f64> = got.iter().filter_map(|e| e.frame_age_ms).collect();
    latency.sort_by(f64::total_cmp);
    age.sort_by(f64::total_cmp);
    let interval_ms = 1e3 / f64::from(FPS);
    let older = age.iter().filter(|a| **a > interval_ms).count();
    let (captured, stale, used) = (
        c1.captured - c0.captured,
        c1.dropped_stale - c0.dropped_stale,
        c1.used - c0.used,
    );
    println!(
        "{:<14} question every {every} fr  {captured:>5} captured {stale:>5} stale {used:>5} used  answers {:>4}  capture→answer p50 {:>6.1} ms p99 {:>6.1} ms  age max {:>5.1} ms, {older} older than {interval_ms:.1} ms  (skipped busy {}, refused {})",
        src.label,
        got.len(),
        percentile(&latency, 0.5),
        percentile(&latency, 0.99),
        age.last().copied().unwrap_or(f64::NAN),
        counts.skipped_busy,
        counts.refused,
    );
    serde_json::json!({"source": src.label, "phase": "questions", "every_frames": every,
        "seconds": wall.as_secs_f64(), "captured": captured, "dropped_stale": stale, "used": used,
        "answers": got.len(), "capture_to_answer_ms_p50": percentile(&latency, 0.5),
        "capture_to_answer_ms_p99": percentile(&latency, 0.99),
        "frame_age_ms_max": age.last(), "older_than_one_interval": older,
        "skipped_busy": counts.skipped_busy, "refused": counts.refused})
}

fn main() {
    if std::env::var(CHILD_ENV).is_ok() {
        rtsp_child();
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: f64 = arg("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let every: Vec<u32> = arg("--every")
        .map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![3, 1]);

    // The RTSP server runs in a child process: its encoder is not this process's CPU.
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(CHILD_ENV, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the RTSP server child");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the child's port");
    let port: u16 = line.trim().parse().expect("a port");
    let sources = [
        Source {
            label: "videotestsrc",
            uri: "test://ball".into(),
        },
        Source {
            label: "rtsp-loopback",
            uri: format!("rtsp://127.0.0.1:{port}/cam"),
        },
    ];

    let runtime =
        OrtRuntime::new(&RuntimeOptions::default()).expect("ONNX Runtime (scripts/setup.sh)");
    let models = repo().join("models");
    let catalog = ModelCatalog::load_dir(&models).expect("models");
    let pipeline = PipelineSpec::load_default(&models).expect("pipeline");
    let mut brain = EdgeBrain::load(
        &runtime,
        &catalog,
        &pipeline,
        &BrainOptions {
            audio: false,
            ..BrainOptions::default()
        },
    )
    .expect("edge brain");

    println!(
        "camera bench: {}×{} at {FPS} fps, {seconds} s per run, {} logical CPUs",
        SIZE.0,
        SIZE.1,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut json = Vec::new();
    for src in &sources {
        json.push(capture_only(src, seconds));
        for &n in &every {
            json.push(with_questions(src, seconds, n, &mut brain));
        }
    }
    drop(child.stdin.take());
    let _ = child.wait();
    let mut out = std::io::stdout().lock();
    for j in json {
        let _ = writeln!(out, "{j}");
    }
}
