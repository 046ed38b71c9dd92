//! The run loop: `Hello` at start and every `hello_interval`, a `Sample` every
//! `sample_interval`, reader faults as they come; on stop, a bounded flush.

use crate::{
    clock::{Clock, random_boot_id},
    config::{Settings, SystemSource},
    control::{self, DeviceProfiler},
    hello::build_hello,
    service::Notifier,
    shutdown::{Shutdown, install_signal_handler},
    system::{
        ReaderKind, SysRoot, SystemReader, TegrastatsReader, TegrastatsSourceError,
        find_gpu_devfreq, find_gpu_load, open_reader, read_gpu_load_pm,
    },
    telemetry::{self, Bus, FLUSH_TIMEOUT, Telemetry, TelemetryError, WorkerReport},
    workload_run::{self, WorkloadRunError},
};
use log::{info, warn};
use msao::message::{CapabilitySummary, ExecProvider, Message, TelemetryDrops};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// The agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The telemetry path could not start.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// The SIGINT/SIGTERM handler could not be installed.
    #[error("cannot install the signal handler: {0}")]
    Signal(#[from] ctrlc::Error),
    /// `[system] source = "tegrastats"` was asked for and it cannot run.
    #[error(transparent)]
    Tegrastats(#[from] TegrastatsSourceError),
    /// The control thread (profile requests) could not start.
    #[error("cannot start the control thread: {0}")]
    Control(std::io::Error),
    /// The workload (`--workload`) could not load or run.
    #[error(transparent)]
    Workload(#[from] WorkloadRunError),
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Samples produced.
    pub samples: u64,
    /// `Hello` messages produced.
    pub hellos: u64,
    /// Per sink.
    pub sinks: Vec<WorkerReport>,
    /// Counters at the end (the last `Sample` carried the values before it).
    pub drops: TelemetryDrops,
}

/// Runs with the reader this machine calls for (Jetson, x86, generic Linux; found by
/// scanning the sysfs root) until SIGINT/SIGTERM or `--duration` — or, with a workload,
/// until the workload is done.
pub fn run(settings: &Settings) -> Result<RunReport, AgentError> {
    let shutdown = Arc::new(Shutdown::new());
    install_signal_handler(Arc::clone(&shutdown))?;
    let clock = Clock::start();
    let reader = open_system(settings)?;
    let mut notifier = Notifier::from_env();
    // Models load before telemetry starts: a missing model is the agent's error (exit 1).
    // Under systemd the start timeout is extended meanwhile (a TensorRT engine build takes
    // minutes the first time).
    let prepared = notifier.extend_while("loading models", || workload_run::prepare(settings))?;
    let profiler = DeviceProfiler::open(
        &settings.runtime,
        &settings.sysfs_root,
        settings.device_id.as_str(),
    )
    .stop_on(Arc::clone(&shutdown))
    .pipeline(settings.pipeline.clone())
    .time_limit(std::time::Duration::from_secs(u64::from(
        settings.control.limits.max_seconds,
    )))
    .memory_share(settings.control.limits.max_memory_share);
    let providers = profiler.providers();
    let rules = telemetry_control(settings, random_boot_id());
    let mut telemetry = Telemetry::start(&settings.sinks, settings.queue_depth, clock, &rules)?;
    // Profile requests arrive on the sink links and are served on their own thread, so
    // sampling never waits for a profile. The thread ends with the sink threads; a
    // profile in progress ends at its next run once the stop is requested.
    let control = match telemetry.take_requests() {
        Some(requests) => Some(
            control::spawn(
                requests,
                Box::new(profiler),
                telemetry.bus().clone(),
                clock,
                settings.control.limits,
            )
            .map_err(AgentError::Control)?,
        ),
        None => None,
    };
    let mut job = None;
    let mut spawn_error = None;
    let report = run_loop(
        settings,
        reader,
        &providers,
        telemetry,
        clock,
        &shutdown,
        &mut notifier,
        |bus: &Bus| {
            // After `Hello`, so the host knows the device before its first trace.
            if let Some(p) = prepared {
                match workload_run::spawn(p, bus.clone(), clock, Arc::clone(&shutdown)) {
                    Ok(j) => job = Some(j),
                    Err(e) => {
                        spawn_error = Some(e);
                        shutdown.request();
                    }
                }
            }
        },
    );
    notifier.stopping();
    // Ordered teardown: every thread that holds ONNX Runtime sessions (the workload, the
    // control thread's profiler) is joined here, so the sessions and their runtime drop
    // on those threads before this function returns and the process exits — never while
    // another thread still runs them.
    shutdown.request();
    let workload = job.and_then(|job| job.finish());
    if let Some(handle) = control
        && handle.join().is_err()
    {
        warn!("the control thread panicked");
    }
    let refused: Vec<String> = control::Refusal::ALL
        .iter()
        .filter(|r| rules.auth.refused(**r) > 0)
        .map(|r| format!("{} {}", r.name(), rules.auth.refused(*r)))
        .collect();
    if !refused.is_empty() {
        warn!("host requests refused: {}", refused.join(", "));
    }
    if let Some(e) = spawn_error {
        return Err(e.into());
    }
    match workload {
        Some(result) => {
            result?;
        }
        None if settings.workload.is_some() => warn!("stopped before the workload was done"),
        None => {}
    }
    Ok(report)
}

/// The rules for host requests: `[control]`'s key and serial policy, for this agent run.
fn telemetry_control(settings: &Settings, boot_id: [u8; 4]) -> telemetry::Control {
    let c = &settings.control;
    match (&c.key, &c.key_origin) {
        (Some(_), Some(origin)) => info!("control requests: signed with the key from {origin}"),
        _ if c.serial_unsigned => info!(
            "control requests: no key set; refused on network links, accepted on serial ([control] key_file)"
        ),
        _ => info!("control requests: no key set; refused on every link"),
    }
    telemetry::Control {
        auth: std::sync::Arc::new(control::ControlAuth::new(
            c.key.clone(),
            boot_id,
            c.serial_unsigned,
        )),
        queue: c.limits.queue,
    }
}

/// The loop itself, with every collaborator passed in. `clock` must be the one
/// `telemetry` was started with, so sink faults and samples share one time base.
pub fn run_with(
    settings: &Settings,
    reader: Box<dyn SystemReader>,
    providers: &[ExecProvider],
    telemetry: Telemetry,
    clock: Clock,
    shutdown: &Shutdown,
) -> RunReport {
    run_loop(
        settings,
        reader,
        providers,
        telemetry,
        clock,
        shutdown,
        &mut Notifier::from_env(),
        |_| {},
    )
}

/// [`run_with`], calling `started` with the telemetry bus once the first `Hello` is out
/// (the workload thread starts there), then telling `notifier` the agent is ready and
/// feeding its watchdog from each turn of the loop.
#[allow(clippy::too_many_arguments)]
pub fn run_loop(
    settings: &Settings,
    mut reader: Box<dyn SystemReader>,
    providers: &[ExecProvider],
    telemetry: Telemetry,
    clock: Clock,
    shutdown: &Shutdown,
    notifier: &mut Notifier,
    started: impl FnOnce(&Bus),
) -> RunReport {
    let start = Instant::now();
    let end = settings.duration.map(|d| start + d);
    let hello = Message::Hello(build_hello(
        &settings.device_id,
        reader.hardware(),
        capability_summary(reader.as_ref(), providers),
        settings.sample_interval,
    ));
    info!(
        "msao-agent {} as `{}`: {} reader, sample every {:?}, hello every {:?}, sinks: {}",
        env!("CARGO_PKG_VERSION"),
        settings.device_id,
        reader.name(),
        settings.sample_interval,
        settings.hello_interval,
        settings
            .sinks
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let mut report = RunReport {
        samples: 0,
        hellos: 1,
        sinks: Vec::new(),
        drops: telemetry.drops(),
    };
    telemetry.publish(clock.now_us(), &hello);
    started(telemetry.bus());
    notifier.ready(&format!(
        "serving as `{}`, sample every {:?}",
        settings.device_id, settings.sample_interval
    ));
    let mut next_sample = start + settings.sample_interval;
    let mut next_hello = start + settings.hello_interval;
    loop {
        let wake = end.map_or(next_sample.min(next_hello), |e| {
            e.min(next_sample).min(next_hello)
        });
        // Wake at least every half watchdog interval to feed it.
        let wake = notifier
            .watchdog()
            .map_or(wake, |w| wake.min(Instant::now() + w / 2));
        if shutdown.wait_until(wake) {
            break;
        }
        notifier.pet();
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            info!("--duration reached; stopping");
            break;
        }
        if now >= next_sample {
            let mut sample = reader.sample();
            sample.drops = telemetry.drops();
            telemetry.publish(clock.us_at(now), &Message::Sample(sample));
            for fault in reader.take_faults() {
                telemetry.publish(clock.now_us(), &Message::Fault(fault));
            }
            report.samples += 1;
            next_sample = advance(next_sample, settings.sample_interval, now);
        }
        if now >= next_hello {
            telemetry.publish(clock.us_at(now), &hello);
            report.hellos += 1;
            next_hello = advance(next_hello, settings.hello_interval, now);
        }
    }
    report.drops = telemetry.drops();
    report.sinks = telemetry.finish(FLUSH_TIMEOUT);
    info!("stopped after {} samples", report.samples);
    report
}

/// The system reader `[system] source` asks for. `auto` uses the sysfs readers, except on
/// a Jetson whose GPU load node cannot be found or read (no root, a JetPack that moved
/// it), where a running `tegrastats` gives the GPU fields; if tegrastats will not run
/// either, the sysfs reader stays (GPU fields unsupported).
pub fn open_system(settings: &Settings) -> Result<Box<dyn SystemReader>, AgentError> {
    let root = &settings.sysfs_root;
    let tegrastats =
        || TegrastatsReader::spawn(&settings.tegrastats, settings.sample_interval, root.clone());
    match settings.system_source {
        SystemSource::Tegrastats => Ok(Box::new(tegrastats()?)),
        SystemSource::Sysfs => {
            let (reader, detection) = open_reader(root);
            info!("system reader: {detection}");
            Ok(reader)
        }
        SystemSource::Auto => {
            let (reader, detection) = open_reader(root);
            info!("system reader: {detection}");
            if detection.kind != ReaderKind::Jetson || gpu_load_readable(root) {
                return Ok(reader);
            }
            match tegrastats() {
                Ok(t) => {
                    info!("GPU load not readable from sysfs; using tegrastats instead");
                    Ok(Box::new(t))
                }
                Err(e) => {
                    warn!(
                        "GPU load not readable from sysfs, and tegrastats is no help ({e}); GPU fields stay unsupported"
                    );
                    Ok(reader)
                }
            }
        }
    }
}

fn gpu_load_readable(root: &std::path::Path) -> bool {
    let root = SysRoot::new(root.to_path_buf());
    let devfreq = find_gpu_devfreq(&root).ok();
    find_gpu_load(&root, devfreq.as_ref())
        .and_then(|path| read_gpu_load_pm(&root, &path))
        .is_ok()
}

/// The reader's L4T and power mode plus the runtime's providers, for `Hello`.
fn capability_summary(reader: &dyn SystemReader, providers: &[ExecProvider]) -> CapabilitySummary {
    let mut summary = reader.capability();
    for p in providers {
        let _ = summary.providers.push(*p);
    }
    summary
}

/// The tick after `due`; when the loop fell behind (a stalled reader, a suspended board)
/// it skips the missed ticks instead of firing them in a burst.
pub fn advance(due: Instant, interval: Duration, now: Instant) -> Instant {
    let next = due + interval;
    if next <= now { now + interval } else { next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_advance_by_interval_and_skip_when_behind() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(advance(t0, ms(100), t0 + ms(10)), t0 + ms(100));
        // 350 ms late: the three missed ticks are skipped, the next is one interval out
        assert_eq!(advance(t0, ms(100), t0 + ms(350)), t0 + ms(450));
    }
}
