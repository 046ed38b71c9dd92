//! `msao-host demo`: the product end to end on this machine. Finds (or generates) the demo
//! workload, starts the reference cloud in-process, runs the `msao-agent` found next to
//! this executable with its request API on loopback and telemetry to a loopback UDP
//! listener, sends the workload through the API as an application would (JPEG data URLs
//! in OpenAI chat completions), shows a progress bar of the `RequestTrace` frames arriving,
//! then prints the result table (accuracy, latency, throughput, uplink bytes, decision
//! split, faults, telemetry).
//!
//! | file     | owns |
//! |----------|------|
//! | `demo`   | the run: workload, cloud, agent, listener, progress |
//! | `client` | the application: requests through the API, answers evaluated |
//! | `report` | [`report::Report`]: answers + summary + telemetry → table or JSON |

mod client;
pub(crate) use client::wait_ready;
mod report;

use crate::{
    cloud::{CloudState, serve},
    env::Env,
    ingest::Ingest,
    live::{self, Consumer, Limits, StopReason},
    monitor::Monitor,
    workload::{AudioMode, Config, audio, dataset::Dataset, generate},
};
use anyhow::Context as _;
use indicatif::ProgressBar;
use msao::transport::{self, Endpoint, Received};
use msao_agent::host::models::RuntimeOptions;
use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

pub use report::{RawFrames, Report};

/// Extra time the agent gets beyond `--duration` to start and flush before it is killed.
pub const GRACE: Duration = Duration::from_secs(10);
/// After the agent exits, frames still in flight are drained for this long.
pub const DRAIN: Duration = Duration::from_millis(300);
/// Lines of the agent's stderr kept for error messages.
pub const STDERR_LINES: usize = 20;
/// The device id the demo agent announces.
pub const DEVICE_ID: &str = "demo-agent";
/// The demo agent's sample interval.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// The demo workload: seed, scenes, frames per scene (25 × 8 = 200 requests).
pub const SEED: u64 = 1;
/// Scenes of the demo workload.
pub const SCENES: u32 = 25;
/// Frames per scene of the demo workload.
pub const HOLD: u32 = 8;
/// Where the demo workload lives, under the directory holding `.cache/easy-vqa`.
pub const WORKLOAD_DIR: &str = ".cache/workload-demo";
/// The easy-VQA test split `scripts/setup.sh` fetches.
pub const EASY_VQA: &str = ".cache/easy-vqa/test";

/// Run the product end to end: demo workload → agent (edge brain, offload policy) →
/// reference cloud, with live telemetry; then the result table.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// Longest the agent may run; it is stopped (and the partial result shown) after this.
    #[arg(long, value_name = "D", default_value = "120s", value_parser = crate::args::duration)]
    pub duration: Duration,
    /// Print the result as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The agent binary [default: msao-agent next to this executable].
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,
    /// Run this workload directory (`msao-host workload`) instead of the demo workload.
    #[arg(long, value_name = "DIR")]
    pub workload: Option<PathBuf>,
    /// Write the answers, as the application received and evaluated them, to FILE (JSON lines).
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Camera frame rate [default: as fast as the agent goes].
    #[arg(long, value_name = "F")]
    pub fps: Option<f64>,
    /// Offload policy (msao, edge-only, cloud-only, cloud-features, offload-all, bandit).
    #[arg(long, value_name = "NAME", default_value = "msao")]
    pub policy: String,
    #[command(flatten)]
    pub model_args: super::ModelArgs,
}

/// Directories searched for `.cache/`: the working directory and its parents, then the
/// executable's directory and its parents (`target/release/` inside the repository).
fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let cwd = std::env::current_dir().ok();
    let exe = std::env::current_exe().ok();
    for base in [cwd.as_deref(), exe.as_deref().and_then(Path::parent)]
        .into_iter()
        .flatten()
    {
        for dir in base.ancestors() {
            if !roots.iter().any(|r: &PathBuf| r == dir) {
                roots.push(dir.to_path_buf());
            }
        }
    }
    roots
}

