//! [`CloudState`]: the served models (metadata, pools of loaded sessions, counters) and
//! running one request through a model.

pub use super::counters::{Counters, ModelStats};
use super::decode::decode_image;
use super::gate::Gate;
use super::limits::{BodyLimit, MAX_QUESTION_BYTES, QUEUE_PER_WORKER, TensorBound};
use super::pool::Pool;
use anyhow::Context as _;
use msao::compact;
use msao::message::Precision;
use msao_agent::host::inference::{BrainOptions, CloudHead, EdgeBrain, EdgeRequest, ImageInput};
use msao_agent::host::models::PipelineSpec;
use msao_agent::host::models::{ModelCatalog, OrtRuntime, RuntimeOptions};
use msao_agent::host::oip::{DataType, InferTensor, ModelMetadata, TensorData, TensorSpec};
use std::num::NonZeroUsize;
use std::path::Path;

/// The one version every model has.
pub const VERSION: &str = "1";
/// Suffix of the dense-features model's name: `<[cloud] model>-dense` takes FP32 patch
/// features `[1, P, D]` under the pipeline's `[image] features` name (for a client that
/// does not quantise; the bench's cloud-features baseline sends every patch as int8 to the
/// compact model instead).
pub const DENSE_SUFFIX: &str = "-dense";
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

/// One served model.
#[derive(Debug)]
pub struct ServedModel {
    /// Its OIP metadata (the contract clients check against).
    pub metadata: ModelMetadata,
    /// Its counters.
    pub counters: Counters,
    /// The largest request body it accepts (from its inputs' sizes).
    pub body_limit: BodyLimit,
}

/// Everything the server holds: metadata, sessions, counters. Each request borrows a
/// session from a pool ([`Pool`]): `workers` cloud heads (for every model) and `workers`
/// FP32 edge brains (for `vqa-full`), so up to `workers` requests run at once.
pub struct CloudState {
    models: Vec<ServedModel>,
    gate: Gate,
    heads: Pool<CloudHead>,
    brains: Pool<EdgeBrain>,
    patches: usize,
    dim: usize,
    answers: usize,
    /// Model and tensor names: the pipeline's `[cloud]`.
    names: msao_agent::host::models::CloudModels,
    dense_model: String,
    /// The dense model's input: the image encoder's features output, by its pipeline name.
    dense_features: String,
    /// Sessions borrow the loaded library; it lives as long as they do.
    _runtime: OrtRuntime,
}

impl std::fmt::Debug for CloudState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudState")
            .field("models", &self.models)
            .field("workers", &self.workers())
            .finish_non_exhaustive()
    }
}

