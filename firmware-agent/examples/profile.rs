//! Quick manual check of the profiling routine: profiles the installed models on this
//! machine and prints a trtexec-style summary per (model, provider, precision).
//!
//! ```text
//! scripts/setup.sh
//! cargo run --release -p msao-agent --example profile -- \
//!     --model silero-vad --precision fp32 --warmup 50 --iterations 1000
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use msao::message::{ExecProvider, Precision};
use msao_agent::{
    profile::{ProfileSpec, profile, write_summary},
    runtime::{
        InferenceRuntime, ModelCatalog, OrtRuntime, RuntimeOptions, manifest, parse_provider,
    },
    system::open_reader,
};
use std::{io::Write, path::PathBuf};

/// Profiles installed models and prints a trtexec-style summary.
#[derive(Debug, Parser)]
struct Args {
    /// Only this model (manifest name); default: all.
    #[arg(long)]
    model: Option<String>,
    /// Only this precision: fp32, fp16, int8; default: all installed.
    #[arg(long, value_parser = parse_precision)]
    precision: Option<Precision>,
    /// Only this provider: cpu, cuda, tensorrt; default: all available.
    #[arg(long, value_parser = parse_exec_provider)]
    provider: Option<ExecProvider>,
    /// Batch size.
    #[arg(long, default_value_t = 1)]
    batch: u16,
    /// Untimed runs first.
    #[arg(long, default_value_t = 10)]
    warmup: u32,
    /// Timed runs.
    #[arg(long, default_value_t = 200)]
    iterations: u32,
    /// Threads inside one operator (default: ONNX Runtime's choice).
    #[arg(long)]
    threads: Option<usize>,
    /// Models directory (default: search for `models/`).
    #[arg(long)]
    models: Option<PathBuf>,
    /// libonnxruntime.so (default: MSAO_ORT_LIB, then .cache/onnxruntime/).
    #[arg(long)]
    onnxruntime: Option<PathBuf>,
    /// Root of /proc and /sys for the system reader.
    #[arg(long, default_value = "/")]
    sysfs_root: PathBuf,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    manifest::parse_precision(s).ok_or_else(|| format!("`{s}`: expected fp32, fp16 or int8"))
}

fn parse_exec_provider(s: &str) -> Result<ExecProvider, String> {
    parse_provider(s).ok_or_else(|| format!("`{s}`: expected cpu, cuda or tensorrt"))
}

fn main() -> Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let options = RuntimeOptions {
        library: args.onnxruntime.clone(),
        intra_threads: args.threads,
        models_dir: args.models.clone(),
        ..RuntimeOptions::default()
    };
    let runtime = OrtRuntime::new(&options)?;
    let dir = manifest::find_models_dir(options.models_dir.as_deref()).map_err(|tried| {
        let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        anyhow::anyhow!("no models directory found; tried {}", tried.join(", "))
    })?;
    let catalog = ModelCatalog::load_dir(&dir)?;
    let (mut system, detection) = open_reader(&args.sysfs_root);
    eprintln!(
        "{} {} from {}; {} model file(s) in {}; system reader {} ({})",
        runtime.name(),
        runtime.version().unwrap_or("?"),
        runtime.library().display(),
        catalog.models().len(),
        dir.display(),
        system.name(),
        detection.evidence
    );
    let spec = ProfileSpec {
        model: args.model,
        provider: args.provider,
        precision: args.precision,
        batch: args.batch,
        warmup: args.warmup,
        iterations: args.iterations,
        ..ProfileSpec::default()
    };
    let mut last_pct = u64::MAX;
    let runs = profile(
        &runtime,
        &catalog,
        &spec,
        system.as_mut(),
        &mut |done, total| {
            let pct = done * 100 / total.max(1);
            if pct != last_pct {
                last_pct = pct;
                let bar = "#".repeat((pct / 4) as usize);
                eprint!("\r[{bar:<25}] {pct:>3}% ({done}/{total} runs)");
                if done == total {
                    eprintln!();
                }
            }
        },
    )?;
    let mut out = std::io::stdout().lock();
    for run in &runs {
        write_summary(run, &mut out).context("writing the summary")?;
        writeln!(out)?;
    }
    Ok(())
}
