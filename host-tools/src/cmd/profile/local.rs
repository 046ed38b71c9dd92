//! `msao-host profile` on this machine: the agent's own profiling routine
//! ([`msao_agent::host::device::DeviceProfiler`]) with a progress bar, then the document.

use super::Cmd;
use crate::{capability::CapabilityDoc, env::Env};
use anyhow::{Context as _, anyhow, bail};
use msao::message::WireBuild;
use msao_agent::host::{
    device::{DeviceProfiler, ProfileSpec},
    models::RuntimeOptions,
};

/// Profiles the installed models here and describes this machine.
pub fn profile(cmd: &Cmd, env: &mut Env) -> anyhow::Result<CapabilityDoc> {
    let options = RuntimeOptions {
        library: cmd.onnxruntime.clone(),
        models_dir: cmd.models.clone(),
        ..RuntimeOptions::default()
    };
    let device_id = cmd.device.clone().unwrap_or_else(hostname);
    let mut profiler = DeviceProfiler::open(&options, &cmd.sysfs_root, &device_id);
    if let Some(why) = profiler.unavailable() {
        bail!("cannot profile on this machine: {why}");
    }
    let spec = ProfileSpec {
        model: cmd.model.clone(),
        provider: cmd.provider.map(Into::into),
        precision: cmd.precision.map(Into::into),
        batch: cmd.batch,
        warmup: cmd.warmup,
        iterations: cmd.iterations,
        ..ProfileSpec::default()
    };
    let planned = profiler
        .plan(&spec)
        .map_err(|e| anyhow!(e))
        .context("nothing to profile")?;
    let bar = env.count_bar(0);
    bar.set_message(format!("{planned} measurement(s)"));
    let mut results = Vec::new();
    profiler
        .run(
            &spec,
            &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            },
            &mut |run| {
                bar.set_message(format!(
                    "{} {:?} {:?} done",
                    run.result.model, run.result.provider, run.result.precision
                ));
                results.push(run.result);
            },
        )
        .map_err(|e| anyhow!(e))
        .context("profiling failed")?;
    env.clear_bar();
    let cap = profiler.describe();
    let mut doc = CapabilityDoc::from_wire(&cap, &results, Some(&WireBuild::current()), "local");
    doc.hardware.cpu_isa = Some((&msao_agent::host::device::CpuIsa::detect()).into());
    Ok(doc)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}
