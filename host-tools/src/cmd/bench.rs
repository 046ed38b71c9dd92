//! `msao-host bench`: the live benchmark — the same camera-size workload under each policy
//! (edge-only, cloud-only, cloud-features, offload-all, the UCB bandit, MSAO) plus the
//! per-request oracle, over emulated links (tc tbf rate limit in a network namespace, RTT
//! added by a user-space delay proxy), written as a markdown table, JSON and SVG plots.

use crate::bench::{self, BenchRow, LinkReport};
use crate::env::Env;
use anyhow::{Context as _, bail};
use msao::message::{Fault, RequestTrace};
use msao_agent::brain::{BrainOptions, EdgeBrain};
use msao_agent::cloud::TensorFormat;
use msao_agent::offload::{
    AnswerRecord, Observer, OffloadConfig, PolicyKind, RunOptions, RunSummary, Workload,
    calibration_dir, run,
};
use msao_agent::runtime::{ModelCatalog, OrtRuntime};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Run the live benchmark: every policy and the oracle over emulated 200/300/400 Mbit/s
/// links with 20 ms RTT.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// Workload directory (`msao-host workload`); default: generated once into
    /// .cache/workload-bench-150 from the easy-VQA test split (seed 7, 150 scenes × 8 frames).
    #[arg(long, value_name = "DIR")]
    pub workload: Option<PathBuf>,
    /// Link rates, Mbit/s.
    #[arg(long, value_delimiter = ',', default_value = "200,300,400")]
    pub rates: Vec<f64>,
    /// Round-trip time added by the delay proxy, ms.
    #[arg(long, default_value_t = 20.0)]
    pub rtt_ms: f64,
    /// Policies to run (oracle rows need edge-only and offload-all).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "edge-only,cloud-only,cloud-features,offload-all,bandit,msao"
    )]
    pub policies: Vec<String>,
    /// Only the first N requests.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Requests run once, unrecorded, before the first measured run (edge-only): ONNX
    /// Runtime's first runs, the page cache and the CPU clock otherwise land on whichever
    /// policy runs first.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub warmup: usize,
    /// Runs of each policy on each link, interleaved (every policy once, then again, each
    /// round starting one policy later): rows pool all runs, the oracle pairs the k-th
    /// edge-only run with the k-th offload-all run. On a shared machine whole runs drift by
    /// ±0.3 ms on a ≈ 1 ms local path; repeating and interleaving spreads that drift over
    /// every policy instead of landing it on one. `--repeat 1` for a quick look.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub in_flight: usize,
    /// Cloud deadline, ms (generous so the baselines show their own latency).
    #[arg(long, default_value_t = 2000)]
    pub deadline_ms: u64,
    /// Directory for bench.md, bench.json and the plots.
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    pub out: PathBuf,
    /// Do not create a network namespace: rate limiting is done by the delay proxy instead
    /// of tc tbf (for machines without CAP_NET_ADMIN; said so in the report).
    #[arg(long)]
    pub no_netns: bool,
    /// Also write every answer to records.jsonl in --out, one JSON line per request and
    /// run: `{"rate_mbps", "policy", "repeat", "record"}` (the record as in the agent's
    /// answers file; `repeat` counts from 0).
    #[arg(long)]
    pub records: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model_args: super::ModelArgs,
}

/// The cloud server child process; killed on drop.
struct CloudProcess(Child);

