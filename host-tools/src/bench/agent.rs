//! One bench run through the shipped `msao-agent`: the run's `[runtime]`, `[workload]` and
//! `[offload]` written as the agent's TOML config file, the agent started on the workload
//! (it warms up, runs, writes its answers and summary, and exits), and both files read back.
//!
//! The files of the latest run stay in the bench's output directory (`agent/`): the
//! config, answers, summary and the agent's log, so a failed run can be rerun by hand.

use crate::agent::{Answer, read_answers};
use anyhow::{Context as _, bail};
use msao_agent::host::workload::OffloadConfig;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What one agent run produced.
#[derive(Debug, Clone)]
pub struct AgentRun {
    /// Policy name, as the agent's summary gives it.
    pub policy: String,
    /// One record per request, in answer order.
    pub answers: Vec<Answer>,
    /// First frame in → last answer out, s (the agent's own clock; start-up and warm-up
    /// excluded).
    pub wall_s: f64,
    /// Cloud faults of the run.
    pub cloud_faults: usize,
}

/// Starts agent runs: one binary, one workload, one output directory.
pub struct AgentRunner {
    agent: PathBuf,
    workload: PathBuf,
    runtime: toml::Table,
    dir: PathBuf,
    sink: TelemetrySink,
}

/// Lines of the agent's log shown when a run fails.
const LOG_TAIL: usize = 20;

impl AgentRunner {
    /// A runner writing its files into `dir` (created). `models_dir` and `onnxruntime` go
    /// into `[runtime]` when given; otherwise the agent searches as it always does.
    pub fn new(
        agent: PathBuf,
        workload: &Path,
        models_dir: Option<&Path>,
        onnxruntime: Option<&Path>,
        dir: PathBuf,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut runtime = toml::Table::new();
        for (key, path) in [("models_dir", models_dir), ("onnxruntime", onnxruntime)] {
            if let Some(p) = path {
                let abs = std::path::absolute(p)
                    .with_context(|| format!("cannot resolve {}", p.display()))?;
                runtime.insert(key.into(), abs.display().to_string().into());
            }
        }
        Ok(Self {
            agent,
            workload: std::path::absolute(workload)
                .with_context(|| format!("cannot resolve {}", workload.display()))?,
            runtime,
            dir,
            sink: TelemetrySink::start()?,
        })
    }

    /// What the agent binary says with `--version` (its path when it says nothing).
    pub fn version(&self) -> String {
        Command::new(&self.agent)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.agent.display().to_string())
    }

    /// The config file of one run.
    pub fn config_text(
        &self,
        offload: &OffloadConfig,
        warmup: usize,
        limit: Option<usize>,
    ) -> anyhow::Result<String> {
        let mut workload = toml::Table::new();
        workload.insert("dir".into(), self.workload.display().to_string().into());
        for (key, file) in [("answers", "answers.jsonl"), ("summary", "summary.json")] {
            workload.insert(key.into(), self.dir.join(file).display().to_string().into());
        }
        workload.insert("warmup".into(), toml_int(warmup)?);
        if let Some(n) = limit {
            workload.insert("limit".into(), toml_int(n)?);
        }
        let mut table = toml::Table::new();
        table.insert("runtime".into(), self.runtime.clone().into());
        table.insert("workload".into(), workload.into());
        table.insert(
            "offload".into(),
            toml::Value::try_from(offload).context("cannot write the [offload] table")?,
        );
        let mut telemetry = toml::Table::new();
        telemetry.insert(
            "sinks".into(),
            toml::Value::Array(vec![self.sink.url.clone().into()]),
        );
        table.insert("telemetry".into(), telemetry.into());
        Ok(toml::to_string(&table)?)
    }

    /// Runs the agent once: `requests` is the number of answers expected (for the
    /// progress bar and the time limit).
    pub fn run(
        &self,
        offload: &OffloadConfig,
        warmup: usize,
        limit: Option<usize>,
        requests: usize,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<AgentRun> {
        let config = self.dir.join("agent.toml");
        let answers = self.dir.join("answers.jsonl");
        let summary = self.dir.join("summary.json");
        let log = self.dir.join("agent.log");
        for stale in [&answers, &summary] {
            match std::fs::remove_file(stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", stale.display()));
                }
                _ => {}
            }
        }
        std::fs::write(&config, self.config_text(offload, warmup, limit)?)
            .with_context(|| format!("cannot write {}", config.display()))?;
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(&self.agent)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", self.agent.display()))?;
        // Start-up, warm-up, and every request waiting out its deadline twice over.
        let limit_time = Duration::from_secs(60)
            + Duration::from_millis(offload.deadline_ms.saturating_mul(2))
                * u32::try_from(requests + warmup).unwrap_or(u32::MAX);
        let started = Instant::now();
        let mut progress = LineCounter::default();
        let status = loop {
            if let Some(s) = child.try_wait().context("cannot check on the agent")? {
                break s;
            }
            if started.elapsed() > limit_time {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the agent did not finish within {limit_time:?}; its log ({}) ends with:\n  {}",
                    log.display(),
                    tail(&log)
                );
            }
            bar.set_position(progress.count(&answers));
            std::thread::sleep(Duration::from_millis(100));
        };
        if !status.success() {
            bail!(
                "the agent failed ({status}); config {}, its log ({}) ends with:\n  {}",
                config.display(),
                log.display(),
                tail(&log)
            );
        }
        let records = read_answers(&answers)?;
        let text = std::fs::read_to_string(&summary)
            .with_context(|| format!("cannot read the agent's summary {}", summary.display()))?;
        let s: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not JSON", summary.display()))?;
        let field = |key: &str| {
            s.get(key)
                .with_context(|| format!("{}: no `{key}`", summary.display()))
        };
        let answered = field("requests")?.as_u64().unwrap_or(0);
        if answered != records.len() as u64 || records.len() != requests {
            bail!(
                "the agent answered {answered} requests (summary) and wrote {} answers; {requests} expected",
                records.len()
            );
        }
        Ok(AgentRun {
            policy: field("policy")?.as_str().unwrap_or_default().to_string(),
            answers: records,
            wall_s: field("wall_s")?.as_f64().unwrap_or(0.0),
            cloud_faults: field("cloud_faults")?.as_object().map_or(0, |m| {
                m.values().filter_map(|v| v.as_u64()).sum::<u64>() as usize
            }),
        })
    }
}

