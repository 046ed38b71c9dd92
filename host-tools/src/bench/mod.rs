//! `msao-host bench` support: agent runs through the shipped binary ([`agent`]), the
//! emulated link ([`link`]), result rows, the per-request oracle, and the report (markdown,
//! JSON, SVG plots).

pub mod agent;
pub mod link;

pub use agent::{AgentRun, AgentRunner};

use crate::agent::Answer;
use crate::env::Env;
use crate::workload::{AudioMode, Config, dataset::Dataset, generate};
use anyhow::Context as _;
use msao_agent::host::workload::PolicyKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One policy's figures on one link.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Policy name (`oracle` for the hindsight row).
    pub policy: String,
    /// Requests per run.
    pub requests: usize,
    /// Runs pooled in this row (`bench --repeat`); every figure is over all of them.
    pub runs: usize,
    /// Accuracy, %.
    pub accuracy_pct: f64,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// p50, ms.
    pub p50_ms: f64,
    /// p95, ms.
    pub p95_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// Requests per second (`None` for the oracle, which is not a run).
    pub throughput_rps: Option<f64>,
    /// Uplink bytes per request (completed uploads + cancelled payloads).
    pub uplink_bytes_per_request: f64,
    /// Decisions, % of requests: local, offload, speculate.
    pub decisions_pct: [f64; 3],
    /// Answer sources, counts.
    pub sources: HashMap<String, usize>,
    /// Cloud faults.
    pub cloud_faults: usize,
}

/// Nearest-rank percentile `q` in [0, 1] of sorted latencies, µs → ms.
fn percentile_ms(sorted: &[u64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        m => sorted[((q * m as f64).ceil() as usize).clamp(1, m) - 1] as f64 / 1e3,
    }
}

/// Latency figures of `latencies_us` (sorted in place): mean, p50, p95, p99, ms.
fn latency_ms(latencies_us: &mut [u64]) -> [f64; 4] {
    latencies_us.sort_unstable();
    let n = latencies_us.len().max(1) as f64;
    [
        latencies_us.iter().sum::<u64>() as f64 / n / 1e3,
        percentile_ms(latencies_us, 0.50),
        percentile_ms(latencies_us, 0.95),
        percentile_ms(latencies_us, 0.99),
    ]
}

impl BenchRow {
    /// A row pooling runs of one policy: latency percentiles over every answer of every
    /// run, accuracy, bytes and decisions per request over all of them, throughput as all
    /// requests over all runs' wall time.
    pub fn from_runs(runs: &[&AgentRun]) -> Self {
        let answers = || runs.iter().flat_map(|r| &r.answers);
        let total = answers().count();
        let n = total.max(1) as f64;
        let mut decisions: HashMap<&str, usize> = HashMap::new();
        let mut sources: HashMap<String, usize> = HashMap::new();
        let (mut correct, mut labelled, mut up) = (0usize, 0usize, 0u64);
        for a in answers() {
            *decisions.entry(a.decision.as_str()).or_default() += 1;
            *sources.entry(a.source.clone()).or_default() += 1;
            if let Some(ok) = a.correct {
                labelled += 1;
                correct += usize::from(ok);
            }
            up += a.bytes_up + a.bytes_wasted;
        }
        let mut lat: Vec<u64> = answers().map(|a| a.latency_us).collect();
        let [mean_ms, p50_ms, p95_ms, p99_ms] = latency_ms(&mut lat);
        let wall: f64 = runs.iter().map(|r| r.wall_s).sum();
        let pct = |k: &str| *decisions.get(k).unwrap_or(&0) as f64 / n * 100.0;
        Self {
            policy: runs.first().map(|r| r.policy.clone()).unwrap_or_default(),
            requests: total / runs.len().max(1),
            runs: runs.len(),
            accuracy_pct: correct as f64 / labelled.max(1) as f64 * 100.0,
            mean_ms,
            p50_ms,
            p95_ms,
            p99_ms,
            throughput_rps: Some(total as f64 / wall.max(1e-9)),
            uplink_bytes_per_request: up as f64 / n,
            decisions_pct: [pct("local"), pct("offload"), pct("speculate")],
            sources,
            cloud_faults: runs.iter().map(|r| r.cloud_faults).sum(),
        }
    }
}

