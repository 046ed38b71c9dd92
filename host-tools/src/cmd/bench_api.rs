//! `msao-host bench-api`: what the request API costs on the local path, and how many
//! requests it serves with 1, 4 and 16 concurrent clients.
//!
//! 1. **In process**: the workload's frames, JPEG-encoded (quality 90) and decoded again
//!    beforehand, go one at a time through a [`Pipeline`] in this process (edge-only, the
//!    local path): the pipeline's own latency per request, the strongest baseline an
//!    integrator embedding the library would have. The JPEG decode of each frame is timed
//!    on its own.
//! 2. **Through the API**: the shipped `msao-agent` binary with `--api` on loopback
//!    (edge-only), the same requests as OpenAI chat completions with the JPEG as a data URL,
//!    one at a time: the client's round trip per request. The overhead is the API's p50 minus
//!    the in-process p50; the target is at most the JPEG decode's p50 plus 0.5 ms.
//! 3. **Throughput**: the same requests from 1, 4 and 16 concurrent clients (each its own
//!    connection), requests per second of wall time and the clients' p50 / p95.
//!
//! Client and agent share this machine's cores (as an application on the device would).
//! Every figure names the CPU and its INT8 kernels.

use crate::agent::find_agent;
use crate::env::Env;
use anyhow::Context as _;
use base64::Engine as _;
use msao_agent::host::inference::{BrainOptions, EdgeBrain};
use msao_agent::host::inference::{InputLimits, decode_image_within};
use msao_agent::host::models::PipelineSpec;
use msao_agent::host::models::{ModelCatalog, OrtRuntime};
use msao_agent::host::workload::{
    Arrival, Frame, NoSink, OffloadConfig, Pipeline, PolicyKind, Reply, Request, Workload, queue,
};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// JPEG quality of the frames sent (what camera and VLM clients send).
pub const JPEG_QUALITY: u8 = 90;

/// Measure the request API's overhead on the local path and its throughput.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// The workload (`msao-host workload`) whose frames and questions are sent [default:
    /// the demo workload].
    #[arg(long, value_name = "DIR")]
    pub workload: Option<PathBuf>,
    /// Requests measured per run (the workload's first N, repeated if it has fewer).
    #[arg(long, value_name = "N", default_value_t = 400)]
    pub requests: usize,
    /// Unmeasured requests before each run.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub warmup: usize,
    /// Concurrent clients of the throughput runs.
    #[arg(
        long,
        value_name = "N,…",
        value_delimiter = ',',
        default_value = "1,4,16"
    )]
    pub clients: Vec<usize>,
    /// The agent binary [default: msao-agent next to this executable].
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model_args: super::ModelArgs,
}

/// Percentiles of one set of latencies, ms.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
}

fn percentiles(us: &mut [u64]) -> Percentiles {
    us.sort_unstable();
    let at = |q: f64| match us.len() {
        0 => 0.0,
        n => us[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1e3,
    };
    Percentiles {
        p50: at(0.5),
        p95: at(0.95),
    }
}

/// One throughput run.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Concurrent clients.
    pub clients: usize,
    /// Requests per second of wall time.
    pub rps: f64,
    /// The clients' round trips, ms.
    pub latency_ms: Percentiles,
}

/// The result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The CPU and its INT8 kernels.
    pub cpu: msao_agent::host::device::CpuIsa,
    /// The workload.
    pub workload: String,
    /// Requests per run.
    pub requests: usize,
    /// Frame size.
    pub frame: (u32, u32),
    /// Mean JPEG bytes per frame.
    pub jpeg_bytes: usize,
    /// The pipeline in this process, ms.
    pub in_process_ms: Percentiles,
    /// Decoding the JPEG, ms.
    pub jpeg_decode_ms: Percentiles,
    /// One client through the API, round trip, ms.
    pub api_ms: Percentiles,
    /// API p50 − in-process p50, ms.
    pub overhead_p50_ms: f64,
    /// The target: JPEG decode p50 + 0.5 ms.
    pub target_ms: f64,
    /// Whether the overhead is within the target.
    pub met: bool,
    /// Throughput runs.
    pub throughput: Vec<Throughput>,
}

