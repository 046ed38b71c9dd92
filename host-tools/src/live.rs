//! The shared receive loop of `listen`, `record` and `demo`: pull chunks from an [`Ingest`], feed the
//! consumer ([`Render`] feeds a [`Monitor`] and a [`View`]), and stop on `--count`, `--duration`, Ctrl-C,
//! a caller's condition, or when every receiver has failed.
use crate::{
    env::Env,
    ingest::{Inbound, Ingest, POLL, Poll},
    monitor::Monitor,
    render::View,
};
use msao::transport::Received;
use std::{
    io::Write,
    time::{Duration, Instant, SystemTime},
};

/// Why a loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// `--count` frames were seen.
    Count,
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C.
    Interrupted,
    /// Every receiver failed.
    ReceiversEnded,
    /// The caller's condition (e.g. the demo agent exited).
    Caller(String),
}

impl StopReason {
    /// Short name for summaries.
    pub fn name(&self) -> &str {
        match self {
            Self::Count => "count",
            Self::Duration => "duration",
            Self::Interrupted => "interrupted",
            Self::ReceiversEnded => "receivers_ended",
            Self::Caller(s) => s,
        }
    }
}

/// Stop conditions from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Stop after this many terminated frames (decoded or dropped).
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// Decoding state plus output: what `listen`, `replay` and `decode` share.
pub struct Session {
    /// Decoders and counters.
    pub monitor: Monitor,
    /// Output.
    pub view: View,
    /// Start of the session.
    pub started: Instant,
}

impl Session {
    /// A fresh session rendering through `view`.
    pub fn new(view: View) -> Self {
        Self {
            monitor: Monitor::new(),
            view,
            started: Instant::now(),
        }
    }

    /// Feeds one chunk (empty: the source closed), renders its frames, prints warnings.
    /// Returns the number of terminated frames it held (at most `budget`).
    pub fn feed(
        &mut self,
        source: &str,
        bytes: &[u8],
        at: Option<SystemTime>,
        budget: Option<u64>,
        out: &mut impl Write,
        env: &mut Env,
    ) -> anyhow::Result<u64> {
        if bytes.is_empty() {
            self.monitor.close(source);
            return Ok(0);
        }
        let got = self.monitor.ingest(source, bytes, at, budget);
        for w in &got.warnings {
            env.warn(w);
            self.view.interrupted();
        }
        for item in &got.items {
            self.view.observed(out, item)?;
        }
        Ok(got.items.len() as u64)
    }

    /// Counts the unterminated tails and renders the final table and summary.
    pub fn finish(
        &mut self,
        out: &mut impl Write,
        summary: impl FnOnce(&Monitor, Duration) -> crate::render::Summary,
    ) -> anyhow::Result<()> {
        self.monitor.finish();
        let s = summary(&self.monitor, self.started.elapsed());
        self.view.finish(out, &self.monitor, &s)?;
        Ok(())
    }
}

/// What the receive loop drives: `listen` renders, `record` writes a capture.
pub trait Consumer {
    /// Handles one chunk (empty: the source closed); returns how many terminated frames it
    /// held, at most `budget`.
    fn chunk(
        &mut self,
        chunk: &Received,
        budget: Option<u64>,
        env: &mut Env,
    ) -> anyhow::Result<u64>;
    /// Called after every chunk or idle poll; `Some(reason)` ends the loop.
    fn tick(&mut self, env: &mut Env) -> anyhow::Result<Option<String>>;
    /// Something was printed on stderr (a redrawn table must start below it).
    fn interrupted(&mut self) {}
}

/// Renders into a [`Session`]: the consumer of `listen` and `demo`.
pub struct Render<'a, W: Write> {
    /// The session.
    pub session: &'a mut Session,
    /// Where frames and tables go.
    pub out: &'a mut W,
}

impl<W: Write> Consumer for Render<'_, W> {
    fn chunk(
        &mut self,
        chunk: &Received,
        budget: Option<u64>,
        env: &mut Env,
    ) -> anyhow::Result<u64> {
        self.session.feed(
            &chunk.source,
            &chunk.bytes,
            Some(chunk.at),
            budget,
            self.out,
            env,
        )
    }
    fn tick(&mut self, _env: &mut Env) -> anyhow::Result<Option<String>> {
        self.session.view.tick(self.out, &self.session.monitor)?;
        Ok(None)
    }
    fn interrupted(&mut self) {
        self.session.view.interrupted();
    }
}

/// Runs the receive loop until a stop condition.
pub fn run(
    ingest: &Ingest,
    limits: Limits,
    env: &mut Env,
    consumer: &mut impl Consumer,
) -> anyhow::Result<StopReason> {
    let deadline = limits.duration.map(|d| Instant::now() + d);
    let mut seen = 0u64;
    loop {
        if env.shutdown.requested() {
            return Ok(StopReason::Interrupted);
        }
        if limits.count.is_some_and(|n| seen >= n) {
            return Ok(StopReason::Count);
        }
        let now = Instant::now();
        let wait = match deadline {
            Some(d) if now >= d => return Ok(StopReason::Duration),
            Some(d) => (d - now).min(POLL),
            None => POLL,
        };
        match ingest.recv(wait) {
            Poll::Inbound(Inbound::Chunk(chunk)) => {
                let budget = limits.count.map(|n| n.saturating_sub(seen));
                seen += consumer.chunk(&chunk, budget, env)?;
            }
            Poll::Inbound(Inbound::Warning(w)) => {
                env.warn(&w);
                consumer.interrupted();
            }
            Poll::Inbound(Inbound::Failed { endpoint, error }) => {
                env.warn(&format!("warning: receiver {endpoint} failed: {error}"));
                consumer.interrupted();
            }
            Poll::Idle => {}
            Poll::Closed => return Ok(StopReason::ReceiversEnded),
        }
        if let Some(why) = consumer.tick(env)? {
            return Ok(StopReason::Caller(why));
        }
    }
}