/// The oracle: per request, the best choice in hindsight between answering locally
/// (edge-only run) and offloading the compact tensor (offload-all run): local when the
/// local answer is right, else the cloud when it is right, else local (both wrong: the
/// faster one). With repeated runs the k-th edge-only run is paired with the k-th
/// offload-all run and the pairs are pooled. `None` when either run is missing.
pub fn oracle(runs: &[(PolicyKind, AgentRun)]) -> Option<BenchRow> {
    let of = |k: PolicyKind| runs.iter().filter(move |(p, _)| *p == k).map(|(_, r)| r);
    let pairs: Vec<_> = of(PolicyKind::EdgeOnly)
        .zip(of(PolicyKind::OffloadAll))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mut lat = Vec::new();
    let (mut correct, mut labelled, mut up, mut local) = (0usize, 0usize, 0u64, 0usize);
    for (edge, cloud) in &pairs {
        let cloud: HashMap<Option<u32>, &Answer> =
            cloud.answers.iter().map(|r| (r.request_id, r)).collect();
        for e in &edge.answers {
            let c = cloud.get(&e.request_id);
            let pick = match (e.correct, c) {
                (Some(true), _) | (_, None) => e,
                (_, Some(c)) if c.correct == Some(true) => c,
                _ => e,
            };
            if std::ptr::eq(pick, e) {
                local += 1;
            }
            lat.push(pick.latency_us);
            up += pick.bytes_up;
            if let Some(ok) = pick.correct {
                labelled += 1;
                correct += usize::from(ok);
            }
        }
    }
    let total = lat.len();
    let n = total.max(1) as f64;
    let [mean_ms, p50_ms, p95_ms, p99_ms] = latency_ms(&mut lat);
    Some(BenchRow {
        policy: "oracle".into(),
        requests: total / pairs.len(),
        runs: pairs.len(),
        accuracy_pct: correct as f64 / labelled.max(1) as f64 * 100.0,
        mean_ms,
        p50_ms,
        p95_ms,
        p99_ms,
        throughput_rps: None,
        uplink_bytes_per_request: up as f64 / n,
        decisions_pct: [
            local as f64 / n * 100.0,
            (total - local) as f64 / n * 100.0,
            0.0,
        ],
        sources: HashMap::new(),
        cloud_faults: 0,
    })
}

/// All policies on one link.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    /// Link rate, Mbit/s.
    pub rate_mbps: f64,
    /// Round trip added, ms.
    pub rtt_ms: f64,
    /// How the rate was enforced.
    pub rate_limiter: String,
    /// One row per policy, then the oracle.
    pub rows: Vec<BenchRow>,
}

/// MSAO against cloud-only and the oracle on one link.
#[derive(Debug, Clone, Serialize)]
pub struct Targets {
    /// Link rate.
    pub rate_mbps: f64,
    /// MSAO mean latency / cloud-only mean latency (target ≤ 0.5).
    pub latency_ratio: f64,
    /// MSAO throughput / cloud-only throughput (target ≥ 2).
    pub throughput_ratio: f64,
    /// Cloud-only accuracy − MSAO accuracy, points (target ≤ 0.3).
    pub accuracy_gap_points: f64,
    /// MSAO uplink / cloud-only uplink (target ≤ 0.05).
    pub uplink_ratio: f64,
    /// (MSAO mean − oracle mean) / oracle mean (target ≤ 0.10).
    pub oracle_gap: Option<f64>,
    /// All five met.
    pub met: bool,
}

/// The whole bench report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How the run was set up: CPU, pinning, deadline, the data each figure comes from.
    pub setup: Setup,
    /// Workload directory.
    pub workload: String,
    /// Requests per run.
    pub requests: usize,
    /// Runs of each policy per link, interleaved and pooled.
    pub runs: u32,
    /// Local-commit threshold used by MSAO.
    pub threshold: f32,
    /// Per link.
    pub links: Vec<LinkReport>,
    /// Targets per link (when both MSAO and cloud-only ran).
    pub targets: Vec<Targets>,
}

