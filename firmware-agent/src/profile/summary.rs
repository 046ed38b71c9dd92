//! A trtexec-style text summary of one measurement, the lines device engineers look for:
//! throughput, latency min/max/mean/median/percentiles, warm-up and iterations.

use super::{ProfileRun, memory::PeakScope};
use crate::runtime::{manifest::precision_name, provider_name, tensor::format_shape};
use std::io::{self, Write};

/// Writes the summary of `run` to `out`.
pub fn write_summary(run: &ProfileRun, out: &mut impl Write) -> io::Result<()> {
    let r = &run.result;
    let ms = |ns: u64| ns as f64 / 1e6;
    let l = run.latency_ns;
    writeln!(
        out,
        "=== Performance summary: {} ({}) on {}, batch {} ===",
        r.model,
        precision_name(r.precision),
        provider_name(r.provider),
        r.batch
    )?;
    writeln!(out, "Model: {}", run.model_file.display())?;
    writeln!(
        out,
        "Runtime: {} {}",
        run.runtime,
        run.runtime_version
            .as_deref()
            .unwrap_or("(version unknown)")
    )?;
    let inputs: Vec<String> = run
        .inputs
        .iter()
        .map(|(n, d, s)| format!("{n}:{d}{}", format_shape(s)))
        .collect();
    writeln!(out, "Input shapes: {}", inputs.join(", "))?;
    writeln!(
        out,
        "Load time: {:.3} ms",
        run.load_time.as_secs_f64() * 1e3
    )?;
    writeln!(out, "Warm-up: {} runs (excluded)", r.warmup)?;
    writeln!(
        out,
        "Iterations: {} timed runs in {:.3} s",
        r.iterations,
        run.wall.as_secs_f64()
    )?;
    writeln!(
        out,
        "Throughput: {:.2} qps ({:.2} inferences/s at batch {})",
        run.runs_per_s, run.items_per_s, r.batch
    )?;
    writeln!(
        out,
        "Latency: min = {:.4} ms, max = {:.4} ms, mean = {:.4} ms, median = {:.4} ms, \
         percentile(90%) = {:.4} ms, percentile(95%) = {:.4} ms, percentile(99%) = {:.4} ms",
        ms(l.min),
        ms(l.max),
        ms(l.mean),
        ms(l.p50),
        ms(l.p90),
        ms(l.p95),
        ms(l.p99)
    )?;
    let scope = match run.peak_scope {
        PeakScope::Run => "during the timed runs",
        PeakScope::Process => "since the process started",
    };
    match r.peak_mem_kib {
        Some(k) => writeln!(
            out,
            "Peak memory: {:.1} MiB resident ({scope})",
            f64::from(k) / 1024.0
        )?,
        None => writeln!(out, "Peak memory: n/a")?,
    }
    match (r.energy_uj, run.energy_total_uj) {
        (Some(e), Some(total)) => writeln!(
            out,
            "Energy: {:.3} mJ per inference ({:.3} J total, {} power readings)",
            f64::from(e) / 1e3,
            total as f64 / 1e6,
            run.power_readings
        )?,
        _ => writeln!(out, "Energy: n/a (no total power reading on this device)")?,
    }
    let temp = |t: Option<i16>| {
        t.map_or("n/a".to_string(), |c| {
            format!("{:.1} °C", f64::from(c) / 100.0)
        })
    };
    writeln!(
        out,
        "Conditions: power mode {}, hottest sensor {} at start, {} at end",
        r.power_mode.map_or("n/a".to_string(), |m| m.to_string()),
        temp(r.temp_start_cdeg),
        temp(r.temp_end_cdeg)
    )
}
