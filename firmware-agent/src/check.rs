//! `msao-agent check`: field bring-up. Reads the same settings the agent would run with and
//! reports, one line each (or `--json`), what a field engineer needs before the service
//! starts: the board, L4T and JetPack; CUDA, TensorRT and the ONNX Runtime library with the
//! execution providers it really has; the GPU device nodes this user can open; the models
//! and their sha256; the cloud and its models' metadata; the telemetry sinks; the cameras;
//! the API port. A *blocking* problem (the agent would not start or could not answer) makes
//! the exit code 1; a warning does not. Run it as the service user
//! (`sudo -u msao-agent msao-agent check --config /etc/msao-agent/agent.toml`) to check
//! what the service can reach.

use crate::config::Settings;
use crate::offload::PolicyKind;
use crate::pipelines::PipelineSpec;
use crate::runtime::{
    InferenceRuntime, ModelCatalog, OrtRuntime, manifest::find_models_dir, provider_name,
};
use crate::system::{self, SysRoot};
use msao::transport::Endpoint;
use serde::Serialize;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::Duration;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Worth knowing; the agent runs.
    Warn,
    /// The agent would not start, or could not do what it is configured to do.
    Fail,
    /// Not applicable here (not configured, not a Jetson).
    Skip,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

/// GPU device nodes: Jetson (nvmap, nvhost, nvgpu) and DRM render nodes.
const GPU_NODES: [&str; 5] = [
    "dev/nvmap",
    "dev/nvhost-ctrl-gpu",
    "dev/nvgpu/igpu0/ctrl",
    "dev/nvidia0",
    "dev/dri/renderD128",
];

/// Runs every check under `settings`; devices and files are looked up under the settings'
/// sysfs root (`/` on a device, a fixture tree in tests).
pub fn run(settings: &Settings) -> Vec<Check> {
    let root = SysRoot::new(&settings.sysfs_root);
    let mut out = platform(&root);
    out.push(gpu_nodes(&settings.sysfs_root));
    let runtime = onnx_runtime(settings, &mut out);
    let pipeline = models(settings, runtime.as_ref(), &mut out);
    out.push(cloud(settings, pipeline.as_ref()));
    out.extend(sinks(&settings.sinks));
    out.extend(cameras(settings));
    out.push(api_port(settings));
    out
}

/// True when some check failed.
pub fn blocking(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

fn platform(root: &SysRoot) -> Vec<Check> {
    let mut out = Vec::new();
    match system::read_board(root) {
        Ok(b) => out.push(check("board", Status::Ok, b)),
        Err(e) => out.push(check("board", Status::Warn, e.to_string())),
    }
    match system::read_l4t(root) {
        Ok(l4t) => {
            let jetpack = jetpack_of(&l4t).unwrap_or("unknown JetPack");
            out.push(check("l4t", Status::Ok, format!("L4T {l4t} ({jetpack})")));
        }
        Err(_) => out.push(check(
            "l4t",
            Status::Skip,
            "not a Jetson (no /etc/nv_tegra_release)",
        )),
    }
    for (name, read) in [
        ("cuda", system::read_cuda as fn(&SysRoot) -> _),
        ("tensorrt", system::read_tensorrt),
    ] {
        out.push(match read(root) {
            Ok(v) => check(name, Status::Ok, v),
            Err(_) => check(name, Status::Skip, "not installed"),
        });
    }
    out
}

/// The JetPack an L4T release ships with.
pub fn jetpack_of(l4t: &str) -> Option<&'static str> {
    let major = l4t.trim_start_matches('R').split('.').next()?;
    Some(match major {
        "28" => "JetPack 3",
        "32" => "JetPack 4",
        "35" => "JetPack 5",
        "36" => "JetPack 6",
        "38" | "39" => "JetPack 7",
        _ => return None,
    })
}

fn gpu_nodes(root: &Path) -> Check {
    let mut present = Vec::new();
    let mut denied = Vec::new();
    for rel in GPU_NODES {
        let p = root.join(rel);
        if !p.exists() {
            continue;
        }
        match std::fs::OpenOptions::new().read(true).open(&p) {
            Ok(_) => present.push(format!("/{rel}")),
            Err(e) => denied.push(format!("/{rel} ({e})")),
        }
    }
    match (present.is_empty(), denied.is_empty()) {
        (true, true) => check("gpu_nodes", Status::Skip, "no GPU device nodes (CPU only)"),
        (_, false) => check(
            "gpu_nodes",
            Status::Fail,
            format!(
                "not readable by this user: {} (the service adds groups video and render)",
                denied.join(", ")
            ),
        ),
        (false, true) => check("gpu_nodes", Status::Ok, present.join(", ")),
    }
}

