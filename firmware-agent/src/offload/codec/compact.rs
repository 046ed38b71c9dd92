//! [`Compact`]: what MSAO uploads — the patches MAS kept, int8 with a scale in the
//! `msao::compact` layout (built by the edge brain), and the question embedding.

use super::{CodecError, CodecInput, OffloadCodec, Target, question_tensor};
use crate::cloud::InferTensor;
use crate::pipelines::Cloud as CloudNames;

/// The compact-tensor codec.
#[derive(Debug, Clone)]
pub struct Compact {
    compact: String,
    question: String,
}

impl Compact {
    /// With the compact model's input names.
    pub fn new(names: &CloudNames) -> Self {
        Self {
            compact: names.compact.clone(),
            question: names.question.clone(),
        }
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
        Ok(vec![
            InferTensor::u8(
                &self.compact,
                vec![1, edge.compact.len() as i64],
                edge.compact.clone(),
            ),
            question_tensor(&self.question, edge),
        ])
    }
}
