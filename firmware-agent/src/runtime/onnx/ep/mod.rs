//! Execution providers, one file each behind [`ExecutionProvider`]: CPU (always there),
//! CUDA and TensorRT (present only in GPU builds of ONNX Runtime, e.g. JetPack's).
//!
//! The GPU bindings compile everywhere (`ort` features `cuda`, `tensorrt`); whether the
//! loaded library has them is asked at run time ([`ExecutionProvider::is_available`]).
//! Registration errors are returned, never ignored: ONNX Runtime would otherwise fall back
//! to CPU silently and the agent would report the wrong provider.

mod cpu;
mod cuda;
mod tensorrt;

pub use cpu::Cpu;
pub use cuda::Cuda;
pub use tensorrt::TensorRt;

use crate::runtime::RuntimeOptions;
use msao::message::ExecProvider;
use ort::session::builder::SessionBuilder;

/// One ONNX Runtime execution provider.
pub trait ExecutionProvider: Send + Sync {
    /// Which provider this is, as reported on the wire.
    fn kind(&self) -> ExecProvider;

    /// ONNX Runtime's name (`CUDAExecutionProvider`).
    fn name(&self) -> &'static str;

    /// True when the loaded library was built with this provider.
    fn is_available(&self) -> bool;

    /// Adds the provider to a session builder; `Err` carries ONNX Runtime's message (the
    /// builder is then spent: start a fresh one).
    fn register(&self, builder: SessionBuilder) -> Result<SessionBuilder, String>;
}

/// The provider for `kind`, configured from `options`.
pub fn for_kind(kind: ExecProvider, options: &RuntimeOptions) -> Box<dyn ExecutionProvider> {
    match kind {
        ExecProvider::Cpu => Box::new(Cpu),
        ExecProvider::Cuda => Box::new(Cuda::default()),
        ExecProvider::TensorRt => Box::new(TensorRt::new(&options.tensorrt)),
    }
}

/// `is_available` of an `ort` provider type; a failing query counts as unavailable.
fn ort_available<E: ort::ep::ExecutionProvider>() -> bool {
    E::is_available().unwrap_or(false)
}
