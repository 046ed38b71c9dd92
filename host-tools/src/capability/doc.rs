//! Capability document types (format `msao-capability`, version 1) and their construction
//! from a `Capability` message plus `ProfileResult`s. Units are in field names; absent
//! readings are `null`, never zero.

use msao::message::{Capability, ExecProvider, Precision, ProfileResult, WireBuild};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Value of the `format` field.
pub const FORMAT: &str = "msao-capability";
/// Version of the document layout this build writes and reads.
pub const VERSION: u32 = 1;

/// One capability document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityDoc {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version ([`VERSION`]).
    pub version: u32,
    /// When the document was made (RFC 3339, UTC).
    pub generated_at: String,
    /// `local` (profiled by `msao-host` on this machine) or the agent's transport source.
    pub source: String,
    /// Identity.
    pub device: Device,
    /// Hardware.
    pub hardware: Hardware,
    /// Software stack.
    pub software: Software,
    /// Execution providers available (`cpu`, `cuda`, `tensorrt`).
    pub providers: Vec<String>,
    /// The pipeline the agent serves, when it announced one (optional when reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<Pipeline>,
    /// Measurements, one per (model, provider, precision, batch).
    pub performance: Vec<PerfEntry>,
}

/// The pipeline an agent serves (`Capability.pipeline`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Its name (the request API's `model`).
    pub name: String,
    /// Its fingerprint (pipeline file, model files, label tables), 16 hex digits.
    pub fingerprint: String,
    /// Classes of its local head.
    pub labels: u16,
}

/// Identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Configured device id.
    pub device_id: String,
    /// Board or machine model.
    pub board: String,
    /// CPU model.
    pub cpu_model: String,
}

/// Hardware facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// Logical CPUs.
    pub cpu_cores: u16,
    /// Highest CPU clock.
    pub cpu_max_mhz: Option<u16>,
    /// Total memory.
    pub mem_total_mib: Option<f64>,
    /// GPU, when one is visible.
    pub gpu: Option<Gpu>,
    /// Thermal zone names.
    pub thermal_zones: Vec<String>,
    /// Power rail names.
    pub power_rails: Vec<String>,
    /// Power modes defined on the board.
    pub power_modes: Vec<PowerMode>,
    /// Current power mode id.
    pub power_mode: Option<u8>,
    /// The CPU's instruction-set facts that decide its INT8 kernels: measured by
    /// `msao-host profile` on this machine; `null` from an agent (not on the wire yet).
    #[serde(default)]
    pub cpu_isa: Option<CpuIsaDoc>,
}

/// [`msao_agent::host::device::CpuIsa`] as the document stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuIsaDoc {
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// `avx512-vnni`, `avx2`, `neon-dotprod`, …
    pub int8_kernels: String,
    /// Flags that matter for the INT8 and FP32 kernels.
    pub flags: Vec<String>,
}

impl From<&msao_agent::host::device::CpuIsa> for CpuIsaDoc {
    fn from(isa: &msao_agent::host::device::CpuIsa) -> Self {
        Self {
            arch: isa.arch.into(),
            int8_kernels: isa.int8_kernels.into(),
            flags: isa.flags.iter().map(|f| f.to_string()).collect(),
        }
    }
}

/// GPU facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// Name.
    pub name: Option<String>,
    /// Compute capability, `major.minor`.
    pub compute_capability: Option<String>,
    /// Streaming multiprocessors.
    pub sm_count: Option<u16>,
    /// GPU-visible memory.
    pub mem_mib: Option<f64>,
    /// Highest GPU clock.
    pub max_freq_mhz: Option<u16>,
}

/// One nvpmodel power mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerMode {
    /// nvpmodel id.
    pub id: u8,
    /// Name, e.g. `15W`.
    pub name: String,
}

