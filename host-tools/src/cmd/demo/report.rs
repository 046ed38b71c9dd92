//! The demo's result: the agent's answers file and run summary plus what the listener and
//! the cloud saw, as one [`Report`] printed as a table or JSON.

pub use crate::agent::Answer;
use msao_agent::host::workload::Workload;
use serde::Serialize;
use std::{collections::BTreeMap, io::Write};

/// What each request would upload without the edge: its frame as raw RGB, width × height
/// × 3 bytes, the size read from the frame file's own header (the manifest's `width` ×
/// `height` when a file cannot be read, and for an answer naming no known request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFrames {
    by_request: BTreeMap<u32, u64>,
    fallback: u64,
}

impl RawFrames {
    /// The raw frame bytes of every request of `workload`.
    pub fn of(workload: &Workload) -> Self {
        let fallback = rgb_bytes(workload.width, workload.height);
        let by_frame: Vec<u64> = workload
            .frames
            .iter()
            .map(|f| {
                image::image_dimensions(workload.dir.join(&f.file))
                    .map_or(fallback, |(w, h)| rgb_bytes(w, h))
            })
            .collect();
        let by_request = workload
            .requests
            .iter()
            .map(|r| {
                let bytes = by_frame.get(r.frame as usize).copied().unwrap_or(fallback);
                (r.request_id, bytes)
            })
            .collect();
        Self {
            by_request,
            fallback,
        }
    }

    /// Raw bytes of one request's frame.
    pub fn request(&self, id: Option<u32>) -> u64 {
        id.and_then(|i| self.by_request.get(&i).copied())
            .unwrap_or(self.fallback)
    }
}

fn rgb_bytes(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height) * 3
}

/// Decisions and answer sources, in table order.
const DECISIONS: [&str; 3] = ["local", "offload", "speculate"];
const SOURCES: [&str; 4] = ["local", "cloud", "fallback", "error"];

/// Latency figures, ms.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

/// Bytes on the uplink against raw frames.
#[derive(Debug, Clone, Serialize)]
pub struct Uplink {
    /// Request bodies of completed cloud calls.
    pub bytes_up: u64,
    /// `bytes_up` / requests.
    pub bytes_per_request: f64,
    /// The answered requests' frames as raw RGB (width × height × 3 each, from the
    /// workload's frame files).
    pub raw_bytes: u64,
    /// `raw_bytes` / requests, rounded.
    pub raw_bytes_per_request: u64,
    /// raw / uplink, over the whole run (`null` when nothing went up).
    pub reduction: Option<f64>,
    /// Payload of uploads cancelled by speculation.
    pub bytes_wasted: u64,
    /// Replies.
    pub bytes_down: u64,
}

/// What the listener received.
#[derive(Debug, Clone, Serialize)]
pub struct Telemetry {
    /// `RequestTrace` frames.
    pub request_traces: u64,
    /// Requests answered (one trace each is sent).
    pub requests: u64,
    /// Traces that did not arrive.
    pub traces_lost: u64,
    /// `Fault` frames.
    pub faults: u64,
    /// `Sample` frames.
    pub samples: u64,
    /// Frames decoded, all kinds.
    pub frames: u64,
    /// Frames the decoder dropped (corrupt, unknown schema).
    pub decode_drops: u64,
}

/// What the reference cloud served.
#[derive(Debug, Clone, Serialize)]
pub struct Cloud {
    /// Its address.
    pub url: String,
    /// Infer requests received, all models.
    pub requests: u64,
    /// Answered with an error.
    pub errors: u64,
}

