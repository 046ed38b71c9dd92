//! [`EdgeBrain`]: encoders → MAS → local answer and compact tensor for one request.

use super::cloud::argmax;
use super::region::{self, Region, RegionProposer};
use super::{BrainError, Temperature};
use crate::encoders::{
    AudioEncoder, ImageEncoder, InputLimits, TextEncoder, decode_image_within, decode_wav_within,
    open_image_within, read_wav_within,
};
use crate::mas::{self, AudioActivity, ImageMas, MasConfig, Relevance, TemporalTracker};
use crate::pipelines::PipelineSpec;
use crate::runtime::{InferenceRuntime, ModelCatalog};
use image::RgbImage;
use msao::compact;
use msao::message::{
    Decision, ExecProvider, MasScore, Modality, ModalitySet, Outcome, Precision, RequestTrace,
    StageTimings, TraceAnswer,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Question embeddings remembered (questions repeat; the cache is cleared when full).
const QUESTION_CACHE: usize = 1024;

/// What to load and how to score.
#[derive(Debug, Clone)]
pub struct BrainOptions {
    /// Precision of the image model; `None`: the pipeline's (`[image] precision`).
    pub image_precision: Option<Precision>,
    /// Precision of the text encoder; `None`: the pipeline's.
    pub text_precision: Option<Precision>,
    /// Execution provider asked for (the one that runs is reported).
    pub provider: ExecProvider,
    /// Load the pipeline's audio model (FP32), when it has one.
    pub audio: bool,
    /// Second view: when the first view's calibrated confidence is below this, the frame is
    /// encoded again mirrored left–right and the two views' probabilities are averaged
    /// (answers in this workload do not change under a horizontal mirror). `None`: one
    /// view only. One more run of the edge graph for the unsure requests only, far cheaper
    /// than the offload it often saves.
    pub second_view_below: Option<f32>,
    /// Caps on each request's frame, question and audio (`[limits]`).
    pub limits: InputLimits,
}

/// Streams whose temporal MAS state is kept at once (cameras, the API, the replay).
pub const MAX_STREAMS: usize = 32;

/// Default for [`BrainOptions::second_view_below`]: 13 % of the easy-VQA held-out
/// questions fall below it and get a second view; above it, a second view changes nothing
/// there (`docs/offload.md`).
pub const SECOND_VIEW_BELOW: f32 = 0.95;

impl Default for BrainOptions {
    fn default() -> Self {
        Self {
            image_precision: None,
            text_precision: None,
            provider: ExecProvider::Cpu,
            audio: true,
            second_view_below: Some(SECOND_VIEW_BELOW),
            limits: InputLimits::default(),
        }
    }
}

/// A frame, as a file, encoded bytes or already decoded.
#[derive(Debug, Clone, Copy)]
pub enum ImageInput<'a> {
    /// A PNG or JPEG file.
    File(&'a Path),
    /// Encoded bytes, named for errors.
    Bytes {
        /// The bytes.
        bytes: &'a [u8],
        /// What they are (file or stream position), for errors.
        name: &'a str,
    },
    /// A decoded frame.
    Decoded(&'a RgbImage),
}

/// An audio track, as a WAV file or samples.
#[derive(Debug, Clone, Copy)]
pub enum AudioInput<'a> {
    /// A mono WAV file at the probe's sample rate.
    File(&'a Path),
    /// Mono samples in [-1, 1] at the probe's sample rate.
    Samples(&'a [f32]),
    /// A mono WAV file's bytes at the probe's sample rate, named for errors.
    Wav {
        /// The bytes.
        bytes: &'a [u8],
        /// What they are, for errors.
        name: &'a str,
    },
}

/// One request.
#[derive(Debug, Clone, Copy)]
pub struct EdgeRequest<'a> {
    /// Request id.
    pub request_id: u32,
    /// The frame.
    pub image: ImageInput<'a>,
    /// The question.
    pub question: &'a str,
    /// Audio, when the request has any.
    pub audio: Option<AudioInput<'a>>,
}

/// Stage times of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EdgeTimings {
    /// Image decode and preprocessing (resize, normalise).
    pub preprocess: Duration,
    /// Question → embedding (a cache hit is near zero, see `text_cached`).
    pub text: Duration,
    /// True when the question embedding came from the cache.
    pub text_cached: bool,
    /// The edge graph: image encoder and local head in one run.
    pub image: Duration,
    /// The second, mirrored view's run of the edge graph, when the first was unsure.
    pub second_view: Option<Duration>,
    /// Audio decode and VAD, when there was audio.
    pub audio: Option<Duration>,
    /// MAS: spatial, temporal, modal, combined.
    pub mas: Duration,
    /// Quantising and encoding the compact tensor.
    pub compact: Duration,
    /// Request in → result out.
    pub total: Duration,
}

/// What MAS says about the audio of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioMas {
    /// VAD activity.
    pub activity: AudioActivity,
    /// Relevance to the question.
    pub relevance: Relevance,
    /// Wire form.
    pub score: MasScore,
    /// True when the answer needs the audio.
    pub needed: bool,
}

