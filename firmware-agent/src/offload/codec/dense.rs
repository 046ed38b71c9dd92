//! [`Dense`]: a disaggregated encoder's upload (DistMLLM) — every patch's features, int8
//! with a scale in the `msao::compact` layout, no MAS selection — and the question embedding.

use super::{CodecError, CodecInput, CompactInputs, OffloadCodec, Target};
use crate::cloud::InferTensor;
use crate::pipelines::Cloud as CloudNames;
use msao::compact;

/// The every-patch codec.
#[derive(Debug, Clone)]
pub struct Dense(CompactInputs);

impl Dense {
    /// With the compact model's input names.
    pub fn new(names: &CloudNames) -> Self {
        Self(CompactInputs::of(names))
    }
}

impl OffloadCodec for Dense {
    fn name(&self) -> &'static str {
        "dense"
    }

    fn target(&self) -> Target {
        Target::Compact
    }

    fn needs_edge(&self) -> bool {
        true
    }

    fn encode(&self, input: &CodecInput<'_>) -> Result<Vec<InferTensor>, CodecError> {
        let edge = input.edge.ok_or(CodecError::NoEdge(self.name()))?;
        let keep = vec![true; edge.image.spatial.keep.len()];
        let dim = edge.features.len() / keep.len().max(1);
        let mut dense = vec![0u8; compact::encoded_len(keep.len(), dim, keep.len())];
        let n =
            compact::encode_features(&mut dense, &edge.features, dim, &keep).map_err(|source| {
                CodecError::Compact {
                    codec: self.name(),
                    source,
                }
            })?;
        dense.truncate(n);
        Ok(self.0.tensors(dense, edge))
    }
}