impl Cmd {
    /// Runs the benchmark and prints its result.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        anyhow::ensure!(self.requests > 0, "--requests must be at least 1");
        anyhow::ensure!(
            self.clients.iter().all(|c| (1..=256).contains(c)),
            "--clients must each be in 1..=256"
        );
        let agent = find_agent(self.agent.as_deref(), "bench-api")?;
        let dir = match &self.workload {
            Some(w) => w.clone(),
            None => super::demo::demo_workload(out, env, self.json)?,
        };
        let workload = Workload::open(&dir)
            .with_context(|| format!("cannot use the workload in {}", dir.display()))?;
        anyhow::ensure!(
            !workload.requests.is_empty(),
            "the workload has no requests"
        );
        let pipeline = self.model_args.pipeline(&self.model_args.models_dir()?)?;
        let cases = cases(&workload, &pipeline.name, self.warmup + self.requests)?;
        let jpeg_bytes = cases.iter().map(|c| c.jpeg.len()).sum::<usize>() / cases.len();

        let bar = env.count_bar((self.warmup + self.requests) as u64);
        bar.set_message("in process");
        let (in_process, decode) = self.in_process(&pipeline, &cases, &bar)?;
        let (mut api_one, throughput) = self.through_api(&agent, &pipeline.path, &cases, env)?;
        env.clear_bar();
        let api_ms = percentiles(&mut api_one);
        let overhead = api_ms.p50 - in_process.p50;
        let target = decode.p50 + 0.5;
        let r = Report {
            cpu: msao_agent::host::device::CpuIsa::detect(),
            workload: dir.display().to_string(),
            requests: self.requests,
            frame: (workload.width, workload.height),
            jpeg_bytes,
            in_process_ms: in_process,
            jpeg_decode_ms: decode,
            api_ms,
            overhead_p50_ms: overhead,
            target_ms: target,
            met: overhead <= target,
            throughput,
        };
        if self.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
        } else {
            write_text(out, &r)?;
        }
        Ok(())
    }

    /// The pipeline in this process, one request at a time; and the JPEG decode alone.
    fn in_process(
        &self,
        pipeline: &PipelineSpec,
        cases: &[Case],
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<(Percentiles, Percentiles)> {
        let runtime = OrtRuntime::new(&self.model_args.runtime_options())
            .context("cannot start ONNX Runtime")?;
        let catalog = ModelCatalog::load_dir(&self.model_args.models_dir()?)?;
        let mut brain = EdgeBrain::load(
            &runtime,
            &catalog,
            pipeline,
            &BrainOptions {
                audio: false,
                ..BrainOptions::default()
            },
        )?;
        let limits = InputLimits::default();
        let config = OffloadConfig {
            policy: PolicyKind::EdgeOnly,
            ..OffloadConfig::default()
        };
        let mut pipeline = Pipeline::new(&mut brain, &config, 0.5)?;
        let (submitter, q) = queue(1);
        let (mut latencies, mut decodes) = (Vec::new(), Vec::new());
        std::thread::scope(|s| -> anyhow::Result<()> {
            let server = s.spawn(move || pipeline.serve(q, None, &mut NoSink));
            for (i, case) in cases.iter().enumerate() {
                let t = Instant::now();
                let frame = decode_image_within(&case.jpeg, "frame", &limits)?;
                let decoded = t.elapsed();
                let (tx, rx) = std::sync::mpsc::channel();
                submitter
                    .submit_blocking(
                        Request {
                            id: i as u32,
                            frame: Frame::Decoded(frame),
                            question: case.question.clone(),
                            audio: None,
                            arrival: Arrival::OnStart,
                            stream: None,
                        },
                        Box::new(move |r| {
                            let _ = tx.send(r);
                        }),
                    )
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let Ok(Reply::Answered(a)) = rx.recv() else {
                    anyhow::bail!("the in-process pipeline stopped");
                };
                if i >= self.warmup {
                    latencies.push(a.latency_us);
                    decodes.push(u64::try_from(decoded.as_micros()).unwrap_or(u64::MAX));
                }
                bar.inc(1);
            }
            drop(submitter);
            let _ = server.join();
            Ok(())
        })?;
        Ok((percentiles(&mut latencies), percentiles(&mut decodes)))
    }

    /// The agent binary with its API: one client, then each concurrency.
    fn through_api(
        &self,
        agent: &std::path::Path,
        pipeline: &std::path::Path,
        cases: &[Case],
        env: &mut Env,
    ) -> anyhow::Result<(Vec<u64>, Vec<Throughput>)> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let telemetry = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
        let mut child = Command::new(agent)
            .args(["--api", &addr.to_string(), "--policy", "edge-only"])
            .arg("--pipeline")
            .arg(pipeline)
            .args(["--telemetry", &format!("udp://{telemetry}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", agent.display()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let base = format!("http://{addr}");
        let result = rt.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?;
            super::demo::wait_ready(&client, &base, Duration::from_secs(120)).await?;
            let url = format!("{base}/v1/chat/completions");
            let bar = env.count_bar(cases.len() as u64);
            bar.set_message("API, 1 client");
            let mut one = Vec::new();
            for (i, case) in cases.iter().enumerate() {
                let body = case.body.clone();
                let t = Instant::now();
                post(&client, &url, body).await?;
                if i >= self.warmup {
                    one.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                bar.inc(1);
            }
            let mut runs = Vec::new();
            for &n in &self.clients {
                bar.set_message(format!("API, {n} clients"));
                runs.push(concurrent(&url, &cases[self.warmup..], n, &bar).await?);
            }
            anyhow::Ok((one, runs))
        });
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX)),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = child.wait();
        result
    }
}

