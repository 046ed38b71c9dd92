//! Conversions between [`Tensor`] and `ort` values. Inputs are borrowed (no copy into ONNX
//! Runtime); outputs are copied out, so they outlive the run.

use crate::runtime::tensor::{DType, Tensor, TensorData};
use ort::{
    session::SessionInputValue,
    value::{DynValue, TensorElementType, TensorRef, ValueType},
};

/// The [`DType`] of an ONNX element type; `None` for types the agent does not use.
pub(super) fn dtype_of(ty: TensorElementType) -> Option<DType> {
    Some(match ty {
        TensorElementType::Float32 => DType::F32,
        TensorElementType::Float16 => DType::F16,
        TensorElementType::Float64 => DType::F64,
        TensorElementType::Int8 => DType::I8,
        TensorElementType::Uint8 => DType::U8,
        TensorElementType::Int32 => DType::I32,
        TensorElementType::Int64 => DType::I64,
        TensorElementType::Bool => DType::Bool,
        _ => return None,
    })
}

/// A borrowed `ort` view of `tensor`.
pub(super) fn input_value(tensor: &Tensor) -> ort::Result<SessionInputValue<'_>> {
    let shape: Vec<i64> = tensor
        .shape()
        .iter()
        .map(|&d| i64::try_from(d).unwrap_or(i64::MAX))
        .collect();
    Ok(match tensor.data() {
        TensorData::F32(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
        TensorData::F16(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
        TensorData::F64(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
        TensorData::I8(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
        TensorData::U8(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
        TensorData::I32(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
        TensorData::I64(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
        TensorData::Bool(v) => TensorRef::from_array_view((shape, v.as_slice()))?.into(),
    })
}

/// Copies an output out of ONNX Runtime. `Err` says why it cannot be (not a tensor, an
/// element type the agent does not use).
pub(super) fn output_tensor(value: &DynValue) -> Result<Tensor, String> {
    let ValueType::Tensor { ty, .. } = value.dtype() else {
        return Err(format!("output is a {:?}, not a tensor", value.dtype()));
    };
    let dtype = dtype_of(*ty).ok_or_else(|| format!("element type {ty:?} is not supported"))?;
    fn copy<T: ort::value::PrimitiveTensorElementType + Clone>(
        value: &DynValue,
    ) -> Result<(Vec<usize>, Vec<T>), String> {
        let (shape, data) = value.try_extract_tensor::<T>().map_err(|e| e.to_string())?;
        let shape = shape
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((shape, data.to_vec()))
    }
    let (shape, data) = match dtype {
        DType::F32 => copy::<f32>(value).map(|(s, d)| (s, TensorData::F32(d))),
        DType::F16 => copy::<half::f16>(value).map(|(s, d)| (s, TensorData::F16(d))),
        DType::F64 => copy::<f64>(value).map(|(s, d)| (s, TensorData::F64(d))),
        DType::I8 => copy::<i8>(value).map(|(s, d)| (s, TensorData::I8(d))),
        DType::U8 => copy::<u8>(value).map(|(s, d)| (s, TensorData::U8(d))),
        DType::I32 => copy::<i32>(value).map(|(s, d)| (s, TensorData::I32(d))),
        DType::I64 => copy::<i64>(value).map(|(s, d)| (s, TensorData::I64(d))),
        DType::Bool => copy::<bool>(value).map(|(s, d)| (s, TensorData::Bool(d))),
    }?;
    Tensor::new(shape, data).map_err(|e| e.to_string())
}
