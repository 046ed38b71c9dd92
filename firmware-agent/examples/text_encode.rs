//! Text-encoder latency, FP32 vs INT8, end to end (tokenize + run + read the embedding) at
//! batch 1, on the CPU provider.
//!
//! ```text
//! scripts/setup.sh && models/minilm/build.sh
//! cargo run --release -p msao-agent --example text_encode -- \
//!     --iterations 200 "What color is the triangle?"
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use msao::message::{ExecProvider, Precision};
use msao_agent::{
    encoders::{TextEncoder, cosine},
    runtime::{ModelManifest, OrtRuntime, RuntimeOptions},
};
use std::{path::PathBuf, time::Instant};

/// Times the MiniLM-L6 text encoder at FP32 and INT8.
#[derive(Debug, Parser)]
struct Args {
    /// Directory with the minilm-l6-{fp32,int8}.toml manifests.
    #[arg(long, default_value = "models/minilm")]
    dir: PathBuf,
    /// Untimed runs first.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Timed runs per precision.
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Threads inside one operator (ONNX Runtime default: one per physical core).
    #[arg(long)]
    threads: Option<usize>,
    /// The text to encode.
    #[arg(default_value = "What color is the triangle?")]
    text: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let options = RuntimeOptions {
        intra_threads: args.threads,
        ..RuntimeOptions::default()
    };
    let runtime = OrtRuntime::new(&options)?;
    let bindings = msao_agent::pipelines::PipelineSpec::load_default(&args.dir.join(".."))?.text;
    let mut embeddings = Vec::new();
    println!("text: {:?}", args.text);
    for (precision, file) in [
        (Precision::Fp32, "minilm-l6-fp32.toml"),
        (Precision::Int8, "minilm-l6-int8.toml"),
    ] {
        let manifest = ModelManifest::load(&args.dir.join(file))
            .with_context(|| format!("run models/minilm/build.sh ({precision:?})"))?;
        let mut enc = TextEncoder::load(&runtime, &manifest, &bindings, ExecProvider::Cpu)?;
        let tokens = enc.token_ids(&args.text)?.len();
        for _ in 0..args.warmup {
            enc.embed(&args.text)?;
        }
        let mut times = Vec::with_capacity(args.iterations);
        let mut last = Vec::new();
        for _ in 0..args.iterations.max(1) {
            let t = Instant::now();
            last = enc.embed(&args.text)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{:<18} {tokens} tokens, {} runs: median {:.2} ms, p90 {:.2} ms, min {:.2} ms, mean {:.2} ms",
            enc.label(),
            times.len(),
            pct(0.5),
            pct(0.9),
            pct(0.0),
            mean
        );
        embeddings.push(last);
    }
    if let [f, i] = embeddings.as_slice() {
        println!(
            "cos(fp32, int8) of this text: {:.4}",
            cosine(f, i).unwrap_or(f32::NAN)
        );
    }
    Ok(())
}