fn onnx_runtime(settings: &Settings, out: &mut Vec<Check>) -> Option<OrtRuntime> {
    let mut options = settings.runtime.clone();
    if let Ok(dir) = find_models_dir(options.models_dir.as_deref()) {
        options.models_dir = Some(dir);
    }
    match OrtRuntime::new(&options) {
        Ok(rt) => {
            out.push(check(
                "onnxruntime",
                Status::Ok,
                format!(
                    "{} from {}",
                    rt.version().unwrap_or("unknown version"),
                    rt.library().display()
                ),
            ));
            let providers: Vec<&str> = rt.providers().iter().map(|p| provider_name(*p)).collect();
            let wanted = settings.runtime.provider;
            let status = if rt.is_available(wanted) {
                Status::Ok
            } else {
                Status::Warn
            };
            out.push(check(
                "providers",
                status,
                format!(
                    "{} (configured: {}{})",
                    providers.join(", "),
                    provider_name(wanted),
                    if status == Status::Ok {
                        ""
                    } else {
                        "; not in this library: the agent runs on CPU"
                    }
                ),
            ));
            Some(rt)
        }
        Err(e) => {
            out.push(check("onnxruntime", Status::Fail, e.to_string()));
            None
        }
    }
}

fn models(
    settings: &Settings,
    runtime: Option<&OrtRuntime>,
    out: &mut Vec<Check>,
) -> Option<PipelineSpec> {
    let dir = match find_models_dir(settings.runtime.models_dir.as_deref()) {
        Ok(d) => d,
        Err(tried) => {
            let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
            out.push(check(
                "models",
                Status::Fail,
                format!("no models directory (tried {})", tried.join(", ")),
            ));
            return None;
        }
    };
    match ModelCatalog::load_dir(&dir) {
        Ok(c) => out.push(check(
            "models",
            Status::Ok,
            format!(
                "{} model files under {}, sha256 verified",
                c.models().len(),
                dir.display()
            ),
        )),
        Err(e) => {
            out.push(check("models", Status::Fail, e.to_string()));
            return None;
        }
    }
    let spec = match &settings.pipeline {
        Some(p) => PipelineSpec::load(p),
        None => PipelineSpec::load_default(&dir),
    };
    match spec {
        Ok(s) => {
            out.push(check(
                "pipeline",
                if runtime.is_some() {
                    Status::Ok
                } else {
                    Status::Warn
                },
                format!("`{}` ({})", s.name, s.path.display()),
            ));
            Some(s)
        }
        Err(e) => {
            out.push(check("pipeline", Status::Fail, e.to_string()));
            None
        }
    }
}

fn cloud(settings: &Settings, pipeline: Option<&PipelineSpec>) -> Check {
    if settings.offload.policy == PolicyKind::EdgeOnly {
        return check("cloud", Status::Skip, "policy edge-only: no cloud is used");
    }
    let Some(pipeline) = pipeline else {
        return check(
            "cloud",
            Status::Skip,
            "no pipeline: the cloud model is unknown",
        );
    };
    // The model the policy's codec feeds, named as the pipeline runs it.
    let (compact, full) = settings.offload.cloud_models(pipeline);
    let config = match settings.offload.policy {
        PolicyKind::CloudOnly => full,
        _ => compact,
    };
    let config = &config;
    let client = match crate::cloud::CloudClient::new(config) {
        Ok(c) => c,
        Err(e) => return check("cloud", Status::Fail, e.to_string()),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return check("cloud", Status::Fail, format!("no async runtime: {e}")),
    };
    let bound = Duration::from_millis(config.connect_timeout_ms.saturating_add(config.deadline_ms));
    match rt.block_on(async { tokio::time::timeout(bound, client.connect()).await }) {
        Ok(Ok(n)) => check(
            "cloud",
            Status::Ok,
            format!(
                "{} at {}: model `{}` ready, {} inputs",
                n.server,
                config.url,
                n.metadata.name,
                n.metadata.inputs.len()
            ),
        ),
        // A dead cloud does not stop the agent (it answers locally), but offloading will
        // not happen: a warning.
        Ok(Err(e)) => check("cloud", Status::Warn, format!("{}: {e}", config.url)),
        Err(_) => check(
            "cloud",
            Status::Warn,
            format!("{}: no answer within {bound:?}", config.url),
        ),
    }
}

