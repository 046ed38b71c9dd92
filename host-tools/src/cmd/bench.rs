//! `msao-host bench`: the live benchmark — the same camera-size workload under each policy
//! (edge-only, cloud-only, cloud-features, offload-all, the UCB bandit, MSAO) plus the
//! per-request oracle, over emulated links (tc tbf rate limit in a network namespace, RTT
//! added by a user-space delay proxy), written as a markdown table, JSON and SVG plots.
//! Every run is the shipped `msao-agent` binary on a generated config file
//! ([`bench::AgentRunner`]), as a user would run it.

use crate::bench::{self, AgentRun, AgentRunner, BenchRow, LinkReport};
use crate::env::Env;
use anyhow::{Context as _, bail};
use msao_agent::host::oip::TensorFormat;
use msao_agent::host::workload::{OffloadConfig, PolicyKind, Workload, calibration_dir};
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
    /// Requests every agent run does edge-only, unrecorded, before its measured run
    /// (`msao-agent --warmup`): ONNX Runtime's first runs, the page cache and the CPU clock
    /// otherwise land on the first measured requests.
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
    /// Cloud deadline, ms (default: the agent's own default, 250 ms).
    #[arg(long, value_name = "MS")]
    pub deadline_ms: Option<u64>,
    /// CPUs the agent side (this process) runs on, a kernel CPU list (`0`, `0-3`); default:
    /// the first half of the CPUs this process may use.
    #[arg(long, value_name = "LIST")]
    pub agent_cpus: Option<String>,
    /// CPUs the reference cloud runs on (its workers follow them); default: the other half.
    #[arg(long, value_name = "LIST")]
    pub cloud_cpus: Option<String>,
    /// Do not pin agent and cloud to separate CPUs (they then share every core).
    #[arg(long, conflicts_with_all = ["agent_cpus", "cloud_cpus"])]
    pub no_pin: bool,
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
    /// The agent binary [default: msao-agent next to this executable].
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,
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