fn toml_int(n: usize) -> anyhow::Result<toml::Value> {
    Ok(toml::Value::Integer(
        i64::try_from(n).context("count too large")?,
    ))
}

/// The last [`LOG_TAIL`] lines of `path`.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    match lines.len() {
        0 => "(nothing)".into(),
        n => lines[n.saturating_sub(LOG_TAIL)..].join("\n  "),
    }
}

/// Counts the lines of a file that grows, reading only what is new.
#[derive(Default)]
struct LineCounter {
    offset: u64,
    lines: u64,
}

impl LineCounter {
    fn count(&mut self, path: &Path) -> u64 {
        let Ok(mut f) = std::fs::File::open(path) else {
            return self.lines;
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_ok() && f.read_to_end(&mut buf).is_ok() {
            self.offset += buf.len() as u64;
            self.lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        }
        self.lines
    }
}

/// A loopback UDP port the agents' telemetry goes to, drained and discarded (the bench
/// reads answers from the answers file; `demo` is the command that watches telemetry).
struct TelemetrySink {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TelemetrySink {
    fn start() -> anyhow::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0").context("cannot bind a loopback UDP port")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let url = format!("udp://{}", socket.local_addr()?);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("telemetry-sink".into())
            .spawn(move || {
                let mut buf = [0u8; 65536];
                while !flag.load(Ordering::Relaxed) {
                    let _ = socket.recv(&mut buf);
                }
            })
            .context("cannot start the telemetry sink thread")?;
        Ok(Self {
            url,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for TelemetrySink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated file is one the agent accepts, with the run's values.
    #[test]
    fn the_config_file_is_a_valid_agent_config() {
        let dir = tempfile::tempdir().unwrap();
        let runner = AgentRunner::new(
            PathBuf::from("/nonexistent/msao-agent"),
            Path::new("wl"),
            Some(Path::new("models")),
            None,
            dir.path().join("agent"),
        )
        .unwrap();
        let offload = OffloadConfig {
            policy: msao_agent::host::workload::PolicyKind::Bandit,
            threshold: Some(0.75),
            deadline_ms: 250,
            max_in_flight: 4,
            ..OffloadConfig::default()
        };
        let text = runner.config_text(&offload, 100, Some(30)).unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, &text).unwrap();
        let cli = msao_agent::host::agent_config::Cli {
            config: Some(path),
            ..Default::default()
        };
        let s = msao_agent::host::agent_config::Settings::resolve(&cli)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            s.offload.policy,
            msao_agent::host::workload::PolicyKind::Bandit
        );
        assert_eq!(
            (s.offload.threshold, s.offload.max_in_flight),
            (Some(0.75), 4)
        );
        let w = s.workload.unwrap();
        assert_eq!((w.warmup, w.limit), (100, Some(30)));
        assert!(
            w.dir.is_absolute() && w.dir.ends_with("wl"),
            "{}",
            w.dir.display()
        );
        assert_eq!(
            w.answers,
            Some(dir.path().join("agent").join("answers.jsonl"))
        );
        assert_eq!(s.sinks.len(), 1);
        assert!(s.runtime.models_dir.unwrap().is_absolute());
    }
}