/// The demo's result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Workload directory.
    pub workload: String,
    /// Requests in the workload.
    pub workload_requests: usize,
    /// Requests answered.
    pub requests: usize,
    /// Policy that decided.
    pub policy: Option<String>,
    /// Commit threshold.
    pub threshold: Option<f64>,
    /// correct / labelled.
    pub accuracy: Option<f64>,
    /// Correct answers.
    pub correct: usize,
    /// Answers with an expected answer.
    pub labelled: usize,
    /// Latency, ms.
    pub latency_ms: Latency,
    /// Requests per second of the agent's run.
    pub throughput_rps: f64,
    /// The agent's run, first frame in → last answer out, s.
    pub wall_s: f64,
    /// Uplink bytes.
    pub uplink: Uplink,
    /// Per decision.
    pub decisions: BTreeMap<String, usize>,
    /// Per answer source.
    pub sources: BTreeMap<String, usize>,
    /// Cloud calls that failed (answered locally instead).
    pub cloud_faults: usize,
    /// Mean IoU of the region step against the workload's boxes.
    pub region_iou: Option<f64>,
    /// What the listener received.
    pub telemetry: Telemetry,
    /// What the cloud served.
    pub cloud: Cloud,
    /// The agent's exit status.
    pub agent_exit: String,
    /// The whole demo, s.
    pub elapsed_s: f64,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    match sorted.len() {
        0 => 0,
        n => sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1],
    }
}

/// Everything but the telemetry, cloud and agent fields, which the caller fills in.
pub fn build(
    answers: &[Answer],
    summary: Option<&serde_json::Value>,
    workload: &str,
    workload_requests: usize,
    raw: &RawFrames,
    telemetry: Telemetry,
    cloud: Cloud,
) -> Report {
    let n = answers.len();
    let raw_bytes: u64 = answers.iter().map(|a| raw.request(a.request_id)).sum();
    let mut lat: Vec<u64> = answers.iter().map(|a| a.latency_us).collect();
    lat.sort_unstable();
    let ms = |us: u64| us as f64 / 1e3;
    let mean = if n == 0 {
        0.0
    } else {
        lat.iter().sum::<u64>() as f64 / n as f64 / 1e3
    };
    let count = |names: &[&str], f: &dyn Fn(&Answer) -> &str| {
        let mut m: BTreeMap<String, usize> = names.iter().map(|k| (k.to_string(), 0)).collect();
        for a in answers {
            *m.entry(f(a).to_string()).or_default() += 1;
        }
        m
    };
    let labelled = answers.iter().filter(|a| a.correct.is_some()).count();
    let correct = answers.iter().filter(|a| a.correct == Some(true)).count();
    let bytes_up: u64 = answers.iter().map(|a| a.bytes_up).sum();
    let get = |k: &str| summary.and_then(|s| s.get(k));
    let wall_s = get("wall_s").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let cloud_faults = get("cloud_faults")
        .and_then(|v| v.as_object())
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum::<u64>() as usize)
        .unwrap_or_else(|| answers.iter().filter(|a| a.source == "fallback").count());
    Report {
        workload: workload.to_string(),
        workload_requests,
        requests: n,
        policy: get("policy").and_then(|v| v.as_str()).map(str::to_string),
        threshold: get("threshold").and_then(|v| v.as_f64()),
        accuracy: (labelled > 0).then(|| correct as f64 / labelled as f64),
        correct,
        labelled,
        latency_ms: Latency {
            p50: ms(percentile(&lat, 0.5)),
            p95: ms(percentile(&lat, 0.95)),
            p99: ms(percentile(&lat, 0.99)),
            mean,
        },
        throughput_rps: if wall_s > 0.0 { n as f64 / wall_s } else { 0.0 },
        wall_s,
        uplink: Uplink {
            bytes_up,
            bytes_per_request: if n == 0 {
                0.0
            } else {
                bytes_up as f64 / n as f64
            },
            raw_bytes,
            raw_bytes_per_request: if n == 0 {
                0
            } else {
                (raw_bytes as f64 / n as f64).round() as u64
            },
            reduction: (bytes_up > 0).then(|| raw_bytes as f64 / bytes_up as f64),
            bytes_wasted: answers.iter().map(|a| a.bytes_wasted).sum(),
            bytes_down: answers.iter().map(|a| a.bytes_down).sum(),
        },
        decisions: count(&DECISIONS, &|a| a.decision.as_str()),
        sources: count(&SOURCES, &|a| a.source.as_str()),
        cloud_faults,
        region_iou: get("region_iou").and_then(|v| v.as_f64()),
        telemetry,
        cloud,
        agent_exit: String::new(),
        elapsed_s: 0.0,
    }
}