/// The edge's view of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeResult {
    /// Request id.
    pub request_id: u32,
    /// Local answer (class index).
    pub answer: usize,
    /// Confidence in the local answer, the offload gate's signal: the edge graph's learned
    /// confidence when it has one (`models/vqa/gate.py`), else the calibrated probability of
    /// the answer; averaged over both views when there were two.
    pub confidence: f32,
    /// Calibrated probabilities (the mean over both views when there were two).
    pub probabilities: Vec<f32>,
    /// The first view's answer alone (equals `answer` when there was one view).
    pub first_view_answer: usize,
    /// Views of the frame the answer rests on: 1, or 2 when the first was unsure.
    pub views: u8,
    /// Image MAS.
    pub image: ImageMas,
    /// Question MAS.
    pub text: MasScore,
    /// Audio MAS, when the request had audio.
    pub audio: Option<AudioMas>,
    /// The encoded compact tensor (kept patches only): what an offload uploads.
    pub compact: Vec<u8>,
    /// Every patch's features, patch-major (`patches × dim`), before MAS drops any.
    pub features: Vec<f32>,
    /// The question embedding (sent alongside the compact tensor).
    pub question_embedding: Vec<f32>,
    /// Bytes of the raw RGB frame as received (width × height × 3).
    pub raw_frame_bytes: usize,
    /// Where the region step found the object in a camera-size frame (`None`: the whole
    /// frame was encoded, because it already had the model's size, the step is disabled,
    /// or nothing card-like was found).
    pub region: Option<Region>,
    /// Stage times.
    pub timings: EdgeTimings,
    /// Provider that ran the edge graph.
    pub provider: ExecProvider,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

impl EdgeResult {
    /// The telemetry record of this request answered locally.
    pub fn trace(&self) -> RequestTrace {
        let mut modalities = ModalitySet::default()
            .with(Modality::Image)
            .with(Modality::Text);
        let mut mas = heapless::Vec::new();
        // Capacity 3 = one per modality: these pushes cannot fail.
        let _ = mas.push(self.image.to_wire());
        let _ = mas.push(self.text.clone());
        if let Some(a) = &self.audio {
            modalities = modalities.with(Modality::Audio);
            let _ = mas.push(a.score.clone());
        }
        let t = &self.timings;
        RequestTrace {
            request_id: self.request_id,
            modalities,
            mas,
            decision: Decision::Local,
            local_confidence_pm: Some(mas::permille(self.confidence)),
            answer: u16::try_from(self.answer).ok().map(TraceAnswer::Class),
            bytes_up: 0,
            bytes_down: 0,
            bytes_wasted: 0,
            timings: StageTimings {
                encode_us: Some(micros(
                    t.preprocess + t.text + t.image + t.audio.unwrap_or_default(),
                )),
                mas_us: Some(micros(t.mas)),
                policy_us: None,
                local_us: None,
                upload_us: None,
                cloud_us: None,
                total_us: Some(micros(t.total)),
            },
            outcome: Outcome::LocalCommitted,
            provider: self.provider,
        }
    }
}