/// Software stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Software {
    /// L4T release.
    pub l4t: Option<String>,
    /// CUDA version.
    pub cuda: Option<String>,
    /// TensorRT version.
    pub tensorrt: Option<String>,
    /// ONNX Runtime version actually loaded.
    pub onnxruntime: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// The agent build that measured, when known.
    pub agent: Option<AgentBuild>,
}

/// Agent build facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentBuild {
    /// Version.
    pub version: String,
    /// Git revision.
    pub git_rev: String,
    /// Target triple.
    pub target: String,
    /// Cargo profile.
    pub profile: String,
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfEntry {
    /// Model (manifest name).
    pub model: String,
    /// Execution provider that ran.
    pub provider: String,
    /// `fp32`, `fp16` or `int8`.
    pub precision: String,
    /// Batch size.
    pub batch: u16,
    /// Warm-up iterations (excluded from the statistics).
    pub warmup: u32,
    /// Timed iterations.
    pub iterations: u32,
    /// Latency statistics in milliseconds.
    pub latency_ms: LatencyMs,
    /// Inferences per second.
    pub throughput_per_s: f64,
    /// Peak resident memory of the profiling process.
    pub peak_mem_mib: Option<f64>,
    /// Energy per inference, where power rails exist.
    pub energy_mj_per_inference: Option<f64>,
    /// Conditions during the run.
    pub conditions: Conditions,
}

/// Latency statistics, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyMs {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

/// Conditions during a measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Power mode id.
    pub power_mode: Option<u8>,
    /// Hottest thermal zone when the timed run started, °C.
    pub temp_start_c: Option<f64>,
    /// Hottest thermal zone when it ended, °C.
    pub temp_end_c: Option<f64>,
    /// Measured at background priority (an agent's `SCHED_IDLE` control thread), below
    /// the request path; absent in documents written before it was recorded.
    #[serde(default)]
    pub background: bool,
}

/// A document that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// I/O.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON or not this layout.
    #[error("{path} is not a capability document: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why (with line and column).
        source: serde_json::Error,
    },
    /// Another format or a newer version.
    #[error(
        "{path}: format `{format}` version {version} is not supported (this tool reads `{FORMAT}` version {VERSION})"
    )]
    Version {
        /// The file.
        path: String,
        /// Its format.
        format: String,
        /// Its version.
        version: u32,
    },
}

/// Name of a provider as written in documents.
pub fn provider_name(p: ExecProvider) -> &'static str {
    match p {
        ExecProvider::Cpu => "cpu",
        ExecProvider::Cuda => "cuda",
        ExecProvider::TensorRt => "tensorrt",
    }
}

/// Name of a precision as written in documents.
pub fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::Fp32 => "fp32",
        Precision::Fp16 => "fp16",
        Precision::Int8 => "int8",
    }
}

fn kib_to_mib(kib: u32) -> f64 {
    f64::from(kib) / 1024.0
}

fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

fn celsius(cdeg: i16) -> f64 {
    f64::from(cdeg) / 100.0
}

impl PerfEntry {
    /// The document form of one `ProfileResult`.
    pub fn from_wire(r: &ProfileResult) -> Self {
        let l = &r.latency;
        Self {
            model: r.model.to_string(),
            provider: provider_name(r.provider).into(),
            precision: precision_name(r.precision).into(),
            batch: r.batch,
            warmup: r.warmup,
            iterations: r.iterations,
            latency_ms: LatencyMs {
                mean: ms(l.mean_us),
                p50: ms(l.p50_us),
                p90: ms(l.p90_us),
                p95: ms(l.p95_us),
                p99: ms(l.p99_us),
                min: ms(l.min_us),
                max: ms(l.max_us),
            },
            throughput_per_s: f64::from(r.throughput_milli) / 1000.0,
            peak_mem_mib: r.peak_mem_kib.map(kib_to_mib),
            energy_mj_per_inference: r.energy_uj.map(|uj| f64::from(uj) / 1000.0),
            conditions: Conditions {
                power_mode: r.power_mode,
                temp_start_c: r.temp_start_cdeg.map(celsius),
                temp_end_c: r.temp_end_cdeg.map(celsius),
                background: r.background,
            },
        }
    }

