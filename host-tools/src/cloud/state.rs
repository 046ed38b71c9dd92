//! [`CloudState`]: the served models (metadata, loaded sessions, counters) and running one
//! request through a model.

use anyhow::Context as _;
use image::RgbImage;
use msao::compact;
use msao::message::Precision;
use msao_agent::brain::{BrainOptions, CloudHead, EdgeBrain, EdgeRequest, ImageInput};
use msao_agent::cloud::{DataType, InferTensor, ModelMetadata, TensorData, TensorSpec};
use msao_agent::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The compact-tensor model: `compact` UINT8 `[1, -1]` + `question` FP32 `[1, 384]`.
pub const VQA_CLOUD: &str = "vqa-cloud";
/// The cloud-features baseline: dense `features` FP32 `[1, 16, 32]` + `question`.
pub const VQA_CLOUD_DENSE: &str = "vqa-cloud-dense";
/// The cloud-only baseline: raw `frame` UINT8 `[-1, -1, 3]` + `question` BYTES `[1]`.
pub const VQA_FULL: &str = "vqa-full";
/// The one version every model has.
pub const VERSION: &str = "1";
/// Width of the MiniLM question embedding.
pub const QUESTION_DIM: usize = 384;
/// Platform reported in the model metadata.
pub const PLATFORM: &str = "onnxruntime_onnx";

/// Why one request failed: the client's fault (400) or ours (500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The request is wrong; the text names the tensor and what is wrong.
    Bad(String),
    /// The model failed.
    Internal(String),
}

/// Per-model counters.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    served: AtomicU64,
    errors: AtomicU64,
    bad_requests: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModelStats {
    /// Infer requests received.
    pub requests: u64,
    /// Answered with outputs.
    pub served: u64,
    /// Answered with an error (of any status).
    pub errors: u64,
    /// Of those, refused as invalid requests (HTTP 400): the client's fault, not ours.
    pub bad_requests: u64,
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn bad_request(&self) {
        self.bad_requests.fetch_add(1, Ordering::Relaxed);
    }
    /// A snapshot.
    pub fn stats(&self) -> ModelStats {
        ModelStats {
            requests: self.requests.load(Ordering::Relaxed),
            served: self.served.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            bad_requests: self.bad_requests.load(Ordering::Relaxed),
        }
    }
}

/// One served model.
#[derive(Debug)]
pub struct ServedModel {
    /// Its OIP metadata (the contract clients check against).
    pub metadata: ModelMetadata,
    /// Its counters.
    pub counters: Counters,
}

/// Everything the server holds: metadata, sessions, counters.
pub struct CloudState {
    models: Vec<ServedModel>,
    head: Mutex<CloudHead>,
    brain: Mutex<EdgeBrain>,
    patches: usize,
    dim: usize,
    answers: usize,
    /// Sessions borrow the loaded library; it lives as long as they do.
    _runtime: OrtRuntime,
}

impl std::fmt::Debug for CloudState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudState")
            .field("models", &self.models)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn spec(name: &str, datatype: DataType, shape: &[i64]) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        datatype,
        shape: shape.to_vec(),
    }
}

