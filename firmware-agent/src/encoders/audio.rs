//! Audio activity probe: a model in Silero VAD's layout (`models/silero-vad/`) over a mono
//! track, one speech probability per chunk. Its tensors are the manifest's `[bindings]`
//! (`role = "audio-activity"`): `input`, recurrent `state` / `state_out`, the `speech`
//! probability and, optionally, the `sample_rate` input. The manifest's `[preprocess]` (kind `audio`) gives the
//! sample rate, the chunk and the context carried over from the previous chunk (Silero v5+:
//! 512 new samples + 64 of context at 16 kHz); the recurrent state is carried across chunks.
//!
//! WAV files are read with `hound` (16-bit PCM or 32-bit float, mono, at the manifest's
//! rate); anything else is an [`AudioEncoderError::Read`] naming the file, for that request
//! only.

use super::error::AudioEncoderError;
use super::limits::InputLimits;
use crate::runtime::manifest::{AudioPreprocess, Role};
use crate::runtime::{
    InferenceRuntime, LoadedModel, ModelCatalog, ModelManifest, NamedTensor, Tensor,
};
use msao::message::{ExecProvider, Modality, Precision};
use std::path::Path;

/// An audio activity model (Silero VAD's layout), loaded.
pub struct AudioEncoder {
    model: Box<dyn LoadedModel>,
    /// Its tensors, from the manifest's `[bindings]`.
    names: Names,
    /// Shape of the recurrent state at batch 1.
    state_shape: Vec<usize>,
    pre: AudioPreprocess,
    label: String,
}

impl AudioEncoder {
    /// Loads the VAD model `name` (a pipeline's `[audio] model`) at `precision` from a
    /// catalog.
    pub fn from_catalog(
        runtime: &dyn InferenceRuntime,
        catalog: &ModelCatalog,
        name: &str,
        precision: Precision,
        provider: ExecProvider,
    ) -> Result<Self, AudioEncoderError> {
        let manifest =
            catalog
                .find(name, precision)
                .ok_or_else(|| AudioEncoderError::NotInCatalog {
                    name: name.into(),
                    precision: format!("{precision:?}").to_lowercase(),
                })?;
        Self::load(runtime, manifest, provider)
    }

    /// Loads the model an audio manifest describes.
    pub fn load(
        runtime: &dyn InferenceRuntime,
        manifest: &ModelManifest,
        provider: ExecProvider,
    ) -> Result<Self, AudioEncoderError> {
        let label = manifest.label();
        let bad = |reason: String| AudioEncoderError::Manifest {
            model: label.clone(),
            reason,
        };
        if manifest.modality != Modality::Audio {
            return Err(bad("is not an audio model".into()));
        }
        manifest.check_role(Role::AudioActivity).map_err(&bad)?;
        let bound = |slot: &str| {
            manifest
                .binding(slot)
                .map(str::to_string)
                .ok_or_else(|| bad(format!("has no [bindings] {slot}")))
        };
        let names = Names {
            input: bound("input")?,
            state: bound("state")?,
            speech: bound("speech")?,
            state_out: bound("state_out")?,
            // The FP16 export takes no sample rate.
            sample_rate: manifest.binding("sample_rate").map(str::to_string),
        };
        let state_shape = manifest
            .input(&names.state)
            .and_then(|t| manifest.concrete_shape(t, 1, &Default::default()))
            .ok_or_else(|| {
                bad(format!(
                    "state input `{}` has no concrete shape",
                    names.state
                ))
            })?;
        let pre = *manifest.preprocess.as_audio().ok_or_else(|| {
            bad(format!(
                "[preprocess] kind is `{}`, not `audio`",
                manifest.preprocess.kind()
            ))
        })?;
        let model = runtime.load(manifest, provider)?;
        Ok(Self {
            model,
            names,
            state_shape,
            pre,
            label,
        })
    }

    /// Model label, e.g. `silero-vad (fp32)`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The sample rate the model takes.
    pub fn sample_rate(&self) -> u32 {
        self.pre.sample_rate
    }

    /// Samples per chunk (one probability each).
    pub fn chunk(&self) -> usize {
        self.pre.chunk
    }

