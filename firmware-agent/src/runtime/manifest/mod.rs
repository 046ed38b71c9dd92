//! Model manifests: one TOML file per model in `models/`, validated when loaded.
//!
//! ```toml
//! name = "silero-vad"            # ≤ 32 bytes, [a-z0-9._-]; (name, precision) is unique
//! modality = "audio"             # image | text | audio
//! precision = "fp32"             # fp32 | fp16 | int8
//! file = "silero_vad.onnx"       # relative to this manifest's directory
//! sha256 = "1a153a22…"           # of the ONNX file, lowercase hex
//! licence = "MIT"
//! probe = "output"               # optional: the output that is the MAS probe (an early
//!                                # activation, or the activity score); must be an output
//! role = "audio-activity"        # optional: image-encoder | text-encoder | audio-activity |
//!                                # local-head | region-detector | cloud-compact; a pipeline
//!                                # binding the model in another role is refused
//!
//! [bindings]                     # the role's slots → tensors, where the export fixes them:
//! input = "input"                # audio-activity: input, state, speech, state_out (outputs),
//! state = "state"                # sample_rate (optional input); cloud-compact: patches,
//! sample_rate = "sr"             # scale, patch_mask, question (inputs), logits (output).
//! speech = "output"              # The other roles take none (the pipeline file binds them).
//! state_out = "stateN"
//!
//! [provenance]
//! source = "PyPI silero-vad 6.2.3, silero_vad/data/silero_vad.onnx"
//! url = "https://github.com/snakers4/silero-vad"   # optional
//!
//! [preprocess]                   # required; `kind` matches `modality` (or compact-tensor, embeddings)
//! kind = "audio"
//! sample_rate = 16000            # Hz, ≥ 1
//! chunk = 512                    # new samples per call, ≥ 1
//! context = 64                   # optional (default 0): previous chunk's tail prepended
//!
//! [dims]                         # named dynamic dimensions → value used for synthetic
//! samples = 576                  # inputs; `batch` is reserved (the batch size)
//!
//! [[inputs]]
//! name = "input"
//! dtype = "f32"                  # f32 f16 f64 i8 u8 i32 i64 bool
//! shape = ["batch", "samples"]   # numbers are fixed, strings are named dynamic dims
//! range = [-1.0, 1.0]            # optional: synthetic data range (default [-1, 1])
//!
//! [[inputs]]
//! name = "sr"
//! dtype = "i64"
//! shape = []                     # a scalar
//! fill = 16000                   # optional: synthetic data is this constant
//!
//! [[outputs]]
//! name = "output"
//! dtype = "f32"
//! shape = ["batch", 1]
//! ```
//!
//! The other `[preprocess]` kinds (every key required unless marked optional):
//!
//! ```toml
//! [preprocess]
//! kind = "image"                 # modality image
//! resize = [64, 64]              # width, height (≥ 1); some input must be
//!                                # [_, 3, height, width] (nchw) or [_, height, width, 3]
//! layout = "nchw"                # nchw | nhwc
//! color = "rgb"                  # rgb | bgr
//! scale = 0.00392156862745098    # value = (pixel * scale - mean[c]) / std[c]; > 0
//! mean = [0.0, 0.0, 0.0]         # 3 finite values
//! std = [1.0, 1.0, 1.0]          # 3 finite non-zero values
//! interpolation = "triangle"     # nearest | triangle | catmullrom | lanczos3
//!
//! [preprocess]
//! kind = "text"                  # modality text
//! tokenizer = "tokenizer.json"   # relative, no `..`; must exist when the manifest is loaded
//! max_length = 128               # tokens, special tokens included; longer is truncated
//! pooling = "mean"               # mean | cls (what the graph does)
//! normalize = true               # the graph L2-normalises the embedding
//!
//! [preprocess]
//! kind = "compact-tensor"        # any modality: input is another model's output
//! source_model = "vqa-edge"      # checked against the catalog when both are loaded
//! source_output = "features"
//!
//! [preprocess]
//! kind = "embeddings"            # any modality: inputs are embeddings other roles give
//!                                # (a separate answer head), bound by the pipeline file
//! ```
//!
//! | file         | owns |
//! |--------------|------|
//! | `file`       | the TOML shape (`deny_unknown_fields`) and its validation into [`ModelManifest`] |
//! | `preprocess` | [`Preprocess`] and its parts |
//! | `role`       | [`Role`], its slots, and [`Bindings`] |
//! | `sha`        | sha256 of the ONNX file |
//! | `check`      | run-time checks of tensors against the manifest; [`TensorMismatch`] |
//! | `catalog`    | [`ModelCatalog`]: every manifest under a directory |
//! | `error`      | [`ManifestError`] |