/// The default worker count: the CPUs this process may run on (`taskset` and cgroup
/// quotas included), 1 when that cannot be told.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
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
    /// Loads the shipped pipeline's cloud models from `models_dir` with ONNX Runtime found
    /// the usual way (`$MSAO_ORT_LIB`, then the setup script's location), [`default_workers`]
    /// sessions each.
    pub fn load(models_dir: &Path) -> anyhow::Result<Self> {
        Self::load_with(models_dir, &RuntimeOptions::default())
    }

    /// Loads the shipped pipeline's cloud models with explicit runtime options,
    /// [`default_workers`] sessions each.
    pub fn load_with(models_dir: &Path, options: &RuntimeOptions) -> anyhow::Result<Self> {
        let pipeline = PipelineSpec::load_default(models_dir)?;
        Self::load_workers(models_dir, &pipeline, options, default_workers())
    }

    /// Loads `workers` sessions of each model of `pipeline`'s `[cloud]` (at least 1): the
    /// compact-tensor model, its dense-features twin and the full-frame model, under the
    /// pipeline's model and tensor names. With more than one worker, and no
    /// `intra_threads` in `options`, each session gets one intra-op thread: the workers are
    /// the parallelism, and N sessions with a thread per core each would oversubscribe.
    pub fn load_workers(
        models_dir: &Path,
        pipeline: &PipelineSpec,
        options: &RuntimeOptions,
        workers: usize,
    ) -> anyhow::Result<Self> {
        let workers = workers.max(1);
        let mut options = options.clone();
        if workers > 1 && options.intra_threads.is_none() {
            options.intra_threads = Some(1);
        }
        let runtime = OrtRuntime::new(&options).context("cannot start ONNX Runtime")?;
        let catalog = ModelCatalog::load_dir(models_dir).with_context(|| {
            format!("cannot read the model catalog in {}", models_dir.display())
        })?;
        let brain_options = BrainOptions {
            image_precision: Some(Precision::Fp32),
            text_precision: Some(Precision::Fp32),
            audio: false,
            // Only the features are used here, never the local answer.
            second_view_below: None,
            ..BrainOptions::default()
        };
        let names = pipeline.cloud.clone();
        let dense_model = format!("{}{DENSE_SUFFIX}", names.model);
        let dense_features = pipeline.image.features.clone();
        let mut brains = Vec::with_capacity(workers);
        let mut heads = Vec::with_capacity(workers);
        for _ in 0..workers {
            brains.push(
                EdgeBrain::load(&runtime, &catalog, pipeline, &brain_options).with_context(
                    || format!("cannot load the FP32 edge brain ({})", names.full_model),
                )?,
            );
            heads.push(
                CloudHead::from_catalog(&runtime, &catalog, pipeline, brain_options.provider)
                    .context("cannot load the cloud model")?,
            );
        }
        let (patches, dim) = (heads[0].patches(), heads[0].dim());
        let question_dim = brains[0].text_encoder().dim();
        let answers = names.labels.len();
        let (p, d, q, a) = (
            i64_of(patches),
            i64_of(dim),
            i64_of(question_dim),
            i64_of(answers),
        );
        let logits = spec(&names.logits, DataType::F32, &[1, a]);
        let question = spec(&names.question, DataType::F32, &[1, q]);
        let model = |name: &str, inputs: Vec<TensorSpec>, bounds: &[TensorBound]| ServedModel {
            metadata: ModelMetadata {
                name: name.into(),
                versions: vec![VERSION.into()],
                platform: PLATFORM.into(),
                inputs,
                outputs: vec![logits.clone()],
            },
            counters: Counters::default(),
            body_limit: BodyLimit::of(bounds),
        };
        // Each input's largest size: `compact` is at most every patch kept.
        let question_bound = TensorBound::numeric(question_dim, 4);
        let compact_max = compact::encoded_len(patches, dim, patches);
        let models = vec![
            model(
                &names.model,
                vec![
                    spec(&names.compact, DataType::U8, &[1, -1]),
                    question.clone(),
                ],
                &[TensorBound::numeric(compact_max, 1), question_bound],
            ),
            model(
                &dense_model,
                vec![
                    spec(&dense_features, DataType::F32, &[1, p, d]),
                    question.clone(),
                ],
                &[TensorBound::numeric(patches * dim, 4), question_bound],
            ),
            model(
                &names.full_model,
                vec![
                    spec(&names.full_image, DataType::Bytes, &[1]),
                    spec(&names.full_question, DataType::Bytes, &[1]),
                ],
                &[
                    TensorBound::blob(super::MAX_IMAGE_BYTES),
                    TensorBound::text(1, MAX_QUESTION_BYTES),
                ],
            ),
        ];
        Ok(Self {
            models,
            gate: Gate::new(workers, workers.saturating_mul(QUEUE_PER_WORKER)),
            heads: Pool::new(heads),
            brains: Pool::new(brains),
            patches,
            dim,
            answers,
            names,
            dense_model,
            dense_features,
            _runtime: runtime,
        })
    }

    /// The same state with room for `queue` requests waiting for a session (default
    /// [`QUEUE_PER_WORKER`] per worker); more are refused with `429`.
    #[must_use]
    pub fn with_queue(mut self, queue: usize) -> Self {
        self.gate = Gate::new(self.workers(), queue);
        self
    }

    /// Admission to the sessions.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Sessions per model: how many requests run at once.
    pub fn workers(&self) -> usize {
        self.heads.size()
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

    /// Runs one request (inputs already checked against the metadata). Blocking (it may wait
    /// for a free session): call from `spawn_blocking`.
    pub fn run(
        &self,
        model: &str,
        inputs: &[InferTensor],
    ) -> Result<Vec<InferTensor>, RequestError> {
        let n = &self.names;
        let logits = if model == n.model {
            let compact = u8_input(inputs, &n.compact)?;
            let question = f32_input(inputs, &n.question)?;
            self.check_compact(compact)?;
            self.head_run(self.counters(model), compact, question)?
        } else if model == self.dense_model {
            let features = f32_input(inputs, &self.dense_features)?;
            let question = f32_input(inputs, &n.question)?;
            let bytes = self.dense_compact(features, &self.dense_features)?;
            self.head_run(self.counters(model), &bytes, question)?
        } else if model == n.full_model {
            self.run_full(inputs)?
        } else {
            return Err(RequestError::Bad(format!("unknown model `{model}`")));
        };
        if logits.len() != self.answers {
            return Err(RequestError::Internal(format!(
                "cloud model gave {} logits, expected {}",
                logits.len(),
                self.answers
            )));
        }
        Ok(vec![InferTensor::f32(
            &self.names.logits,
            vec![1, i64_of(self.answers)],
            logits,
        )])
    }

    /// A compact tensor must decode and be for the cloud model's grid.
    fn check_compact(&self, bytes: &[u8]) -> Result<(), RequestError> {
        let name = &self.names.compact;
        let view = compact::decode(bytes)
            .map_err(|e| RequestError::Bad(format!("tensor `{name}`: {e}")))?;
        if view.total() != self.patches || view.dim() != self.dim {
            return Err(RequestError::Bad(format!(
                "tensor `{name}`: {} patches × {} features, the model takes {} × {}",
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

    /// A model's counters, for [`Counters::running`].
    fn counters(&self, model: &str) -> Option<&Counters> {
        self.model(model).map(|m| &m.counters)
    }

    /// The cloud head on one compact tensor; the run is counted in `counters` (when given)
    /// once it holds a head.
    fn head_run(
        &self,
        counters: Option<&Counters>,
        compact: &[u8],
        question: &[f32],
    ) -> Result<Vec<f32>, RequestError> {
        let mut head = self.heads.get();
        let _running = counters.map(Counters::running);
        head.run(compact, question)
            .map(|o| o.logits)
            .map_err(|e| RequestError::Internal(e.to_string()))
    }

    fn run_full(&self, inputs: &[InferTensor]) -> Result<Vec<f32>, RequestError> {
        // The cheap check first: a bad question is refused before the image is decoded.
        let n = &self.names;
        let question = text_input(inputs, &n.full_question)?;
        let image = decode_image(one_element(inputs, &n.full_image)?, &n.full_image)?;
        // The brain is held until the head has run (brain, then head: one order, so no
        // deadlock), which keeps this model's runs at most `workers` at once.
        let mut brain = self.brains.get();
        let _running = self.counters(&n.full_model).map(Counters::running);
        // Requests come from many clients: no temporal state carries over.
        brain.reset_stream();
        let result = brain
            .process(&EdgeRequest {
                request_id: 0,
                image: ImageInput::Decoded(&image),
                question,
                audio: None,
            })
            .map_err(|e| RequestError::Bad(format!("{}: {e}", n.full_model)))?;
        let bytes = self.dense_compact(&result.features, &n.full_image)?;
        self.head_run(None, &bytes, &result.question_embedding)
    }
}

/// The one element of a BYTES `[1]` tensor.
fn one_element<'a>(inputs: &'a [InferTensor], name: &str) -> Result<&'a [u8], RequestError> {
    match &find(inputs, name)?.data {
        TensorData::Bytes(v) if v.len() == 1 => Ok(&v[0]),
        _ => Err(RequestError::Bad(format!(
            "tensor `{name}`: expected one BYTES element"
        ))),
    }
}

/// The one element of a BYTES `[1]` tensor, as UTF-8 text.
fn text_input<'a>(inputs: &'a [InferTensor], name: &str) -> Result<&'a str, RequestError> {
    std::str::from_utf8(one_element(inputs, name)?)
        .map_err(|_| RequestError::Bad(format!("tensor `{name}`: not UTF-8 text")))
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
