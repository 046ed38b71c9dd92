//! [`TextEncoder`]: text → L2-normalised sentence embedding with all-MiniLM-L6-v2
//! (`models/minilm/`), WordPiece tokenization by the `tokenizers` crate from the tokenizer
//! file the manifest's `[preprocess]` names (`tokenizer.json` next to it).
//!
//! ```no_run
//! use msao::message::{ExecProvider, Precision};
//! use msao_agent::encoders::{TextEncoder, cosine};
//! use msao_agent::pipelines::PipelineSpec;
//! use msao_agent::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = OrtRuntime::new(&RuntimeOptions::default())?;
//! let catalog = ModelCatalog::load_dir("models".as_ref())?;
//! let pipeline = PipelineSpec::load_default("models".as_ref())?;
//! let mut text = TextEncoder::from_catalog(
//!     &runtime, &catalog, &pipeline.text, Precision::Int8, ExecProvider::Cpu,
//! )?;
//! let e = text.embed_batch(&["A man is eating food.", "A man is eating a piece of bread."])?;
//! println!("cosine {:?}", cosine(&e[0], &e[1])); // ≈ 0.755
//! # Ok(()) }
//! ```
//!
//! Semantics:
//! - padding from `tokenizer.json` is switched off; a batch is right-padded to its longest
//!   input with id 0 and attention mask 0, and the graph's mean pooling ignores the padding,
//!   so an input's embedding does not depend on its batch (up to float rounding);
//! - inputs longer than the manifest's `max_length` ([`MAX_TOKENS`] for the committed
//!   manifests) tokens (with `[CLS]`/`[SEP]`) are truncated, never an error;
//! - an input with no tokens besides `[CLS]`/`[SEP]` (empty or whitespace only) is
//!   [`TextEncoderError::EmptyText`]; an empty batch gives an empty result.

use super::TextEncoderError;
use crate::pipelines::TextSection;
use crate::runtime::manifest::Dim;
use crate::runtime::{
    InferenceRuntime, LoadedModel, ModelCatalog, ModelManifest, NamedTensor, Tensor,
    manifest::{modality_name, precision_name},
};
use msao::message::{ExecProvider, Modality, Precision};
use tokenizers::{Tokenizer, TruncationParams};

/// Tokenizer file the committed manifests name (`[preprocess] tokenizer`), in the
/// manifest's directory. The encoder loads the file the manifest names.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Longest input in tokens, `[CLS]` and `[SEP]` included, as the committed manifests set it
/// (`[preprocess] max_length`; the model was trained at 128, its position table would
/// allow 512). The encoder truncates at the manifest's value.
pub const MAX_TOKENS: usize = 128;

/// A loaded text encoder: tokenizer plus model. Not `Sync` (one run at a time).
pub struct TextEncoder {
    model: Box<dyn LoadedModel>,
    tokenizer: Tokenizer,
    names: TextSection,
    dim: usize,
    label: String,
}

impl TextEncoder {
    /// Loads the text model `names` binds (a pipeline's `[text]`) at `precision` from a
    /// catalog.
    pub fn from_catalog(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        names: &TextSection,
        precision: Precision,
        provider: ExecProvider,
    ) -> Result<Self, TextEncoderError> {
        let manifest = catalog.find(&names.model, precision).ok_or_else(|| {
            TextEncoderError::NotInCatalog {
                name: names.model.clone(),
                precision: precision_name(precision),
            }
        })?;
        Self::load(runtime, manifest, names, provider)
    }

    /// Loads the model a text manifest describes with the tensor names of `names`, and the
    /// tokenizer its `[preprocess]` names. The embedding width is the output's fixed
    /// last dimension.
    pub fn load(
        runtime: &dyn InferenceRuntime,
        manifest: &ModelManifest,
        names: &TextSection,
        provider: ExecProvider,
    ) -> Result<Self, TextEncoderError> {
        let label = manifest.label();
        if manifest.modality != Modality::Text {
            return Err(TextEncoderError::NotText {
                model: label,
                modality: modality_name(manifest.modality),
            });
        }
        manifest
            .check_role(crate::runtime::manifest::Role::TextEncoder)
            .map_err(|reason| TextEncoderError::Manifest {
                model: label.clone(),
                reason,
            })?;
        for (kind, tensor, present) in [
            (
                "input",
                &names.input_ids,
                manifest.input(&names.input_ids).is_some(),
            ),
            (
                "input",
                &names.attention_mask,
                manifest.input(&names.attention_mask).is_some(),
            ),
            (
                "output",
                &names.embedding,
                manifest.output(&names.embedding).is_some(),
            ),
        ] {
            if !present {
                return Err(TextEncoderError::MissingTensor {
                    model: label,
                    kind,
                    tensor: tensor.clone(),
                });
            }
        }
        let dim = match manifest
            .output(&names.embedding)
            .map(|t| t.shape.as_slice())
        {
            Some([_, Dim::Fixed(d)]) if *d > 0 => *d,
            other => {
                return Err(TextEncoderError::BadOutput {
                    model: label,
                    tensor: names.embedding.clone(),
                    shape: Vec::new(),
                    batch: 0,
                    dim: other.map_or(0, <[Dim]>::len),
                });
            }
        };
        let tokenizer = load_tokenizer(manifest, &label)?;
        let model = runtime.load(manifest, provider)?;
        Ok(Self {
            model,
            tokenizer,
            names: names.clone(),
            dim,
            label,
        })
    }

