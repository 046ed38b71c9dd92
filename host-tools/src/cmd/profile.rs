//! `msao-host profile`: measure model performance and write a capability document.
//!
//! * local (default): runs the agent's profiling routine on this machine;
//! * `--agent URL`: listens where an agent streams, sends it a signed `ProfileRequest` on
//!   the same link and collects its `ProfileResult`s and `Capability` (`remote.rs`);
//! * `--compare A.json B.json`: two documents side by side (`--plot FILE.svg` draws them).
//!
//! Prints a trtexec-style summary (or the document as JSON with `--json`); `--out` writes
//! the document.

use crate::{
    capability::{CapabilityDoc, compare, summary},
    env::Env,
};
use anyhow::{Context as _, bail};
use msao::{
    message::{ExecProvider, Precision, ProfileRequest, truncated},
    transport::Endpoint,
};
use std::{io::Write, path::PathBuf, time::Duration};

mod local;
mod remote;

/// Execution provider choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderArg {
    /// ONNX Runtime CPU provider.
    Cpu,
    /// CUDA provider.
    Cuda,
    /// TensorRT provider.
    Tensorrt,
}

impl From<ProviderArg> for ExecProvider {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Cpu => Self::Cpu,
            ProviderArg::Cuda => Self::Cuda,
            ProviderArg::Tensorrt => Self::TensorRt,
        }
    }
}

/// Precision choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// 32-bit float.
    Fp32,
    /// 16-bit float.
    Fp16,
    /// 8-bit integer (QDQ).
    Int8,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::Fp32 => Self::Fp32,
            PrecisionArg::Fp16 => Self::Fp16,
            PrecisionArg::Int8 => Self::Int8,
        }
    }
}

/// Measure model latency and throughput and write a capability document.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// Ask a running agent instead of profiling here: listen on this URL for its telemetry
    /// (e.g. udp://0.0.0.0:7878) and send the request back on that link.
    #[arg(long, value_name = "URL", conflicts_with = "compare")]
    pub agent: Option<Endpoint>,
    /// With --agent: the device id to ask (default: the first agent heard). Locally: the
    /// id written in the document (default: the hostname).
    #[arg(long)]
    pub device: Option<String>,
    /// Only this model (manifest name); default: every installed model.
    #[arg(long)]
    pub model: Option<String>,
    /// Only this execution provider; default: every available one.
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,
    /// Only this precision; default: every installed one.
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionArg>,
    /// Batch size.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub batch: u16,
    /// Untimed warm-up iterations.
    #[arg(long, default_value_t = 50)]
    pub warmup: u32,
    /// Timed iterations.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
    /// Write the capability document (JSON) here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the capability document as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Compare two capability documents side by side.
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    pub compare: Option<Vec<PathBuf>>,
    /// With --compare: draw median latencies to this SVG file.
    #[arg(long, value_name = "FILE.svg", requires = "compare")]
    pub plot: Option<PathBuf>,
    /// With --agent: how long to wait for the agent's first Hello.
    #[arg(long, default_value = "15s", value_parser = crate::args::duration)]
    pub wait: Duration,
    /// With --agent: the control key file (hex, mode 600; the agent's `[control] key_file`);
    /// default: $MSAO_CONTROL_KEY. Agents refuse unsigned requests on network links.
    #[arg(long, value_name = "FILE", requires = "agent")]
    pub key_file: Option<PathBuf>,
    /// With --agent: how long to wait for the whole reply.
    #[arg(long, default_value = "10m", value_parser = crate::args::duration)]
    pub timeout: Duration,
    /// Local profiling: the models directory (manifests); default: $MSAO_MODELS_DIR, else
    /// `models/` in the current directory or a parent.
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Local profiling: read /sys, /proc, /etc and /var/lib under this root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub sysfs_root: PathBuf,
    /// Local profiling: the ONNX Runtime library (else $MSAO_ORT_LIB, else the setup
    /// script's location).
    #[arg(long, value_name = "PATH")]
    pub onnxruntime: Option<PathBuf>,
}

impl Cmd {
    /// Runs the chosen mode.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        if let Some(files) = &self.compare {
            return self.compare(files, out);
        }
        let doc = match &self.agent {
            Some(url) => remote::profile(&self, url, env)?,
            None => local::profile(&self, env)?,
        };
        env.clear_bar();
        if let Some(path) = &self.out {
            let text = serde_json::to_string_pretty(&doc)?;
            std::fs::write(path, text + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if self.json {
            writeln!(out, "{}", serde_json::to_string(&doc)?)?;
        } else {
            for l in summary::lines(&doc) {
                writeln!(out, "{l}")?;
            }
            if let Some(path) = &self.out {
                writeln!(out, "\ncapability document written to {}", path.display())?;
            }
        }
        Ok(())
    }

    fn request(&self, request_id: u32, target_boot_id: [u8; 4]) -> ProfileRequest {
        ProfileRequest {
            request_id,
            target_boot_id,
            model: self.model.as_deref().map(truncated),
            provider: self.provider.map(Into::into),
            precision: self.precision.map(Into::into),
            batch: self.batch,
            warmup: self.warmup,
            iterations: self.iterations,
        }
    }

    fn compare(&self, files: &[PathBuf], out: &mut impl Write) -> anyhow::Result<()> {
        let [a, b] = files else {
            bail!("--compare takes two files")
        };
        let (a, b) = (CapabilityDoc::read(a)?, CapabilityDoc::read(b)?);
        if self.json {
            writeln!(out, "{}", compare::json(&a, &b))?;
        } else {
            for l in compare::lines(&a, &b) {
                writeln!(out, "{l}")?;
            }
        }
        if let Some(path) = &self.plot {
            compare::plot(&a, &b, path)
                .with_context(|| format!("cannot draw {}", path.display()))?;
            if !self.json {
                writeln!(out, "\nplot written to {}", path.display())?;
            }
        }
        Ok(())
    }
}
