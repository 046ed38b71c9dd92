//! Scenes → frames → requests, and the `workload.json` manifest that describes them.
//!
//! A scene is one easy-VQA image scaled by a random factor and placed at a random position
//! on a random background; it is held for `hold` frames (each with fresh sensor-like noise
//! of ±`noise` levels), then the next scene starts. Each frame carries one request: a
//! question about the scene's image (cycling through that image's questions) with its
//! expected answer, and optionally an audio track.

use super::{
    audio::{self, AudioError},
    background::{self, Background},
    dataset::{Dataset, DatasetError},
};
use image::{RgbImage, imageops};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of scenes.
    pub scenes: u32,
    /// Frames per scene.
    pub hold: u32,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Smallest and largest scale of the 64×64 image.
    pub scale: (f32, f32),
    /// Per-frame noise amplitude, in 8-bit levels (0 = identical frames within a scene).
    pub noise: u8,
    /// Audio per request.
    pub audio: AudioMode,
}

/// Audio tracks to attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AudioMode {
    /// No audio.
    None,
    /// 1 s of silence per request.
    Silence,
    /// 1 s of low white noise per request.
    Noise,
    /// The question spoken (espeak-ng).
    Speech,
    /// Each request picks silence, noise or speech at random.
    Mix,
}

/// One frame of the workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frame {
    /// Index from 0.
    pub index: u32,
    /// PNG file, relative to the workload directory.
    pub file: String,
    /// Scene number.
    pub scene: u32,
    /// easy-VQA image id shown.
    pub image_id: u32,
    /// Where it is: `[x, y, width, height]` in pixels.
    pub bbox: [u32; 4],
    /// Background kind.
    pub background: Background,
    /// Size of the PNG file.
    pub png_bytes: u64,
}

/// One request: a question about a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// Id from 0.
    pub request_id: u32,
    /// The frame asked about.
    pub frame: u32,
    /// The question.
    pub question: String,
    /// The expected answer.
    pub answer: String,
    /// Audio file relative to the workload directory, if any.
    pub audio: Option<String>,
    /// Kind of audio (`silence`, `noise`, `speech`), if any.
    pub audio_kind: Option<AudioMode>,
}

/// The manifest written as `workload.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// Always `msao-workload`.
    pub format: &'static str,
    /// Layout version.
    pub version: u32,
    /// Seed.
    pub seed: u64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per scene.
    pub hold: u32,
    /// Bytes of one raw RGB frame (`width × height × 3`): the cloud-only upload.
    pub raw_frame_bytes: u64,
    /// The dataset directory the shapes came from.
    pub source: String,
    /// Frames in order.
    pub frames: Vec<Frame>,
    /// Requests in order.
    pub requests: Vec<Request>,
}

/// Generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Bad parameters.
    #[error("{0}")]
    Config(String),
    /// The dataset.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Audio.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Writing.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// PNG encoding.
    #[error("cannot encode {path}: {source}")]
    Png {
        /// The file.
        path: String,
        /// Why.
        source: image::ImageError,
    },
}

impl Config {
    fn check(&self) -> Result<(), GenerateError> {
        let (lo, hi) = self.scale;
        let bad = |m: String| Err(GenerateError::Config(m));
        if self.scenes == 0 || self.hold == 0 {
            return bad("scenes and hold must be at least 1".into());
        }
        if !(lo > 0.0 && lo <= hi) {
            return bad(format!("scale range {lo}..{hi} is empty or not positive"));
        }
        let largest = (64.0 * hi).ceil() as u32;
        if largest > self.width || largest > self.height {
            return bad(format!(
                "a {largest}-pixel shape (scale {hi}) does not fit a {}×{} frame",
                self.width, self.height
            ));
        }
        Ok(())
    }
}

