//! The command line: one file per subcommand, each a clap `Cmd` with
//! `run(self, out, env) -> anyhow::Result<()>`.
//!
//! Exit codes: 0 success (drops in the data are results, not failures), 1 errors (I/O, bad
//! capture, bind failures), 2 usage errors (clap).
pub mod bench;
pub mod bench_api;
pub mod cloud;
pub mod decode;
pub mod demo;
pub mod eval;
pub mod listen;
pub mod profile;
pub mod record;
pub mod replay;
pub mod tune;
pub mod workload;

use crate::env::Env;
use clap::{Parser, Subcommand};
use std::{io::Write, process::ExitCode};

/// `msao-host`: listen to, record, replay and decode MSAO Edge agent telemetry; profile
/// devices.
#[derive(Debug, Parser)]
#[command(name = "msao-host", version = crate::version::long(), about, long_about = None)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive frames from agents and show a live device table (or JSON lines).
    Listen(listen::Cmd),
    /// Receive frames and write them to a capture file for replay and decode.
    Record(record::Cmd),
    /// Re-emit a capture's frames with their recorded timing, to stdout or a transport.
    Replay(replay::Cmd),
    /// Decode a capture file or a raw byte dump and summarise drops.
    Decode(decode::Cmd),
    /// The main job: reference cloud, agent (with its request API) and listener on loopback
    /// run the camera-size workload end to end, sent as an application would, then a table (accuracy, latency, throughput, uplink, decisions).
    Demo(demo::Cmd),
    /// Measure model latency/throughput here or on an agent; write or compare capability
    /// documents.
    Profile(profile::Cmd),
    /// Evaluate the edge (FP32, INT8) and cloud models on easy-VQA: accuracy, stage times,
    /// MAS overhead, compact-tensor size.
    Eval(eval::Cmd),
    /// Serve the cloud models over the Open Inference Protocol v2 (REST, binary and JSON
    /// tensors): the reference cloud endpoint.
    Cloud(cloud::Cmd),
    /// Live benchmark: every policy and the oracle over emulated links (tc tbf in a network
    /// namespace, RTT in user space); markdown, JSON and SVG plots.
    Bench(bench::Cmd),
    /// The request API on the local path: its overhead over the in-process pipeline (640×480
    /// JPEG in) and its throughput with 1, 4 and 16 concurrent clients.
    BenchApi(bench_api::Cmd),
    /// Tune the local-commit confidence threshold on the calibration split.
    Tune(tune::Cmd),
    /// Generate the camera-size workload (easy-VQA shapes in 640×480 frames) from a seed.
    Workload(workload::Cmd),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        match self {
            Self::Listen(c) => c.run(out, env),
            Self::Record(c) => c.run(out, env),
            Self::Replay(c) => c.run(out, env),
            Self::Decode(c) => c.run(out, env),
            Self::Demo(c) => c.run(out, env),
            Self::Profile(c) => c.run(out, env),
            Self::Eval(c) => c.run(out, env),
            Self::Workload(c) => c.run(out, env),
            Self::Tune(c) => c.run(out, env),
            Self::Bench(c) => c.run(out, env),
            Self::BenchApi(c) => c.run(out, env),
            Self::Cloud(c) => c.run(out, env),
        }
    }
}

/// Where a subcommand that runs models finds them and ONNX Runtime (flattened into its
/// arguments).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ModelArgs {
    /// The models directory (manifests); default: $MSAO_MODELS_DIR, else `models/` here or
    /// in a parent.
    #[arg(long, value_name = "DIR")]
    pub models: Option<std::path::PathBuf>,
    /// The ONNX Runtime library (else $MSAO_ORT_LIB, else the setup script's location).
    #[arg(long, value_name = "PATH")]
    pub onnxruntime: Option<std::path::PathBuf>,
    /// The pipeline file (models, tensors, labels); default: `pipelines/easy-vqa.toml` in
    /// the models directory.
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<std::path::PathBuf>,
}

impl ModelArgs {
    /// Runtime options naming this library and models directory, the rest default.
    pub fn runtime_options(&self) -> msao_agent::host::models::RuntimeOptions {
        msao_agent::host::models::RuntimeOptions {
            library: self.onnxruntime.clone(),
            models_dir: self.models.clone(),
            ..msao_agent::host::models::RuntimeOptions::default()
        }
    }

    /// The models directory: `--models`, else the default search ([`models_dir`]).
    pub fn models_dir(&self) -> anyhow::Result<std::path::PathBuf> {
        models_dir(self.models.as_deref())
    }

    /// The pipeline: `--pipeline`, else the shipped one in `models_dir`.
    pub fn pipeline(
        &self,
        models_dir: &std::path::Path,
    ) -> anyhow::Result<msao_agent::host::models::PipelineSpec> {
        use msao_agent::host::models::PipelineSpec;
        Ok(match &self.pipeline {
            Some(p) => PipelineSpec::load(p)?,
            None => PipelineSpec::load_default(models_dir)?,
        })
    }
}

/// The models directory: `explicit`, else $MSAO_MODELS_DIR, else `models/` here or in a
/// parent; the error lists the paths tried.
pub fn models_dir(explicit: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    msao_agent::host::models::find_models_dir(explicit).map_err(|tried| {
        let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        anyhow::anyhow!("no models directory found; tried {}", tried.join(", "))
    })
}

/// Maps a command's result to the process exit code, printing the error chain. A closed
/// stdout (`msao-host listen --json | head`) ends the command quietly with 0.
pub fn exit_code(result: anyhow::Result<()>, env: &mut Env) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            env.clear_bar();
            env.warn(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}