    /// Speech probability per chunk of `samples` (mono, at [`Self::sample_rate`], in
    /// [-1, 1]); a last partial chunk is zero-padded. An empty track gives no chunks.
    pub fn speech_probabilities(&mut self, samples: &[f32]) -> Result<Vec<f32>, AudioEncoderError> {
        let (chunk, context) = (self.pre.chunk, self.pre.context);
        let state_len: usize = self.state_shape.iter().product();
        let mut state = vec![0.0f32; state_len];
        let mut window = vec![0.0f32; context + chunk];
        let mut out = Vec::with_capacity(samples.len().div_ceil(chunk));
        for piece in samples.chunks(chunk) {
            // Slide: the last `context` samples of the previous window lead the new one.
            window.copy_within(chunk.., 0);
            window[context..].fill(0.0);
            window[context..context + piece.len()].copy_from_slice(piece);
            let shape_err =
                |e: crate::runtime::tensor::ShapeMismatch| AudioEncoderError::Manifest {
                    model: self.label.clone(),
                    reason: e.to_string(),
                };
            let mut inputs = vec![
                NamedTensor::new(
                    &self.names.input,
                    Tensor::f32(vec![1, context + chunk], window.clone()).map_err(shape_err)?,
                ),
                NamedTensor::new(
                    &self.names.state,
                    Tensor::f32(self.state_shape.clone(), state.clone()).map_err(shape_err)?,
                ),
            ];
            if let Some(sr) = &self.names.sample_rate {
                inputs.push(NamedTensor::new(
                    sr,
                    Tensor::i64(vec![], vec![i64::from(self.pre.sample_rate)])
                        .map_err(shape_err)?,
                ));
            }
            let outputs = self.model.run(&inputs)?;
            let get = |name: &str, len: usize| -> Result<&[f32], AudioEncoderError> {
                outputs
                    .iter()
                    .find(|o| o.name == name)
                    .and_then(|o| o.tensor.as_f32())
                    .filter(|v| v.len() == len)
                    .ok_or_else(|| AudioEncoderError::BadOutput {
                        model: self.label.clone(),
                        tensor: name.to_string(),
                        reason: format!("missing or not {len} f32 values"),
                    })
            };
            out.push(get(&self.names.speech, 1)?[0]);
            state.copy_from_slice(get(&self.names.state_out, state_len)?);
        }
        Ok(out)
    }
}

/// The model's tensors ([`Role::AudioActivity`] slots).
struct Names {
    input: String,
    state: String,
    speech: String,
    state_out: String,
    sample_rate: Option<String>,
}

/// Reads a mono WAV file at `sample_rate` into samples in [-1, 1] under the default
/// [`InputLimits`]; errors name the file.
pub fn read_wav(path: &Path, sample_rate: u32) -> Result<Vec<f32>, AudioEncoderError> {
    read_wav_within(path, sample_rate, &InputLimits::default())
}

/// [`read_wav`], refusing a track longer than `limits.max_audio_seconds` from its header,
/// before any sample is read (and reading no more samples than the header declared).
pub fn read_wav_within(
    path: &Path,
    sample_rate: u32,
    limits: &InputLimits,
) -> Result<Vec<f32>, AudioEncoderError> {
    let name = path.display().to_string();
    let reader = hound::WavReader::open(path).map_err(|e| AudioEncoderError::Read {
        source_name: name.clone(),
        reason: e.to_string(),
    })?;
    read_samples(reader, &name, sample_rate, limits)
}

/// [`read_wav_within`] on a WAV file's bytes, named `name` in errors.
pub fn decode_wav_within(
    bytes: &[u8],
    name: &str,
    sample_rate: u32,
    limits: &InputLimits,
) -> Result<Vec<f32>, AudioEncoderError> {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| {
        AudioEncoderError::Read {
            source_name: name.to_string(),
            reason: e.to_string(),
        }
    })?;
    read_samples(reader, name, sample_rate, limits)
}

fn read_samples<R: std::io::Read>(
    mut reader: hound::WavReader<R>,
    name: &str,
    sample_rate: u32,
    limits: &InputLimits,
) -> Result<Vec<f32>, AudioEncoderError> {
    let err = |reason: String| AudioEncoderError::Read {
        source_name: name.to_string(),
        reason,
    };
    let spec = reader.spec();
    if spec.channels != 1 || spec.sample_rate != sample_rate {
        return Err(err(format!(
            "expected mono at {sample_rate} Hz, got {} channel(s) at {} Hz",
            spec.channels, spec.sample_rate
        )));
    }
    let declared = reader.duration();
    limits
        .check_audio(u64::from(declared), spec.sample_rate)
        .map_err(|limit| AudioEncoderError::Limit {
            source_name: name.to_string(),
            limit,
        })?;
    let declared = declared as usize;
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => reader
            .samples::<i16>()
            .take(declared)
            .map(|s| s.map(|v| f32::from(v) / 32768.0))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string())),
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .take(declared)
            .map(|s| s.map(|v| v.clamp(-1.0, 1.0)))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string())),
        (format, bits) => Err(err(format!(
            "unsupported sample format {format:?} {bits}-bit (16-bit PCM or 32-bit float)"
        ))),
    }
}