/// Text, image and (optionally) audio encoders with MAS state for one stream.
pub struct EdgeBrain {
    text: TextEncoder,
    image: ImageEncoder,
    audio: Option<AudioEncoder>,
    mas: MasConfig,
    image_prompts: Vec<Vec<f32>>,
    audio_prompts: Vec<Vec<f32>>,
    /// Temporal MAS state of the current stream, and of the others (least recent first).
    temporal: TemporalTracker,
    stream: String,
    other_streams: Vec<(String, TemporalTracker)>,
    temperature: Temperature,
    pipeline: PipelineSpec,
    questions: HashMap<String, Question>,
    region: Option<Box<dyn RegionProposer>>,
    second_view_below: Option<f32>,
    limits: InputLimits,
}

/// A question seen before: its embedding and its relevance to each modality (both depend
/// on the text only, so they are computed once per distinct question).
#[derive(Debug, Clone)]
struct Question {
    embedding: Vec<f32>,
    image: Relevance,
    audio: Relevance,
}

impl EdgeBrain {
    /// Loads the pipeline's encoders from a catalog, reads its head calibration and embeds
    /// the MAS relevance prompts.
    pub fn load(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        pipeline: &PipelineSpec,
        options: &BrainOptions,
    ) -> Result<Self, BrainError> {
        let mas_config = &pipeline.mas;
        let image_precision = options.image_precision.unwrap_or(pipeline.image.precision);
        mas_config.validate()?;
        let mut text = TextEncoder::from_catalog(
            runtime,
            catalog,
            &pipeline.text,
            options.text_precision.unwrap_or(pipeline.text.precision),
            options.provider,
        )?;
        let image = ImageEncoder::from_catalog(
            runtime,
            catalog,
            pipeline,
            image_precision,
            options.provider,
        )?;
        if image.question_dim() != text.dim() {
            return Err(BrainError::Pipeline {
                path: pipeline.path.display().to_string(),
                reason: format!(
                    "{} takes a {}-value question but {} embeds {} values",
                    image.label(),
                    image.question_dim(),
                    text.label(),
                    text.dim()
                ),
            });
        }
        let audio = match (&pipeline.audio, options.audio) {
            (Some(a), true) => Some(AudioEncoder::from_catalog(
                runtime,
                catalog,
                &a.model,
                Precision::Fp32,
                options.provider,
            )?),
            _ => None,
        };
        // Fitted to the graph the logits come from: the image graph, or a separate head's.
        let temperature = Temperature::load(&pipeline.head.calibration, image.logits_model())?;
        let region = region::load(&pipeline.region, runtime, catalog, options.provider)?;
        let embed_all =
            |text: &mut TextEncoder, prompts: &[String]| -> Result<Vec<Vec<f32>>, BrainError> {
                let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
                Ok(text.embed_batch(&refs)?)
            };
        let image_prompts = embed_all(&mut text, &mas_config.modal.image_prompts)?;
        let audio_prompts = embed_all(&mut text, &mas_config.modal.audio_prompts)?;
        Ok(Self {
            text,
            image,
            audio,
            temporal: TemporalTracker::new(mas_config.temporal),
            stream: String::new(),
            other_streams: Vec::new(),
            mas: mas_config.clone(),
            image_prompts,
            audio_prompts,
            temperature,
            pipeline: pipeline.clone(),
            questions: HashMap::new(),
            region,
            second_view_below: options.second_view_below,
            limits: options.limits,
        })
    }

    /// The caps on each request's inputs.
    pub fn limits(&self) -> &InputLimits {
        &self.limits
    }

    /// The pipeline the brain was loaded from (labels, cloud models and tensor names).
    pub fn pipeline(&self) -> &PipelineSpec {
        &self.pipeline
    }

    /// The image encoder (for its labels and layout).
    pub fn image_encoder(&self) -> &ImageEncoder {
        &self.image
    }

