//! How many bytes a cloud answer may have: derived from the model's output shapes, with a
//! floor for error bodies and a constant ceiling, so a hostile or broken server streaming an
//! endless body costs the agent at most [`MAX_RESPONSE_BYTES`] of memory.

use super::tensor::{ModelMetadata, element_count};

/// Least cap of any answer: room for an OIP error body (`{"error": …}`) and the JSON
/// framing of an infer answer (id, names, shapes, parameters).
pub const RESPONSE_FLOOR: usize = 64 * 1024;

/// Cap of a control call's answer (health, `GET /v2`, model metadata): 1 MiB is hundreds of
/// times what a metadata body with a few tensors takes.
pub const MAX_CONTROL_RESPONSE: usize = 1024 * 1024;

/// Ceiling of any answer, whatever the metadata says (an output with a `-1` dimension or a
/// `BYTES` output has no size of its own): 64 MiB, far above the logits of any model here,
/// yet bounded on a Jetson with a few GiB of RAM.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes one element may take in a JSON answer (`-1.23456789e-38, ` is 16; room for
/// pretty-printed JSON).
pub const JSON_BYTES_PER_ELEMENT: usize = 24;

/// The cap of an infer answer of `metadata`'s model: [`RESPONSE_FLOOR`] + each output's
/// elements × (its size in binary, or [`JSON_BYTES_PER_ELEMENT`]), at most
/// [`MAX_RESPONSE_BYTES`]. An output with no bound (a `-1` dimension, `BYTES`) gets the
/// ceiling. The answer's form is the server's choice, so the larger of the two is used.
pub fn infer_response_cap(metadata: &ModelMetadata) -> usize {
    let mut cap = RESPONSE_FLOOR;
    for o in &metadata.outputs {
        let bytes = match (element_count(&o.shape), o.datatype.element_size()) {
            (Some(n), Some(size)) => n.saturating_mul(size.max(JSON_BYTES_PER_ELEMENT)),
            _ => MAX_RESPONSE_BYTES,
        };
        cap = cap.saturating_add(bytes);
    }
    cap.min(MAX_RESPONSE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{DataType, TensorSpec};

    fn meta(outputs: Vec<TensorSpec>) -> ModelMetadata {
        ModelMetadata {
            name: "m".into(),
            versions: vec![],
            platform: String::new(),
            inputs: vec![],
            outputs,
        }
    }

    fn spec(datatype: DataType, shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: "o".into(),
            datatype,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn the_cap_follows_the_output_shapes_between_floor_and_ceiling() {
        let logits = meta(vec![spec(DataType::F32, &[1, 13])]);
        assert_eq!(
            infer_response_cap(&logits),
            RESPONSE_FLOOR + 13 * JSON_BYTES_PER_ELEMENT
        );
        assert_eq!(infer_response_cap(&meta(vec![])), RESPONSE_FLOOR);
        for open in [spec(DataType::F32, &[1, -1]), spec(DataType::Bytes, &[1])] {
            assert_eq!(infer_response_cap(&meta(vec![open])), MAX_RESPONSE_BYTES);
        }
        let huge = meta(vec![spec(DataType::F64, &[1 << 20, 1 << 20])]);
        assert_eq!(infer_response_cap(&huge), MAX_RESPONSE_BYTES);
    }
}