/// True when `dir` holds the demo workload as this version generates it.
fn is_demo_workload(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("workload.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let frames = v.get("frames").and_then(|f| f.as_array());
    v.get("seed").and_then(|s| s.as_u64()) == Some(SEED)
        && v.get("hold").and_then(|s| s.as_u64()) == Some(u64::from(HOLD))
        && v.get("requests").and_then(|r| r.as_array()).map(Vec::len)
            == Some((SCENES * HOLD) as usize)
        && frames.is_some_and(|f| {
            f.len() == (SCENES * HOLD) as usize
                && f.iter().all(|fr| {
                    fr.get("file")
                        .and_then(|p| p.as_str())
                        .is_some_and(|p| dir.join(p).is_file())
                })
        })
}

/// The demo workload: found in `.cache/workload-demo`, or generated there from the
/// easy-VQA test split (speech tracks when espeak-ng runs, else no audio).
pub(crate) fn demo_workload(
    out: &mut impl Write,
    env: &mut Env,
    json: bool,
) -> anyhow::Result<PathBuf> {
    let roots = search_roots();
    if let Some(dir) = roots
        .iter()
        .map(|r| r.join(WORKLOAD_DIR))
        .find(|d| is_demo_workload(d))
    {
        return Ok(dir);
    }
    let Some(root) = roots
        .iter()
        .find(|r| r.join(EASY_VQA).join("questions.json").is_file())
    else {
        anyhow::bail!(
            "the demo workload is generated from the easy-VQA test split, which is not in {EASY_VQA} \
             here or in a parent directory: run scripts/setup.sh (or scripts/fetch-easy-vqa.sh) \
             from the repository root, or pass --workload DIR"
        );
    };
    let dataset = Dataset::open(&root.join(EASY_VQA))?;
    let audio = match audio::speech("ready") {
        Ok(_) => AudioMode::Mix,
        Err(e) => {
            env.warn(&format!(
                "note: no speech tracks ({e}); the demo workload gets no audio (install espeak-ng for it)"
            ));
            AudioMode::None
        }
    };
    let config = Config {
        seed: SEED,
        scenes: SCENES,
        hold: HOLD,
        width: 640,
        height: 480,
        scale: (1.0, 3.0),
        noise: 2,
        audio,
    };
    let dir = root.join(WORKLOAD_DIR);
    let partial = root.join(format!("{WORKLOAD_DIR}.partial-{}", std::process::id()));
    if !json {
        writeln!(
            out,
            "generating the demo workload in {} ({SCENES} scenes × {HOLD} frames, 640×480, audio {})",
            dir.display(),
            if audio == AudioMode::Mix {
                "mix"
            } else {
                "none"
            }
        )?;
        out.flush()?;
    }
    let bar = env.count_bar(u64::from(SCENES * HOLD));
    bar.set_message("frames");
    let result = generate(&dataset, &config, &partial, &mut |done, _| {
        bar.set_position(done)
    });
    env.clear_bar();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e).context("cannot generate the demo workload");
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot replace the stale {}", dir.display()))?;
    }
    std::fs::rename(&partial, &dir)
        .with_context(|| format!("cannot move the workload to {}", dir.display()))?;
    Ok(dir)
}

/// The reference cloud, served in-process on a loopback port until stopped.
struct CloudServer {
    url: String,
    state: Arc<CloudState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<anyhow::Result<()>>>,
}