/// What a reader needs to judge the figures.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// The CPU the agent side ran on.
    pub cpu: msao_agent::host::device::CpuIsa,
    /// The agent binary each run started, as its `--version` names it.
    pub agent: String,
    /// CPUs the agent runs (edge models, policy, cloud client) and the bench's delay
    /// proxy were pinned to.
    pub agent_cpus: Option<String>,
    /// CPUs the reference cloud was pinned to (its worker count follows them).
    pub cloud_cpus: Option<String>,
    /// Cloud deadline, ms (the agent's default unless `--deadline-ms` says otherwise).
    pub deadline_ms: u64,
    /// What the bench measures on: the workload's split and seed.
    pub evaluated_on: String,
    /// What the commit threshold was fitted on (from its calibration file).
    pub tuned_on: String,
    /// cloud-only's upload: the frame as a JPEG of this quality.
    pub cloud_only_jpeg_quality: u8,
}

impl Report {
    /// Builds the report and evaluates the targets.
    pub fn new(
        setup: Setup,
        workload: &Path,
        requests: usize,
        runs: u32,
        threshold: f32,
        links: Vec<LinkReport>,
    ) -> Self {
        let targets = links
            .iter()
            .filter_map(|l| {
                let row = |p: &str| l.rows.iter().find(|r| r.policy == p);
                let (m, c) = (row("msao")?, row("cloud-only")?);
                let oracle_gap =
                    row("oracle").map(|o| (m.mean_ms - o.mean_ms) / o.mean_ms.max(1e-9));
                let t = Targets {
                    rate_mbps: l.rate_mbps,
                    latency_ratio: m.mean_ms / c.mean_ms.max(1e-9),
                    throughput_ratio: m.throughput_rps.unwrap_or(0.0)
                        / c.throughput_rps.unwrap_or(1.0).max(1e-9),
                    accuracy_gap_points: c.accuracy_pct - m.accuracy_pct,
                    uplink_ratio: m.uplink_bytes_per_request / c.uplink_bytes_per_request.max(1e-9),
                    oracle_gap,
                    met: false,
                };
                let met = t.latency_ratio <= 0.5
                    && t.throughput_ratio >= 2.0
                    && t.accuracy_gap_points <= 0.3
                    && t.uplink_ratio <= 0.05
                    && t.oracle_gap.is_some_and(|g| g <= 0.10);
                Some(Targets { met, ..t })
            })
            .collect();
        Self {
            setup,
            workload: workload.display().to_string(),
            requests,
            runs,
            threshold,
            links,
            targets,
        }
    }

