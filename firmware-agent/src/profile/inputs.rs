//! Synthetic inputs for profiling: every manifest input at its concrete shape (batch and
//! named dimensions filled in) with deterministic pseudo-random data (SplitMix64, seeded
//! by the spec's seed and the input's name) or the constant the manifest asks for.

use super::ProfileError;
use crate::runtime::{
    DType, NamedTensor, Tensor, TensorData,
    manifest::{Fill, ModelManifest, TensorSpec},
    tensor::{element_count, format_shape},
};
use half::f16;
use std::collections::BTreeMap;

/// Most elements in one synthetic input (1 GiB of `f32`).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// One tensor per manifest input, in manifest order.
pub fn synthetic_inputs(
    manifest: &ModelManifest,
    batch: usize,
    dims: &BTreeMap<String, usize>,
    seed: u64,
) -> Result<Vec<NamedTensor>, ProfileError> {
    manifest
        .inputs
        .iter()
        .map(|spec| {
            let fail = |reason: String| ProfileError::Input {
                model: manifest.label(),
                tensor: spec.name.clone(),
                reason,
            };
            let shape = manifest
                .concrete_shape(spec, batch, dims)
                .ok_or_else(|| fail("a named dimension has no value".into()))?;
            let n = element_count(&shape);
            if n > MAX_ELEMENTS {
                return Err(fail(format!(
                    "shape {} has {n} elements, over {MAX_ELEMENTS}",
                    format_shape(&shape)
                )));
            }
            let mut rng = SplitMix64::new(seed ^ fnv1a(spec.name.as_bytes()));
            let data = fill(spec, n, &mut rng);
            let tensor = Tensor::new(shape, data).map_err(|e| fail(e.to_string()))?;
            Ok(NamedTensor::new(spec.name.clone(), tensor))
        })
        .collect()
}

fn fill(spec: &TensorSpec, n: usize, rng: &mut SplitMix64) -> TensorData {
    // Every element as f64 first, then converted: simple, and profiling inputs are built
    // once per entry, outside the timed loop.
    let values: Vec<f64> = match spec.fill {
        Fill::Const(v) => vec![v; n],
        Fill::Range(lo, hi) if is_integer(spec.dtype) => {
            let (lo, hi) = (lo.ceil(), hi.floor().max(lo.ceil()));
            let span = hi - lo + 1.0;
            (0..n)
                .map(|_| lo + (rng.unit() * span).floor().min(span - 1.0))
                .collect()
        }
        Fill::Range(lo, hi) => (0..n).map(|_| lo + rng.unit() * (hi - lo)).collect(),
    };
    match spec.dtype {
        DType::F32 => TensorData::F32(values.iter().map(|&v| v as f32).collect()),
        DType::F16 => TensorData::F16(values.iter().map(|&v| f16::from_f64(v)).collect()),
        DType::F64 => TensorData::F64(values),
        DType::I8 => TensorData::I8(values.iter().map(|&v| v.round() as i8).collect()),
        DType::U8 => TensorData::U8(values.iter().map(|&v| v.round() as u8).collect()),
        DType::I32 => TensorData::I32(values.iter().map(|&v| v.round() as i32).collect()),
        DType::I64 => TensorData::I64(values.iter().map(|&v| v.round() as i64).collect()),
        DType::Bool => TensorData::Bool(match spec.fill {
            Fill::Const(v) => vec![v != 0.0; n],
            Fill::Range(..) => (0..n).map(|_| rng.unit() < 0.5).collect(),
        }),
    }
}

fn is_integer(d: DType) -> bool {
    matches!(d, DType::I8 | DType::U8 | DType::I32 | DType::I64)
}

/// FNV-1a, to derive one seed per input name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ModelManifest;
    use std::path::Path;

    const TOML: &str = r#"
name = "t"
modality = "audio"
precision = "fp32"
file = "t.onnx"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
licence = "MIT"
provenance = { source = "test" }
dims = { samples = 8 }
preprocess = { kind = "audio", sample_rate = 16000, chunk = 8 }
[[inputs]]
name = "x"
dtype = "f32"
shape = ["batch", "samples"]
range = [-0.5, 0.5]
[[inputs]]
name = "ids"
dtype = "i64"
shape = ["batch", 3]
range = [2, 4]
[[inputs]]
name = "sr"
dtype = "i64"
shape = []
fill = 16000
[[outputs]]
name = "y"
dtype = "f32"
shape = ["batch", 1]
"#;

    #[test]
    fn shapes_ranges_constants_and_determinism() {
        let m = ModelManifest::from_toml(TOML, Path::new("/m/t.toml")).unwrap();
        let mut dims = BTreeMap::new();
        let a = synthetic_inputs(&m, 2, &dims, 7).unwrap();
        assert_eq!(a[0].tensor.shape(), &[2, 8]);
        let x = a[0].tensor.as_f32().unwrap();
        assert!(x.iter().all(|v| (-0.5..0.5).contains(v)));
        let TensorData::I64(ids) = a[1].tensor.data() else {
            panic!()
        };
        assert!(ids.iter().all(|v| (2..=4).contains(v)));
        assert_eq!(a[2].tensor.data(), &TensorData::I64(vec![16000]));
        assert_eq!(
            a,
            synthetic_inputs(&m, 2, &dims, 7).unwrap(),
            "same seed, same data"
        );
        assert_ne!(a[0], synthetic_inputs(&m, 2, &dims, 8).unwrap()[0]);
        dims.insert("samples".into(), 3);
        assert_eq!(
            synthetic_inputs(&m, 1, &dims, 7).unwrap()[0].tensor.shape(),
            &[1, 3]
        );
        // The inputs pass the manifest's own run-time check.
        m.check_inputs(&a).unwrap();
    }
}
