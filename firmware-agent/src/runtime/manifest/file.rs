//! The manifest's TOML shape (unknown keys are errors) and its validation into
//! [`ModelManifest`].

use super::{
    AudioPreprocess, BATCH_DIM, ColorOrder, DEFAULT_FILL, Dim, Fill, ImagePreprocess,
    Interpolation, Layout, MAX_NAME, ManifestError, ModelManifest, Pooling, Preprocess, Provenance,
    TensorSpec, TextPreprocess, modality_name, parse_modality, parse_precision,
    role::{Bindings, Role, Side},
};
use crate::runtime::tensor::DType;
use msao::message::Modality;
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
    probe: Option<String>,
    role: Option<String>,
    #[serde(default)]
    bindings: BTreeMap<String, String>,
    provenance: ProvenanceFile,
    preprocess: PreprocessFile,
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

/// `[preprocess]`, tagged by `kind`; each kind refuses the keys of the others.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum PreprocessFile {
    Image(ImageFile),
    Text(TextFile),
    Audio(AudioFile),
    CompactTensor(CompactTensorFile),
    Embeddings(EmbeddingsFile),
}

/// `kind = "embeddings"` takes no other key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbeddingsFile {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageFile {
    resize: [u32; 2],
    layout: String,
    color: String,
    scale: f64,
    mean: Vec<f64>,
    std: Vec<f64>,
    interpolation: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextFile {
    tokenizer: String,
    max_length: u32,
    pooling: String,
    normalize: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AudioFile {
    sample_rate: u32,
    chunk: u32,
    context: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompactTensorFile {
    source_model: String,
    source_output: String,
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
        if !is_plain_relative(&raw.file) {
            return Err(self.invalid("file", RELATIVE_RULE));
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
        if let Some(probe) = &raw.probe
            && !outputs.iter().any(|o| &o.name == probe)
        {
            let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
            return Err(self.invalid(
                "probe",
                format!(
                    "no output is called `{probe}` (outputs: {})",
                    names.join(", ")
                ),
            ));
        }
        let (role, bindings) = self.role(&inputs, &outputs)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let preprocess = self.preprocess(modality, &inputs, dir)?;
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
            probe: raw.probe.clone(),
            role,
            bindings,
            preprocess,
            path: self.path.to_path_buf(),
        })
    }

    /// Validates `role` and `[bindings]`: every key a slot of the role, every tensor an
    /// input or output (as the slot says) of this manifest, every required slot bound.
    fn role(
        &self,
        inputs: &[TensorSpec],
        outputs: &[TensorSpec],
    ) -> Result<(Option<Role>, Bindings), ManifestError> {
        let raw = self.raw;
        let Some(name) = &raw.role else {
            return match raw.bindings.keys().next() {
                Some(k) => {
                    Err(self.invalid(format!("bindings.{k}"), "bindings need a `role` to bind to"))
                }
                None => Ok((None, Bindings::default())),
            };
        };
        let role = Role::parse(name).ok_or_else(|| {
            self.invalid(
                "role",
                format!("unknown role `{name}`; expected one of {}", Role::names()),
            )
        })?;
        let slots = role.slots();
        for (key, tensor) in &raw.bindings {
            let Some(slot) = slots.iter().find(|s| s.key == key) else {
                let reason = if slots.is_empty() {
                    format!(
                        "role `{name}` takes no [bindings]: the pipeline file binds its tensors"
                    )
                } else {
                    let keys: Vec<&str> = slots.iter().map(|s| s.key).collect();
                    format!("not a slot of role `{name}` (slots: {})", keys.join(", "))
                };
                return Err(self.invalid(format!("bindings.{key}"), reason));
            };
            let (side, list) = match slot.side {
                Side::Input => ("input", inputs),
                Side::Output => ("output", outputs),
            };
            if !list.iter().any(|t| &t.name == tensor) {
                return Err(self.invalid(
                    format!("bindings.{key}"),
                    format!("no {side} is called `{tensor}`"),
                ));
            }
        }
        if let Some(missing) = slots
            .iter()
            .find(|s| s.required && !raw.bindings.contains_key(s.key))
        {
            return Err(self.invalid(
                format!("bindings.{}", missing.key),
                format!("required for role `{name}`"),
            ));
        }
        Ok((Some(role), Bindings::new(raw.bindings.clone())))
    }

    /// Validates `[preprocess]` against the modality and the inputs.
    fn preprocess(
        &self,
        modality: Modality,
        inputs: &[TensorSpec],
        dir: &Path,
    ) -> Result<Preprocess, ManifestError> {
        let kind_fits = matches!(
            (&self.raw.preprocess, modality),
            (
                PreprocessFile::CompactTensor(_) | PreprocessFile::Embeddings(_),
                _
            ) | (PreprocessFile::Image(_), Modality::Image)
                | (PreprocessFile::Text(_), Modality::Text)
                | (PreprocessFile::Audio(_), Modality::Audio)
        );
        if !kind_fits {
            let kind = match self.raw.preprocess {
                PreprocessFile::Image(_) => "image",
                PreprocessFile::Text(_) => "text",
                PreprocessFile::Audio(_) => "audio",
                PreprocessFile::CompactTensor(_) => "compact-tensor",
                PreprocessFile::Embeddings(_) => "embeddings",
            };
            return Err(self.invalid(
                "preprocess.kind",
                format!(
                    "`{kind}` does not fit modality `{}` (expected `{}`, `compact-tensor` or `embeddings`)",
                    modality_name(modality),
                    modality_name(modality)
                ),
            ));
        }
        Ok(match &self.raw.preprocess {
            PreprocessFile::Image(image) => Preprocess::Image(self.image(image, inputs)?),
            PreprocessFile::Text(TextFile {
                tokenizer,
                max_length,
                pooling,
                normalize,
            }) => {
                if !is_plain_relative(tokenizer) {
                    return Err(self.invalid("preprocess.tokenizer", RELATIVE_RULE));
                }
                if *max_length == 0 {
                    return Err(self.invalid("preprocess.max_length", "must be at least 1"));
                }
                let pooling = Pooling::parse(pooling).ok_or_else(|| {
                    self.invalid(
                        "preprocess.pooling",
                        format!("expected one of {}", Pooling::expected()),
                    )
                })?;
                let joined = dir.join(tokenizer);
                Preprocess::Text(TextPreprocess {
                    tokenizer: std::path::absolute(&joined).unwrap_or(joined),
                    max_length: *max_length as usize,
                    pooling,
                    normalize: *normalize,
                })
            }
            PreprocessFile::Audio(AudioFile {
                sample_rate,
                chunk,
                context,
            }) => {
                if *sample_rate == 0 {
                    return Err(self.invalid("preprocess.sample_rate", "must be at least 1"));
                }
                if *chunk == 0 {
                    return Err(self.invalid("preprocess.chunk", "must be at least 1"));
                }
                Preprocess::Audio(AudioPreprocess {
                    sample_rate: *sample_rate,
                    chunk: *chunk as usize,
                    context: context.unwrap_or(0) as usize,
                })
            }
            PreprocessFile::CompactTensor(CompactTensorFile {
                source_model,
                source_output,
            }) => {
                if !is_model_name(source_model) {
                    return Err(self.invalid("preprocess.source_model", name_rule()));
                }
                if source_output.is_empty() {
                    return Err(self.invalid("preprocess.source_output", "must not be empty"));
                }
                Preprocess::CompactTensor {
                    source_model: source_model.clone(),
                    source_output: source_output.clone(),
                }
            }
            PreprocessFile::Embeddings(EmbeddingsFile {}) => Preprocess::Embeddings,
        })
    }

    fn image(
        &self,
        raw: &ImageFile,
        inputs: &[TensorSpec],
    ) -> Result<ImagePreprocess, ManifestError> {
        let [width, height] = raw.resize;
        if width == 0 || height == 0 {
            return Err(self.invalid("preprocess.resize", "width and height must be at least 1"));
        }
        let layout = Layout::parse(&raw.layout).ok_or_else(|| {
            self.invalid(
                "preprocess.layout",
                format!("expected one of {}", Layout::expected()),
            )
        })?;
        let color = ColorOrder::parse(&raw.color).ok_or_else(|| {
            self.invalid(
                "preprocess.color",
                format!("expected one of {}", ColorOrder::expected()),
            )
        })?;
        let interpolation = Interpolation::parse(&raw.interpolation).ok_or_else(|| {
            self.invalid(
                "preprocess.interpolation",
                format!("expected one of {}", Interpolation::expected()),
            )
        })?;
        let scale = raw.scale as f32;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(self.invalid("preprocess.scale", "must be finite and positive"));
        }
        let mean = self.channels("preprocess.mean", &raw.mean, color.channels())?;
        let std = self.channels("preprocess.std", &raw.std, color.channels())?;
        if std.contains(&0.0) {
            return Err(self.invalid("preprocess.std", "must not be zero"));
        }
        // Some input must take the resized image: [_, C, h, w] (nchw) or [_, h, w, C] (nhwc)
        // with C = 3, or 1 for gray; named dimensions fit any size.
        let (w, h, c) = (width as usize, height as usize, color.channels());
        let want = match layout {
            Layout::Nchw => [c, h, w],
            Layout::Nhwc => [h, w, c],
        };
        let fits = |t: &TensorSpec| {
            t.shape.len() == 4
                && t.shape[1..].iter().zip(want).all(|(d, n)| match d {
                    Dim::Fixed(f) => *f == n,
                    Dim::Named(_) => true,
                })
        };
        if !inputs.iter().any(fits) {
            let [a, b, c] = want;
            return Err(self.invalid(
                "preprocess.resize",
                format!(
                    "no input has the shape [batch, {a}, {b}, {c}] this resize and layout `{}` give",
                    layout.as_str()
                ),
            ));
        }
        Ok(ImagePreprocess {
            width,
            height,
            layout,
            color,
            scale,
            mean,
            std,
            interpolation,
        })
    }

    /// `n` finite per-channel values (3, or 1 for gray), padded to three.
    fn channels(&self, key: &str, values: &[f64], n: usize) -> Result<[f32; 3], ManifestError> {
        if values.len() != n {
            return Err(self.invalid(
                key,
                format!(
                    "expected {n} value{} (one per channel), got {}",
                    if n == 1 { "" } else { "s" },
                    values.len()
                ),
            ));
        }
        if !values.iter().all(|v| v.is_finite()) {
            return Err(self.invalid(key, "values must be finite"));
        }
        let mut out = [values[0] as f32; 3];
        for (o, v) in out.iter_mut().zip(values) {
            *o = *v as f32;
        }
        Ok(out)
    }

    fn check_name(&self) -> Result<(), ManifestError> {
        if !is_model_name(&self.raw.name) {
            return Err(self.invalid("name", name_rule()));
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

const RELATIVE_RULE: &str = "must be a path relative to the manifest's directory, without `..`";

/// A non-empty relative path without `..` (or a root or prefix).
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fn is_model_name(name: &str) -> bool {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    !name.is_empty() && name.len() <= MAX_NAME && ok_chars
}

fn name_rule() -> String {
    format!("expected 1 to {MAX_NAME} characters of a-z, 0-9, `.`, `_`, `-`")
}
