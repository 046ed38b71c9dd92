//! [`Tensor`]: a dense row-major array with a shape and one element type, the currency
//! of [`super::LoadedModel::run`]. Small on purpose: no views, no broadcasting.

use half::f16;
use std::fmt;

/// Element type of a tensor (the ONNX element types the agent's models use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// 32-bit float (`tensor(float)`).
    F32,
    /// 16-bit float (`tensor(float16)`).
    F16,
    /// 64-bit float (`tensor(double)`).
    F64,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Boolean.
    Bool,
}

impl DType {
    /// Every type, in manifest spelling order.
    pub const ALL: [DType; 8] = [
        Self::F32,
        Self::F16,
        Self::F64,
        Self::I8,
        Self::U8,
        Self::I32,
        Self::I64,
        Self::Bool,
    ];

    /// Name as written in manifests (`f32`, `i64`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::F64 => "f64",
            Self::I8 => "i8",
            Self::U8 => "u8",
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::Bool => "bool",
        }
    }

    /// Parses the manifest spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The elements of a tensor, one variant per [`DType`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f16` elements.
    F16(Vec<f16>),
    /// `f64` elements.
    F64(Vec<f64>),
    /// `i8` elements.
    I8(Vec<i8>),
    /// `u8` elements.
    U8(Vec<u8>),
    /// `i32` elements.
    I32(Vec<i32>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// `bool` elements.
    Bool(Vec<bool>),
}

impl TensorData {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            Self::F32(_) => DType::F32,
            Self::F16(_) => DType::F16,
            Self::F64(_) => DType::F64,
            Self::I8(_) => DType::I8,
            Self::U8(_) => DType::U8,
            Self::I32(_) => DType::I32,
            Self::I64(_) => DType::I64,
            Self::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::U8(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::Bool(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` zeros (or `false`) of `dtype`.
    pub fn zeros(dtype: DType, len: usize) -> Self {
        match dtype {
            DType::F32 => Self::F32(vec![0.0; len]),
            DType::F16 => Self::F16(vec![f16::ZERO; len]),
            DType::F64 => Self::F64(vec![0.0; len]),
            DType::I8 => Self::I8(vec![0; len]),
            DType::U8 => Self::U8(vec![0; len]),
            DType::I32 => Self::I32(vec![0; len]),
            DType::I64 => Self::I64(vec![0; len]),
            DType::Bool => Self::Bool(vec![false; len]),
        }
    }
}

/// A shape whose element count does not match the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shape {shape:?} holds {expected} elements but {actual} were given")]
pub struct ShapeMismatch {
    /// The shape.
    pub shape: Vec<usize>,
    /// Elements the shape holds.
    pub expected: usize,
    /// Elements given.
    pub actual: usize,
}

/// A dense row-major tensor. Invariant: the shape's element count equals the data length
/// (a scalar has the empty shape and one element).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

impl Tensor {
    /// A tensor from a shape and its elements.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Self, ShapeMismatch> {
        let expected = element_count(&shape);
        if expected != data.len() {
            return Err(ShapeMismatch {
                shape,
                expected,
                actual: data.len(),
            });
        }
        Ok(Self { shape, data })
    }

    /// An `f32` tensor.
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, ShapeMismatch> {
        Self::new(shape, TensorData::F32(data))
    }

    /// An `i64` tensor.
    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Result<Self, ShapeMismatch> {
        Self::new(shape, TensorData::I64(data))
    }

    /// A tensor of zeros.
    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Self {
        let len = element_count(&shape);
        Self {
            shape,
            data: TensorData::zeros(dtype, len),
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// The elements.
    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The `f32` elements, `None` for other types.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }

    /// Size of the elements in bytes.
    pub fn byte_len(&self) -> usize {
        let width = match self.dtype() {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        };
        self.len() * width
    }
}

/// A tensor with its graph name: an input to or an output of a model run.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Input or output name in the graph (and the manifest).
    pub name: String,
    /// The value.
    pub tensor: Tensor,
}

impl NamedTensor {
    /// Pairs a name with a tensor.
    pub fn new(name: impl Into<String>, tensor: Tensor) -> Self {
        Self {
            name: name.into(),
            tensor,
        }
    }
}

/// Elements in a shape (1 for the scalar shape `[]`), saturating on overflow.
pub fn element_count(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |n, d| n.saturating_mul(*d))
}

/// Formats a shape as `[1, 576]`.
pub fn format_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_must_match_data() {
        assert!(Tensor::f32(vec![2, 3], vec![0.0; 6]).is_ok());
        let err = Tensor::f32(vec![2, 3], vec![0.0; 5]).unwrap_err();
        assert_eq!((err.expected, err.actual), (6, 5));
        // A scalar holds one element.
        assert!(Tensor::i64(vec![], vec![16000]).is_ok());
        assert!(Tensor::i64(vec![], vec![]).is_err());
    }

    #[test]
    fn dtype_names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::parse(d.as_str()), Some(d));
        }
        assert_eq!(DType::parse("float"), None);
    }

    #[test]
    fn zeros_and_sizes() {
        let t = Tensor::zeros(DType::F16, vec![2, 4]);
        assert_eq!((t.len(), t.byte_len(), t.dtype()), (8, 16, DType::F16));
        assert_eq!(format_shape(&[1, 576]), "[1, 576]");
        assert_eq!(format_shape(&[]), "[]");
    }
}