    /// The image encoder, to run it outside [`Self::process`] (evaluation, benches).
    pub fn image_encoder_mut(&mut self) -> &mut ImageEncoder {
        &mut self.image
    }

    /// The text encoder.
    pub fn text_encoder(&self) -> &TextEncoder {
        &self.text
    }

    /// The calibration in use.
    pub fn temperature(&self) -> Temperature {
        self.temperature
    }

    /// Forgets every stream's previous frames (a new run).
    pub fn reset_stream(&mut self) {
        self.temporal.reset();
        self.other_streams.clear();
    }

    /// Makes `stream` the current one: temporal MAS compares the next frame with that
    /// stream's previous frame (each camera is its own stream). At most [`MAX_STREAMS`]
    /// are remembered; the least recently used is forgotten first.
    pub fn select_stream(&mut self, stream: &str) {
        if self.stream == stream {
            return;
        }
        let tracker = match self.other_streams.iter().position(|(s, _)| s == stream) {
            Some(i) => self.other_streams.remove(i).1,
            None => TemporalTracker::new(self.mas.temporal),
        };
        let previous = std::mem::replace(&mut self.temporal, tracker);
        let name = std::mem::replace(&mut self.stream, stream.to_string());
        self.other_streams.push((name, previous));
        if self.other_streams.len() >= MAX_STREAMS {
            self.other_streams.remove(0);
        }
    }

    /// Forgets the cached question embeddings.
    pub fn clear_question_cache(&mut self) {
        self.questions.clear();
    }

    /// The question's embedding, from the cache when it was seen before.
    pub fn question_embedding(&mut self, question: &str) -> Result<(Vec<f32>, bool), BrainError> {
        let (q, cached) = self.question(question)?;
        Ok((q.embedding, cached))
    }

    fn question(&mut self, question: &str) -> Result<(Question, bool), BrainError> {
        self.limits.check_question(question)?;
        if let Some(q) = self.questions.get(question) {
            return Ok((q.clone(), true));
        }
        let embedding = self.text.embed(question)?;
        let q = Question {
            image: mas::relevance(&embedding, &self.image_prompts, &self.mas.modal)?,
            audio: mas::relevance(&embedding, &self.audio_prompts, &self.mas.modal)?,
            embedding,
        };
        if self.questions.len() >= QUESTION_CACHE {
            self.questions.clear();
        }
        self.questions.insert(question.to_string(), q.clone());
        Ok((q, false))
    }

