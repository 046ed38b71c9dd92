//! Two capability documents side by side: device facts, then every measurement matched
//! on (model, provider, precision, batch) with the B/A ratio, and an optional SVG bar chart
//! of median latency.

use super::doc::{CapabilityDoc, PerfEntry};
use plotters::{
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};
use serde_json::{Value, json};
use std::path::Path;

/// One matched measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `model provider precision bN`.
    pub key: String,
    /// Median latency in A, ms.
    pub a_p50: Option<f64>,
    /// Median latency in B, ms.
    pub b_p50: Option<f64>,
    /// Throughput in A, 1/s.
    pub a_qps: Option<f64>,
    /// Throughput in B, 1/s.
    pub b_qps: Option<f64>,
}

impl Row {
    /// B's throughput over A's (above 1: B is faster).
    pub fn speedup(&self) -> Option<f64> {
        match (self.a_qps, self.b_qps) {
            (Some(a), Some(b)) if a > 0.0 => Some(b / a),
            _ => None,
        }
    }
}

/// Matches the measurements of two documents, in A's order then B's extras.
pub fn rows(a: &CapabilityDoc, b: &CapabilityDoc) -> Vec<Row> {
    let find = |doc: &CapabilityDoc, key: &str| -> Option<PerfEntry> {
        doc.performance.iter().find(|p| p.key() == key).cloned()
    };
    let mut keys: Vec<String> = a.performance.iter().map(PerfEntry::key).collect();
    for p in &b.performance {
        if !keys.contains(&p.key()) {
            keys.push(p.key());
        }
    }
    keys.into_iter()
        .map(|key| {
            let (pa, pb) = (find(a, &key), find(b, &key));
            Row {
                a_p50: pa.as_ref().map(|p| p.latency_ms.p50),
                b_p50: pb.as_ref().map(|p| p.latency_ms.p50),
                a_qps: pa.as_ref().map(|p| p.throughput_per_s),
                b_qps: pb.as_ref().map(|p| p.throughput_per_s),
                key,
            }
        })
        .collect()
}

fn facts(d: &CapabilityDoc) -> Vec<(&'static str, String)> {
    let o = |v: Option<String>| v.unwrap_or_else(|| "n/a".into());
    let hw = &d.hardware;
    vec![
        ("device", d.device.device_id.clone()),
        ("board", d.device.board.clone()),
        ("cpu", format!("{} × {}", hw.cpu_cores, d.device.cpu_model)),
        ("cpu max MHz", o(hw.cpu_max_mhz.map(|v| v.to_string()))),
        (
            "memory GiB",
            o(hw.mem_total_mib.map(|m| format!("{:.1}", m / 1024.0))),
        ),
        ("gpu", o(hw.gpu.as_ref().and_then(|g| g.name.clone()))),
        ("power mode", o(hw.power_mode.map(|v| v.to_string()))),
        ("L4T", o(d.software.l4t.clone())),
        ("ONNX Runtime", o(d.software.onnxruntime.clone())),
        ("providers", d.providers.join(", ")),
    ]
}

fn cell(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.3}{unit}"))
}

/// Human lines.
pub fn lines(a: &CapabilityDoc, b: &CapabilityDoc) -> Vec<String> {
    let (fa, fb) = (facts(a), facts(b));
    let wa = fa
        .iter()
        .map(|(_, v)| v.chars().count())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut out = vec![format!("{:<14} {:<wa$}  {}", "", "A", "B")];
    for ((k, va), (_, vb)) in fa.iter().zip(&fb) {
        out.push(format!("{k:<14} {va:<wa$}  {vb}"));
    }
    out.push(String::new());
    let rows = rows(a, b);
    let wk = rows
        .iter()
        .map(|r| r.key.chars().count())
        .max()
        .unwrap_or(0)
        .max(11);
    out.push(format!(
        "{:<wk$}  {:>12}  {:>12}  {:>12}  {:>12}  {:>8}",
        "measurement", "A p50", "B p50", "A qps", "B qps", "B/A"
    ));
    for r in &rows {
        out.push(format!(
            "{:<wk$}  {:>12}  {:>12}  {:>12}  {:>12}  {:>8}",
            r.key,
            cell(r.a_p50, " ms"),
            cell(r.b_p50, " ms"),
            cell(r.a_qps, ""),
            cell(r.b_qps, ""),
            r.speedup()
                .map_or_else(|| "—".into(), |s| format!("×{s:.2}"))
        ));
    }
    out
}

/// Machine form: `{"type":"compare","a":…,"b":…,"rows":[…]}`.
pub fn json(a: &CapabilityDoc, b: &CapabilityDoc) -> Value {
    let rows: Vec<Value> = rows(a, b)
        .iter()
        .map(|r| {
            json!({
                "measurement": r.key, "a_p50_ms": r.a_p50, "b_p50_ms": r.b_p50,
                "a_throughput_per_s": r.a_qps, "b_throughput_per_s": r.b_qps,
                "speedup_b_over_a": r.speedup(),
            })
        })
        .collect();
    json!({
        "type": "compare",
        "a": {"device": a.device.device_id, "board": a.device.board},
        "b": {"device": b.device.device_id, "board": b.device.board},
        "rows": rows,
    })
}

/// Draws median latency per measurement, A and B side by side, as SVG.
pub fn plot(a: &CapabilityDoc, b: &CapabilityDoc, path: &Path) -> anyhow::Result<()> {
    let rows = rows(a, b);
    anyhow::ensure!(!rows.is_empty(), "no measurements to plot");
    let max = rows
        .iter()
        .flat_map(|r| [r.a_p50, r.b_p50])
        .flatten()
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let width = 160 + 140 * u32::try_from(rows.len()).unwrap_or(32).min(32);
    let root = SVGBackend::new(path, (width.max(640), 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = rows.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "median latency: A = {}  vs  B = {}",
                a.device.device_id, b.device.device_id
            ),
            ("sans-serif", 18),
        )
        .margin(16)
        .x_label_area_size(90)
        .y_label_area_size(60)
        // Headroom above the tallest bar keeps the legend clear of the bars.
        .build_cartesian_2d(0f64..n as f64, 0f64..max * 1.4)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("p50 latency (ms)")
        .draw()?;
    let blue = RGBColor(0x33, 0x66, 0xcc);
    let orange = RGBColor(0xee, 0x88, 0x22);
    for (i, r) in rows.iter().enumerate() {
        let x = i as f64;
        if let Some(v) = r.a_p50 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x + 0.1, 0.0), (x + 0.48, v)],
                blue.filled(),
            )))?;
        }
        if let Some(v) = r.b_p50 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x + 0.52, 0.0), (x + 0.9, v)],
                orange.filled(),
            )))?;
        }
    }
    chart
        .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
        .label(format!("A {}", a.device.device_id))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], blue.filled()));
    chart
        .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
        .label(format!("B {}", b.device.device_id))
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], orange.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()?;
    // Measurement names under each pair of bars, at the pixel position of its centre.
    let label =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, r) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(r.key.clone(), (x, y + 8), label.clone()))?;
    }
    root.present()?;
    Ok(())
}
