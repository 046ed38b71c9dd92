//! [`Compact`]: what MSAO uploads — the patches MAS kept, int8 with a scale in the
//! `msao::compact` layout (built by the edge brain), and the question embedding.

use super::{CodecError, CodecInput, CompactInputs, OffloadCodec, Target};
use crate::cloud::InferTensor;
use crate::pipelines::Cloud as CloudNames;

/// The compact-tensor codec.
#[derive(Debug, Clone)]
pub struct Compact(CompactInputs);

impl Compact {
    /// With the compact model's input names.
    pub fn new(names: &CloudNames) -> Self {
        Self(CompactInputs::of(names))
    }
}

impl OffloadCodec for Compact {
    fn name(&self) -> &'static str {
        "compact"
    }

    fn target(&self) -> Target {
        Target::Compact
    }

    fn needs_edge(&self) -> bool {
        true
    }

    fn encode(&self, input: &CodecInput<'_>) -> Result<Vec<InferTensor>, CodecError> {
        let edge = input.edge.ok_or(CodecError::NoEdge(self.name()))?;
        Ok(self.0.tensors(edge.compact.clone(), edge))
    }
}
