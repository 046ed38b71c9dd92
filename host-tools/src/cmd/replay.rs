//! `msao-host replay FILE [--speed recorded|max|N] [--to URL] [--json]`: re-emit a
//! capture's frames with their recorded timing, rendered like `listen` or sent raw to a
//! transport (no re-encoding: the receiver sees the recorded bytes).
use super::decode::{capture_extras, open_capture, report_truncated};
use crate::{
    args::Speed,
    capture::{CaptureReader, Record},
    env::{Env, Shutdown},
    live::Session,
    monitor::Monitor,
    render::{Summary, View},
};
use anyhow::Context as _;
use msao::transport::{self, Endpoint};
use std::{
    io::{Read, Write},
    path::PathBuf,
    time::{Duration, Instant, SystemTime},
};

/// Re-emit a capture's frames with their recorded timing, to stdout or a transport.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// The capture file (written by `msao-host record`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// `recorded` (1×), `max` (no waits), or a factor: `4`, `4x`, `0.5x`.
    #[arg(long, value_name = "SPEED", default_value = "recorded")]
    pub speed: Speed,
    /// Send the raw frames to this transport instead of printing them.
    #[arg(long, value_name = "URL")]
    pub to: Option<Endpoint>,
    /// JSON lines (and a JSON summary) instead of the human view.
    #[arg(long)]
    pub json: bool,
}

/// Waits out the recorded gaps between records, scaled by the speed.
struct Pacer {
    speed: Speed,
    first: Option<SystemTime>,
    start: Instant,
}

/// Longest single sleep, so Ctrl-C and redraws stay responsive.
const PACE_SLICE: Duration = Duration::from_millis(50);

impl Pacer {
    fn new(speed: Speed) -> Self {
        Self {
            speed,
            first: None,
            start: Instant::now(),
        }
    }

    /// Sleeps until `at`'s turn; `false` if a stop was requested meanwhile.
    fn wait(&mut self, at: SystemTime, shutdown: &Shutdown, mut tick: impl FnMut()) -> bool {
        let first = *self.first.get_or_insert(at);
        // A clock that stepped back gives offset 0: the record goes out at once.
        let offset = at.duration_since(first).unwrap_or_default();
        let Some(due) = self.speed.scale(offset).map(|d| self.start + d) else {
            return !shutdown.requested();
        };
        loop {
            if shutdown.requested() {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(PACE_SLICE));
            tick();
        }
    }
}

impl Cmd {
    /// Replays the whole capture (or until Ctrl-C).
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let (reader, len) = open_capture(&self.file)?;
        match self.to.clone() {
            Some(to) => self.to_transport(reader, len, &to, out, env),
            None => self.to_stdout(reader, out, env),
        }
    }

    fn to_stdout(
        &self,
        mut reader: CaptureReader<impl Read>,
        out: &mut impl Write,
        env: &mut Env,
    ) -> anyhow::Result<()> {
        let mut session = Session::new(View::live(self.json, env.stdout_tty));
        let mut pacer = Pacer::new(self.speed);
        let mut interrupted = false;
        while let Some(rec) = self.next(&mut reader)? {
            let shutdown = env.shutdown.clone();
            let mut redraw = Ok(());
            let on_time = pacer.wait(rec.at, &shutdown, || {
                if redraw.is_ok() {
                    redraw = session.view.tick(out, &session.monitor);
                }
            });
            redraw?;
            if !on_time {
                interrupted = true;
                break;
            }
            session.feed(&rec.source, &rec.bytes, Some(rec.at), None, out, env)?;
            if rec.end_of_stream {
                session.feed(&rec.source, &[], Some(rec.at), None, out, env)?;
            }
            session.view.tick(out, &session.monitor)?;
        }
        report_truncated(&reader, env);
        let speed = self.speed.to_string();
        session.finish(out, |m, elapsed| {
            capture_extras(Summary::of(m, elapsed), &reader)
                .with("speed", speed.clone(), format!("speed: {speed}"))
                .with(
                    "interrupted",
                    interrupted,
                    if interrupted {
                        "interrupted by Ctrl-C"
                    } else {
                        ""
                    },
                )
        })
    }

    fn to_transport(
        &self,
        mut reader: CaptureReader<impl Read>,
        len: u64,
        to: &Endpoint,
        out: &mut impl Write,
        env: &mut Env,
    ) -> anyhow::Result<()> {
        let mut sink = transport::open_sink(to).with_context(|| format!("cannot open {to}"))?;
        let started = Instant::now();
        let bar = env.byte_bar(len);
        bar.set_message(format!("→ {to}"));
        let mut monitor = Monitor::new();
        let mut pacer = Pacer::new(self.speed);
        let (mut sent, mut failed, mut interrupted) = (0u64, 0u64, false);
        while let Some(rec) = self.next(&mut reader)? {
            if !pacer.wait(rec.at, &env.shutdown.clone(), || {}) {
                interrupted = true;
                break;
            }
            if !rec.bytes.is_empty() {
                match sink.send_frame(&rec.bytes) {
                    Ok(()) => sent += 1,
                    Err(e) => {
                        if failed == 0 {
                            env.warn(&format!("warning: sending to {to} failed: {e} (further failures only counted)"));
                        }
                        failed += 1;
                    }
                }
                monitor.ingest(&rec.source, &rec.bytes, Some(rec.at), None);
            }
            if rec.end_of_stream {
                monitor.close(&rec.source);
            }
            bar.set_position(reader.offset());
        }
        env.clear_bar();
        report_truncated(&reader, env);
        monitor.finish();
        let summary = capture_extras(Summary::of(&monitor, started.elapsed()), &reader)
            .with(
                "to",
                to.to_string(),
                format!("sent {sent} frame(s) to {to}, {failed} failed"),
            )
            .with("sent", sent, "")
            .with("send_failed", failed, "")
            .with(
                "speed",
                self.speed.to_string(),
                format!("speed: {}", self.speed),
            )
            .with(
                "interrupted",
                interrupted,
                if interrupted {
                    "interrupted by Ctrl-C"
                } else {
                    ""
                },
            );
        summary.write(out, self.json)?;
        Ok(())
    }

    fn next(&self, reader: &mut CaptureReader<impl Read>) -> anyhow::Result<Option<Record>> {
        reader
            .next_record()
            .with_context(|| format!("cannot read {}", self.file.display()))
    }
}