fn sinks(sinks: &[Endpoint]) -> Vec<Check> {
    sinks
        .iter()
        .map(|s| {
            let text = s.to_string();
            let network = text
                .strip_prefix("udp://")
                .or_else(|| text.strip_prefix("tcp://"));
            match network {
                Some(addr) => match addr.to_socket_addrs().map(|mut a| a.next()) {
                    Ok(Some(_)) => check("sink", Status::Ok, text),
                    Ok(None) => check("sink", Status::Fail, format!("{text}: resolves to nothing")),
                    Err(e) => check("sink", Status::Fail, format!("{text}: {e}")),
                },
                None => {
                    let device = text
                        .strip_prefix("serial://")
                        .map(|d| d.split('?').next().unwrap_or(d));
                    match device {
                        Some(d) if Path::new(d).exists() => check("sink", Status::Ok, text),
                        Some(d) => check("sink", Status::Fail, format!("{text}: no device {d}")),
                        None => check("sink", Status::Ok, text),
                    }
                }
            }
        })
        .collect()
}

fn cameras(settings: &Settings) -> Vec<Check> {
    settings
        .cameras
        .iter()
        .map(|c| {
            let mut source = match c.source(settings.limits) {
                Ok(s) => s,
                Err(e) => return check("camera", Status::Fail, e.to_string()),
            };
            match source.open() {
                Ok(()) => {
                    let got =
                        (0..30).find_map(|_| source.next(Duration::from_millis(100)).transpose());
                    source.close();
                    match got {
                        Some(Ok(f)) => check(
                            "camera",
                            Status::Ok,
                            format!("{} ({}): {}×{}", c.name, c.uri, f.width(), f.height()),
                        ),
                        Some(Err(e)) => check(
                            "camera",
                            Status::Fail,
                            format!("{} ({}): {e}", c.name, c.uri),
                        ),
                        None => check(
                            "camera",
                            Status::Fail,
                            format!("{} ({}): open, but no frame within 3 s", c.name, c.uri),
                        ),
                    }
                }
                Err(e) => check(
                    "camera",
                    Status::Fail,
                    format!("{} ({}): {e}", c.name, c.uri),
                ),
            }
        })
        .collect()
}

fn api_port(settings: &Settings) -> Check {
    let Some(api) = &settings.api else {
        return check("api", Status::Skip, "the request API is off");
    };
    match std::net::TcpListener::bind(api.listen) {
        Ok(_) => check("api", Status::Ok, format!("{} is free", api.listen)),
        Err(e) => check("api", Status::Fail, format!("{}: {e}", api.listen)),
    }
}

/// The human report: one line per check, then the verdict.
pub fn render(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "--  ",
        };
        s += &format!("{mark} {:<12} {}\n", c.name, c.detail);
    }
    let fails = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warns = checks.iter().filter(|c| c.status == Status::Warn).count();
    s += &if fails > 0 {
        format!("{fails} blocking problem(s), {warns} warning(s)\n")
    } else {
        format!("ready: no blocking problem, {warns} warning(s)\n")
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jetpack_follows_the_l4t_major() {
        assert_eq!(jetpack_of("R35.4.1"), Some("JetPack 5"));
        assert_eq!(jetpack_of("36.4.3"), Some("JetPack 6"));
        assert_eq!(jetpack_of("R39.2.0"), Some("JetPack 7"));
        assert_eq!(jetpack_of("R99.0"), None);
    }

    #[test]
    fn a_failure_is_blocking_a_warning_is_not() {
        let ok = [check("a", Status::Ok, "x"), check("b", Status::Warn, "y")];
        assert!(!blocking(&ok));
        assert!(render(&ok).contains("ready: no blocking problem, 1 warning(s)"));
        let bad = [check("a", Status::Fail, "gone")];
        assert!(blocking(&bad));
        assert!(render(&bad).contains("FAIL a"));
    }
}
