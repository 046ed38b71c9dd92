//! Tensors as the client sees them: [`DataType`], [`TensorData`], [`InferTensor`], the
//! model's [`TensorSpec`]s, and checking one against the other.

use super::{CloudError, TensorFormat};
use half::f16;
use std::time::Duration;

/// An OIP v2 tensor datatype (the subset the client carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `BOOL`: one byte per element, 0 or 1.
    Bool,
    /// `UINT8`.
    U8,
    /// `INT8`.
    I8,
    /// `INT32`.
    I32,
    /// `INT64`.
    I64,
    /// `FP16`.
    F16,
    /// `FP32`.
    F32,
    /// `FP64`.
    F64,
    /// `BYTES`: variable-length byte strings (JSON: UTF-8 strings; binary: u32 LE length
    /// prefix per element).
    Bytes,
}

impl DataType {
    /// Every datatype.
    pub const ALL: [Self; 9] = [
        Self::Bool,
        Self::U8,
        Self::I8,
        Self::I32,
        Self::I64,
        Self::F16,
        Self::F32,
        Self::F64,
        Self::Bytes,
    ];

    /// The wire name (`FP32`, …).
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::U8 => "UINT8",
            Self::I8 => "INT8",
            Self::I32 => "INT32",
            Self::I64 => "INT64",
            Self::F16 => "FP16",
            Self::F32 => "FP32",
            Self::F64 => "FP64",
            Self::Bytes => "BYTES",
        }
    }

    /// Parses a wire name; any other name is [`CloudError::Malformed`] naming it.
    pub fn from_wire(name: &str) -> Result<Self, CloudError> {
        Self::ALL
            .into_iter()
            .find(|d| d.wire_name() == name)
            .ok_or_else(|| CloudError::malformed(format!("unsupported tensor datatype `{name}`")))
    }

    /// Bytes per element in the binary extension; `None` for `BYTES` (variable).
    pub fn element_size(self) -> Option<usize> {
        match self {
            Self::Bool | Self::U8 | Self::I8 => Some(1),
            Self::F16 => Some(2),
            Self::I32 | Self::F32 => Some(4),
            Self::I64 | Self::F64 => Some(8),
            Self::Bytes => None,
        }
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// One input or output as the model's metadata declares it; `-1` in `shape` is any size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Datatype.
    pub datatype: DataType,
    /// Shape; `-1` = variable.
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{model}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelMetadata {
    /// Model name.
    pub name: String,
    /// Versions the server has.
    pub versions: Vec<String>,
    /// Backend (`onnxruntime_onnx`, …).
    pub platform: String,
    /// Inputs.
    pub inputs: Vec<TensorSpec>,
    /// Outputs.
    pub outputs: Vec<TensorSpec>,
}

/// What [`super::CloudClient::connect`] settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The format infers use: [`TensorFormat::Binary`] or [`TensorFormat::Json`], never
    /// `Auto`.
    pub format: TensorFormat,
    /// The model's metadata.
    pub metadata: ModelMetadata,
    /// Server name and version from `GET /v2` (`msao-cloud 0.1.0`, `triton 2.50.0`).
    pub server: String,
}

/// A tensor's values, flat and row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// `UINT8`.
    U8(Vec<u8>),
    /// `INT8`.
    I8(Vec<i8>),
    /// `FP32`.
    F32(Vec<f32>),
    /// `INT64`.
    I64(Vec<i64>),
    /// `BYTES`.
    Bytes(Vec<Vec<u8>>),
    /// `BOOL`.
    Bool(Vec<bool>),
    /// `INT32`.
    I32(Vec<i32>),
    /// `FP16`.
    F16(Vec<f16>),
    /// `FP64`.
    F64(Vec<f64>),
}

