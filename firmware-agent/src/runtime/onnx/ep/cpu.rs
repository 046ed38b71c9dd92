//! The CPU execution provider: built into every ONNX Runtime, nothing to register.

use super::ExecutionProvider;
use msao::message::ExecProvider;
use ort::session::builder::SessionBuilder;

/// ONNX Runtime's default provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu;

impl ExecutionProvider for Cpu {
    fn kind(&self) -> ExecProvider {
        ExecProvider::Cpu
    }

    fn name(&self) -> &'static str {
        "CPUExecutionProvider"
    }

    fn is_available(&self) -> bool {
        true
    }

    fn register(&self, builder: SessionBuilder) -> Result<SessionBuilder, String> {
        // Sessions without other providers run on CPU; registering it explicitly would only
        // change its arena settings.
        Ok(builder)
    }
}
