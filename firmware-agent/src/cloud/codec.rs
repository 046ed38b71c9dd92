//! Whole infer bodies in either form: tensors → request/response bytes and back. The client
//! encodes requests and decodes responses; the reference server does the reverse with the
//! same functions, so both sides agree by construction.

use super::CloudError;
use super::binary::{self, BINARY_DATA, BINARY_DATA_SIZE, BinaryCursor};
use super::tensor::{DataType, InferTensor};
use super::wire::{
    self, InferRequestBody, InferResponseBody, RequestInput, RequestOutput, ResponseOutput,
};
use serde_json::{Map, Value};

/// An encoded body: the bytes, and the JSON header's length when binary data follows it
/// (the `Inference-Header-Content-Length` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Whole body.
    pub bytes: Vec<u8>,
    /// JSON header length when the body is binary; `None` for a pure JSON body.
    pub header_len: Option<usize>,
}

fn size_param(n: usize) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(BINARY_DATA_SIZE.into(), Value::from(n as u64));
    p
}

fn json_err(what: &str, e: &serde_json::Error) -> CloudError {
    CloudError::malformed(format!("{what}: {e}"))
}

/// Appends binary data after a serialised header.
fn assemble(
    header: &impl serde::Serialize,
    data: Vec<u8>,
    binary: bool,
) -> Result<Body, CloudError> {
    let mut bytes = serde_json::to_vec(header)
        .map_err(|e| CloudError::config(format!("cannot serialise the JSON header: {e}")))?;
    let header_len = binary.then_some(bytes.len());
    bytes.extend_from_slice(&data);
    Ok(Body { bytes, header_len })
}

/// Encodes an infer request. `binary`: inputs travel as binary data and the listed
/// `outputs` are asked for in binary; else everything is JSON and all outputs are asked for.
pub fn encode_request(
    inputs: &[InferTensor],
    outputs: &[String],
    binary: bool,
) -> Result<Body, CloudError> {
    let mut data = Vec::new();
    let mut wire_inputs = Vec::with_capacity(inputs.len());
    for t in inputs {
        let (parameters, json) = if binary {
            let before = data.len();
            binary::append(&t.name, &t.data, &mut data)?;
            (Some(size_param(data.len() - before)), None)
        } else {
            (None, Some(wire::data_to_json(&t.name, &t.data)?))
        };
        wire_inputs.push(RequestInput {
            name: t.name.clone(),
            shape: t.shape.clone(),
            datatype: t.datatype().wire_name().into(),
            parameters,
            data: json,
        });
    }
    let wire_outputs = binary.then(|| {
        outputs
            .iter()
            .map(|name| {
                let mut p = Map::new();
                p.insert(BINARY_DATA.into(), Value::Bool(true));
                RequestOutput {
                    name: name.clone(),
                    parameters: Some(p),
                }
            })
            .collect()
    });
    let header = InferRequestBody {
        id: None,
        parameters: None,
        inputs: wire_inputs,
        outputs: wire_outputs,
    };
    assemble(&header, data, binary)
}

/// One tensor from its header entry and, when it has `binary_data_size`, the cursor.
fn read_tensor(
    name: &str,
    datatype: &str,
    shape: &[i64],
    parameters: Option<&Map<String, Value>>,
    data: Option<&Value>,
    cursor: &mut BinaryCursor<'_>,
) -> Result<InferTensor, CloudError> {
    match wire::param_usize(parameters, BINARY_DATA_SIZE, name)? {
        Some(size) => {
            let dt = DataType::from_wire(datatype).map_err(|_| {
                CloudError::malformed(format!(
                    "tensor `{name}`: unsupported datatype `{datatype}`"
                ))
            })?;
            if data.is_some() {
                return Err(CloudError::malformed(format!(
                    "tensor `{name}` has both `data` and parameters.binary_data_size"
                )));
            }
            let bytes = cursor.take(name, size)?;
            Ok(InferTensor::new(
                name,
                shape.to_vec(),
                binary::parse(name, dt, bytes)?,
            ))
        }
        None => wire::tensor_from_json(name, datatype, shape, data),
    }
}

/// Splits a body by its header length (`None`: all JSON).
fn split(body: &[u8], header_len: Option<usize>) -> Result<(&[u8], &[u8]), CloudError> {
    match header_len {
        Some(n) => binary::split_body(body, n),
        None => Ok((body, &[])),
    }
}

/// Decodes an infer request: its JSON header and its input tensors (JSON or binary). Does
/// not check shapes against a model. A body that does not decode is
/// [`CloudError::InvalidRequest`] (the sender's fault), never [`CloudError::Malformed`].
pub fn decode_request(
    body: &[u8],
    header_len: Option<usize>,
) -> Result<(InferRequestBody, Vec<InferTensor>), CloudError> {
    decode_request_inner(body, header_len).map_err(CloudError::in_request)
}

