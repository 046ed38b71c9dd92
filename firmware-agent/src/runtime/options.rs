//! [`RuntimeOptions`]: what the `[runtime]` config section resolves to, and the spelling
//! of execution providers in config files and on command lines.

use msao::message::ExecProvider;
use std::path::PathBuf;

/// How the inference runtime is found and configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// `[runtime] onnxruntime`: the library; `None` searches (see [`super::library`]).
    pub library: Option<PathBuf>,
    /// `[runtime] provider`: the execution provider models are loaded for by default.
    pub provider: ExecProvider,
    /// TensorRT provider settings.
    pub tensorrt: TensorRtOptions,
    /// `[runtime] intra_threads`: threads inside one operator; `None` = ONNX Runtime's
    /// default (one per physical core).
    pub intra_threads: Option<usize>,
    /// `[runtime] spin_wait`: let ONNX Runtime's intra-op threads spin between runs
    /// instead of sleeping. Off by default: the agent runs small graphs one request at a
    /// time and shares its cores (pipeline, network, other processes), and spinning threads
    /// take CPU from them (`docs/offload.md`, bench).
    pub spin_wait: bool,
    /// `[runtime] models_dir`: where the manifests are; `None` searches
    /// (see [`super::manifest::find_models_dir`]).
    pub models_dir: Option<PathBuf>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            library: None,
            provider: ExecProvider::Cpu,
            tensorrt: TensorRtOptions::default(),
            intra_threads: None,
            spin_wait: false,
            models_dir: None,
        }
    }
}

/// TensorRT execution provider settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TensorRtOptions {
    /// `[runtime] trt_cache_dir`: engine and timing cache; `None` rebuilds engines at every
    /// start (minutes on a Jetson).
    pub cache_dir: Option<PathBuf>,
    /// `[runtime] trt_fp16`: let TensorRT pick FP16 kernels.
    pub fp16: bool,
    /// `[runtime] trt_int8`: let TensorRT pick INT8 kernels (QDQ models carry their scales).
    pub int8: bool,
}

/// Config and command-line spelling of a provider (`cpu`, `cuda`, `tensorrt`).
pub const fn provider_name(p: ExecProvider) -> &'static str {
    match p {
        ExecProvider::Cpu => "cpu",
        ExecProvider::Cuda => "cuda",
        ExecProvider::TensorRt => "tensorrt",
    }
}

/// Parses [`provider_name`]'s spelling (`trt` is accepted for `tensorrt`).
pub fn parse_provider(s: &str) -> Option<ExecProvider> {
    match s {
        "cpu" => Some(ExecProvider::Cpu),
        "cuda" => Some(ExecProvider::Cuda),
        "tensorrt" | "trt" => Some(ExecProvider::TensorRt),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip() {
        for p in ExecProvider::ALL {
            assert_eq!(parse_provider(provider_name(*p)), Some(*p));
        }
        assert_eq!(parse_provider("gpu"), None);
    }
}