/// `local 167 · offload 23 · …`: the known names in `order`, then any others.
fn split(m: &BTreeMap<String, usize>, order: &[&str]) -> String {
    let known = order.iter().map(|k| (*k, m.get(*k).copied().unwrap_or(0)));
    let others = m
        .iter()
        .filter(|(k, _)| !order.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), *v));
    known
        .chain(others)
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Groups digits by thousands.
fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    /// The human table.
    pub fn write_text(&self, out: &mut impl Write) -> anyhow::Result<()> {
        let t = &self.telemetry;
        let u = &self.uplink;
        let l = &self.latency_ms;
        let mut rows: Vec<(&str, String)> = vec![
            (
                "requests",
                format!("{} answered of {}", self.requests, self.workload_requests),
            ),
            (
                "accuracy",
                match self.accuracy {
                    Some(a) => format!("{:.2} % ({} / {})", a * 100.0, self.correct, self.labelled),
                    None => "n/a (no expected answers)".into(),
                },
            ),
            (
                "latency",
                format!(
                    "p50 {:.1} ms · p95 {:.1} ms · p99 {:.1} ms · mean {:.1} ms",
                    l.p50, l.p95, l.p99, l.mean
                ),
            ),
            (
                "throughput",
                format!("{:.1} req/s ({:.2} s)", self.throughput_rps, self.wall_s),
            ),
            (
                "uplink",
                format!(
                    "{} B total · {:.0} B/request vs {} B raw frame{}",
                    thousands(u.bytes_up),
                    u.bytes_per_request,
                    thousands(u.raw_bytes_per_request),
                    u.reduction
                        .map_or(String::new(), |r| format!(" ({r:.0}× less)"))
                ),
            ),
            ("decisions", split(&self.decisions, &DECISIONS)),
            ("answer sources", split(&self.sources, &SOURCES)),
            (
                "cloud faults",
                format!(
                    "{} (cloud {}: {} requests, {} errors)",
                    self.cloud_faults, self.cloud.url, self.cloud.requests, self.cloud.errors
                ),
            ),
            (
                "telemetry",
                format!(
                    "{} RequestTrace frames of {} requests ({} lost) · {} faults · {} samples",
                    t.request_traces, t.requests, t.traces_lost, t.faults, t.samples
                ),
            ),
        ];
        if let Some(iou) = self.region_iou {
            rows.push((
                "region IoU",
                format!("{iou:.3} (mean, vs the workload's boxes)"),
            ));
        }
        writeln!(
            out,
            "MSAO Edge demo: {} · policy {}{}",
            self.workload,
            self.policy.as_deref().unwrap_or("?"),
            self.threshold
                .map_or(String::new(), |t| format!(" · τ = {t:.4}"))
        )?;
        for (k, v) in rows {
            writeln!(out, "  {k:<15} {v}")?;
        }
        writeln!(
            out,
            "  {:<15} {} · demo took {:.1} s",
            "agent", self.agent_exit, self.elapsed_s
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_and_percentiles() {
        let a = |source: &str, decision: &str, latency_us, bytes_up, correct| Answer {
            request_id: None,
            source: source.into(),
            decision: decision.into(),
            latency_us,
            bytes_up,
            bytes_down: 0,
            bytes_wasted: 0,
            correct: Some(correct),
            other: Default::default(),
        };
        let answers = vec![
            a("local", "local", 1000, 0, true),
            a("cloud", "offload", 3000, 400, true),
            a("fallback", "speculate", 2000, 0, false),
            a("local", "local", 4000, 0, true),
        ];
        let summary = serde_json::json!({"wall_s": 2.0, "region_iou": 0.5, "policy": "msao"});
        let t = Telemetry {
            request_traces: 4,
            requests: 4,
            traces_lost: 0,
            faults: 1,
            samples: 3,
            frames: 9,
            decode_drops: 0,
        };
        let c = Cloud {
            url: "http://x".into(),
            requests: 2,
            errors: 0,
        };
        let raw = RawFrames {
            by_request: BTreeMap::new(),
            fallback: 30,
        };
        let r = build(&answers, Some(&summary), "wl", 4, &raw, t, c);
        assert_eq!(r.uplink.raw_bytes, 120);
        assert_eq!(r.uplink.reduction, Some(120.0 / 400.0));
        assert_eq!(r.accuracy, Some(0.75));
        assert_eq!(r.latency_ms.p50, 2.0);
        assert_eq!(r.latency_ms.p99, 4.0);
        assert_eq!(r.latency_ms.mean, 2.5);
        assert_eq!(r.throughput_rps, 2.0);
        assert_eq!(r.uplink.bytes_per_request, 100.0);
        assert_eq!(r.decisions["speculate"], 1);
        assert_eq!(r.sources["error"], 0);
        assert_eq!(r.cloud_faults, 1);
        assert_eq!(thousands(921600), "921,600");
        let mut text = Vec::new();
        r.write_text(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("75.00 % (3 / 4)") && text.contains("region IoU"),
            "{text}"
        );
    }

    /// The raw baseline is each request's own frame, as large as its file says.
    #[test]
    fn raw_frames_come_from_the_workload_frames() {
        let dir = tempfile::tempdir().unwrap();
        for (file, w, h) in [("a.png", 64u32, 48u32), ("b.png", 320, 240)] {
            image::RgbImage::new(w, h)
                .save(dir.path().join(file))
                .unwrap();
        }
        let manifest = serde_json::json!({
            "format": "msao-workload", "version": 1, "width": 640, "height": 480,
            "frames": [
                {"index": 0, "file": "a.png"},
                {"index": 1, "file": "b.png"},
                {"index": 2, "file": "missing.png"}
            ],
            "requests": [
                {"request_id": 7, "frame": 0, "question": "q"},
                {"request_id": 8, "frame": 1, "question": "q"},
                {"request_id": 9, "frame": 2, "question": "q"}
            ]
        });
        std::fs::write(dir.path().join("workload.json"), manifest.to_string()).unwrap();
        let raw = RawFrames::of(&Workload::open(dir.path()).unwrap());
        assert_eq!(raw.request(Some(7)), 64 * 48 * 3);
        assert_eq!(raw.request(Some(8)), 320 * 240 * 3);
        // An unreadable frame, an unknown request: the manifest's size.
        assert_eq!(raw.request(Some(9)), 640 * 480 * 3);
        assert_eq!(raw.request(None), 640 * 480 * 3);

        let answer = |id, bytes_up| Answer {
            request_id: Some(id),
            source: "cloud".into(),
            decision: "offload".into(),
            latency_us: 1,
            bytes_up,
            bytes_down: 0,
            bytes_wasted: 0,
            correct: None,
            other: Default::default(),
        };
        let t = Telemetry {
            request_traces: 0,
            requests: 0,
            traces_lost: 0,
            faults: 0,
            samples: 0,
            frames: 0,
            decode_drops: 0,
        };
        let c = Cloud {
            url: String::new(),
            requests: 0,
            errors: 0,
        };
        let r = build(&[answer(7, 100), answer(8, 500)], None, "wl", 3, &raw, t, c);
        let want = 64 * 48 * 3 + 320 * 240 * 3;
        assert_eq!(r.uplink.raw_bytes, want);
        assert_eq!(r.uplink.raw_bytes_per_request, want / 2);
        assert_eq!(r.uplink.reduction, Some(want as f64 / 600.0));
    }
}
