//! The pipeline file as written (TOML, every table `deny_unknown_fields`), parsed with the
//! offending key named.

use super::PipelineError;
use msao::message::Precision;
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Pipeline name: what the request API's `model` names.
    pub name: String,
    /// Image encoder.
    pub image: ImageSection,
    /// Text (question) encoder.
    pub text: TextSection,
    /// Audio activity model; absent: the pipeline takes no audio.
    pub audio: Option<AudioSection>,
    /// The local answer head.
    pub head: HeadSection,
    /// The region step for frames larger than the image model's input.
    #[serde(default)]
    pub region: RegionSection,
    /// The cloud models.
    pub cloud: CloudSection,
    /// MAS parameters: the modal prompts (required) and any threshold that differs from
    /// the defaults of `docs/mas.md`.
    #[serde(default)]
    pub mas: crate::mas::MasConfig,
}

/// `[image]`: the image encoder's graph and tensor bindings. Its probe output (for MAS) is
/// the model manifest's `probe`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    /// Catalog name of the model.
    pub model: String,
    /// Precision loaded (`int8`, `fp16`, `fp32`); tools may load another for comparison.
    #[serde(deserialize_with = "precision")]
    pub precision: Precision,
    /// Input: the preprocessed frame.
    pub input: String,
    /// Output: patch features `[batch, dim, rows, cols]`, the compact tensor's source.
    pub features: String,
    /// Output: the pooled image embedding `[batch, dim]`.
    pub embedding: String,
}

/// `[text]`: the question encoder's graph and tensor bindings (a WordPiece tokenizer the
/// manifest names).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSection {
    /// Catalog name of the model.
    pub model: String,
    /// Precision loaded.
    #[serde(deserialize_with = "precision")]
    pub precision: Precision,
    /// Input: token ids, i64 `[batch, seq]`.
    pub input_ids: String,
    /// Input: attention mask, i64 `[batch, seq]`.
    pub attention_mask: String,
    /// Output: unit-length sentence embedding, f32 `[batch, dim]`.
    pub embedding: String,
}

/// `[audio]`: the audio activity model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSection {
    /// Catalog name of the model (FP32 is loaded).
    pub model: String,
}

/// How the local head runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadKind {
    /// Outputs of the image encoder's own graph, which also takes the question embedding.
    Fused,
    /// A graph of its own fed the image embedding and the question embedding (keys
    /// `model`, `image`).
    Separate,
}

/// `[head]`: the local answer head.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSection {
    /// Where the head runs.
    pub kind: HeadKind,
    /// Separate head: catalog name of its graph.
    pub model: Option<String>,
    /// Separate head: precision loaded (default `fp32`).
    #[serde(default, deserialize_with = "opt_precision")]
    pub precision: Option<Precision>,
    /// Separate head: its input fed the image encoder's `embedding` output.
    pub image: Option<String>,
    /// Input: the question embedding.
    pub question: String,
    /// Output: answer logits `[batch, classes]`.
    pub logits: String,
    /// Optional output `[batch, 1]`: a learned probability that the answer is right; when
    /// the graph has it the offload gate uses it instead of the softmax confidence.
    pub confidence: Option<String>,
    /// Labels file (one per line, logit order), relative to this file.
    pub labels: PathBuf,
    /// Temperature calibration of the head (JSON), relative to this file.
    pub calibration: PathBuf,
}

/// Region proposers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionKind {
    /// The whole frame is resized to the model input.
    #[default]
    None,
    /// The easy-VQA card rule: the largest coloured shape on a plain background.
    Cards,
    /// An ONNX detector: the highest-scoring box (keys `model`, `input`, `boxes`, `scores`).
    Detector,
}

/// Corner order of a detector's boxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoxFormat {
    /// `[x0, y0, x1, y1]` (torchvision, YOLO after decoding).
    #[default]
    Xyxy,
    /// `[y0, x0, y1, x1]` (TensorFlow object-detection exports).
    Yxyx,
}

