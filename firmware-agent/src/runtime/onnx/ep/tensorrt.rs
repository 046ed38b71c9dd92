//! The TensorRT execution provider: ONNX Runtime builds TensorRT engines from the ONNX
//! graph (FP16/INT8 when allowed; INT8 scales come from QDQ nodes) and caches them. Nodes
//! TensorRT cannot take go to CUDA, registered right after it when available.

use super::{Cuda, ExecutionProvider, ort_available};
use crate::runtime::TensorRtOptions;
use msao::message::ExecProvider;
use ort::{ep, session::builder::SessionBuilder};

/// TensorRT with the agent's engine-cache and precision settings.
#[derive(Debug, Clone, Default)]
pub struct TensorRt {
    options: TensorRtOptions,
    cuda: Cuda,
}

impl TensorRt {
    /// From `[runtime] trt_cache_dir`, `trt_fp16`, `trt_int8`.
    pub fn new(options: &TensorRtOptions) -> Self {
        Self {
            options: options.clone(),
            cuda: Cuda::default(),
        }
    }

    fn dispatch(&self) -> ep::ExecutionProviderDispatch {
        let mut trt = ep::TensorRT::default()
            .with_device_id(self.cuda.device_id)
            .with_fp16(self.options.fp16)
            .with_int8(self.options.int8);
        if let Some(dir) = &self.options.cache_dir {
            let dir = dir.display().to_string();
            trt = trt
                .with_engine_cache(true)
                .with_engine_cache_path(&dir)
                .with_timing_cache(true)
                .with_timing_cache_path(&dir);
        }
        trt.build().error_on_failure()
    }
}

impl ExecutionProvider for TensorRt {
    fn kind(&self) -> ExecProvider {
        ExecProvider::TensorRt
    }

    fn name(&self) -> &'static str {
        "TensorrtExecutionProvider"
    }

    fn is_available(&self) -> bool {
        ort_available::<ep::TensorRT>()
    }

    fn register(&self, builder: SessionBuilder) -> Result<SessionBuilder, String> {
        let mut providers = vec![self.dispatch()];
        if self.cuda.is_available() {
            providers.push(self.cuda.dispatch());
        }
        if let Some(dir) = &self.options.cache_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create TensorRT cache {}: {e}", dir.display()))?;
        }
        builder
            .with_execution_providers(providers)
            .map_err(|e| e.to_string())
    }
}