fn decode_request_inner(
    body: &[u8],
    header_len: Option<usize>,
) -> Result<(InferRequestBody, Vec<InferTensor>), CloudError> {
    let (json, bin) = split(body, header_len)?;
    let header: InferRequestBody =
        serde_json::from_slice(json).map_err(|e| json_err("request JSON", &e))?;
    let mut cursor = BinaryCursor::new(bin);
    let tensors = header
        .inputs
        .iter()
        .map(|i| {
            read_tensor(
                &i.name,
                &i.datatype,
                &i.shape,
                i.parameters.as_ref(),
                i.data.as_ref(),
                &mut cursor,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    cursor.finish()?;
    Ok((header, tensors))
}

/// Encodes an infer response; `binary(name)` says which outputs go as binary data.
pub fn encode_response(
    model_name: &str,
    model_version: Option<&str>,
    id: Option<String>,
    outputs: &[InferTensor],
    binary: impl Fn(&str) -> bool,
) -> Result<Body, CloudError> {
    let mut data = Vec::new();
    let mut wire_outputs = Vec::with_capacity(outputs.len());
    for t in outputs {
        let (parameters, json) = if binary(&t.name) {
            let before = data.len();
            binary::append(&t.name, &t.data, &mut data)?;
            (Some(size_param(data.len() - before)), None)
        } else {
            (None, Some(wire::data_to_json(&t.name, &t.data)?))
        };
        wire_outputs.push(ResponseOutput {
            name: t.name.clone(),
            shape: t.shape.clone(),
            datatype: t.datatype().wire_name().into(),
            parameters,
            data: json,
        });
    }
    let has_binary = !data.is_empty() || wire_outputs.iter().any(|o| o.parameters.is_some());
    let header = InferResponseBody {
        model_name: model_name.into(),
        model_version: model_version.map(str::to_owned),
        id,
        parameters: None,
        outputs: wire_outputs,
    };
    assemble(&header, data, has_binary)
}

/// Decodes an infer response: its JSON header and output tensors (JSON or binary).
pub fn decode_response(
    body: &[u8],
    header_len: Option<usize>,
) -> Result<(InferResponseBody, Vec<InferTensor>), CloudError> {
    let (json, bin) = split(body, header_len)?;
    let header: InferResponseBody =
        serde_json::from_slice(json).map_err(|e| json_err("response JSON", &e))?;
    let mut cursor = BinaryCursor::new(bin);
    let tensors = header
        .outputs
        .iter()
        .map(|o| {
            read_tensor(
                &o.name,
                &o.datatype,
                &o.shape,
                o.parameters.as_ref(),
                o.data.as_ref(),
                &mut cursor,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    cursor.finish()?;
    Ok((header, tensors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::TensorData;
    use half::f16;

    fn every_type() -> Vec<InferTensor> {
        vec![
            InferTensor::new("b", vec![2], TensorData::Bool(vec![true, false])),
            InferTensor::u8("u8", vec![1, 3], vec![0, 7, 255]),
            InferTensor::new("i8", vec![2], TensorData::I8(vec![-128, 127])),
            InferTensor::new("i32", vec![1], TensorData::I32(vec![-5])),
            InferTensor::new("i64", vec![2], TensorData::I64(vec![i64::MIN, 3])),
            InferTensor::new("f16", vec![1], TensorData::F16(vec![f16::from_f32(1.5)])),
            InferTensor::f32("f32", vec![2], vec![0.1, -3.25e-7]),
            InferTensor::new("f64", vec![1], TensorData::F64(vec![std::f64::consts::PI])),
            InferTensor::bytes("s", vec![2], vec![b"what?".to_vec(), Vec::new()]),
        ]
    }

    #[test]
    fn every_datatype_round_trips_in_both_forms() {
        for binary in [false, true] {
            let req = encode_request(&every_type(), &["y".into()], binary).unwrap();
            assert_eq!(req.header_len.is_some(), binary);
            let (header, back) = decode_request(&req.bytes, req.header_len).unwrap();
            assert_eq!(back, every_type(), "binary={binary}");
            assert_eq!(header.outputs.is_some(), binary);
            let resp =
                encode_response("m", Some("1"), Some("id".into()), &back, |_| binary).unwrap();
            let (header, out) = decode_response(&resp.bytes, resp.header_len).unwrap();
            assert_eq!(out, every_type(), "binary={binary}");
            assert_eq!(header.id.as_deref(), Some("id"));
        }
    }

    #[test]
    fn binary_sizes_that_do_not_add_up_are_malformed() {
        let req = encode_request(&every_type(), &[], true).unwrap();
        let mut short = req.bytes.clone();
        short.pop();
        // At the server these are the request's fault, not a malformed answer.
        let e = decode_request(&short, req.header_len).unwrap_err();
        assert!(matches!(e, CloudError::InvalidRequest { .. }), "{e:?}");
        assert_eq!(e.kind(), crate::cloud::CloudFaultKind::BadRequest);
        assert!(e.to_string().starts_with("invalid infer request: "), "{e}");
        let mut long = req.bytes.clone();
        long.push(0);
        assert!(matches!(
            decode_request(&long, req.header_len),
            Err(CloudError::InvalidRequest { .. })
        ));
        // In a response (at the client) the same fault is a malformed answer.
        let resp = encode_response("m", None, None, &every_type(), |_| true).unwrap();
        let mut short = resp.bytes.clone();
        short.pop();
        assert!(matches!(
            decode_response(&short, resp.header_len),
            Err(CloudError::Malformed { .. })
        ));
        assert!(decode_request(&req.bytes, Some(req.bytes.len() + 1)).is_err());
        assert!(binary::parse("b", DataType::Bool, &[2]).is_err());
        assert!(binary::parse("s", DataType::Bytes, &[5, 0, 0, 0, b'a']).is_err());
        assert!(binary::parse("f", DataType::F32, &[0, 0, 0]).is_err());
    }

    #[test]
    fn json_f32_is_shortest_and_exact() {
        let values = vec![
            0.1f32,
            -3.25e-7,
            1.0 / 3.0,
            f32::MAX,
            f32::MIN_POSITIVE,
            0.0,
        ];
        let t = InferTensor::f32("x", vec![values.len() as i64], values.clone());
        let req = encode_request(std::slice::from_ref(&t), &[], false).unwrap();
        let text = String::from_utf8(req.bytes.clone()).unwrap();
        assert!(text.contains("[0.1,"), "{text}");
        assert!(!text.contains("0.10000000149"), "{text}");
        let (_, back) = decode_request(&req.bytes, None).unwrap();
        assert_eq!(back[0].data, TensorData::F32(values));
    }
}