fn start_cloud(
    netns: Option<&str>,
    listen: &str,
    cpus: Option<&str>,
) -> anyhow::Result<(CloudProcess, SocketAddr)> {
    let exe = std::env::current_exe().context("cannot find the msao-host executable")?;
    // `ip netns exec NS taskset -c CPUS msao-host cloud …`, each prefix only when needed.
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if let Some(ns) = netns {
        argv.extend(["ip", "netns", "exec", ns].map(Into::into));
    }
    if let Some(cpus) = cpus {
        argv.extend(["taskset", "-c", cpus].map(Into::into));
    }
    argv.push(exe.into_os_string());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
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
        let (agent_cpus, cloud_cpus) = match self.no_pin {
            true => (None, None),
            false => pinning(self.agent_cpus.as_deref(), self.cloud_cpus.as_deref())?,
        };
        let agent = crate::agent::find_agent(self.agent.as_deref(), "bench")?;
        // Pinned before anything starts a thread: the proxy's threads and every agent
        // started later inherit the mask.
        if let Some(cpus) = &agent_cpus {
            pin_current_thread(cpus)?;
        }
        let workload_dir = match &self.workload {
            Some(d) => d.clone(),
            None => bench::default_workload(env)?,
        };
        let workload = Workload::open(&workload_dir)?;
        let models_dir = self.model_args.models_dir()?;
        let defaults = OffloadConfig::default();
        let mut base = OffloadConfig {
            deadline_ms: self.deadline_ms.unwrap_or(defaults.deadline_ms),
            max_in_flight: self.in_flight,
            ..defaults
        };
        // Resolved here and written into every run's config, so each agent commits on the
        // threshold this report names.
        let threshold = base.resolve_threshold(&calibration_dir(&models_dir))?;
        base.threshold = Some(threshold);
        let runner = AgentRunner::new(
            agent,
            &workload_dir,
            Some(&models_dir),
            self.model_args.onnxruntime.as_deref(),
            self.out.join("agent"),
        )?;

        let netns = if self.no_netns {
            None
        } else {
            Some(bench::link::Netns::create()?)
        };
        let listen = match netns {
            Some(_) => format!("{}:8000", bench::link::CLOUD_ADDR),
            None => "127.0.0.1:0".to_string(),
        };
        let (_cloud, cloud_addr) = start_cloud(
            netns.as_ref().map(|n| n.name()),
            &listen,
            cloud_cpus.as_deref(),
        )?;
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
        let mut links = Vec::new();
        for &rate in &self.rates {
            if let Some(ns) = &netns {
                ns.set_rate(rate)?;
            }
            let one_way = Duration::from_secs_f64(self.rtt_ms / 2e3);
            let pace = netns.is_none().then_some(rate);
            let proxy =
                proxy_rt.block_on(bench::link::start_delay_proxy(cloud_addr, one_way, pace))?;
            let mut runs: Vec<(PolicyKind, AgentRun)> = Vec::new();
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
                    let result = runner.run(&config, self.warmup, self.limit, n, &bar);
                    bar.finish_and_clear();
                    let agent_run = result.with_context(|| {
                        format!("{} at {rate} Mbit/s, run {}", policy.name(), repeat + 1)
                    })?;
                    if let Some((f, p)) = &mut records_file {
                        for r in &agent_run.answers {
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
                    runs.push((policy, agent_run));
                }
            }
            let mut rows: Vec<BenchRow> = policies
                .iter()
                .map(|p| {
                    let of: Vec<&AgentRun> = runs
                        .iter()
                        .filter(|(k, _)| k == p)
                        .map(|(_, r)| r)
                        .collect();
                    BenchRow::from_runs(&of)
                })
                .collect();
            if let Some(oracle) = bench::oracle(&runs) {
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
        let setup = bench::Setup {
            agent: runner.version(),
            cpu: msao_agent::host::device::CpuIsa::detect(),
            agent_cpus,
            cloud_cpus,
            deadline_ms: base.deadline_ms,
            evaluated_on: match &self.workload {
                None => bench::DEFAULT_WORKLOAD.into(),
                Some(d) => format!("the workload in {}", d.display()),
            },
            tuned_on: tuned_on(&calibration_dir(&models_dir)),
            cloud_only_jpeg_quality: msao_agent::host::workload::CLOUD_ONLY_JPEG_QUALITY,
        };
        let report = bench::Report::new(setup, &workload_dir, n, self.repeat, threshold, links);
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

/// Agent and cloud CPU lists: as given, else the first and second half of the CPUs this
/// process may use. `(None, None)` on a single CPU (nothing to split; said in the report).
fn pinning(
    agent: Option<&str>,
    cloud: Option<&str>,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    for (flag, list) in [("--agent-cpus", agent), ("--cloud-cpus", cloud)] {
        if let Some(list) = list {
            msao_agent::host::device::parse_cpu_list(list)
                .map_err(|e| anyhow::anyhow!("{flag} `{list}`: {e}"))?;
        }
    }
    if let (Some(a), Some(c)) = (agent, cloud) {
        return Ok((Some(a.into()), Some(c.into())));
    }
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .context("cannot read this process's CPU affinity")?;
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&i| allowed.is_set(i).unwrap_or(false))
        .collect();
    if cpus.len() < 2 {
        return Ok((agent.map(Into::into), cloud.map(Into::into)));
    }
    let (first, second) = cpus.split_at(cpus.len() / 2);
    let list = |c: &[usize]| c.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    Ok((
        Some(agent.map_or_else(|| list(first), Into::into)),
        Some(cloud.map_or_else(|| list(second), Into::into)),
    ))
}

/// Pins the calling thread (and every thread it starts later) to `list`.
fn pin_current_thread(list: &str) -> anyhow::Result<()> {
    let cpus = msao_agent::host::device::parse_cpu_list(list)
        .map_err(|e| anyhow::anyhow!("CPU list `{list}`: {e}"))?;
    let mut set = nix::sched::CpuSet::new();
    for cpu in cpus {
        set.set(cpu as usize)
            .with_context(|| format!("CPU {cpu} is out of range"))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("cannot pin the agent side to CPUs {list}"))
}

/// What the threshold file says it was fitted on.
fn tuned_on(calibration: &std::path::Path) -> String {
    let path = calibration.join(msao_agent::host::workload::THRESHOLD_FILE);
    match msao_agent::host::workload::read_threshold(&path) {
        Ok(file) => {
            let about = |key: &str| {
                file.about.get(key).map_or("?".into(), |v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            };
            format!(
                "{} questions of the easy-VQA train split held out from training ({}; {})",
                about("questions"),
                about("split"),
                about("inputs")
            )
        }
        Err(e) => format!("unknown ({e})"),
    }
}