    /// Handles one request. Errors concern this request only.
    pub fn process(&mut self, request: &EdgeRequest<'_>) -> Result<EdgeResult, BrainError> {
        let start = Instant::now();
        let mut timings = EdgeTimings::default();

        let t = Instant::now();
        let decoded;
        let frame = match request.image {
            ImageInput::File(path) => {
                decoded = open_image_within(path, &self.limits)?;
                &decoded
            }
            ImageInput::Bytes { bytes, name } => {
                decoded = decode_image_within(bytes, name, &self.limits)?;
                &decoded
            }
            ImageInput::Decoded(img) => img,
        };
        let raw_frame_bytes = frame.width() as usize * frame.height() as usize * 3;
        let pre = self.image.preprocessing();
        let region = match self.region.as_mut() {
            Some(p) if frame.width() > pre.width || frame.height() > pre.height => {
                p.propose(frame)?
            }
            _ => None,
        };
        let pixels = match region {
            Some(r) => {
                let crop = image::imageops::crop_imm(frame, r.x, r.y, r.width, r.height).to_image();
                self.image.preprocess(&crop)
            }
            None => self.image.preprocess(frame),
        };
        timings.preprocess = t.elapsed();

        let t = Instant::now();
        let (asked, cached) = self.question(request.question)?;
        let question = asked.embedding;
        let tokens = self
            .text
            .token_ids(request.question)?
            .len()
            .saturating_sub(2);
        timings.text = t.elapsed();
        timings.text_cached = cached;

        let vad = match request.audio {
            None => None,
            Some(input) => {
                let t = Instant::now();
                let audio = self.audio.as_mut().ok_or(BrainError::NoAudioModel)?;
                let owned;
                let samples = match input {
                    AudioInput::File(path) => {
                        owned = read_wav_within(path, audio.sample_rate(), &self.limits)?;
                        &owned[..]
                    }
                    AudioInput::Wav { bytes, name } => {
                        owned = decode_wav_within(bytes, name, audio.sample_rate(), &self.limits)?;
                        &owned[..]
                    }
                    AudioInput::Samples(s) => {
                        self.limits
                            .check_audio(s.len() as u64, audio.sample_rate())?;
                        s
                    }
                };
                let p = audio.speech_probabilities(samples)?;
                timings.audio = Some(t.elapsed());
                Some(p)
            }
        };

        // The second view needs the input again; keep it only when a second view can run.
        let mut second_pixels = self.second_view_below.map(|_| pixels.clone());
        let t = Instant::now();
        let out = self.image.run(pixels, &question)?;
        timings.image = t.elapsed();

        let t = Instant::now();
        let layout = self.image.probe_layout();
        let (spatial, descriptor) =
            mas::spatial_with_descriptor(&out.probe, &layout, &self.mas.spatial)?;
        let temporal = self.temporal.observe(&descriptor)?;
        let image_mas = mas::combine_image(spatial, temporal, asked.image, &self.mas.modal);
        let text_mas = mas::combine_text(tokens);
        let audio_mas = match vad {
            None => None,
            Some(p) => {
                let activity = mas::audio_activity(&p, &self.mas.modal);
                let relevance = asked.audio;
                let (score, needed) = mas::combine_audio(&activity, relevance, &self.mas.modal);
                Some(AudioMas {
                    activity,
                    relevance,
                    score,
                    needed,
                })
            }
        };
        timings.mas = t.elapsed();

        let t = Instant::now();
        let dim = self.image.feature_dim();
        let patches = layout.patches();
        let mut patch_major = vec![0.0f32; dim * patches];
        compact::channel_major_to_patch_major(&out.features, dim, patches, &mut patch_major)?;
        let mut buf = vec![0u8; compact::encoded_len(patches, dim, image_mas.spatial.kept)];
        let n = compact::encode_features(&mut buf, &patch_major, dim, &image_mas.spatial.keep)?;
        buf.truncate(n);
        timings.compact = t.elapsed();

        let mut probabilities = self.temperature.probabilities(&out.logits);
        let first_view_answer = argmax(&probabilities);
        let mut views = 1;
        // The second view is decided on the calibrated probability of the first view's answer;
        // the gate's signal is the graph's learned confidence when it has one (averaged over
        // both views), else that probability (of the averaged probabilities).
        let mut learned = out.confidence;
        let first_confidence = probabilities.get(first_view_answer).copied().unwrap_or(0.0);
        if let (Some(below), Some(pixels)) = (self.second_view_below, second_pixels.as_mut())
            && first_confidence < below
        {
            let t = Instant::now();
            self.image.mirror(pixels);
            let second = self.image.run(std::mem::take(pixels), &question)?;
            let p2 = self.temperature.probabilities(&second.logits);
            for (p, q) in probabilities.iter_mut().zip(&p2) {
                *p = 0.5 * (*p + q);
            }
            learned = learned.zip(second.confidence).map(|(a, b)| 0.5 * (a + b));
            timings.second_view = Some(t.elapsed());
            views = 2;
        }
        let answer = argmax(&probabilities);
        let confidence =
            learned.unwrap_or_else(|| probabilities.get(answer).copied().unwrap_or(0.0));
        timings.total = start.elapsed();
        Ok(EdgeResult {
            request_id: request.request_id,
            answer,
            confidence,
            probabilities,
            first_view_answer,
            views,
            image: image_mas,
            text: text_mas,
            audio: audio_mas,
            compact: buf,
            features: patch_major,
            question_embedding: question,
            raw_frame_bytes,
            region,
            timings,
            provider: self.image.provider(),
        })
    }
}
