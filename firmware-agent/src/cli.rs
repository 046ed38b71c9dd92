//! The command line. Flags override the config file; usage errors exit with code 2 (clap).

use crate::config::{DeviceId, parse_fps, parse_interval, parse_limit};
use crate::offload::PolicyKind;
use clap::Parser;
use msao::transport::Endpoint;
use std::{path::PathBuf, sync::LazyLock, time::Duration};

/// `--version`: the agent's build and the wire identity it speaks (spec §3.4), formatted
/// like `msao-host --version`.
static VERSION: LazyLock<String> = LazyLock::new(|| msao::build_info::BUILD.to_string());

fn version() -> &'static str {
    VERSION.as_str()
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Field bring-up: board, L4T/JetPack, CUDA, TensorRT, ONNX Runtime and its execution
    /// providers, GPU device nodes, models (sha256), cloud, telemetry sinks, cameras, the
    /// API port — with the same config and flags the agent would run with. Exit 1 on a
    /// blocking problem. Run it as the service user to check what the service can reach.
    Check {
        /// One JSON object: {"ready": bool, "checks": [{name, status, detail}]}.
        #[arg(long)]
        json: bool,
    },
}

/// MSAO Edge device agent: samples system state and sends telemetry frames to msao-host.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "msao-agent", version = version(), about, long_about = None)]
pub struct Cli {
    /// What to do instead of running the agent.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// TOML config file; flags given here override its values.
    #[arg(global = true, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Device id sent in Hello (at most 32 bytes) [default: hostname].
    #[arg(global = true, long, value_name = "ID")]
    pub device_id: Option<DeviceId>,

    /// Telemetry sink URL, repeatable: udp://HOST:PORT, tcp://HOST:PORT,
    /// serial:///dev/ttyTHS1?baud=921600. Replaces the config file's sinks
    /// [default: udp://127.0.0.1:7878].
    #[arg(global = true, long = "telemetry", value_name = "URL")]
    pub telemetry: Vec<Endpoint>,

    /// Time between samples, e.g. 100ms, at least 10ms [default: 100ms].
    #[arg(global = true, long, value_name = "DURATION", value_parser = parse_interval)]
    pub sample_interval: Option<Duration>,

    /// Time between Hello messages, e.g. 5s, at least 100ms [default: 5s].
    #[arg(global = true, long, value_name = "DURATION", value_parser = parse_interval)]
    pub hello_interval: Option<Duration>,

    /// Root under which proc/ and sys/ are read (a fixture tree in tests) [default: /].
    #[arg(global = true, long, value_name = "DIR")]
    pub sysfs_root: Option<PathBuf>,

    /// Where system readings come from: auto, sysfs or tegrastats [default: auto].
    #[arg(global = true, long, value_name = "SOURCE", value_enum)]
    pub system_source: Option<crate::config::SystemSource>,

    /// Stop after this long, flushing queues as on SIGTERM, e.g. 10s.
    #[arg(global = true, long, value_name = "DURATION", value_parser = parse_interval)]
    pub duration: Option<Duration>,

    /// The pipeline file: which models, tensors, labels and cloud models the request path
    /// uses [default: `[runtime] pipeline`, else `pipelines/easy-vqa.toml` in the models
    /// directory].
    #[arg(global = true, long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,

    /// Serve the OpenAI-compatible request API on ADDR (e.g. 127.0.0.1:8090) [default:
    /// `[api] listen`, else off].
    #[arg(global = true, long, value_name = "ADDR")]
    pub api: Option<std::net::SocketAddr>,

    /// Open a camera: NAME=URI with URI one of csi://N, v4l2:///dev/videoN, rtsp://…,
    /// file://… (video, image, directory/ or glob), test://PATTERN (repeatable; adds to, or
    /// replaces by name, the config's `[[camera]]`). Asked about as camera://NAME.
    #[arg(global = true, long = "camera", value_name = "NAME=URI")]
    pub cameras: Vec<String>,

    /// Run this camera-size workload (a `msao-host workload` directory) through the
    /// offload pipeline, one RequestTrace frame per request; the agent stops when it is
    /// done.
    #[arg(global = true, long, value_name = "DIR")]
    pub workload: Option<PathBuf>,

    /// Append one JSON line per answered request to FILE (created, truncated).
    #[arg(global = true, long, value_name = "FILE")]
    pub answers: Option<PathBuf>,

    /// Write the workload run's summary (counts, latencies, region IoU) as JSON to FILE.
    #[arg(global = true, long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Frames per second of the workload's camera [default: as fast as it goes].
    #[arg(global = true, long, value_name = "F", value_parser = parse_fps)]
    pub fps: Option<f64>,

    /// Run the first N requests edge-only before the measured run, without answers,
    /// traces or summary (warms ONNX Runtime, the page cache and the CPU clock) [default: 0].
    #[arg(global = true, long, value_name = "N")]
    pub warmup: Option<usize>,

    /// Run only the first N requests of the workload [default: all].
    #[arg(global = true, long, value_name = "N", value_parser = parse_limit)]
    pub limit: Option<usize>,

    /// Offload policy: msao, edge-only, cloud-only, cloud-features, offload-all, bandit
    /// [default: msao].
    #[arg(global = true, long, value_name = "NAME", value_parser = parse_policy)]
    pub policy: Option<PolicyKind>,

    /// Base URL of the cloud model server (OIP v2), e.g. http://10.0.0.5:8000.
    #[arg(global = true, long, value_name = "URL")]
    pub cloud_url: Option<String>,
}

fn parse_policy(name: &str) -> Result<PolicyKind, String> {
    PolicyKind::parse(name).ok_or_else(|| {
        let names: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "unknown policy `{name}`; expected one of {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn version_names_the_wire_version_and_schema_fingerprint() {
        let text = Cli::command().render_version();
        let fingerprint = u64::from_le_bytes(msao::SCHEMA_FINGERPRINT);
        assert!(
            text.starts_with(&format!("msao-agent {} (git ", env!("CARGO_PKG_VERSION"))),
            "{text}"
        );
        assert!(
            text.trim_end().ends_with(&format!(
                "; wire v{}, schema {fingerprint:016x})",
                msao::WIRE_VERSION
            )),
            "{text}"
        );
    }
}
