//! The OIP v2 REST JSON bodies (server metadata, model metadata, infer request and
//! response, errors) and JSON tensor data ↔ [`TensorData`]. Shared by the client and the
//! reference server (`msao-host cloud`).
//!
//! Reading is as lenient as the protocol allows: a field the OIP v2 spec marks `#optional`
//! (model `versions`, `model_version`, `id`, `parameters`) may be absent *or* `null` (KServe
//! 0.21 sends `"versions": null`), and so may the lists and strings a server can leave empty
//! (`extensions`, `platform`, `inputs`, `outputs`): both read as empty. Required fields
//! (`name`, a tensor's `datatype` and `shape`, a response's `outputs`) stay required.

use super::CloudError;
use super::tensor::{DataType, InferTensor, ModelMetadata, TensorData, TensorSpec};
use half::f16;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Name of the binary tensor extension in the server metadata.
pub const BINARY_EXTENSION: &str = "binary_tensor_data";

/// `null` reads as absent: the type's default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `GET /v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// Server name.
    pub name: String,
    /// Server version.
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    /// Protocol extensions (`binary_tensor_data`, …).
    #[serde(default, deserialize_with = "null_as_default")]
    pub extensions: Vec<String>,
}

/// One tensor in the model metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataTensor {
    /// Name.
    pub name: String,
    /// Wire datatype (`FP32`).
    pub datatype: String,
    /// Shape; `-1` = variable.
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{model}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadataBody {
    /// Model name.
    pub name: String,
    /// Versions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    /// Backend.
    #[serde(default, deserialize_with = "null_as_default")]
    pub platform: String,
    /// Inputs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub inputs: Vec<MetadataTensor>,
    /// Outputs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub outputs: Vec<MetadataTensor>,
}

impl MetadataTensor {
    /// From a spec.
    pub fn from_spec(spec: &TensorSpec) -> Self {
        Self {
            name: spec.name.clone(),
            datatype: spec.datatype.wire_name().into(),
            shape: spec.shape.clone(),
        }
    }

    /// To a spec; an unknown datatype is [`CloudError::Malformed`].
    pub fn to_spec(&self) -> Result<TensorSpec, CloudError> {
        Ok(TensorSpec {
            name: self.name.clone(),
            datatype: DataType::from_wire(&self.datatype).map_err(|_| {
                CloudError::malformed(format!(
                    "tensor `{}`: unsupported datatype `{}`",
                    self.name, self.datatype
                ))
            })?,
            shape: self.shape.clone(),
        })
    }
}

impl ModelMetadataBody {
    /// From metadata.
    pub fn from_metadata(m: &ModelMetadata) -> Self {
        Self {
            name: m.name.clone(),
            versions: m.versions.clone(),
            platform: m.platform.clone(),
            inputs: m.inputs.iter().map(MetadataTensor::from_spec).collect(),
            outputs: m.outputs.iter().map(MetadataTensor::from_spec).collect(),
        }
    }

    /// To metadata.
    pub fn to_metadata(&self) -> Result<ModelMetadata, CloudError> {
        Ok(ModelMetadata {
            name: self.name.clone(),
            versions: self.versions.clone(),
            platform: self.platform.clone(),
            inputs: self
                .inputs
                .iter()
                .map(MetadataTensor::to_spec)
                .collect::<Result<_, _>>()?,
            outputs: self
                .outputs
                .iter()
                .map(MetadataTensor::to_spec)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// One input of an infer request (JSON data, or `parameters.binary_data_size`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestInput {
    /// Name.
    pub name: String,
    /// Shape.
    pub shape: Vec<i64>,
    /// Wire datatype.
    pub datatype: String,
    /// Parameters (`binary_data_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// JSON data (flat or nested, row-major); absent when the data is binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// One requested output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestOutput {
    /// Name.
    pub name: String,
    /// Parameters (`binary_data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
}

/// `POST /v2/models/{model}/infer` body (or its JSON header).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferRequestBody {
    /// Request id, echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Parameters (`binary_data_output`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// Inputs.
    pub inputs: Vec<RequestInput>,
    /// Outputs asked for; absent = all, in JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RequestOutput>>,
}

/// One output of an infer response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseOutput {
    /// Name.
    pub name: String,
    /// Shape.
    pub shape: Vec<i64>,
    /// Wire datatype.
    pub datatype: String,
    /// Parameters (`binary_data_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// JSON data; absent when binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// Infer response body (or its JSON header).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferResponseBody {
    /// Model name.
    pub model_name: String,
    /// Model version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// Request id, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// Outputs.
    pub outputs: Vec<ResponseOutput>,
}

/// `{"error": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The message.
    pub error: String,
}