impl CloudServer {
    fn start(args: &super::ModelArgs) -> anyhow::Result<Self> {
        let models_dir = args.models_dir()?;
        let options = RuntimeOptions {
            models_dir: Some(models_dir.clone()),
            ..args.runtime_options()
        };
        let state = Arc::new(
            CloudState::load_with(&models_dir, &options)
                .context("cannot load the cloud models (run scripts/setup.sh?)")?,
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("cannot bind a loopback TCP port for the cloud")?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&state);
        let thread = thread::Builder::new()
            .name("demo-cloud".into())
            .spawn(move || {
                rt.block_on(serve(listener, served, async {
                    let _ = stopped.await;
                }))
            })
            .context("cannot start the cloud thread")?;
        Ok(Self {
            url,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops serving (requests in flight finish) and returns what it served.
    fn stop(&mut self) -> report::Cloud {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let (requests, errors) = self.state.models().iter().fold((0, 0), |(r, e), m| {
            let s = m.counters.stats();
            (r + s.requests, e + s.errors)
        });
        report::Cloud {
            url: self.url.clone(),
            requests,
            errors,
        }
    }
}

impl Drop for CloudServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Counts `RequestTrace` frames into a progress bar; stops once the agent has exited.
struct Progress<'a> {
    monitor: Monitor,
    bar: ProgressBar,
    child: &'a mut Child,
    exited: Option<(ExitStatus, Instant)>,
}

impl Consumer for Progress<'_> {
    fn chunk(
        &mut self,
        chunk: &Received,
        budget: Option<u64>,
        env: &mut Env,
    ) -> anyhow::Result<u64> {
        if chunk.bytes.is_empty() {
            self.monitor.close(&chunk.source);
            return Ok(0);
        }
        let got = self
            .monitor
            .ingest(&chunk.source, &chunk.bytes, Some(chunk.at), budget);
        for w in &got.warnings {
            env.warn(w);
        }
        Ok(got.items.len() as u64)
    }

    fn tick(&mut self, _env: &mut Env) -> anyhow::Result<Option<String>> {
        self.bar.set_position(self.monitor.totals().kind("request"));
        self.bar.set_message(device_line(&self.monitor));
        if self.exited.is_none()
            && let Some(status) = self.child.try_wait().context("cannot check on the agent")?
        {
            self.exited = Some((status, Instant::now()));
        }
        Ok(match self.exited {
            Some((_, at)) if at.elapsed() >= DRAIN => Some("agent_exited".to_string()),
            _ => None,
        })
    }
}

/// `requests · cpu 43 % · mem 1.2/7.6 GiB` from the demo agent's latest sample.
fn device_line(m: &Monitor) -> String {
    let sample = m
        .rows()
        .iter()
        .filter(|r| r.device.as_deref() == Some(DEVICE_ID))
        .filter_map(|r| r.last_sample.as_ref())
        .next_back();
    let mut line = "requests".to_string();
    if let Some(s) = sample {
        if let Some(c) = s.cpu_load_pm {
            line.push_str(&format!(" · cpu {:.0} %", f64::from(c) / 10.0));
        }
        if let (Some(u), Some(t)) = (s.mem_used_kib, s.mem_total_kib) {
            let gib = |k: u32| f64::from(k) / (1024.0 * 1024.0);
            line.push_str(&format!(" · mem {:.1}/{:.1} GiB", gib(u), gib(t)));
        }
        if let Some(g) = s.gpu_load_pm {
            line.push_str(&format!(" · gpu {:.0} %", f64::from(g) / 10.0));
        }
    }
    line
}

impl Cmd {
    /// Runs the demo and prints its result.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let started = Instant::now();
        let agent = crate::agent::find_agent(self.agent.as_deref(), "demo")?;
        let workload = match &self.workload {
            Some(w) => w.clone(),
            None => demo_workload(out, env, self.json)?,
        };
        let manifest = msao_agent::host::workload::Workload::open(&workload)
            .with_context(|| format!("cannot use the workload in {}", workload.display()))?;
        let total = manifest.requests.len();
        let mut cloud = CloudServer::start(&self.model_args)?;

        let listen: Endpoint = "udp://127.0.0.1:0".parse()?;
        let receiver =
            transport::open_receiver(&listen).context("cannot bind a loopback UDP port")?;
        let ingest = Ingest::start(vec![receiver])?;
        let url = ingest
            .endpoints()
            .first()
            .context("no bound endpoint")?
            .to_string();
        let api = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot find a free loopback port for the agent's API")?;
        let api_base = format!("http://{api}");
        if !self.json {
            writeln!(
                out,
                "cloud on {} · agent API on {api_base}/v1 · telemetry to {url} · {total} requests from {}",
                cloud.url,
                workload.display()
            )?;
            out.flush()?;
        }
        let mut command = Command::new(&agent);
        command
            .args(["--telemetry", &url, "--device-id", DEVICE_ID])
            .args([
                "--sample-interval",
                &humantime::format_duration(SAMPLE_INTERVAL).to_string(),
                "--duration",
                &humantime::format_duration(self.duration).to_string(),
                "--cloud-url",
                &cloud.url,
                "--policy",
                &self.policy,
                "--api",
                &api.to_string(),
            ]);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", agent.display()))?;
        let stderr_tail = child.stderr.take().map(|s| {
            thread::spawn(move || {
                let mut tail = VecDeque::with_capacity(STDERR_LINES);
                for line in BufReader::new(s).lines().map_while(Result::ok) {
                    if tail.len() == STDERR_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                Vec::from(tail)
            })
        });
        // The application: the workload through the API, then SIGTERM to the agent (whose
        // exit ends the telemetry loop below).
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let (app_manifest, fps) = (manifest.clone(), self.fps);
        let application = thread::spawn(move || {
            let run = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(client::run(&api_base, &app_manifest, fps)));
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            run
        });