/// One request: its chat completion body, and its JPEG for the in-process run.
struct Case {
    jpeg: Vec<u8>,
    question: String,
    /// Shared, so a request costs no copy of its body.
    body: bytes::Bytes,
}

fn cases(workload: &Workload, model: &str, n: usize) -> anyhow::Result<Vec<Case>> {
    let mut out = Vec::with_capacity(n);
    for request in workload.requests.iter().cycle().take(n) {
        let path = workload
            .frame_path(request)
            .context("a request names no frame")?;
        let frame = image::open(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .to_rgb8();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
            .encode_image(&frame)?;
        let data = base64::engine::general_purpose::STANDARD.encode(&jpeg);
        let body = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": request.question},
                {"type": "image_url", "image_url": {"url": format!("data:image/jpeg;base64,{data}")}},
            ]}],
        });
        out.push(Case {
            jpeg,
            question: request.question.clone(),
            body: serde_json::to_vec(&body)?.into(),
        });
    }
    Ok(out)
}

async fn post(client: &reqwest::Client, url: &str, body: bytes::Bytes) -> anyhow::Result<()> {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let text = r.bytes().await?;
    anyhow::ensure!(
        status.is_success(),
        "the API answered {status}: {}",
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

/// `n` clients, each its own connection, taking the next case until all are sent.
async fn concurrent(
    url: &str,
    cases: &[Case],
    n: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Throughput> {
    bar.set_position(0);
    bar.set_length(cases.len() as u64);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bodies: std::sync::Arc<Vec<bytes::Bytes>> =
        std::sync::Arc::new(cases.iter().map(|c| c.body.clone()).collect());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (next, bodies, url, bar) = (next.clone(), bodies.clone(), url.to_string(), bar.clone());
        tasks.spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(1)
                .build()?;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i).cloned() else {
                    break;
                };
                let t = Instant::now();
                post(&client, &url, body).await?;
                lat.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                bar.inc(1);
            }
            anyhow::Ok(lat)
        });
    }
    let mut all = Vec::new();
    while let Some(t) = tasks.join_next().await {
        all.extend(t??);
    }
    let wall = started.elapsed().as_secs_f64();
    Ok(Throughput {
        clients: n,
        rps: all.len() as f64 / wall.max(1e-9),
        latency_ms: percentiles(&mut all),
    })
}

fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "request API on the local path · {}", r.cpu.summary())?;
    writeln!(
        out,
        "  {} requests of {} ({}×{} frames, JPEG q{JPEG_QUALITY}, {} B mean)",
        r.requests, r.workload, r.frame.0, r.frame.1, r.jpeg_bytes
    )?;
    let row = |name: &str, p: &Percentiles| {
        format!("  {name:<22} p50 {:>7.3} ms · p95 {:>7.3} ms", p.p50, p.p95)
    };
    writeln!(out, "{}", row("in process (pipeline)", &r.in_process_ms))?;
    writeln!(out, "{}", row("JPEG decode", &r.jpeg_decode_ms))?;
    writeln!(out, "{}", row("API, 1 client", &r.api_ms))?;
    writeln!(
        out,
        "  {:<22} {:+.3} ms at p50 (target ≤ decode p50 + 0.5 = {:.3} ms: {})",
        "API overhead",
        r.overhead_p50_ms,
        r.target_ms,
        if r.met { "met" } else { "NOT met" }
    )?;
    for t in &r.throughput {
        writeln!(
            out,
            "  {:<22} {:>7.1} req/s · p50 {:.3} ms · p95 {:.3} ms",
            format!("{} client(s)", t.clients),
            t.rps,
            t.latency_ms.p50,
            t.latency_ms.p95
        )?;
    }
    Ok(())
}
