//! The `[runtime]` section: where ONNX Runtime and the models are, which execution
//! provider runs them, and the TensorRT provider's settings.
//!
//! ```toml
//! [runtime]
//! onnxruntime = "/opt/onnxruntime/lib/libonnxruntime.so"  # default: search (MSAO_ORT_LIB, .cache/)
//! models_dir = "/opt/msao/models"                         # default: search (MSAO_MODELS_DIR, models/)
//! pipeline = "/opt/msao/models/pipelines/easy-vqa.toml"   # default: pipelines/easy-vqa.toml in models_dir
//! provider = "tensorrt"                                   # cpu (default) | cuda | tensorrt
//! intra_threads = 4                                       # default: ONNX Runtime's choice
//! spin_wait = false                                       # intra-op threads spin between runs
//! trt_cache_dir = "/var/cache/msao/trt"                   # engine + timing cache
//! trt_fp16 = true
//! trt_int8 = false
//! ```

use crate::runtime::{RuntimeOptions, TensorRtOptions, parse_provider};
use msao::message::ExecProvider;
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// Most intra-op threads accepted (more than any Jetson or CI machine has cores).
pub const MAX_INTRA_THREADS: usize = 256;

/// `[runtime]` as written; every key is optional.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSection {
    /// Path of `libonnxruntime.so`.
    pub onnxruntime: Option<PathBuf>,
    /// Directory of the model manifests.
    pub models_dir: Option<PathBuf>,
    /// The pipeline file (default: [`crate::pipelines::DEFAULT_PIPELINE`] in the models
    /// directory).
    pub pipeline: Option<PathBuf>,
    /// Execution provider: `cpu`, `cuda` or `tensorrt`.
    #[serde(default, deserialize_with = "provider")]
    pub provider: Option<ExecProvider>,
    /// Threads inside one operator.
    #[serde(default, deserialize_with = "intra_threads")]
    pub intra_threads: Option<usize>,
    /// Let intra-op threads spin between runs (default off).
    pub spin_wait: Option<bool>,
    /// TensorRT engine and timing cache directory.
    pub trt_cache_dir: Option<PathBuf>,
    /// Allow FP16 TensorRT kernels.
    pub trt_fp16: Option<bool>,
    /// Allow INT8 TensorRT kernels.
    pub trt_int8: Option<bool>,
}

impl RuntimeSection {
    /// The options this section gives, defaults filled in.
    pub fn to_options(&self) -> RuntimeOptions {
        RuntimeOptions {
            library: self.onnxruntime.clone(),
            provider: self.provider.unwrap_or(ExecProvider::Cpu),
            tensorrt: TensorRtOptions {
                cache_dir: self.trt_cache_dir.clone(),
                fp16: self.trt_fp16.unwrap_or(false),
                int8: self.trt_int8.unwrap_or(false),
            },
            intra_threads: self.intra_threads,
            spin_wait: self.spin_wait.unwrap_or(false),
            models_dir: self.models_dir.clone(),
        }
    }
}

fn provider<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ExecProvider>, D::Error> {
    let s = String::deserialize(d)?;
    parse_provider(&s).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown execution provider `{s}`; expected cpu, cuda or tensorrt"
        ))
    })
}

fn intra_threads<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let n = i64::deserialize(d)?;
    match usize::try_from(n) {
        Ok(n) if (1..=MAX_INTRA_THREADS).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "intra_threads {n} is outside 1..={MAX_INTRA_THREADS}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::FileConfig;
    use msao::message::ExecProvider;
    use std::path::{Path, PathBuf};

    fn parse(text: &str) -> Result<FileConfig, crate::config::ConfigError> {
        FileConfig::from_toml(text, Path::new("agent.toml"))
    }

    #[test]
    fn runtime_section_resolves_with_defaults() {
        let none = parse("").unwrap().runtime.to_options();
        assert_eq!(none, crate::runtime::RuntimeOptions::default());
        let cfg = parse(
            r#"
[runtime]
onnxruntime = "/opt/ort/libonnxruntime.so"
models_dir = "/opt/msao/models"
provider = "tensorrt"
intra_threads = 2
spin_wait = true
trt_cache_dir = "/var/cache/msao/trt"
trt_fp16 = true
"#,
        )
        .unwrap();
        let o = cfg.runtime.to_options();
        assert_eq!(o.library, Some(PathBuf::from("/opt/ort/libonnxruntime.so")));
        assert_eq!(o.models_dir, Some(PathBuf::from("/opt/msao/models")));
        assert_eq!(o.provider, ExecProvider::TensorRt);
        assert_eq!(o.intra_threads, Some(2));
        assert!(o.spin_wait);
        assert_eq!(
            o.tensorrt.cache_dir,
            Some(PathBuf::from("/var/cache/msao/trt"))
        );
        assert!(o.tensorrt.fp16 && !o.tensorrt.int8);
    }

    #[test]
    fn bad_runtime_keys_name_the_key() {
        for (text, key, needle) in [
            (
                "[runtime]\nprovider = \"gpu\"",
                "runtime.provider",
                "unknown execution provider `gpu`",
            ),
            (
                "[runtime]\nintra_threads = 0",
                "runtime.intra_threads",
                "outside 1..=256",
            ),
            (
                "[runtime]\ntrt_fp32 = true",
                "runtime.trt_fp32",
                "unknown field `trt_fp32`",
            ),
        ] {
            let err = parse(text).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(key) && msg.contains(needle), "{text}: {msg}");
        }
    }
}