mod catalog;
mod check;
mod error;
mod file;
mod preprocess;
mod role;
mod sha;

pub use catalog::{MODELS_DIR_ENV, ModelCatalog, PIPELINES_DIR, find_models_dir};
pub use check::{BoundDims, TensorMismatch};
pub use error::ManifestError;
pub use preprocess::{
    AudioPreprocess, ColorOrder, ImagePreprocess, Interpolation, Layout, Pooling, Preprocess,
    TextPreprocess,
};
pub use role::{Bindings, Role, Side, Slot};
pub use sha::sha256_file;

use super::tensor::DType;
use msao::message::{Modality, Precision};
use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
};

/// The reserved dimension name set by the batch size.
pub const BATCH_DIM: &str = "batch";
/// Longest model name (the wire bound of `ProfileResult::model`).
pub const MAX_NAME: usize = 32;

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A named dynamic size (`batch`, or a key of `[dims]`).
    Named(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Named(s) => f.write_str(s),
        }
    }
}

/// Formats a declared shape as `[batch, samples, 128]`.
pub fn format_dims(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// How synthetic data for an input is made (profiling, smoke tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// Uniform pseudo-random values in `[lo, hi]` (integers: inclusive; floats: `[lo, hi)`).
    Range(f64, f64),
    /// Every element is this value.
    Const(f64),
}

/// Synthetic data range when a manifest gives none.
pub const DEFAULT_FILL: Fill = Fill::Range(-1.0, 1.0);

/// An input or output as the manifest declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Graph name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Declared shape.
    pub shape: Vec<Dim>,
    /// Synthetic data (inputs only; [`DEFAULT_FILL`] when the manifest says nothing).
    pub fill: Fill,
}

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Package and file it was taken from, or the script that produced it.
    pub source: String,
    /// Project page.
    pub url: Option<String>,
}

/// A validated manifest. When it was loaded (not parsed by [`Self::from_toml`]) its ONNX
/// file existed and matched `sha256`, and the files its preprocessing names existed.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelManifest {
    /// Model name (shared by the precisions of one model).
    pub name: String,
    /// Input modality.
    pub modality: Modality,
    /// Numeric precision of this file.
    pub precision: Precision,
    /// The ONNX file, resolved against the manifest's directory.
    pub file: PathBuf,
    /// Expected sha256 of `file` (lowercase hex).
    pub sha256: String,
    /// Licence of the weights.
    pub licence: String,
    /// Where the weights come from.
    pub provenance: Provenance,
    /// Values of the named dynamic dimensions for synthetic inputs.
    pub dims: BTreeMap<String, usize>,
    /// Inputs, in manifest order.
    pub inputs: Vec<TensorSpec>,
    /// Outputs, in manifest order.
    pub outputs: Vec<TensorSpec>,
    /// The output Modality Activation Sparsity scores (an early-layer activation, or the
    /// activity score itself); always one of [`Self::outputs`]. `None`: the model has no
    /// probe.
    pub probe: Option<String>,
    /// The part the model plays, when the manifest declares it.
    pub role: Option<Role>,
    /// Its tensors bound to the role's slots (`[bindings]`; roles whose tensors the
    /// pipeline file binds have none).
    pub bindings: Bindings,
    /// How raw input becomes the model's input tensors.
    pub preprocess: Preprocess,
    /// The manifest file itself.
    pub path: PathBuf,
}

