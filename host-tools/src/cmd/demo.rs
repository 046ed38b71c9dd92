//! `msao-host demo [--duration 10s] [--json]`: the end-to-end smoke run. Binds a UDP
//! listener on a free loopback port, starts the `msao-agent` found next to this executable
//! against it, shows the live view while the agent runs, then prints the summary (frames,
//! drops, samples per second).
use crate::{
    args,
    env::Env,
    ingest::Ingest,
    live::{self, Consumer, Limits, Render, Session, StopReason},
    render::{Summary, View},
};
use anyhow::Context as _;
use msao::transport::{self, Endpoint, Received};
use serde_json::json;
use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

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

/// Run the local agent against a local listener: the end-to-end smoke run.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// How long the agent runs.
    #[arg(long, value_name = "D", default_value = "10s", value_parser = args::duration)]
    pub duration: Duration,
    /// JSON lines and a JSON summary instead of the live table.
    #[arg(long)]
    pub json: bool,
    /// The agent binary [default: msao-agent next to this executable].
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,
}

/// `msao-agent` in the directory of the running executable.
pub fn default_agent() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let dir = exe
        .parent()
        .context("the running executable has no directory")?;
    Ok(dir.join(format!("msao-agent{}", std::env::consts::EXE_SUFFIX)))
}

struct Demo<'a, W: Write> {
    render: Render<'a, W>,
    child: &'a mut Child,
    exited: Option<(ExitStatus, Instant)>,
}

impl<W: Write> Consumer for Demo<'_, W> {
    fn chunk(
        &mut self,
        chunk: &Received,
        budget: Option<u64>,
        env: &mut Env,
    ) -> anyhow::Result<u64> {
        self.render.chunk(chunk, budget, env)
    }
    fn tick(&mut self, env: &mut Env) -> anyhow::Result<Option<String>> {
        self.render.tick(env)?;
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
    fn interrupted(&mut self) {
        self.render.interrupted();
    }
}

impl Cmd {
    /// Runs the agent for `--duration` and reports what arrived.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let agent = match self.agent.clone() {
            Some(p) => p,
            None => default_agent()?,
        };
        if !agent.is_file() {
            anyhow::bail!(
                "msao-agent not found at {}: build both binaries with `cargo build --release --workspace` \
                 (demo runs the agent next to msao-host), or pass --agent PATH",
                agent.display()
            );
        }
        let listen: Endpoint = "udp://127.0.0.1:0".parse()?;
        let receiver =
            transport::open_receiver(&listen).context("cannot bind a loopback UDP port")?;
        let ingest = Ingest::start(vec![receiver])?;
        let url = ingest
            .endpoints()
            .first()
            .context("no bound endpoint")?
            .to_string();
        env.listening(ingest.endpoints());
        let mut child = Command::new(&agent)
            .args(["--telemetry", &url, "--device-id", DEVICE_ID])
            .args([
                "--sample-interval",
                &humantime::format_duration(SAMPLE_INTERVAL).to_string(),
            ])
            .args([
                "--duration",
                &humantime::format_duration(self.duration).to_string(),
            ])
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

        let mut session = Session::new(View::live(self.json, env.stdout_tty));
        let limits = Limits {
            count: None,
            duration: Some(self.duration + GRACE),
        };
        let mut demo = Demo {
            render: Render {
                session: &mut session,
                out,
            },
            child: &mut child,
            exited: None,
        };
        let result = live::run(&ingest, limits, env, &mut demo);
        let exited = demo.exited.map(|(s, _)| s);
        let (status, killed) = finish_child(&mut child, exited, result.as_ref().ok())?;
        let reason = result?;
        let stderr = stderr_tail.and_then(|h| h.join().ok()).unwrap_or_default();

        let interval_s = SAMPLE_INTERVAL.as_secs_f64();
        session.finish(out, |m, elapsed| {
            let t = m.totals();
            let samples = t.kind("sample");
            let rate = t.sample_span.and_then(|(first, last)| {
                let span = last.duration_since(first).ok()?.as_secs_f64();
                (samples >= 2 && span > 0.0).then(|| (samples - 1) as f64 / span)
            });
            let device_drops = m
                .rows()
                .iter()
                .filter(|r| r.device.as_deref() == Some(DEVICE_ID))
                .filter_map(|r| r.last_sample.as_ref())
                .next_back()
                .map(|s| json!({ "samples": s.drops.samples, "events": s.drops.events, "send_failed": s.drops.send_failed }));
            let status_text = status.map_or("unknown".to_string(), |s| s.to_string());
            Summary::of(m, elapsed)
                .with(
                    "samples_per_s",
                    rate,
                    format!(
                        "samples/s: {} (agent interval {} ms → {:.1}/s expected)",
                        rate.map_or("n/a".to_string(), |r| format!("{r:.2}")),
                        SAMPLE_INTERVAL.as_millis(),
                        1.0 / interval_s
                    ),
                )
                .with("expected_samples_per_s", 1.0 / interval_s, "")
                .with(
                    "device_drops",
                    device_drops.clone().unwrap_or(serde_json::Value::Null),
                    device_drops.map_or(String::new(), |d| format!("agent-side drops: {d}")),
                )
                .with(
                    "agent",
                    json!({ "path": agent.display().to_string(), "exit": status_text, "killed": killed }),
                    format!("agent: {} ({status_text}{})", agent.display(), if killed { ", killed" } else { "" }),
                )
                .with("stopped_by", reason.name(), "")
        })?;
        let agent_failed = !killed && status.is_some_and(|s| !s.success());
        let received = session.monitor.totals().events();
        if agent_failed || (received == 0 && reason != StopReason::Interrupted) {
            let what = if agent_failed {
                "the agent failed"
            } else {
                "no frames arrived from the agent"
            };
            let tail = if stderr.is_empty() {
                "(nothing)".to_string()
            } else {
                stderr.join("\n  ")
            };
            anyhow::bail!("{what}; its stderr ended with:\n  {tail}");
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