    /// Model label for messages, e.g. `minilm-l6 (int8)`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The execution provider that actually runs the model.
    pub fn provider(&self) -> ExecProvider {
        self.model.provider()
    }

    /// Token ids of one input, `[CLS]` … `[SEP]`, truncated to the manifest's `max_length`.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, TextEncoderError> {
        self.tokenize(0, text)
    }

    /// Width of the embedding (the output's last dimension in the manifest).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The embedding of one text ([`Self::dim`] values, unit length).
    pub fn embed(&mut self, text: &str) -> Result<Vec<f32>, TextEncoderError> {
        let mut out = self.embed_batch(&[text])?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Embeddings of several texts in one run, in input order.
    pub fn embed_batch(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, TextEncoderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encoded = texts
            .iter()
            .enumerate()
            .map(|(i, t)| self.tokenize(i, t))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = encoded.len();
        let seq = encoded.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = vec![0i64; batch * seq];
        let mut mask = vec![0i64; batch * seq];
        for (row, tokens) in encoded.iter().enumerate() {
            for (col, id) in tokens.iter().enumerate() {
                ids[row * seq + col] = i64::from(*id);
                mask[row * seq + col] = 1;
            }
        }
        let shape = vec![batch, seq];
        // Lengths match by construction; a mismatch would be a bug, reported not panicked.
        let tensor = |data| {
            Tensor::i64(shape.clone(), data).map_err(|e| TextEncoderError::Tokenize {
                model: self.label.clone(),
                index: 0,
                reason: e.to_string(),
            })
        };
        let inputs = [
            NamedTensor::new(&self.names.input_ids, tensor(ids)?),
            NamedTensor::new(&self.names.attention_mask, tensor(mask)?),
        ];
        let outputs = self.model.run(&inputs)?;
        let embedding = outputs
            .iter()
            .find(|t| t.name == self.names.embedding)
            .map(|t| &t.tensor);
        let bad_output = |shape: Vec<usize>| TextEncoderError::BadOutput {
            model: self.label.clone(),
            tensor: self.names.embedding.clone(),
            shape,
            batch,
            dim: self.dim,
        };
        let Some(embedding) = embedding else {
            return Err(bad_output(Vec::new()));
        };
        match embedding.as_f32() {
            Some(values) if embedding.shape() == [batch, self.dim] => {
                Ok(values.chunks_exact(self.dim).map(<[f32]>::to_vec).collect())
            }
            _ => Err(bad_output(embedding.shape().to_vec())),
        }
    }

    fn tokenize(&self, index: usize, text: &str) -> Result<Vec<u32>, TextEncoderError> {
        let encoding =
            self.tokenizer
                .encode(text, true)
                .map_err(|e| TextEncoderError::Tokenize {
                    model: self.label.clone(),
                    index,
                    reason: e.to_string(),
                })?;
        let special = encoding.get_special_tokens_mask();
        if special.iter().all(|s| *s == 1) {
            return Err(TextEncoderError::EmptyText {
                model: self.label.clone(),
                index,
            });
        }
        Ok(encoding.get_ids().to_vec())
    }
}

/// The manifest's tokenizer, padding off, truncation at its `max_length`.
fn load_tokenizer(manifest: &ModelManifest, label: &str) -> Result<Tokenizer, TextEncoderError> {
    let Some(pre) = manifest.preprocess.as_text() else {
        return Err(TextEncoderError::Tokenizer {
            model: label.to_string(),
            path: manifest.path.clone(),
            reason: format!(
                "[preprocess] kind is `{}`, not `text`",
                manifest.preprocess.kind()
            ),
        });
    };
    let path = &pre.tokenizer;
    let err = |reason: String| TextEncoderError::Tokenizer {
        model: label.to_string(),
        path: path.clone(),
        reason,
    };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: pre.max_length,
            ..TruncationParams::default()
        }))
        .map_err(|e| err(e.to_string()))?;
    Ok(tokenizer)
}
