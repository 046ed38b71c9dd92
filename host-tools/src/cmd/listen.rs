//! `msao-host listen URL… [--json] [--count N] [--duration D] [--max-peers N]`: receive
//! and show frames. Overflow policy (see `ingest`): UDP datagrams past a full queue are
//! dropped and counted; TCP and serial wait (backpressure), each TCP peer with its own share.
use crate::{
    args,
    env::Env,
    ingest::{self, Ingest},
    live::{self, Limits, Render, Session, StopReason},
    render::{Summary, View},
};
use msao::transport::{self, Endpoint, TcpLimits};
use std::{io::Write, time::Duration};

/// Receive frames from agents and show a live device table (or JSON lines).
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// Where to receive: udp://HOST:PORT (bind), tcp://HOST:PORT (accept agents),
    /// serial:///dev/ttyX?baud=N (open). Port 0 picks a free port.
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<Endpoint>,
    /// One JSON object per frame on stdout (flushed per line), then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Exit after N frames (decoded or dropped).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit after this long (`30s`, `5m`).
    #[arg(long, value_name = "D", value_parser = args::duration)]
    pub duration: Option<Duration>,
    /// Most simultaneous TCP agents; further connections are closed at once and counted.
    #[arg(long, value_name = "N", default_value_t = transport::DEFAULT_MAX_PEERS,
          value_parser = ingest::max_peers)]
    pub max_peers: usize,
}

impl Cmd {
    /// Runs until `--count`, `--duration` or Ctrl-C, then prints the summary.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let tcp = TcpLimits {
            max_peers: self.max_peers,
        };
        let ingest = Ingest::start(ingest::open_all(&self.urls, tcp)?)?;
        env.listening(ingest.endpoints());
        let mut session = Session::new(View::live(self.json, env.stdout_tty));
        let limits = Limits {
            count: self.count,
            duration: self.duration,
        };
        let reason = live::run(
            &ingest,
            limits,
            env,
            &mut Render {
                session: &mut session,
                out,
            },
        )?;
        let counters = ingest.counters();
        session.finish(out, |m, elapsed| {
            Summary::of(m, elapsed)
                .with("receive", counters.json(), counters.human())
                .with(
                    "stopped_by",
                    reason.name(),
                    format!("stopped by: {}", reason.name()),
                )
        })?;
        if reason == StopReason::ReceiversEnded {
            anyhow::bail!("every receiver failed (see the warnings above)");
        }
        Ok(())
    }
}