    /// `model provider precision bN`, the key two documents are matched on.
    pub fn key(&self) -> String {
        format!(
            "{} {} {} b{}",
            self.model, self.provider, self.precision, self.batch
        )
    }
}

impl CapabilityDoc {
    /// A document from a `Capability`, the results measured, and optionally the agent
    /// build (from its `Hello`).
    pub fn from_wire(
        cap: &Capability,
        results: &[ProfileResult],
        build: Option<&WireBuild>,
        source: &str,
    ) -> Self {
        let hw = &cap.hardware;
        let gpu_known = hw.gpu.is_some()
            || cap.gpu.compute_capability.is_some()
            || cap.gpu.sm_count.is_some()
            || cap.gpu.max_freq_mhz.is_some();
        Self {
            format: FORMAT.into(),
            version: VERSION,
            generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
            source: source.into(),
            device: Device {
                device_id: cap.device_id.to_string(),
                board: hw.board.to_string(),
                cpu_model: hw.cpu_model.to_string(),
            },
            hardware: Hardware {
                cpu_cores: hw.cpu_cores,
                cpu_max_mhz: cap.cpu_max_mhz,
                mem_total_mib: hw.mem_total_kib.map(kib_to_mib),
                gpu: gpu_known.then(|| Gpu {
                    name: hw.gpu.as_ref().map(|g| g.to_string()),
                    compute_capability: cap.gpu.compute_capability.map(|[a, b]| format!("{a}.{b}")),
                    sm_count: cap.gpu.sm_count,
                    mem_mib: cap.gpu.mem_kib.map(kib_to_mib),
                    max_freq_mhz: cap.gpu.max_freq_mhz,
                }),
                thermal_zones: hw.thermal_zones.iter().map(|z| z.to_string()).collect(),
                power_rails: hw.rails.iter().map(|r| r.to_string()).collect(),
                power_modes: cap
                    .power_modes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| PowerMode {
                        id: u8::try_from(i).unwrap_or(u8::MAX),
                        name: n.to_string(),
                    })
                    .collect(),
                power_mode: cap.power_mode,
                cpu_isa: None,
            },
            software: Software {
                l4t: cap.software.l4t.as_ref().map(|s| s.to_string()),
                cuda: cap.software.cuda.as_ref().map(|s| s.to_string()),
                tensorrt: cap.software.tensorrt.as_ref().map(|s| s.to_string()),
                onnxruntime: cap.software.onnxruntime.as_ref().map(|s| s.to_string()),
                kernel: cap.software.kernel.as_ref().map(|s| s.to_string()),
                agent: build.map(|b| AgentBuild {
                    version: b.version.to_string(),
                    git_rev: b.git_rev.to_string(),
                    target: b.target.to_string(),
                    profile: b.profile.to_string(),
                }),
            },
            providers: cap
                .providers
                .iter()
                .map(|p| provider_name(*p).to_string())
                .collect(),
            pipeline: cap.pipeline.as_ref().map(|p| Pipeline {
                name: p.name.to_string(),
                fingerprint: p.fingerprint.iter().map(|b| format!("{b:02x}")).collect(),
                labels: p.labels,
            }),
            performance: results.iter().map(PerfEntry::from_wire).collect(),
        }
    }

    /// Reads and checks a document.
    pub fn read(path: &Path) -> Result<Self, DocError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DocError::Io {
            path: shown.clone(),
            source,
        })?;
        // Check format and version before the strict parse, so a newer document gets the
        // version message rather than an unknown-field one.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            let format = v["format"].as_str().unwrap_or_default().to_string();
            let version = v["version"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0);
            if format != FORMAT || version != VERSION {
                return Err(DocError::Version {
                    path: shown,
                    format,
                    version,
                });
            }
        }
        serde_json::from_str(&text).map_err(|source| DocError::Parse {
            path: shown,
            source,
        })
    }
}