impl Drop for CloudProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_cloud(netns: Option<&str>, listen: &str) -> anyhow::Result<(CloudProcess, SocketAddr)> {
    let exe = std::env::current_exe().context("cannot find the msao-host executable")?;
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let mut child = cmd
        .args(["cloud", "--listen", listen, "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start `msao-host cloud`")?;
    let stdout = child.stdout.take().context("no stdout from the cloud")?;
    let guard = CloudProcess(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("cannot read the cloud's first line")?;
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .with_context(|| format!("unexpected first line from the cloud: `{}`", line.trim()))?
        .parse::<SocketAddr>()
        .context("bad address from the cloud")?;
    Ok((guard, addr))
}

struct Collect {
    records: Vec<AnswerRecord>,
    bar: indicatif::ProgressBar,
}

/// One run of the pipeline as fast as it goes (no frame clock), its answers collected
/// and counted on `bar`.
fn run_collect(
    brain: &mut EdgeBrain,
    config: &OffloadConfig,
    threshold: f32,
    workload: &Workload,
    limit: Option<usize>,
    bar: indicatif::ProgressBar,
) -> anyhow::Result<(RunSummary, Vec<AnswerRecord>)> {
    let mut collect = Collect {
        records: Vec::new(),
        bar,
    };
    let summary = run(
        brain,
        config,
        threshold,
        workload,
        &RunOptions { fps: None, limit },
        &mut collect,
    )?;
    collect.bar.finish_and_clear();
    Ok((summary, collect.records))
}

impl Observer for Collect {
    fn answer(&mut self, record: &AnswerRecord, _trace: &RequestTrace) {
        self.records.push(record.clone());
        self.bar.inc(1);
    }
    fn fault(&mut self, _fault: &Fault) {}
}

impl Cmd {
    /// Runs the benchmark.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let policies: Vec<PolicyKind> = self
            .policies
            .iter()
            .map(|p| {
                PolicyKind::parse(p).with_context(|| {
                    format!(
                        "unknown policy `{p}` (known: {})",
                        PolicyKind::ALL.map(PolicyKind::name).join(", ")
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        if self.rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            bail!("--rates must be positive Mbit/s values");
        }
        let workload_dir = match &self.workload {
            Some(d) => d.clone(),
            None => bench::default_workload(env)?,
        };
        let workload = Workload::open(&workload_dir)?;
        let runtime = OrtRuntime::new(&self.model_args.runtime_options())
            .context("cannot start ONNX Runtime")?;
        let models_dir = self.model_args.models_dir()?;
        let catalog = ModelCatalog::load_dir(&models_dir)?;
        let mut brain = EdgeBrain::load(
            &runtime,
            &catalog,
            &BrainOptions {
                audio: workload.requests.iter().any(|r| r.audio.is_some()),
                ..BrainOptions::default()
            },
        )?;
        let base = OffloadConfig {
            deadline_ms: self.deadline_ms,
            max_in_flight: self.in_flight,
            ..OffloadConfig::default()
        };
        let threshold = base.resolve_threshold(&calibration_dir(&models_dir))?;

        let netns = if self.no_netns {
            None
        } else {
            Some(bench::link::Netns::create()?)
        };
        let listen = match netns {
            Some(_) => format!("{}:8000", bench::link::CLOUD_ADDR),
            None => "127.0.0.1:0".to_string(),
        };
        let (_cloud, cloud_addr) = start_cloud(netns.as_ref().map(|n| n.name()), &listen)?;
        let proxy_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;

        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("cannot create {}", self.out.display()))?;
        let n = self
            .limit
            .unwrap_or(usize::MAX)
            .min(workload.requests.len());
        let mut records_file = match self.records {
            true => {
                let p = self.out.join("records.jsonl");
                let f = std::fs::File::create(&p)
                    .with_context(|| format!("cannot create {}", p.display()))?;
                Some((std::io::BufWriter::new(f), p))
            }
            false => None,
        };
        if self.warmup > 0 {
            let mut config = base.clone();
            config.policy = PolicyKind::EdgeOnly;
            let bar = env.count_bar(self.warmup.min(n) as u64);
            bar.set_message("warm-up (not recorded)");
            let limit = Some(self.warmup.min(n));
            run_collect(&mut brain, &config, threshold, &workload, limit, bar)?;
        }
        let mut links = Vec::new();
        for &rate in &self.rates {
            if let Some(ns) = &netns {
                ns.set_rate(rate)?;
            }
            let one_way = Duration::from_secs_f64(self.rtt_ms / 2e3);
            let pace = netns.is_none().then_some(rate);
            let proxy =
                proxy_rt.block_on(bench::link::start_delay_proxy(cloud_addr, one_way, pace))?;
            let mut summaries: Vec<Vec<RunSummary>> = policies.iter().map(|_| Vec::new()).collect();
            let mut records_by = Vec::new();
            for repeat in 0..self.repeat {
                // Each round starts one policy later, so no policy always runs right after
                // the same neighbour (cloud-only's long, CPU-heavy runs in particular).
                for j in 0..policies.len() {
                    let i = (j + repeat as usize) % policies.len();
                    let policy = policies[i];
                    let mut config = base.clone();
                    config.policy = policy;
                    config.cloud.url = format!("http://{proxy}");
                    config.cloud.tensor_format = TensorFormat::Auto;
                    config.link.bandwidth_mbps = rate;
                    config.link.rtt_ms = self.rtt_ms;
                    let bar = env.count_bar(n as u64);
                    bar.set_message(format!(
                        "{rate} Mbit/s · {} · run {}/{}",
                        policy.name(),
                        repeat + 1,
                        self.repeat
                    ));
                    let (summary, records) =
                        run_collect(&mut brain, &config, threshold, &workload, self.limit, bar)?;
                    summaries[i].push(summary);
                    if let Some((f, p)) = &mut records_file {
                        for r in &records {
                            let line = serde_json::json!({
                                "rate_mbps": rate,
                                "policy": policy.name(),
                                "repeat": repeat,
                                "record": r,
                            });
                            writeln!(f, "{line}")
                                .with_context(|| format!("cannot write {}", p.display()))?;
                        }
                    }
                    records_by.push((policy, records));
                }
            }
            let mut rows: Vec<BenchRow> = summaries
                .iter()
                .map(|runs| BenchRow::from_runs(runs))
                .collect();
            if let Some(oracle) = bench::oracle(&records_by) {
                rows.push(oracle);
            }
            links.push(LinkReport {
                rate_mbps: rate,
                rtt_ms: self.rtt_ms,
                rate_limiter: if netns.is_some() {
                    "tc tbf in a network namespace"
                } else {
                    "user-space pacing (--no-netns)"
                }
                .into(),
                rows,
            });
        }
        env.clear_bar();
        if let Some((mut f, p)) = records_file {
            f.flush()
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        let report = bench::Report::new(&workload_dir, n, self.repeat, threshold, links);
        report.write(&self.out)?;
        if self.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        } else {
            write!(out, "{}", report.markdown())?;
            writeln!(
                out,
                "\nwritten: {}/bench.md, bench.json, latency.svg, tradeoff.svg",
                self.out.display()
            )?;
        }
        Ok(())
    }
}
