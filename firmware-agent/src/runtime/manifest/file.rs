//! The manifest's TOML shape (unknown keys are errors) and its validation into
//! [`ModelManifest`].

use super::{
    BATCH_DIM, DEFAULT_FILL, Dim, Fill, MAX_NAME, ManifestError, ModelManifest, Provenance,
    TensorSpec, parse_modality, parse_precision,
};
use crate::runtime::tensor::DType;
use serde::Deserialize;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Component, Path},
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    name: String,
    modality: String,
    precision: String,
    file: String,
    sha256: String,
    licence: String,
    provenance: ProvenanceFile,
    #[serde(default)]
    dims: BTreeMap<String, u32>,
    inputs: Vec<TensorFile>,
    outputs: Vec<TensorFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvenanceFile {
    source: String,
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorFile {
    name: String,
    dtype: String,
    shape: Vec<DimFile>,
    fill: Option<f64>,
    range: Option<[f64; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DimFile {
    Fixed(u32),
    Named(String),
}

/// Parses and validates manifest text; `path` names the manifest in errors and anchors
/// the relative ONNX file.
pub(super) fn parse(text: &str, path: &Path) -> Result<ModelManifest, ManifestError> {
    let parse_error = |key: Option<String>, source| ManifestError::Parse {
        path: path.to_path_buf(),
        key,
        source: Box::new(source),
    };
    let de = toml::Deserializer::parse(text).map_err(|e| parse_error(None, e))?;
    let raw: ManifestFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = (key != ".").then_some(key);
        parse_error(key, e.into_inner())
    })?;
    Validator { path, raw: &raw }.run()
}

struct Validator<'a> {
    path: &'a Path,
    raw: &'a ManifestFile,
}

impl Validator<'_> {
    fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> ManifestError {
        ManifestError::Invalid {
            path: self.path.to_path_buf(),
            model: self.raw.name.clone(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn run(&self) -> Result<ModelManifest, ManifestError> {
        let raw = self.raw;
        self.check_name()?;
        let modality = parse_modality(&raw.modality)
            .ok_or_else(|| self.invalid("modality", "expected image, text or audio"))?;
        let precision = parse_precision(&raw.precision)
            .ok_or_else(|| self.invalid("precision", "expected fp32, fp16 or int8"))?;
        let sha_ok = raw.sha256.len() == 64
            && raw
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !sha_ok {
            return Err(self.invalid("sha256", "expected 64 lowercase hex digits"));
        }
        let file = Path::new(&raw.file);
        let relative = !raw.file.is_empty()
            && file
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !relative {
            return Err(self.invalid(
                "file",
                "must be a path relative to the manifest's directory, without `..`",
            ));
        }
        if raw.licence.trim().is_empty() {
            return Err(self.invalid("licence", "must not be empty"));
        }
        if raw.provenance.source.trim().is_empty() {
            return Err(self.invalid("provenance.source", "must not be empty"));
        }
        let mut dims = BTreeMap::new();
        for (k, v) in &raw.dims {
            if k == BATCH_DIM {
                return Err(self.invalid(
                    format!("dims.{k}"),
                    "`batch` is set by the batch size, not in [dims]",
                ));
            }
            if *v == 0 {
                return Err(self.invalid(format!("dims.{k}"), "must be at least 1"));
            }
            dims.insert(k.clone(), *v as usize);
        }
        let inputs = self.tensors("inputs", &raw.inputs, &dims, true)?;
        let outputs = self.tensors("outputs", &raw.outputs, &dims, false)?;
        let used: BTreeSet<&str> = inputs
            .iter()
            .chain(&outputs)
            .flat_map(|t| &t.shape)
            .filter_map(|d| match d {
                Dim::Named(n) => Some(n.as_str()),
                Dim::Fixed(_) => None,
            })
            .collect();
        if let Some(unused) = dims.keys().find(|k| !used.contains(k.as_str())) {
            return Err(self.invalid(
                format!("dims.{unused}"),
                "no input or output uses this dimension",
            ));
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        Ok(ModelManifest {
            name: raw.name.clone(),
            modality,
            precision,
            file: dir.join(file),
            sha256: raw.sha256.clone(),
            licence: raw.licence.clone(),
            provenance: Provenance {
                source: raw.provenance.source.clone(),
                url: raw.provenance.url.clone(),
            },
            dims,
            inputs,
            outputs,
            path: self.path.to_path_buf(),
        })
    }

    fn check_name(&self) -> Result<(), ManifestError> {
        let name = &self.raw.name;
        let ok_chars = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if name.is_empty() || name.len() > MAX_NAME || !ok_chars {
            return Err(self.invalid(
                "name",
                format!("expected 1 to {MAX_NAME} characters of a-z, 0-9, `.`, `_`, `-`"),
            ));
        }
        Ok(())
    }

    fn tensors(
        &self,
        table: &str,
        raw: &[TensorFile],
        dims: &BTreeMap<String, usize>,
        is_input: bool,
    ) -> Result<Vec<TensorSpec>, ManifestError> {
        if raw.is_empty() {
            return Err(self.invalid(table, "at least one is required"));
        }
        let mut out: Vec<TensorSpec> = Vec::with_capacity(raw.len());
        for (i, t) in raw.iter().enumerate() {
            let key = |field: &str| format!("{table}[{i}].{field}");
            if t.name.is_empty() {
                return Err(self.invalid(key("name"), "must not be empty"));
            }
            if out.iter().any(|o| o.name == t.name) {
                return Err(self.invalid(key("name"), format!("`{}` is listed twice", t.name)));
            }
            let dtype = DType::parse(&t.dtype).ok_or_else(|| {
                let names: Vec<&str> = DType::ALL.iter().map(|d| d.as_str()).collect();
                self.invalid(
                    key("dtype"),
                    format!("expected one of {}", names.join(", ")),
                )
            })?;
            let mut shape = Vec::with_capacity(t.shape.len());
            for d in &t.shape {
                shape.push(match d {
                    DimFile::Fixed(n) => Dim::Fixed(*n as usize),
                    DimFile::Named(n) if n == BATCH_DIM || dims.contains_key(n) => {
                        Dim::Named(n.clone())
                    }
                    DimFile::Named(n) => {
                        return Err(self.invalid(
                            key("shape"),
                            format!("dimension `{n}` is neither `batch` nor a key of [dims]"),
                        ));
                    }
                });
            }
            let fill = match (t.fill, t.range, is_input) {
                (None, None, _) => DEFAULT_FILL,
                (Some(_), _, false) | (_, Some(_), false) => {
                    return Err(self.invalid(key("fill"), "fill and range apply to inputs only"));
                }
                (Some(_), Some(_), true) => {
                    return Err(self.invalid(key("fill"), "give fill or range, not both"));
                }
                (Some(v), None, true) if v.is_finite() => Fill::Const(v),
                (None, Some([lo, hi]), true) if lo.is_finite() && hi.is_finite() && lo <= hi => {
                    Fill::Range(lo, hi)
                }
                _ => return Err(self.invalid(key("range"), "must be finite, with lo <= hi")),
            };
            out.push(TensorSpec {
                name: t.name.clone(),
                dtype,
                shape,
                fill,
            });
        }
        Ok(out)
    }
}
