//! Human text: one line per frame, and the value formats shared with the table.
//!
//! Unsupported readings (`None` on the wire) print as `n/a`, never as zero.
use crate::monitor::Observed;
use msao::{
    Event, Message,
    message::{FaultCode, Hello, Sample},
};
use std::time::Duration;

/// `12.3%` from per-mille, `n/a` for `None`.
pub fn pct(pm: Option<u16>) -> String {
    pm.map_or_else(na, |v| format!("{:.1}%", f64::from(v) / 10.0))
}

/// `5.10 W` from milliwatts.
pub fn watts(mw: Option<u32>) -> String {
    mw.map_or_else(na, |v| format!("{:.2} W", f64::from(v) / 1000.0))
}

/// `1.2/7.6 GiB` from KiB (either side `?` when unknown).
pub fn mem(used_kib: Option<u32>, total_kib: Option<u32>) -> String {
    if used_kib.is_none() && total_kib.is_none() {
        return na();
    }
    let gib = |k: Option<u32>| {
        k.map_or("?".to_string(), |k| {
            format!("{:.1}", f64::from(k) / 1_048_576.0)
        })
    };
    format!("{}/{} GiB", gib(used_kib), gib(total_kib))
}

/// The hottest zone: `52.3°C` plus `(zone)` when the `Hello` names it.
pub fn max_temp(s: &Sample, hello: Option<&Hello>) -> String {
    let hottest = s
        .temps_cdeg
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (i, t)))
        .max_by_key(|(_, t)| *t);
    match hottest {
        None => na(),
        Some((i, t)) => {
            let name = hello.and_then(|h| h.hardware.thermal_zones.get(i));
            match name {
                Some(n) => format!("{:.1}°C ({n})", f64::from(t) / 100.0),
                None => format!("{:.1}°C", f64::from(t) / 100.0),
            }
        }
    }
}

/// `0.3s`, `12s`, `4m05s`, `2h10m`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..10 => format!("{:.1}s", d.as_secs_f64()),
        10..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `1.5 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

fn na() -> String {
    "n/a".to_string()
}

/// One human line: `udp://10.0.0.7:40001 jetson-07 1a2b3c4d #42 4.200000s sample cpu 12.3% …`.
pub fn frame_line(o: &Observed) -> String {
    let who = o.device.as_deref().unwrap_or("?");
    let head = match o.header() {
        Some(h) => format!(
            "{} {who} {:08x} #{} {:.6}s",
            o.source,
            h.boot_id_u32(),
            h.seq,
            h.timestamp_us as f64 / 1e6
        ),
        None => format!("{} {who} -", o.source),
    };
    let body = match &o.event {
        Event::Frame(f) => message_line(&f.message, o.hello.as_deref()),
        Event::Dropped { cause, len, header } => match header {
            Some(h)
                if matches!(
                    cause,
                    msao::DropCause::UnknownSchema | msao::DropCause::IncompatibleVersion
                ) =>
            {
                format!(
                    "DROP {} ({len} bytes, schema {:016x} wire v{})",
                    cause.name(),
                    h.schema_u64(),
                    h.version
                )
            }
            _ => format!("DROP {} ({len} bytes)", cause.name()),
        },
    };
    format!("{head} {body}")
}

fn message_line(m: &Message, hello: Option<&Hello>) -> String {
    match m {
        Message::Hello(h) => format!(
            "hello {} agent {} (git {}, {}) board \"{}\", {} cores, gpu {}, sample every {} ms",
            h.device_id,
            h.build.version,
            h.build.git_rev,
            h.build.target,
            h.hardware.board,
            h.hardware.cpu_cores,
            h.hardware.gpu.as_deref().unwrap_or("n/a"),
            h.sample_interval_ms
        ),
        Message::Sample(s) => format!(
            "sample cpu {} mem {} temp {} gpu {} power {}",
            pct(s.cpu_load_pm),
            mem(s.mem_used_kib, s.mem_total_kib),
            max_temp(s, hello),
            pct(s.gpu_load_pm),
            watts(s.total_power_mw)
        ),
        Message::RequestTrace(r) => format!(
            "request {} {:?} → {:?} on {:?}, total {}, {} B up / {} B down",
            r.request_id,
            r.decision,
            r.outcome,
            r.provider,
            r.timings
                .total_us
                .map_or_else(na, |us| format!("{:.1} ms", f64::from(us) / 1000.0)),
            r.bytes_up,
            r.bytes_down
        ),
        Message::Fault(f) => {
            let name = FaultCode::name(f.code).unwrap_or("unknown");
            format!("fault {} ({name}): {}", f.code, f.message)
        }
        Message::ProfileResult(p) => format!(
            "profile {} {:?} {:?} batch {}: p50 {:.2} ms p99 {:.2} ms, {:.1}/s",
            p.model,
            p.provider,
            p.precision,
            p.batch,
            f64::from(p.latency.p50_us) / 1000.0,
            f64::from(p.latency.p99_us) / 1000.0,
            f64::from(p.throughput_milli) / 1000.0
        ),
        Message::Capability(c) => format!(
            "capability {} board \"{}\" l4t {} onnxruntime {} providers {:?} power mode {}",
            c.device_id,
            c.hardware.board,
            c.software.l4t.as_deref().unwrap_or("n/a"),
            c.software.onnxruntime.as_deref().unwrap_or("n/a"),
            c.providers,
            c.power_mode.map_or_else(na, |m| m.to_string())
        ),
        Message::ProfileRequest(r) => format!(
            "profile request {} model {} batch {} warmup {} iterations {}",
            r.request_id,
            r.model.as_deref().unwrap_or("all"),
            r.batch,
            r.warmup,
            r.iterations
        ),
        Message::ProfileCancel(c) => format!("profile cancel {}", c.request_id),
        Message::CameraStats(c) => format!(
            "camera {}: {} captured, {} dropped as stale, {} used; {} errors, {} reconnects; newest frame {}",
            c.camera,
            c.captured,
            c.dropped_stale,
            c.used,
            c.errors,
            c.reconnects,
            c.frame_age_ms
                .map_or_else(|| "none".to_string(), |ms| format!("{ms} ms old"))
        ),
    }
}
