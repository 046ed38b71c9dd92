//! `msao-host record URL… --out FILE`: write every received frame to a capture file
//! (format: `spec/capture-format.md`), undecodable ones included. Overflow policy as for
//! `listen` (UDP datagrams past a full queue dropped and counted, TCP and serial wait); a
//! slow disk therefore slows TCP agents rather than losing their frames.
use crate::{
    args,
    capture::{CaptureHeader, CaptureWriter, Record},
    env::Env,
    ingest::{self, Ingest},
    live::{self, Consumer, Limits},
    monitor::Monitor,
    render::{Summary, text},
    split::Splitter,
};
use anyhow::Context as _;
use indicatif::ProgressBar;
use msao::transport::{self, Endpoint, Received, TcpLimits};
use std::{
    fs::File,
    io::{BufWriter, Write},
    path::PathBuf,
    time::{Duration, Instant, SystemTime},
};

/// How often buffered records reach the file (a killed recorder loses at most this much).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// Receive frames and write them to a capture file for replay and decode.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// Where to receive (as for `listen`).
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<Endpoint>,
    /// The capture file to write (overwritten).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Stop after this long (`30s`, `5m`).
    #[arg(long, value_name = "D", value_parser = args::duration)]
    pub duration: Option<Duration>,
    /// Stop after N frames (decoded or not).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Most simultaneous TCP agents; further connections are closed at once and counted.
    #[arg(long, value_name = "N", default_value_t = transport::DEFAULT_MAX_PEERS,
          value_parser = ingest::max_peers)]
    pub max_peers: usize,
}

struct Recorder<W: Write> {
    writer: CaptureWriter<W>,
    split: Splitter,
    monitor: Monitor,
    bar: ProgressBar,
    last_flush: Instant,
}

impl<W: Write> Recorder<W> {
    fn write(
        &mut self,
        at: SystemTime,
        source: &str,
        bytes: Vec<u8>,
        end_of_stream: bool,
    ) -> anyhow::Result<()> {
        let record = Record {
            at,
            source: source.to_string(),
            bytes,
            end_of_stream,
        };
        self.writer
            .write(&record)
            .context("cannot write the capture")
    }
}

impl<W: Write> Consumer for Recorder<W> {
    fn chunk(
        &mut self,
        chunk: &Received,
        budget: Option<u64>,
        env: &mut Env,
    ) -> anyhow::Result<u64> {
        if chunk.bytes.is_empty() {
            let tail = self.split.close(&chunk.source);
            self.monitor.close(&chunk.source);
            self.write(chunk.at, &chunk.source, tail, true)?;
            return Ok(0);
        }
        let mut frames = Vec::new();
        self.split
            .push(&chunk.source, &chunk.bytes, |f| frames.push(f));
        if chunk.is_datagram() {
            // One frame per datagram: an unterminated rest is its own record, so replay
            // and decode see the same datagram boundaries listen saw.
            let rest = self.split.close(&chunk.source);
            if !rest.is_empty() {
                frames.push(rest);
            }
        }
        let mut written = 0;
        for frame in frames {
            if budget.is_some_and(|b| written >= b) {
                // `--count` reached mid-chunk: what follows in this chunk is not kept,
                // so neither is the partial frame after it.
                self.split.close(&chunk.source);
                break;
            }
            let got = self
                .monitor
                .ingest(&chunk.source, &frame, Some(chunk.at), None);
            for w in &got.warnings {
                env.warn(w);
            }
            self.write(chunk.at, &chunk.source, frame, false)?;
            written += 1;
        }
        Ok(written)
    }

    fn tick(&mut self, _env: &mut Env) -> anyhow::Result<Option<String>> {
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.writer.flush().context("cannot write the capture")?;
            self.last_flush = Instant::now();
            let t = self.monitor.totals();
            self.bar.set_message(format!(
                "{} frames ({} dropped), {} written",
                self.writer.records(),
                t.dropped(),
                text::bytes(self.writer.bytes())
            ));
        }
        Ok(None)
    }
}

impl Cmd {
    /// Records until `--count`, `--duration` or Ctrl-C, then prints the summary.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let started = Instant::now();
        let tcp = TcpLimits {
            max_peers: self.max_peers,
        };
        let ingest = Ingest::start(ingest::open_all(&self.urls, tcp)?)?;
        let file = File::create(&self.out)
            .with_context(|| format!("cannot create {}", self.out.display()))?;
        let writer = CaptureWriter::new(BufWriter::new(file), &CaptureHeader::now())
            .with_context(|| format!("cannot write {}", self.out.display()))?;
        env.listening(ingest.endpoints());
        let bar = env.spinner();
        bar.set_message(format!("recording to {}", self.out.display()));
        let mut rec = Recorder {
            writer,
            split: Splitter::new(),
            monitor: Monitor::new(),
            bar,
            last_flush: started,
        };
        let limits = Limits {
            count: self.count,
            duration: self.duration,
        };
        let result = live::run(&ingest, limits, env, &mut rec);
        // Whatever stopped the loop, keep what was received: partial frames are data too.
        let now = SystemTime::now();
        for (source, tail) in rec.split.drain() {
            rec.write(now, &source, tail, false)?;
        }
        env.clear_bar();
        rec.monitor.finish();
        let (records, bytes) = (rec.writer.records(), rec.writer.bytes());
        let mut file = rec.writer.finish().context("cannot write the capture")?;
        file.flush()
            .with_context(|| format!("cannot write {}", self.out.display()))?;
        let reason = result?;
        let counters = ingest.counters();
        let path = self.out.display().to_string();
        let summary = Summary::of(&rec.monitor, started.elapsed())
            .with(
                "file",
                path.clone(),
                format!("capture: {path}, {records} records, {}", text::bytes(bytes)),
            )
            .with("records", records, "")
            .with("file_bytes", bytes, "")
            .with("receive", counters.json(), counters.human())
            .with(
                "stopped_by",
                reason.name(),
                format!("stopped by: {}", reason.name()),
            );
        summary.write(out, self.json)?;
        Ok(())
    }
}