/// Writes the workload into `out` (`frames/`, `audio/`, `workload.json`); `progress(done,
/// total)` counts frames.
pub fn generate(
    dataset: &Dataset,
    config: &Config,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Workload, GenerateError> {
    config.check()?;
    if matches!(config.audio, AudioMode::Speech | AudioMode::Mix) {
        // Fail before writing anything when speech cannot be made.
        audio::speech("ready")?;
    }
    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).map_err(|source| GenerateError::Write {
            path: p.display().to_string(),
            source,
        })
    };
    mkdir(&out.join("frames"))?;
    if config.audio != AudioMode::None {
        mkdir(&out.join("audio"))?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let ids = dataset.ids();
    let total = u64::from(config.scenes) * u64::from(config.hold);
    let mut workload = Workload {
        format: "msao-workload",
        version: 1,
        seed: config.seed,
        width: config.width,
        height: config.height,
        hold: config.hold,
        raw_frame_bytes: u64::from(config.width) * u64::from(config.height) * 3,
        source: dataset.dir().display().to_string(),
        frames: Vec::new(),
        requests: Vec::new(),
    };
    for scene in 0..config.scenes {
        let image_id = ids[rng.random_range(0..ids.len())];
        let shape = dataset.image(image_id)?;
        let Scene {
            canvas,
            bbox: [x, y, side, _],
            background: kind,
        } = compose(&shape, config, &mut rng);
        let questions = &dataset.questions[&image_id];
        for held in 0..config.hold {
            let index = scene * config.hold + held;
            let frame = noisy(&canvas, config.noise, &mut rng);
            let file = format!("frames/{index:06}.png");
            let path = out.join(&file);
            frame.save(&path).map_err(|source| GenerateError::Png {
                path: path.display().to_string(),
                source,
            })?;
            let png_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            workload.frames.push(Frame {
                index,
                file,
                scene,
                image_id,
                bbox: [x, y, side, side],
                background: kind,
                png_bytes,
            });
            let q = &questions[held as usize % questions.len()];
            let (audio, audio_kind) = track(config.audio, &q.text, index, out, &mut rng)?;
            workload.requests.push(Request {
                request_id: index,
                frame: index,
                question: q.text.clone(),
                answer: q.answer.clone(),
                audio,
                audio_kind,
            });
            progress(u64::from(index) + 1, total);
        }
    }
    let path = out.join("workload.json");
    let text = serde_json::to_string_pretty(&workload).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|source| GenerateError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(workload)
}

/// One scene: an image placed on a background.
#[derive(Debug, Clone)]
pub struct Scene {
    /// The frame, without noise.
    pub canvas: RgbImage,
    /// Where the image is: x, y, width, height.
    pub bbox: [u32; 4],
    /// The background.
    pub background: Background,
}

/// Places `shape` on a random background of the config's size, at a random scale and
/// position: the scene step of [`generate`], also used to calibrate on camera-size frames
/// (`msao-host tune`). `config` must have passed its check (the scaled image fits).
pub fn compose(shape: &RgbImage, config: &Config, rng: &mut impl Rng) -> Scene {
    let kind = Background::ALL[rng.random_range(0..Background::ALL.len())];
    let mut canvas = background::paint(kind, config.width, config.height, rng);
    let scale: f32 = rng.random_range(config.scale.0..=config.scale.1);
    let side = ((shape.width() as f32) * scale)
        .round()
        .clamp(1.0, config.width.min(config.height) as f32) as u32;
    let scaled = imageops::resize(shape, side, side, imageops::FilterType::Triangle);
    let x = rng.random_range(0..=config.width - side);
    let y = rng.random_range(0..=config.height - side);
    imageops::replace(&mut canvas, &scaled, i64::from(x), i64::from(y));
    Scene {
        canvas,
        bbox: [x, y, side, side],
        background: kind,
    }
}

/// A copy of `scene` with uniform noise of ±`amplitude` levels per channel.
pub fn noisy(scene: &RgbImage, amplitude: u8, rng: &mut impl Rng) -> RgbImage {
    let mut frame = scene.clone();
    if amplitude == 0 {
        return frame;
    }
    let a = i16::from(amplitude);
    for p in frame.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (i16::from(*c) + rng.random_range(-a..=a)).clamp(0, 255) as u8;
        }
    }
    frame
}

/// Makes the request's audio track, if the mode asks for one.
fn track(
    mode: AudioMode,
    question: &str,
    index: u32,
    out: &Path,
    rng: &mut impl Rng,
) -> Result<(Option<String>, Option<AudioMode>), GenerateError> {
    let kind = match mode {
        AudioMode::None => return Ok((None, None)),
        AudioMode::Mix => {
            [AudioMode::Silence, AudioMode::Noise, AudioMode::Speech][rng.random_range(0..3)]
        }
        other => other,
    };
    let samples = match kind {
        AudioMode::Silence => audio::silence(1.0),
        AudioMode::Noise => audio::noise(1.0, 0.02, rng),
        _ => audio::speech(question)?,
    };
    let file = format!("audio/{index:06}.wav");
    audio::write_wav(&out.join(&file), &samples)?;
    Ok((Some(file), Some(kind)))
}