    /// Markdown tables.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Workload `{}`, {} requests per run, {} run(s) of each policy per link (interleaved, pooled), MSAO threshold {:.4}.\n",
            self.workload, self.requests, self.runs, self.threshold
        );
        let pin = |c: &Option<String>| {
            c.as_deref()
                .map_or("not pinned".into(), |c| format!("CPUs {c}"))
        };
        let _ = writeln!(
            s,
            "Agent: {}. CPU: {}. Agent {}, reference cloud {}. Cloud deadline {} ms. Evaluated on {}; \
             threshold fitted on {}. cloud-only uploads the frame as JPEG (quality {}), \
             encoded on the edge inside the measured latency.\n",
            self.setup.agent,
            self.setup.cpu.summary(),
            pin(&self.setup.agent_cpus),
            pin(&self.setup.cloud_cpus),
            self.setup.deadline_ms,
            self.setup.evaluated_on,
            self.setup.tuned_on,
            self.setup.cloud_only_jpeg_quality
        );
        for l in &self.links {
            let _ = writeln!(
                s,
                "### {} Mbit/s, {} ms RTT ({})\n",
                l.rate_mbps, l.rtt_ms, l.rate_limiter
            );
            let _ = writeln!(
                s,
                "| policy | accuracy | mean ms | p50 | p95 | p99 | req/s | uplink B/req | local/offload/spec % |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
            for r in &l.rows {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} % | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.0} | {:.0}/{:.0}/{:.0} |",
                    r.policy,
                    r.accuracy_pct,
                    r.mean_ms,
                    r.p50_ms,
                    r.p95_ms,
                    r.p99_ms,
                    r.throughput_rps.map_or("—".into(), |t| format!("{t:.1}")),
                    r.uplink_bytes_per_request,
                    r.decisions_pct[0],
                    r.decisions_pct[1],
                    r.decisions_pct[2]
                );
            }
            let _ = writeln!(s);
        }
        if !self.targets.is_empty() {
            let _ = writeln!(
                s,
                "| link | latency vs cloud-only (≤ 0.5×) | throughput (≥ 2×) | accuracy gap (≤ 0.3 pt) | uplink (≤ 5 %) | gap to oracle (≤ 10 %) | all met |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|");
            for t in &self.targets {
                let _ = writeln!(
                    s,
                    "| {} Mbit/s | {:.3}× | {:.1}× | {:+.2} pt | {:.3} % | {} | {} |",
                    t.rate_mbps,
                    t.latency_ratio,
                    t.throughput_ratio,
                    t.accuracy_gap_points,
                    t.uplink_ratio * 100.0,
                    t.oracle_gap
                        .map_or("—".into(), |g| format!("{:+.1} %", g * 100.0)),
                    if t.met { "yes" } else { "no" }
                );
            }
        }
        let _ = writeln!(s, "\n{}", self.speculation_note());
        s
    }

    /// How often each policy speculated, and why it is rare with the shipped model.
    fn speculation_note(&self) -> String {
        let mut counts: Vec<(String, f64, usize)> = Vec::new();
        for r in self.links.iter().flat_map(|l| &l.rows) {
            let n = r.requests * r.runs;
            let spec = r.decisions_pct[2] / 100.0 * n as f64;
            match counts.iter_mut().find(|(p, _, _)| *p == r.policy) {
                Some(c) => (c.1, c.2) = (c.1 + spec, c.2 + n),
                None => counts.push((r.policy.clone(), spec, n)),
            }
        }
        let some: Vec<String> = counts
            .iter()
            .filter(|(_, spec, _)| spec.round() >= 1.0)
            .map(|(p, spec, n)| format!("{p} on {:.0} of {n} requests", spec.round()))
            .collect();
        let head = match some.is_empty() {
            true => "No policy speculated".to_string(),
            false => format!("Speculation, all links pooled: {}", some.join(", ")),
        };
        format!(
            "{head}. The shipped edge model is one fused graph, so its head has already run when \
             the policy decides, and its time (≈ 0.1–0.3 ms) is far below \
             `speculate_head_fraction` × a predicted offload: a request speculates only when its \
             measured head time happens to reach that fraction (docs/offload.md, \"What \
             speculation overlaps\")."
        )
    }

    /// Writes bench.md, bench.json, latency.svg and tradeoff.svg into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let w = |name: &str, text: String| {
            let p = dir.join(name);
            std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
        };
        w("bench.md", self.markdown())?;
        w("bench.json", serde_json::to_string_pretty(self)? + "\n")?;
        self.plot_latency(&dir.join("latency.svg"))?;
        self.plot_tradeoff(&dir.join("tradeoff.svg"))?;
        Ok(())
    }

    fn policies(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for l in &self.links {
            for r in &l.rows {
                if !v.contains(&r.policy) {
                    v.push(r.policy.clone());
                }
            }
        }
        v
    }

    /// Mean latency per policy (log scale), one bar group per link.
    fn plot_latency(&self, path: &Path) -> anyhow::Result<()> {
        let policies = self.policies();
        let max = self
            .links
            .iter()
            .flat_map(|l| l.rows.iter().map(|r| r.mean_ms))
            .fold(1.0f64, f64::max);
        let root = SVGBackend::new(path, (960, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let groups = self.links.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption("mean latency per policy (log scale)", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..groups as f64, (0.05f64..max * 3.0).log_scale())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("mean latency (ms)")
            .draw()?;
        let width = 0.8 / policies.len().max(1) as f64;
        for (pi, p) in policies.iter().enumerate() {
            let color = Palette99::pick(pi).to_rgba();
            let bars: Vec<_> = self
                .links
                .iter()
                .enumerate()
                .filter_map(|(li, l)| {
                    let r = l.rows.iter().find(|r| &r.policy == p)?;
                    let x = li as f64 + 0.1 + pi as f64 * width;
                    Some(Rectangle::new(
                        [(x, 0.05), (x + width * 0.9, r.mean_ms.max(0.05))],
                        color.filled(),
                    ))
                })
                .collect();
            chart
                .draw_series(bars)?
                .label(p.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        let label =
            TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (li, l) in self.links.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(li as f64 + 0.5, 0.05));
            root.draw(&Text::new(
                format!("{} Mbit/s, {} ms RTT", l.rate_mbps, l.rtt_ms),
                (x, y + 8),
                label.clone(),
            ))?;
        }
        root.present()?;
        Ok(())
    }

    /// Accuracy against uplink bytes per request (log), one point per policy and link.
    fn plot_tradeoff(&self, path: &Path) -> anyhow::Result<()> {
        let policies = self.policies();
        let rows: Vec<&BenchRow> = self.links.iter().flat_map(|l| l.rows.iter()).collect();
        let lo = rows
            .iter()
            .map(|r| r.accuracy_pct)
            .fold(100.0f64, f64::min)
            .floor()
            - 0.5;
        let max_b = rows
            .iter()
            .map(|r| r.uplink_bytes_per_request)
            .fold(10.0f64, f64::max);
        let root = SVGBackend::new(path, (960, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("accuracy vs uplink bytes per request", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d((1f64..max_b * 3.0).log_scale(), lo..100.0f64)?;
        chart
            .configure_mesh()
            .x_desc("uplink bytes per request (log; 0 drawn at 1)")
            .y_desc("accuracy (%)")
            .draw()?;
        for (pi, p) in policies.iter().enumerate() {
            let color = Palette99::pick(pi).to_rgba();
            let pts: Vec<_> = rows
                .iter()
                .filter(|r| &r.policy == p)
                .map(|r| {
                    Circle::new(
                        (r.uplink_bytes_per_request.max(1.0), r.accuracy_pct),
                        6,
                        color.filled(),
                    )
                })
                .collect();
            chart
                .draw_series(pts)?
                .label(p.clone())
                .legend(move |(x, y)| Circle::new((x + 6, y), 5, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        root.present()?;
        Ok(())
    }
}

/// Scenes of the bench's default workload: 150 × 8 frames = 1,200 requests, so one request
/// is 0.08 points of accuracy (the targets are judged to 0.5 points).
pub const BENCH_SCENES: u32 = 150;

/// What the default workload is made of.
pub const DEFAULT_WORKLOAD: &str =
    "the easy-VQA test split (camera-size frames, seed 7, 150 scenes × 8 frames)";

/// The bench's default workload: generated once into `.cache/workload-bench-150` from the
/// easy-VQA test split (seed 7, [`BENCH_SCENES`] scenes × 8 frames, no audio).
pub fn default_workload(env: &mut Env) -> anyhow::Result<PathBuf> {
    let out = PathBuf::from(format!(".cache/workload-bench-{BENCH_SCENES}"));
    if out.join("workload.json").is_file() {
        return Ok(out);
    }
    let data = PathBuf::from(".cache/easy-vqa/test");
    let dataset = Dataset::open(&data).with_context(|| {
        format!(
            "no workload given and {} is missing: run scripts/fetch-easy-vqa.sh or pass --workload DIR",
            data.display()
        )
    })?;
    let config = Config {
        seed: 7,
        scenes: BENCH_SCENES,
        hold: 8,
        width: 640,
        height: 480,
        scale: (1.0, 3.0),
        noise: 2,
        audio: AudioMode::None,
    };
    let bar = env.count_bar(u64::from(BENCH_SCENES) * 8);
    bar.set_message("generating the bench workload");
    generate(&dataset, &config, &out, &mut |done, _| {
        bar.set_position(done)
    })
    .with_context(|| format!("cannot generate the bench workload in {}", out.display()))?;
    bar.finish_and_clear();
    Ok(out)
}
