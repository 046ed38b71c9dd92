//! `msao-host workload`: generate the camera-size workload (easy-VQA shapes in 640×480
//! frames, held scenes, questions, optional audio) from a seed. See `docs/workload.md`.

use crate::{
    env::Env,
    workload::{AudioMode, Config, dataset::Dataset, generate},
};
use anyhow::Context as _;
use std::{io::Write, path::PathBuf};

/// Generate the camera-size workload from easy-VQA images.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// A directory in the easy-VQA layout (`images/`, `questions.json`), e.g.
    /// `.cache/easy-vqa/test` after `scripts/fetch-easy-vqa.sh`.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Output directory (created): `frames/`, `audio/`, `workload.json`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of every random choice: the same seed gives the same workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of scenes.
    #[arg(long, default_value_t = 25)]
    pub scenes: u32,
    /// Frames each scene is held for.
    #[arg(long, default_value_t = 8)]
    pub hold: u32,
    /// Frame width.
    #[arg(long, default_value_t = 640)]
    pub width: u32,
    /// Frame height.
    #[arg(long, default_value_t = 480)]
    pub height: u32,
    /// Smallest scale of the 64×64 shape image.
    #[arg(long, default_value_t = 1.0)]
    pub min_scale: f32,
    /// Largest scale of the 64×64 shape image.
    #[arg(long, default_value_t = 3.0)]
    pub max_scale: f32,
    /// Per-frame noise in 8-bit levels (0: frames of a scene are identical).
    #[arg(long, default_value_t = 2)]
    pub noise: u8,
    /// Audio per request.
    #[arg(long, value_enum, default_value_t = AudioMode::None)]
    pub audio: AudioMode,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Cmd {
    /// Generates and summarises.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let dataset = Dataset::open(&self.data)?;
        let config = Config {
            seed: self.seed,
            scenes: self.scenes,
            hold: self.hold,
            width: self.width,
            height: self.height,
            scale: (self.min_scale, self.max_scale),
            noise: self.noise,
            audio: self.audio,
        };
        let bar = env.count_bar(u64::from(self.scenes) * u64::from(self.hold));
        bar.set_message("frames");
        let workload = generate(&dataset, &config, &self.out, &mut |done, _| {
            bar.set_position(done)
        })
        .with_context(|| format!("cannot generate the workload in {}", self.out.display()))?;
        env.clear_bar();
        let png: u64 = workload.frames.iter().map(|f| f.png_bytes).sum();
        let frames = workload.frames.len() as u64;
        let audio = workload
            .requests
            .iter()
            .filter(|r| r.audio.is_some())
            .count();
        if self.json {
            let v = serde_json::json!({
                "type": "workload", "out": self.out.display().to_string(), "seed": self.seed,
                "scenes": self.scenes, "frames": frames, "requests": workload.requests.len(),
                "audio_tracks": audio, "raw_frame_bytes": workload.raw_frame_bytes,
                "mean_png_bytes": png / frames.max(1),
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "workload in {}: {} scenes × {} frames = {frames} frames {}×{}, {} requests, {audio} audio tracks",
                self.out.display(),
                self.scenes,
                self.hold,
                self.width,
                self.height,
                workload.requests.len()
            )?;
            writeln!(
                out,
                "raw frame {} bytes; PNG mean {} bytes; seed {}",
                workload.raw_frame_bytes,
                png / frames.max(1),
                self.seed
            )?;
        }
        Ok(())
    }
}
