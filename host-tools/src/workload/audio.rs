//! Audio tracks for requests: 16 kHz mono 16-bit WAV (what the Silero VAD probe takes).
//! Silence and noise are generated here; speech is the question spoken by `espeak-ng`
//! (Debian package `espeak-ng`), resampled from its 22,050 Hz output.

use rand::Rng;
use std::{
    io,
    path::Path,
    process::{Command, Stdio},
};

/// Sample rate of every track.
pub const SAMPLE_RATE: u32 = 16_000;

/// An audio track that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// `espeak-ng` is not installed or failed.
    #[error("speech needs espeak-ng (apt-get install espeak-ng): {0}")]
    Espeak(String),
    /// WAV encode/decode.
    #[error("WAV {path}: {source}")]
    Wav {
        /// The file.
        path: String,
        /// Why.
        source: hound::Error,
    },
}

/// `seconds` of digital silence.
pub fn silence(seconds: f32) -> Vec<i16> {
    vec![0; (seconds * SAMPLE_RATE as f32) as usize]
}

/// `seconds` of white noise at `amplitude` (0–1 of full scale).
pub fn noise(seconds: f32, amplitude: f32, rng: &mut impl Rng) -> Vec<i16> {
    let peak = (amplitude.clamp(0.0, 1.0) * f32::from(i16::MAX)) as i32;
    (0..(seconds * SAMPLE_RATE as f32) as usize)
        .map(|_| rng.random_range(-peak..=peak) as i16)
        .collect()
}

/// `text` spoken by espeak-ng, at 16 kHz.
pub fn speech(text: &str) -> Result<Vec<i16>, AudioError> {
    let out = Command::new("espeak-ng")
        .args(["--stdout", "-s", "150", text])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| AudioError::Espeak(e.to_string()))?;
    if !out.status.success() {
        return Err(AudioError::Espeak(format!("exited with {}", out.status)));
    }
    let reader =
        hound::WavReader::new(io::Cursor::new(out.stdout)).map_err(|source| AudioError::Wav {
            path: "espeak-ng output".into(),
            source,
        })?;
    let rate = reader.spec().sample_rate;
    // espeak-ng streams to stdout, so its header declares a huge length: read until the
    // first error (the real end of the data) instead of skipping errors.
    let samples: Vec<i16> = reader.into_samples::<i16>().map_while(Result::ok).collect();
    if samples.is_empty() {
        return Err(AudioError::Espeak(format!("no audio for {text:?}")));
    }
    Ok(resample(&samples, rate, SAMPLE_RATE))
}

/// Linear-interpolation resampling (adequate for a voice-activity probe, not for music).
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let n = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * f64::from(from) / f64::from(to);
            let j = pos as usize;
            let t = pos - j as f64;
            let a = f64::from(input[j.min(input.len() - 1)]);
            let b = f64::from(input[(j + 1).min(input.len() - 1)]);
            (a + (b - a) * t).round() as i16
        })
        .collect()
}

/// Writes a 16 kHz mono 16-bit WAV.
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), AudioError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let shown = path.display().to_string();
    let err = |source| AudioError::Wav {
        path: shown.clone(),
        source,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for s in samples {
        w.write_sample(*s).map_err(err)?;
    }
    w.finalize().map_err(err)
}