impl TensorData {
    /// The datatype.
    pub fn datatype(&self) -> DataType {
        match self {
            Self::U8(_) => DataType::U8,
            Self::I8(_) => DataType::I8,
            Self::F32(_) => DataType::F32,
            Self::I64(_) => DataType::I64,
            Self::Bytes(_) => DataType::Bytes,
            Self::Bool(_) => DataType::Bool,
            Self::I32(_) => DataType::I32,
            Self::F16(_) => DataType::F16,
            Self::F64(_) => DataType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::Bytes(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::F64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A named tensor: an infer input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct InferTensor {
    /// Name.
    pub name: String,
    /// Shape.
    pub shape: Vec<i64>,
    /// Values, row-major.
    pub data: TensorData,
}

impl InferTensor {
    /// A tensor from parts.
    pub fn new(name: impl Into<String>, shape: Vec<i64>, data: TensorData) -> Self {
        Self {
            name: name.into(),
            shape,
            data,
        }
    }

    /// A `UINT8` tensor.
    pub fn u8(name: impl Into<String>, shape: Vec<i64>, data: Vec<u8>) -> Self {
        Self::new(name, shape, TensorData::U8(data))
    }

    /// An `FP32` tensor.
    pub fn f32(name: impl Into<String>, shape: Vec<i64>, data: Vec<f32>) -> Self {
        Self::new(name, shape, TensorData::F32(data))
    }

    /// A `BYTES` tensor.
    pub fn bytes(name: impl Into<String>, shape: Vec<i64>, data: Vec<Vec<u8>>) -> Self {
        Self::new(name, shape, TensorData::Bytes(data))
    }

    /// The datatype.
    pub fn datatype(&self) -> DataType {
        self.data.datatype()
    }

    /// Checks that the shape is concrete (no negative dims) and its element count matches
    /// the data.
    pub fn check_len(&self) -> Result<(), CloudError> {
        let count = element_count(&self.shape).ok_or_else(|| {
            CloudError::shape(
                &self.name,
                "a concrete shape (no negative dims, count fits usize)",
                format!("{:?}", self.shape),
            )
        })?;
        if count != self.data.len() {
            return Err(CloudError::shape(
                &self.name,
                format!("{count} elements for shape {:?}", self.shape),
                format!("{} elements", self.data.len()),
            ));
        }
        Ok(())
    }
}

/// Elements in a concrete shape; `None` for a negative dim or overflow.
pub fn element_count(shape: &[i64]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, d| {
        usize::try_from(*d).ok().and_then(|d| acc.checked_mul(d))
    })
}

/// True when a concrete `shape` fits `spec` (same rank; `-1` in the spec matches any size).
pub fn shape_matches(spec: &[i64], shape: &[i64]) -> bool {
    spec.len() == shape.len() && spec.iter().zip(shape).all(|(s, d)| *s < 0 || s == d)
}

/// Checks one tensor against its spec: datatype, shape (with wildcards), element count.
pub fn check_against(spec: &TensorSpec, tensor: &InferTensor) -> Result<(), CloudError> {
    if tensor.datatype() != spec.datatype {
        return Err(CloudError::shape(
            &tensor.name,
            format!("datatype {}", spec.datatype),
            format!("{}", tensor.datatype()),
        ));
    }
    if !shape_matches(&spec.shape, &tensor.shape) {
        return Err(CloudError::shape(
            &tensor.name,
            format!("shape {:?}", spec.shape),
            format!("{:?}", tensor.shape),
        ));
    }
    tensor.check_len()
}

/// Checks a request's inputs against the model's: each input is declared (once) and fits
/// its spec, and every declared input is given.
pub fn check_inputs(metadata: &ModelMetadata, inputs: &[InferTensor]) -> Result<(), CloudError> {
    for (i, t) in inputs.iter().enumerate() {
        let spec = metadata
            .inputs
            .iter()
            .find(|s| s.name == t.name)
            .ok_or_else(|| {
                CloudError::shape(
                    &t.name,
                    format!(
                        "an input of `{}` ({})",
                        metadata.name,
                        names(&metadata.inputs)
                    ),
                    "an unknown input",
                )
            })?;
        if inputs[..i].iter().any(|o| o.name == t.name) {
            return Err(CloudError::shape(&t.name, "one tensor", "a duplicate"));
        }
        check_against(spec, t)?;
    }
    if let Some(missing) = metadata
        .inputs
        .iter()
        .find(|s| !inputs.iter().any(|t| t.name == s.name))
    {
        return Err(CloudError::shape(
            &missing.name,
            format!("{} {:?}", missing.datatype, missing.shape),
            "nothing (input missing)",
        ));
    }
    Ok(())
}

/// Checks a reply's outputs against the model's declared outputs: each is declared and fits
/// its spec, and every declared output is there.
pub fn check_outputs(metadata: &ModelMetadata, outputs: &[InferTensor]) -> Result<(), CloudError> {
    for t in outputs {
        match metadata.outputs.iter().find(|s| s.name == t.name) {
            Some(spec) => check_against(spec, t)?,
            None => {
                return Err(CloudError::shape(
                    &t.name,
                    format!(
                        "an output of `{}` ({})",
                        metadata.name,
                        names(&metadata.outputs)
                    ),
                    "an undeclared output",
                ));
            }
        }
    }
    if let Some(missing) = metadata
        .outputs
        .iter()
        .find(|s| !outputs.iter().any(|t| t.name == s.name))
    {
        return Err(CloudError::shape(
            &missing.name,
            format!("{} {:?}", missing.datatype, missing.shape),
            "nothing (output missing from the reply)",
        ));
    }
    Ok(())
}

fn names(specs: &[TensorSpec]) -> String {
    let n: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    n.join(", ")
}

/// One infer's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct InferReply {
    /// Output tensors, checked against the metadata.
    pub outputs: Vec<InferTensor>,
    /// Request body bytes sent (JSON header and binary data).
    pub bytes_up: usize,
    /// Response body bytes received.
    pub bytes_down: usize,
    /// Request sent → reply parsed (connect included when it had to connect).
    pub elapsed: Duration,
    /// Format used: `Binary` or `Json`.
    pub format: TensorFormat,
}

impl InferReply {
    /// An output by name.
    pub fn output(&self, name: &str) -> Option<&InferTensor> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// An `FP32` output's values; a missing output or another datatype is
    /// [`CloudError::Shape`].
    pub fn f32(&self, name: &str) -> Result<&[f32], CloudError> {
        match self.output(name).map(|o| &o.data) {
            Some(TensorData::F32(v)) => Ok(v),
            Some(other) => Err(CloudError::shape(
                name,
                "datatype FP32",
                other.datatype().wire_name(),
            )),
            None => Err(CloudError::shape(
                name,
                "an output",
                "no such output in the reply",
            )),
        }
    }
}
