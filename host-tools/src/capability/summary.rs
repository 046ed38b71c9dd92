//! The text summary of a capability document, in the shape trtexec users know
//! (`Throughput: … qps`, `Latency: min = …, max = …, mean = …, median = …,
//! percentile(90%) = …`).

use super::doc::{CapabilityDoc, PerfEntry};

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| v.to_string())
}

/// The device part.
pub fn device_lines(doc: &CapabilityDoc) -> Vec<String> {
    let hw = &doc.hardware;
    let sw = &doc.software;
    let mode = match hw.power_mode {
        Some(id) => match hw.power_modes.iter().find(|m| m.id == id) {
            Some(m) => format!("{id} ({})", m.name),
            None => id.to_string(),
        },
        None => "n/a".into(),
    };
    let gpu = match &hw.gpu {
        Some(g) => format!(
            "{}, compute {}, {} SMs, max {} MHz",
            opt(g.name.as_deref()),
            opt(g.compute_capability.as_deref()),
            opt(g.sm_count),
            opt(g.max_freq_mhz)
        ),
        None => "none visible".into(),
    };
    vec![
        "=== Device ===".into(),
        format!("Device: {} ({})", doc.device.device_id, doc.device.board),
        format!(
            "CPU: {}, {} cores, max {} MHz; memory {}",
            doc.device.cpu_model,
            hw.cpu_cores,
            opt(hw.cpu_max_mhz),
            hw.mem_total_mib
                .map_or_else(|| "n/a".into(), |m| format!("{:.1} GiB", m / 1024.0))
        ),
        format!("GPU: {gpu}"),
        format!(
            "Software: L4T {}, CUDA {}, TensorRT {}, ONNX Runtime {}, kernel {}",
            opt(sw.l4t.as_deref()),
            opt(sw.cuda.as_deref()),
            opt(sw.tensorrt.as_deref()),
            opt(sw.onnxruntime.as_deref()),
            opt(sw.kernel.as_deref())
        ),
        format!(
            "Providers: {}    Power mode: {mode}    Rails: {}",
            if doc.providers.is_empty() {
                "none".into()
            } else {
                doc.providers.join(", ")
            },
            if hw.power_rails.is_empty() {
                "none".into()
            } else {
                hw.power_rails.join(", ")
            }
        ),
    ]
}

/// One measurement.
pub fn perf_lines(p: &PerfEntry) -> Vec<String> {
    let l = &p.latency_ms;
    let c = &p.conditions;
    let temp = |t: Option<f64>| t.map_or_else(|| "n/a".into(), |t| format!("{t:.1} °C"));
    vec![
        format!(
            "=== Performance summary: {} · {} · {} · batch {} ===",
            p.model, p.provider, p.precision, p.batch
        ),
        format!(
            "Warm-up: {} iterations (excluded)    Timed: {} iterations",
            p.warmup, p.iterations
        ),
        format!("Throughput: {:.2} qps", p.throughput_per_s),
        format!(
            "Latency: min = {:.3} ms, max = {:.3} ms, mean = {:.3} ms, median = {:.3} ms, percentile(90%) = {:.3} ms, percentile(95%) = {:.3} ms, percentile(99%) = {:.3} ms",
            l.min, l.max, l.mean, l.p50, l.p90, l.p95, l.p99
        ),
        format!(
            "Peak memory: {}    Energy: {}",
            p.peak_mem_mib
                .map_or_else(|| "n/a".into(), |m| format!("{m:.1} MiB")),
            p.energy_mj_per_inference.map_or_else(
                || "n/a (no power rails)".into(),
                |e| format!("{e:.3} mJ/inference")
            )
        ),
        format!(
            "Conditions: power mode {}, hottest zone {} → {}",
            opt(c.power_mode),
            temp(c.temp_start_c),
            temp(c.temp_end_c)
        ),
    ]
}

/// The whole summary.
pub fn lines(doc: &CapabilityDoc) -> Vec<String> {
    let mut out = device_lines(doc);
    for p in &doc.performance {
        out.push(String::new());
        out.extend(perf_lines(p));
    }
    if doc.performance.is_empty() {
        out.push(String::new());
        out.push("No measurements.".into());
    }
    out
}