impl ModelManifest {
    /// Reads, validates and checks the ONNX file (existence and sha256) of one manifest,
    /// then the files its preprocessing names (the tokenizer).
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let manifest = file::parse(&text, path)?;
        manifest.verify_file()?;
        manifest.verify_preprocess_files()?;
        Ok(manifest)
    }

    /// Parses and validates manifest text without touching the ONNX file or the
    /// preprocessing files (`path` names the manifest in errors and anchors relative
    /// paths).
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ManifestError> {
        file::parse(text, path)
    }

    /// Checks that the ONNX file exists and has the pinned sha256.
    pub fn verify_file(&self) -> Result<(), ManifestError> {
        if !self.file.is_file() {
            return Err(ManifestError::MissingFile {
                model: self.label(),
                file: self.file.clone(),
            });
        }
        let actual = sha256_file(&self.file).map_err(|source| ManifestError::Read {
            path: self.file.clone(),
            source,
        })?;
        if actual != self.sha256 {
            return Err(ManifestError::Sha256Mismatch {
                model: self.label(),
                file: self.file.clone(),
                expected: self.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Checks that the files `[preprocess]` names exist (the text tokenizer).
    pub fn verify_preprocess_files(&self) -> Result<(), ManifestError> {
        if let Preprocess::Text(text) = &self.preprocess
            && !text.tokenizer.is_file()
        {
            return Err(ManifestError::Invalid {
                path: self.path.clone(),
                model: self.name.clone(),
                key: "preprocess.tokenizer".into(),
                reason: format!("tokenizer file {} does not exist", text.tokenizer.display()),
            });
        }
        Ok(())
    }

    /// The probe output's declaration, when the manifest names one.
    pub fn probe_output(&self) -> Option<&TensorSpec> {
        self.probe.as_deref().and_then(|p| self.output(p))
    }

    /// Checks that the model may play `role`: a manifest declaring another role is refused,
    /// and a role whose tensors `[bindings]` name needs the manifest to declare it. The
    /// error names the manifest.
    pub fn check_role(&self, role: Role) -> Result<(), String> {
        match self.role {
            Some(r) if r == role => Ok(()),
            Some(r) => Err(format!(
                "{} ({}) declares role `{}`; the pipeline binds it as `{}`",
                self.label(),
                self.path.display(),
                r.name(),
                role.name()
            )),
            None if !role.slots().is_empty() => Err(format!(
                "{} ({}) declares no role; as `{}` it needs `role = \"{}\"` and [bindings] {}",
                self.label(),
                self.path.display(),
                role.name(),
                role.name(),
                role.slots()
                    .iter()
                    .map(|s| s.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => Ok(()),
        }
    }

    /// The tensor bound to `slot` in `[bindings]`.
    pub fn binding(&self, slot: &str) -> Option<&str> {
        self.bindings.get(slot)
    }

    /// `name` plus precision, e.g. `silero-vad (fp16)`, for messages.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, precision_name(self.precision))
    }

    /// The input called `name`.
    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|t| t.name == name)
    }

    /// The output called `name`.
    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|t| t.name == name)
    }

    /// Concrete shape of `spec` for synthetic data: `batch` from the argument, other named
    /// dimensions from `overrides` and then `[dims]`. `None` when a name has no value
    /// (validation makes that impossible for manifests loaded from files).
    pub fn concrete_shape(
        &self,
        spec: &TensorSpec,
        batch: usize,
        overrides: &BTreeMap<String, usize>,
    ) -> Option<Vec<usize>> {
        spec.shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => Some(*n),
                Dim::Named(n) if n == BATCH_DIM => Some(batch),
                Dim::Named(n) => overrides.get(n).or_else(|| self.dims.get(n)).copied(),
            })
            .collect()
    }

    /// True when some input has a `batch` dimension (otherwise only batch 1 makes sense).
    pub fn has_batch_dim(&self) -> bool {
        self.inputs
            .iter()
            .any(|t| t.shape.iter().any(|d| *d == Dim::Named(BATCH_DIM.into())))
    }
}

/// Manifest spelling of a precision.
pub const fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::Fp32 => "fp32",
        Precision::Fp16 => "fp16",
        Precision::Int8 => "int8",
    }
}

/// Parses the manifest spelling of a precision.
pub fn parse_precision(s: &str) -> Option<Precision> {
    [Precision::Fp32, Precision::Fp16, Precision::Int8]
        .into_iter()
        .find(|p| precision_name(*p) == s)
}

/// Manifest spelling of a modality.
pub const fn modality_name(m: Modality) -> &'static str {
    match m {
        Modality::Image => "image",
        Modality::Text => "text",
        Modality::Audio => "audio",
    }
}

/// Parses the manifest spelling of a modality.
pub fn parse_modality(s: &str) -> Option<Modality> {
    [Modality::Image, Modality::Text, Modality::Audio]
        .into_iter()
        .find(|m| modality_name(*m) == s)
}