/// `parameters[key]` as a non-negative integer; `Ok(None)` when absent or `null`.
pub fn param_usize(
    params: Option<&Map<String, Value>>,
    key: &str,
    tensor: &str,
) -> Result<Option<usize>, CloudError> {
    match params.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                CloudError::malformed(format!(
                    "tensor `{tensor}`: parameters.{key} must be a non-negative integer, got {v}"
                ))
            }),
    }
}

/// `parameters[key]` as a bool (absent = false).
pub fn param_bool(params: Option<&Map<String, Value>>, key: &str) -> bool {
    params
        .and_then(|p| p.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A tensor's values as JSON (flat array; `BYTES` as UTF-8 strings, non-UTF-8 bytes are a
/// [`CloudError::Config`]: send them with the binary extension).
pub fn data_to_json(name: &str, data: &TensorData) -> Result<Value, CloudError> {
    fn nums<T: Copy + Into<Value>>(v: &[T]) -> Value {
        Value::Array(v.iter().map(|x| (*x).into()).collect())
    }
    Ok(match data {
        TensorData::U8(v) => nums(v),
        TensorData::I8(v) => nums(v),
        TensorData::I32(v) => nums(v),
        TensorData::I64(v) => nums(v),
        TensorData::F32(v) => Value::Array(v.iter().map(|x| f32_json(*x)).collect()),
        TensorData::F64(v) => nums(v),
        TensorData::F16(v) => Value::Array(v.iter().map(|x| f32_json(x.to_f32())).collect()),
        TensorData::Bool(v) => nums(v),
        TensorData::Bytes(v) => Value::Array(
            v.iter()
                .enumerate()
                .map(|(i, b)| {
                    std::str::from_utf8(b)
                        .map(|s| Value::String(s.to_owned()))
                        .map_err(|_| {
                            CloudError::config(format!(
                                "tensor `{name}`: BYTES element {i} is not UTF-8; JSON tensors carry text only (use the binary format)"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// An f32 as the JSON number with its shortest decimal form (`0.1`, not the widened
/// `0.10000000149011612`): it reads back as the same f32 and halves JSON uploads. Non-finite
/// values become `null`, as serde_json does.
fn f32_json(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Flattens nested arrays (row-major) into `out`.
fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// JSON data (flat or nested) → values of `datatype`; an element of the wrong kind or out
/// of range is [`CloudError::Malformed`] naming the tensor and the element.
pub fn data_from_json(name: &str, datatype: DataType, v: &Value) -> Result<TensorData, CloudError> {
    let mut flat = Vec::new();
    flatten(v, &mut flat);
    let bad = |i: usize, x: &Value| {
        let mut shown = x.to_string();
        shown.truncate(40);
        CloudError::malformed(format!(
            "tensor `{name}`: element {i} ({shown}) is not a valid {datatype}"
        ))
    };
    fn ints<T: TryFrom<i64>>(
        flat: &[&Value],
        bad: &dyn Fn(usize, &Value) -> CloudError,
    ) -> Result<Vec<T>, CloudError> {
        flat.iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_i64()
                    .and_then(|n| T::try_from(n).ok())
                    .ok_or_else(|| bad(i, x))
            })
            .collect()
    }
    let floats = |flat: &[&Value]| -> Result<Vec<f64>, CloudError> {
        flat.iter()
            .enumerate()
            .map(|(i, x)| x.as_f64().ok_or_else(|| bad(i, x)))
            .collect()
    };
    Ok(match datatype {
        DataType::U8 => TensorData::U8(ints(&flat, &bad)?),
        DataType::I8 => TensorData::I8(ints(&flat, &bad)?),
        DataType::I32 => TensorData::I32(ints(&flat, &bad)?),
        DataType::I64 => TensorData::I64(ints(&flat, &bad)?),
        DataType::F32 => TensorData::F32(floats(&flat)?.into_iter().map(|x| x as f32).collect()),
        DataType::F64 => TensorData::F64(floats(&flat)?),
        DataType::F16 => TensorData::F16(floats(&flat)?.into_iter().map(f16::from_f64).collect()),
        DataType::Bool => TensorData::Bool(
            flat.iter()
                .enumerate()
                .map(|(i, x)| x.as_bool().ok_or_else(|| bad(i, x)))
                .collect::<Result<_, _>>()?,
        ),
        DataType::Bytes => TensorData::Bytes(
            flat.iter()
                .enumerate()
                .map(|(i, x)| {
                    x.as_str()
                        .map(|s| s.as_bytes().to_vec())
                        .ok_or_else(|| bad(i, x))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A JSON tensor (request input or response output) from its parts.
pub fn tensor_from_json(
    name: &str,
    datatype: &str,
    shape: &[i64],
    data: Option<&Value>,
) -> Result<InferTensor, CloudError> {
    let dt = DataType::from_wire(datatype).map_err(|_| {
        CloudError::malformed(format!(
            "tensor `{name}`: unsupported datatype `{datatype}`"
        ))
    })?;
    let data = data.ok_or_else(|| {
        CloudError::malformed(format!(
            "tensor `{name}`: no `data` and no parameters.binary_data_size"
        ))
    })?;
    Ok(InferTensor::new(
        name,
        shape.to_vec(),
        data_from_json(name, dt, data)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What KServe 0.21's Python `ModelServer` answers for a custom model: `null` for every
    /// optional field it has no value for.
    #[test]
    fn null_and_absent_optional_metadata_fields_read_as_empty() {
        let kserve = r#"{"name":"vqa-cloud","versions":null,"platform":"","inputs":[
            {"name":"compact","datatype":"UINT8","shape":[1,-1],"parameters":null}],
            "outputs":[{"name":"logits","datatype":"FP32","shape":[1,13]}]}"#;
        let m = serde_json::from_str::<ModelMetadataBody>(kserve)
            .unwrap()
            .to_metadata()
            .unwrap();
        assert_eq!(m.name, "vqa-cloud");
        assert!(m.versions.is_empty());
        assert_eq!(m.inputs[0].datatype, DataType::U8);
        assert_eq!(m.inputs[0].shape, [1, -1]);
        assert_eq!(m.outputs[0].name, "logits");

        for body in [
            r#"{"name":"m","versions":null,"platform":null,"inputs":null,"outputs":null}"#,
            r#"{"name":"m"}"#,
        ] {
            let m = serde_json::from_str::<ModelMetadataBody>(body).unwrap_or_else(|e| {
                panic!("{body}: {e}");
            });
            assert_eq!(
                m,
                ModelMetadataBody {
                    name: "m".into(),
                    versions: vec![],
                    platform: String::new(),
                    inputs: vec![],
                    outputs: vec![],
                },
                "{body}"
            );
        }
        // Required fields stay required.
        assert!(serde_json::from_str::<ModelMetadataBody>(r#"{"versions":["1"]}"#).is_err());
        assert!(serde_json::from_str::<ModelMetadataBody>(r#"{"name":null}"#).is_err());
        let no_shape = r#"{"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":null}]}"#;
        assert!(serde_json::from_str::<ModelMetadataBody>(no_shape).is_err());
        // A version list that is there is kept.
        let m: ModelMetadataBody =
            serde_json::from_str(r#"{"name":"m","versions":["1","2"]}"#).unwrap();
        assert_eq!(m.versions, ["1", "2"]);
    }

    #[test]
    fn null_server_metadata_fields_read_as_empty() {
        let s: ServerMetadata =
            serde_json::from_str(r#"{"name":"kserve","version":null,"extensions":null}"#).unwrap();
        assert_eq!((s.name.as_str(), s.version.as_str()), ("kserve", ""));
        assert!(s.extensions.is_empty());
        let s: ServerMetadata = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert!(s.extensions.is_empty());
        assert!(serde_json::from_str::<ServerMetadata>(r#"{"version":"1"}"#).is_err());
    }

    #[test]
    fn null_optional_infer_response_fields_are_absent() {
        let body = r#"{"model_name":"vqa-cloud","model_version":null,"id":null,"parameters":null,
            "outputs":[{"name":"logits","shape":[1,2],"datatype":"FP32","parameters":null,
            "data":[0.5,-1.0]}]}"#;
        let r: InferResponseBody = serde_json::from_str(body).unwrap();
        assert_eq!(r.model_version, None);
        assert_eq!(r.id, None);
        let o = &r.outputs[0];
        let t = tensor_from_json(&o.name, &o.datatype, &o.shape, o.data.as_ref()).unwrap();
        assert_eq!(t.data, TensorData::F32(vec![0.5, -1.0]));
        // `binary_data_size: null` is no binary size.
        let mut p = Map::new();
        p.insert("binary_data_size".into(), Value::Null);
        assert_eq!(
            param_usize(Some(&p), "binary_data_size", "x").unwrap(),
            None
        );
        p.insert("binary_data_size".into(), Value::from(-1));
        assert!(param_usize(Some(&p), "binary_data_size", "x").is_err());
    }
}
