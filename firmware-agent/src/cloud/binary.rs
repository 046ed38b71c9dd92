//! The binary tensor extension (Triton / KServe `binary_tensor_data`): a body is a JSON
//! header of `Inference-Header-Content-Length` bytes followed by the raw tensors, in the
//! header's order, each `parameters.binary_data_size` bytes long. Numbers are little-endian;
//! `BOOL` is one byte (0/1); each `BYTES` element is a u32 LE length then its bytes.

use super::CloudError;
use super::tensor::{DataType, TensorData};
use half::f16;

/// The header (request and response) holding the JSON header's length.
pub const HEADER_LENGTH: &str = "inference-header-content-length";
/// `parameters` key: this tensor's binary size.
pub const BINARY_DATA_SIZE: &str = "binary_data_size";
/// Output `parameters` key: answer this output in binary.
pub const BINARY_DATA: &str = "binary_data";
/// Request `parameters` key: answer every output in binary.
pub const BINARY_DATA_OUTPUT: &str = "binary_data_output";

/// Bytes `data` takes in binary form.
pub fn byte_size(data: &TensorData) -> usize {
    match data {
        TensorData::Bytes(v) => v.iter().map(|b| 4 + b.len()).sum(),
        other => other.len() * other.datatype().element_size().unwrap_or(1),
    }
}

/// Appends `data` in binary form to `out`. A `BYTES` element longer than `u32::MAX` is a
/// [`CloudError::Config`].
pub fn append(name: &str, data: &TensorData, out: &mut Vec<u8>) -> Result<(), CloudError> {
    out.reserve(byte_size(data));
    match data {
        TensorData::U8(v) => out.extend_from_slice(v),
        TensorData::I8(v) => out.extend(v.iter().map(|x| x.cast_unsigned())),
        TensorData::Bool(v) => out.extend(v.iter().map(|x| u8::from(*x))),
        TensorData::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::F16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::Bytes(v) => {
            for (i, b) in v.iter().enumerate() {
                let len = u32::try_from(b.len()).map_err(|_| {
                    CloudError::config(format!(
                        "tensor `{name}`: BYTES element {i} is {} bytes, over the u32 limit",
                        b.len()
                    ))
                })?;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    Ok(())
}

fn chunks<const N: usize, T>(bytes: &[u8], from: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            from(a)
        })
        .collect()
}

/// Parses one tensor's binary data. The size must be a whole number of elements; a `BOOL`
/// byte must be 0 or 1; `BYTES` elements must fill the data exactly. Errors are
/// [`CloudError::Malformed`] naming the tensor.
pub fn parse(name: &str, datatype: DataType, bytes: &[u8]) -> Result<TensorData, CloudError> {
    if let Some(size) = datatype.element_size()
        && !bytes.len().is_multiple_of(size)
    {
        return Err(CloudError::malformed(format!(
            "tensor `{name}`: {} binary bytes is not a whole number of {datatype} elements ({size} bytes each)",
            bytes.len()
        )));
    }
    Ok(match datatype {
        DataType::U8 => TensorData::U8(bytes.to_vec()),
        DataType::I8 => TensorData::I8(bytes.iter().map(|b| b.cast_signed()).collect()),
        DataType::Bool => TensorData::Bool(
            bytes
                .iter()
                .enumerate()
                .map(|(i, b)| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    other => Err(CloudError::malformed(format!(
                        "tensor `{name}`: BOOL element {i} is {other}, not 0 or 1"
                    ))),
                })
                .collect::<Result<_, _>>()?,
        ),
        DataType::I32 => TensorData::I32(chunks(bytes, i32::from_le_bytes)),
        DataType::I64 => TensorData::I64(chunks(bytes, i64::from_le_bytes)),
        DataType::F16 => TensorData::F16(chunks(bytes, f16::from_le_bytes)),
        DataType::F32 => TensorData::F32(chunks(bytes, f32::from_le_bytes)),
        DataType::F64 => TensorData::F64(chunks(bytes, f64::from_le_bytes)),
        DataType::Bytes => {
            let mut out = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| {
                    CloudError::malformed(format!(
                        "tensor `{name}`: BYTES element {} has a truncated length prefix",
                        out.len()
                    ))
                })?;
                let len = u32::from_le_bytes(*len) as usize;
                if len > tail.len() {
                    return Err(CloudError::malformed(format!(
                        "tensor `{name}`: BYTES element {} claims {len} bytes, {} left",
                        out.len(),
                        tail.len()
                    )));
                }
                let (elem, tail) = tail.split_at(len);
                out.push(elem.to_vec());
                rest = tail;
            }
            TensorData::Bytes(out)
        }
    })
}

/// Splits a body into its JSON header (`header_len` bytes) and the binary data after it.
pub fn split_body(body: &[u8], header_len: usize) -> Result<(&[u8], &[u8]), CloudError> {
    if header_len > body.len() {
        return Err(CloudError::malformed(format!(
            "{HEADER_LENGTH} is {header_len} but the body is {} bytes",
            body.len()
        )));
    }
    Ok(body.split_at(header_len))
}

/// Hands out consecutive slices of the binary data after the header, in tensor order.
#[derive(Debug)]
pub struct BinaryCursor<'a> {
    rest: &'a [u8],
}

impl<'a> BinaryCursor<'a> {
    /// Over the bytes after the JSON header.
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// The next `size` bytes, for tensor `name`.
    pub fn take(&mut self, name: &str, size: usize) -> Result<&'a [u8], CloudError> {
        if size > self.rest.len() {
            return Err(CloudError::malformed(format!(
                "tensor `{name}`: binary_data_size {size} but only {} binary bytes left",
                self.rest.len()
            )));
        }
        let (head, tail) = self.rest.split_at(size);
        self.rest = tail;
        Ok(head)
    }

    /// Errors when bytes are left over (the sizes did not add up).
    pub fn finish(self) -> Result<(), CloudError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CloudError::malformed(format!(
                "{} binary bytes left after the last tensor (binary_data_size values do not add up)",
                self.rest.len()
            )))
        }
    }
}