        let bar = env.count_bar(total as u64);
        bar.set_message("requests");
        let limits = Limits {
            count: None,
            duration: Some(self.duration + GRACE),
        };
        let mut progress = Progress {
            monitor: Monitor::new(),
            bar,
            child: &mut child,
            exited: None,
        };
        let result = live::run(&ingest, limits, env, &mut progress);
        env.clear_bar();
        let exited = progress.exited.map(|(s, _)| s);
        let mut monitor = progress.monitor;
        let (status, killed) = finish_child(&mut child, exited, result.as_ref().ok())?;
        let reason = result?;
        let stderr = stderr_tail.and_then(|h| h.join().ok()).unwrap_or_default();
        let cloud_used = cloud.stop();
        monitor.finish();

        let agent_ok = !killed && status.is_some_and(|s| s.success());
        let app = application
            .join()
            .map_err(|_| anyhow::anyhow!("the demo application thread panicked"))?;
        let (answers, app_error, app_run) = match app {
            Ok(mut run) => (std::mem::take(&mut run.answers), None, Some(run)),
            Err(e) => (Vec::new(), Some(format!("{e:#}")), None),
        };
        if let Some(path) = &self.answers {
            let lines: Vec<String> = answers
                .iter()
                .filter_map(|a| serde_json::to_string(a).ok())
                .collect();
            std::fs::write(path, lines.join("\n") + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if !agent_ok || answers.is_empty() {
            let what = if killed {
                format!(
                    "the agent did not finish within {:?} and was stopped",
                    self.duration + GRACE
                )
            } else if !agent_ok {
                format!(
                    "the agent failed ({})",
                    status.map_or("unknown status".into(), |s| s.to_string())
                )
            } else if reason == StopReason::Interrupted {
                "interrupted".to_string()
            } else if let Some(e) = &app_error {
                format!("the demo application failed: {e}")
            } else {
                "the agent answered no request".to_string()
            };
            let tail = if stderr.is_empty() {
                "(nothing)".to_string()
            } else {
                stderr.join("\n  ")
            };
            anyhow::bail!("{what}; its stderr ended with:\n  {tail}");
        }
        let app_run = app_run.unwrap_or_default();
        for refused in app_run.refused.iter().take(5) {
            env.warn(&format!("the API refused {refused}"));
        }
        let summary = serde_json::json!({
            "wall_s": app_run.wall_s,
            "policy": self.policy,
            "region_iou": app_run.region_iou,
        });
        let summary = Some(summary);
        let totals = monitor.totals();
        let traces = totals.kind("request");
        let telemetry = report::Telemetry {
            request_traces: traces,
            requests: answers.len() as u64,
            traces_lost: (answers.len() as u64).saturating_sub(traces),
            faults: totals.kind("fault"),
            samples: totals.kind("sample"),
            frames: totals.frames,
            decode_drops: totals.dropped(),
        };
        let mut r = report::build(
            &answers,
            summary.as_ref(),
            &workload.display().to_string(),
            total,
            &report::RawFrames::of(&manifest),
            telemetry,
            cloud_used,
        );
        r.agent_exit = format!(
            "{} ({})",
            agent.display(),
            status.map_or("unknown".into(), |s| s.to_string())
        );
        r.elapsed_s = started.elapsed().as_secs_f64();
        if self.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
        } else {
            r.write_text(out)?;
            if let Some(path) = &self.answers {
                writeln!(out, "  {:<15} {}", "answers", path.display())?;
            }
        }
        Ok(())
    }
}

/// Makes sure the agent is gone: waits briefly if it was told to stop (Ctrl-C reaches the
/// whole process group), kills it otherwise. Returns its status and whether it was killed.
fn finish_child(
    child: &mut Child,
    exited: Option<ExitStatus>,
    reason: Option<&StopReason>,
) -> anyhow::Result<(Option<ExitStatus>, bool)> {
    if let Some(s) = exited {
        return Ok((Some(s), false));
    }
    let patience = if reason == Some(&StopReason::Interrupted) {
        Duration::from_secs(3)
    } else {
        Duration::ZERO
    };
    let until = Instant::now() + patience;
    loop {
        if let Some(s) = child.try_wait().context("cannot check on the agent")? {
            return Ok((Some(s), false));
        }
        if Instant::now() >= until {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    child.kill().context("cannot stop the agent")?;
    Ok((child.wait().ok(), true))
}