fn i64_of(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl CloudState {
    /// Loads the models from `models_dir` with ONNX Runtime found the usual way
    /// (`$MSAO_ORT_LIB`, then the setup script's location).
    pub fn load(models_dir: &Path) -> anyhow::Result<Self> {
        Self::load_with(models_dir, &RuntimeOptions::default())
    }

    /// Loads the models with explicit runtime options.
    pub fn load_with(models_dir: &Path, options: &RuntimeOptions) -> anyhow::Result<Self> {
        let runtime = OrtRuntime::new(options).context("cannot start ONNX Runtime")?;
        let catalog = ModelCatalog::load_dir(models_dir).with_context(|| {
            format!("cannot read the model catalog in {}", models_dir.display())
        })?;
        let brain_options = BrainOptions {
            image_precision: Precision::Fp32,
            text_precision: Precision::Fp32,
            audio: false,
            // Only the features are used here, never the local answer.
            second_view_below: None,
            ..BrainOptions::default()
        };
        let brain = EdgeBrain::load(&runtime, &catalog, &brain_options)
            .context("cannot load the FP32 edge brain (vqa-full)")?;
        let head = CloudHead::from_catalog(&runtime, &catalog, brain_options.provider)
            .context("cannot load the cloud model")?;
        let (patches, dim) = (head.patches(), head.dim());
        let answers = crate::cmd::eval::ANSWERS.len();
        let (p, d, q, a) = (
            i64_of(patches),
            i64_of(dim),
            i64_of(QUESTION_DIM),
            i64_of(answers),
        );
        let logits = spec("logits", DataType::F32, &[1, a]);
        let question = spec("question", DataType::F32, &[1, q]);
        let model = |name: &str, inputs: Vec<TensorSpec>| ServedModel {
            metadata: ModelMetadata {
                name: name.into(),
                versions: vec![VERSION.into()],
                platform: PLATFORM.into(),
                inputs,
                outputs: vec![logits.clone()],
            },
            counters: Counters::default(),
        };
        let models = vec![
            model(
                VQA_CLOUD,
                vec![spec("compact", DataType::U8, &[1, -1]), question.clone()],
            ),
            model(
                VQA_CLOUD_DENSE,
                vec![
                    spec("features", DataType::F32, &[1, p, d]),
                    question.clone(),
                ],
            ),
            model(
                VQA_FULL,
                vec![
                    spec("frame", DataType::U8, &[-1, -1, 3]),
                    spec("question", DataType::Bytes, &[1]),
                ],
            ),
        ];
        Ok(Self {
            models,
            head: Mutex::new(head),
            brain: Mutex::new(brain),
            patches,
            dim,
            answers,
            _runtime: runtime,
        })
    }

    /// The served models, in startup order.
    pub fn models(&self) -> &[ServedModel] {
        &self.models
    }

    /// A model by name.
    pub fn model(&self, name: &str) -> Option<&ServedModel> {
        self.models.iter().find(|m| m.metadata.name == name)
    }

    /// A model's counters; zero for an unknown name.
    pub fn stats(&self, name: &str) -> ModelStats {
        self.model(name)
            .map(|m| m.counters.stats())
            .unwrap_or_default()
    }

    /// Errors answered, all models.
    pub fn errors(&self) -> u64 {
        self.models.iter().map(|m| m.counters.stats().errors).sum()
    }

    /// Runs one request (inputs already checked against the metadata). Blocking: call from
    /// `spawn_blocking`.
    pub fn run(
        &self,
        model: &str,
        inputs: &[InferTensor],
    ) -> Result<Vec<InferTensor>, RequestError> {
        let logits = match model {
            VQA_CLOUD => {
                let compact = u8_input(inputs, "compact")?;
                let question = f32_input(inputs, "question")?;
                self.check_compact(compact)?;
                self.head_run(compact, question)?
            }
            VQA_CLOUD_DENSE => {
                let features = f32_input(inputs, "features")?;
                let question = f32_input(inputs, "question")?;
                let bytes = self.dense_compact(features, "features")?;
                self.head_run(&bytes, question)?
            }
            VQA_FULL => self.run_full(inputs)?,
            other => return Err(RequestError::Bad(format!("unknown model `{other}`"))),
        };
        if logits.len() != self.answers {
            return Err(RequestError::Internal(format!(
                "cloud model gave {} logits, expected {}",
                logits.len(),
                self.answers
            )));
        }
        Ok(vec![InferTensor::f32(
            "logits",
            vec![1, i64_of(self.answers)],
            logits,
        )])
    }

    /// A compact tensor must decode and be for the cloud model's grid.
    fn check_compact(&self, bytes: &[u8]) -> Result<(), RequestError> {
        let view = compact::decode(bytes)
            .map_err(|e| RequestError::Bad(format!("tensor `compact`: {e}")))?;
        if view.total() != self.patches || view.dim() != self.dim {
            return Err(RequestError::Bad(format!(
                "tensor `compact`: {} patches × {} features, the model takes {} × {}",
                view.total(),
                view.dim(),
                self.patches,
                self.dim
            )));
        }
        Ok(())
    }

    /// Every patch of patch-major features, quantised into one compact tensor.
    fn dense_compact(&self, features: &[f32], tensor: &str) -> Result<Vec<u8>, RequestError> {
        if let Some(i) = features.iter().position(|x| !x.is_finite()) {
            return Err(RequestError::Bad(format!(
                "tensor `{tensor}`: element {i} is not finite"
            )));
        }
        let keep = vec![true; self.patches];
        let mut buf = vec![0u8; compact::encoded_len(self.patches, self.dim, self.patches)];
        let n = compact::encode_features(&mut buf, features, self.dim, &keep)
            .map_err(|e| RequestError::Bad(format!("tensor `{tensor}`: {e}")))?;
        buf.truncate(n);
        Ok(buf)
    }

    fn head_run(&self, compact: &[u8], question: &[f32]) -> Result<Vec<f32>, RequestError> {
        lock(&self.head)
            .run(compact, question)
            .map(|o| o.logits)
            .map_err(|e| RequestError::Internal(e.to_string()))
    }

    fn run_full(&self, inputs: &[InferTensor]) -> Result<Vec<f32>, RequestError> {
        let frame = find(inputs, "frame")?;
        let (height, width) = match frame.shape.as_slice() {
            [h, w, 3] => (dim_u32(*h, "frame")?, dim_u32(*w, "frame")?),
            other => {
                return Err(RequestError::Bad(format!(
                    "tensor `frame`: expected shape [H, W, 3], got {other:?}"
                )));
            }
        };
        if width == 0 || height == 0 {
            return Err(RequestError::Bad(format!(
                "tensor `frame`: empty frame ({width}×{height})"
            )));
        }
        let pixels = u8_input(inputs, "frame")?.to_vec();
        let image = RgbImage::from_raw(width, height, pixels).ok_or_else(|| {
            RequestError::Bad(format!(
                "tensor `frame`: data is not {height}×{width}×3 bytes"
            ))
        })?;
        let question = match &find(inputs, "question")?.data {
            TensorData::Bytes(v) if v.len() == 1 => std::str::from_utf8(&v[0])
                .map_err(|_| RequestError::Bad("tensor `question`: not UTF-8 text".into()))?,
            _ => {
                return Err(RequestError::Bad(
                    "tensor `question`: expected one BYTES element".into(),
                ));
            }
        };
        let result = {
            let mut brain = lock(&self.brain);
            // Requests come from many clients: no temporal state carries over.
            brain.reset_stream();
            brain
                .process(&EdgeRequest {
                    request_id: 0,
                    image: ImageInput::Decoded(&image),
                    question,
                    audio: None,
                })
                .map_err(|e| RequestError::Bad(format!("vqa-full: {e}")))?
        };
        let bytes = self.dense_compact(&result.features, "frame")?;
        self.head_run(&bytes, &result.question_embedding)
    }
}

fn dim_u32(d: i64, tensor: &str) -> Result<u32, RequestError> {
    u32::try_from(d)
        .map_err(|_| RequestError::Bad(format!("tensor `{tensor}`: dimension {d} out of range")))
}

fn find<'a>(inputs: &'a [InferTensor], name: &str) -> Result<&'a InferTensor, RequestError> {
    inputs
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| RequestError::Bad(format!("input `{name}` is missing")))
}

fn u8_input<'a>(inputs: &'a [InferTensor], name: &str) -> Result<&'a [u8], RequestError> {
    match &find(inputs, name)?.data {
        TensorData::U8(v) => Ok(v),
        other => Err(RequestError::Bad(format!(
            "tensor `{name}`: expected UINT8, got {}",
            other.datatype()
        ))),
    }
}

fn f32_input<'a>(inputs: &'a [InferTensor], name: &str) -> Result<&'a [f32], RequestError> {
    match &find(inputs, name)?.data {
        TensorData::F32(v) => Ok(v),
        other => Err(RequestError::Bad(format!(
            "tensor `{name}`: expected FP32, got {}",
            other.datatype()
        ))),
    }
}