/// `[region]`. The detector keys are required for `kind = "detector"` and refused otherwise.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSection {
    /// Which proposer (default `none`).
    #[serde(default)]
    pub kind: RegionKind,
    /// Detector: catalog name of the model.
    pub model: Option<String>,
    /// Detector: precision loaded (default `fp32`).
    #[serde(default, deserialize_with = "opt_precision")]
    pub precision: Option<Precision>,
    /// Detector: its image input (preprocessed as its manifest says).
    pub input: Option<String>,
    /// Detector: its boxes output `[batch, N, 4]`.
    pub boxes: Option<String>,
    /// Detector: its scores output `[batch, N]`.
    pub scores: Option<String>,
    /// Detector: the lowest score taken as a region (default 0.5).
    pub min_score: Option<f32>,
    /// Detector: corner order (default `xyxy`).
    pub box_format: Option<BoxFormat>,
    /// Detector: boxes normalised to `0..=1` (default true) or in input pixels.
    pub normalized: Option<bool>,
    /// Cards: a pixel is card-like when its darkest channel is at least this (default 224).
    pub min_level: Option<u8>,
    /// Cards: stride of the coarse pass in pixels (default 4).
    pub stride: Option<u32>,
    /// Cards: card-like pixels a row or column needs to belong to the card (default 8).
    pub min_run: Option<u32>,
    /// Cards: smallest side accepted in pixels (default 16).
    pub min_side: Option<u32>,
}

/// `[cloud]`: the models the agent offloads to over OIP v2, and their tensor names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudSection {
    /// Model fed the compact tensor.
    pub model: String,
    /// Its input: the compact tensor (u8 bytes, `msao::compact` layout).
    pub compact: String,
    /// Its input: the question embedding (f32).
    pub question: String,
    /// Its output: answer logits.
    pub logits: String,
    /// Labels of the cloud logits, relative to this file; default: the head's.
    pub labels: Option<PathBuf>,
    /// Model fed the whole frame (JPEG) and the question text (the `cloud-only` baseline).
    pub full_model: String,
    /// Its input: the JPEG bytes.
    pub full_image: String,
    /// Its input: the question text.
    pub full_question: String,
}

fn precision<'de, D: Deserializer<'de>>(d: D) -> Result<Precision, D::Error> {
    let s = String::deserialize(d)?;
    crate::runtime::manifest::parse_precision(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown precision `{s}`; expected int8, fp16 or fp32"
        ))
    })
}

fn opt_precision<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Precision>, D::Error> {
    precision(d).map(Some)
}

impl PipelineFile {
    /// Parses TOML text; `path` is only used in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, PipelineError> {
        crate::config::from_toml_keyed(text).map_err(|(key, source)| PipelineError::Parse {
            path: path.to_path_buf(),
            key,
            source: Box::new(source),
        })
    }

    /// Every name that must not be empty, with its key.
    pub fn names(&self) -> Vec<(&'static str, &str)> {
        let mut v = vec![
            ("name", self.name.as_str()),
            ("image.model", &self.image.model),
            ("image.input", &self.image.input),
            ("image.features", &self.image.features),
            ("image.embedding", &self.image.embedding),
            ("text.model", &self.text.model),
            ("text.input_ids", &self.text.input_ids),
            ("text.attention_mask", &self.text.attention_mask),
            ("text.embedding", &self.text.embedding),
            ("head.question", &self.head.question),
            ("head.logits", &self.head.logits),
            ("cloud.model", &self.cloud.model),
            ("cloud.compact", &self.cloud.compact),
            ("cloud.question", &self.cloud.question),
            ("cloud.logits", &self.cloud.logits),
            ("cloud.full_model", &self.cloud.full_model),
            ("cloud.full_image", &self.cloud.full_image),
            ("cloud.full_question", &self.cloud.full_question),
        ];
        if let Some(a) = &self.audio {
            v.push(("audio.model", &a.model));
        }
        if let Some(c) = &self.head.confidence {
            v.push(("head.confidence", c));
        }
        v
    }
}
