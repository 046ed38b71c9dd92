//! The CUDA execution provider (GPU builds of ONNX Runtime, e.g. JetPack's `onnxruntime-gpu`).

use super::{ExecutionProvider, ort_available};
use msao::message::ExecProvider;
use ort::{ep, session::builder::SessionBuilder};

/// CUDA on one device.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cuda {
    /// CUDA device ordinal (Jetsons have one GPU: 0).
    pub device_id: i32,
}

impl Cuda {
    /// The `ort` registration for this device, failing loudly.
    pub(super) fn dispatch(&self) -> ep::ExecutionProviderDispatch {
        ep::CUDA::default()
            .with_device_id(self.device_id)
            .build()
            .error_on_failure()
    }
}

impl ExecutionProvider for Cuda {
    fn kind(&self) -> ExecProvider {
        ExecProvider::Cuda
    }

    fn name(&self) -> &'static str {
        "CUDAExecutionProvider"
    }

    fn is_available(&self) -> bool {
        ort_available::<ep::CUDA>()
    }

    fn register(&self, builder: SessionBuilder) -> Result<SessionBuilder, String> {
        builder
            .with_execution_providers([self.dispatch()])
            .map_err(|e| e.to_string())
    }
}
