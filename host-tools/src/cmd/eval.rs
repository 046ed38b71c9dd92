//! `msao-host eval`: the edge brain and the cloud model over the easy-VQA test split (or
//! any directory in its layout: `images/N.png`, `questions.json` = `[[question, answer,
//! image id], …]`).
//!
//! Per question: the INT8 edge brain (text encoder, image encoder + local head, MAS,
//! compact tensor), the FP32 edge brain, and the cloud model twice: on the compact tensor
//! (MAS-kept patches) and on all patches (the dense reference). Reports accuracy per model,
//! mean stage times, MAS overhead as a fraction of edge encode time, calibration (ECE), and
//! compact-tensor bytes against raw frame bytes.

use crate::env::Env;
use anyhow::{Context as _, bail};
use msao::compact;
use msao::message::Precision;
use msao_agent::host::inference::{
    BrainOptions, CloudHead, EdgeBrain, EdgeRequest, EdgeResult, ImageInput,
};
use msao_agent::host::models::Labels;
use msao_agent::host::models::{ModelCatalog, OrtRuntime};
use serde::Serialize;
use std::{
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// Raw bytes of a 640×480 RGB camera frame, for scale.
const CAMERA_FRAME_BYTES: usize = 640 * 480 * 3;

/// Evaluate the edge (FP32, INT8) and cloud models: accuracy, stage times, MAS overhead,
/// compact-tensor size.
#[derive(Debug, Clone, clap::Args)]
pub struct Cmd {
    /// Directory in the easy-VQA layout (images/, questions.json); default: the test split
    /// fetched by scripts/fetch-easy-vqa.sh (.cache/easy-vqa/test here or in a parent).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Evaluate only the first N questions.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model_args: super::ModelArgs,
    /// MAS spatial threshold (fraction of the frame's peak patch energy).
    #[arg(long, value_name = "F")]
    pub alpha: Option<f32>,
    /// Also write one JSON line per question (answers of every model, MAS keep-mask,
    /// confidence): what `scripts/cross-isa-check.sh` compares between CPUs.
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,
}

/// One question's outcome, for `--records`.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Index in the question list.
    pub index: usize,
    /// Expected answer (class id).
    pub expected: usize,
    /// INT8 edge model, first view.
    pub edge_int8: usize,
    /// FP32 edge model, first view.
    pub edge_fp32: usize,
    /// The INT8 brain's local answer (with a second view when unsure).
    pub edge_int8_views: usize,
    /// Cloud model on the compact tensor.
    pub cloud_compact: usize,
    /// Cloud model on all patches.
    pub cloud_dense: usize,
    /// MAS keep-mask, patch `p` at bit `p`.
    pub keep_mask: u64,
    /// The INT8 brain's learned confidence.
    pub confidence: f32,
}

/// One model's accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    /// `edge-int8`, `edge-fp32`, `cloud-compact`, `cloud-dense`.
    pub model: String,
    /// What it sees.
    pub input: String,
    /// Correct answers.
    pub correct: usize,
    /// Questions.
    pub questions: usize,
    /// correct / questions.
    pub accuracy: f64,
}

/// Mean stage times in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Stages {
    /// Image decode + resize + normalise.
    pub preprocess_ms: f64,
    /// Question embedding, over cache misses only (questions repeat).
    pub text_encode_ms: f64,
    /// Edge graph: image encoder + local head (one ONNX run).
    pub image_encode_ms: f64,
    /// MAS scoring.
    pub mas_ms: f64,
    /// Compact tensor quantise + encode.
    pub compact_ms: f64,
    /// MAS / image encode.
    pub mas_overhead: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The CPU it ran on (INT8 kernels differ between instruction sets).
    pub cpu: msao_agent::host::device::CpuIsa,
    /// Data directory.
    pub data: String,
    /// Questions evaluated.
    pub questions: usize,
    /// Images among them.
    pub images: usize,
    /// Accuracy per model.
    pub models: Vec<ModelRow>,
    /// Mean stage times of the INT8 edge brain.
    pub stages_int8: Stages,
    /// Mean stage times of the FP32 edge brain.
    pub stages_fp32: Stages,
    /// Mean cloud model time on the compact tensor, ms.
    pub cloud_ms: f64,
    /// Mean patches kept by MAS (of `patches_total`).
    pub patches_kept_mean: f64,
    /// Patches per frame.
    pub patches_total: usize,
    /// Requests whose frame MAS found unchanged (temporal reuse).
    pub temporal_reuse: f64,
    /// Mean compact-tensor bytes.
    pub compact_bytes_mean: f64,
    /// Dense (all-patch) compact-tensor bytes.
    pub dense_bytes: usize,
    /// Mean raw frame bytes (width × height × 3) of the inputs.
    pub raw_frame_bytes_mean: f64,
    /// raw frame / compact.
    pub reduction_vs_input: f64,
    /// 640×480×3 / compact.
    pub reduction_vs_camera_frame: f64,
    /// Expected calibration error of the INT8 local head (15 bins), calibrated.
    pub ece_int8: f64,
    /// Mean confidence of the INT8 brain's local answers (the graph's learned confidence).
    pub confidence_int8_mean: f64,
    /// The brain's second-view threshold (`None`: off).
    pub second_view_below: Option<f32>,
    /// Share of requests the INT8 brain gave a second, mirrored view.
    pub second_view_fraction: f64,
    /// Mean time of a second view, ms (0 when none ran).
    pub second_view_ms: f64,
    /// Execution provider that ran the edge graph.
    pub provider: String,
    /// Wall time of the whole evaluation, s.
    pub wall_s: f64,
}

pub(crate) struct Question {
    pub(crate) text: String,
    pub(crate) answer: usize,
    pub(crate) image: u32,
}

fn default_data() -> Result<PathBuf, Vec<PathBuf>> {
    let mut tried = Vec::new();
    if let Ok(mut dir) = std::env::current_dir() {
        loop {
            let candidate = dir.join(".cache/easy-vqa/test");
            if candidate.join("questions.json").is_file() {
                return Ok(candidate);
            }
            tried.push(candidate);
            if !dir.pop() {
                break;
            }
        }
    }
    Err(tried)
}

pub(crate) fn load_questions(dir: &Path, labels: &Labels) -> anyhow::Result<Vec<Question>> {
    let path = dir.join("questions.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let raw: Vec<(String, String, u32)> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected the easy-VQA layout [[question, answer, image id], …]",
            path.display()
        )
    })?;
    raw.into_iter()
        .enumerate()
        .map(|(i, (text, answer, image))| {
            let answer = labels.class_of(&answer).with_context(|| {
                format!(
                    "{} entry {i}: answer `{answer}` is not one of the {} labels of {}",
                    path.display(),
                    labels.len(),
                    labels.path().display()
                )
            })?;
            Ok(Question {
                text,
                answer,
                image,
            })
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Default)]
struct StageSum {
    preprocess: Duration,
    text: Duration,
    text_misses: usize,
    image: Duration,
    mas: Duration,
    compact: Duration,
    n: usize,
}

impl StageSum {
    fn add(&mut self, r: &EdgeResult) {
        let t = &r.timings;
        self.preprocess += t.preprocess;
        if !t.text_cached {
            self.text += t.text;
            self.text_misses += 1;
        }
        self.image += t.image;
        self.mas += t.mas;
        self.compact += t.compact;
        self.n += 1;
    }

    fn mean(&self) -> Stages {
        let n = self.n.max(1) as f64;
        let image_ms = ms(self.image) / n;
        let mas_ms = ms(self.mas) / n;
        Stages {
            preprocess_ms: ms(self.preprocess) / n,
            text_encode_ms: ms(self.text) / self.text_misses.max(1) as f64,
            image_encode_ms: image_ms,
            mas_ms,
            compact_ms: ms(self.compact) / n,
            mas_overhead: if image_ms > 0.0 {
                mas_ms / image_ms
            } else {
                0.0
            },
        }
    }
}

/// Expected calibration error over `bins` equal-width confidence bins.
pub fn ece(confidence: &[f32], correct: &[bool], bins: usize) -> f64 {
    let mut count = vec![0usize; bins];
    let mut conf = vec![0.0f64; bins];
    let mut acc = vec![0.0f64; bins];
    for (c, ok) in confidence.iter().zip(correct) {
        let b = ((f64::from(*c) * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        conf[b] += f64::from(*c);
        acc[b] += f64::from(u8::from(*ok));
    }
    let n = confidence.len().max(1) as f64;
    (0..bins)
        .filter(|b| count[*b] > 0)
        .map(|b| (count[b] as f64 / n) * ((acc[b] - conf[b]) / count[b] as f64).abs())
        .sum()
}

impl Cmd {
    /// Runs the evaluation.
    pub fn run(self, out: &mut impl Write, env: &mut Env) -> anyhow::Result<()> {
        let report = self.evaluate(env)?;
        env.clear_bar();
        if self.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        } else {
            write_table(out, &report)?;
        }
        Ok(())
    }

    fn evaluate(&self, env: &mut Env) -> anyhow::Result<Report> {
        let data = match &self.data {
            Some(d) => d.clone(),
            None => default_data().map_err(|tried| {
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                anyhow::anyhow!(
                    "no easy-VQA data found (tried {}); run scripts/fetch-easy-vqa.sh or pass --data DIR",
                    tried.join(", ")
                )
            })?,
        };
        let models_dir = self.model_args.models_dir()?;
        let mut pipeline = self.model_args.pipeline(&models_dir)?;
        if let Some(alpha) = self.alpha {
            pipeline.mas.spatial.alpha = alpha;
            pipeline.mas.validate()?;
        }
        let mut questions = load_questions(&data, &pipeline.head.labels)?;
        if let Some(n) = self.limit {
            questions.truncate(n);
        }
        if questions.is_empty() {
            bail!("{}: no questions to evaluate", data.display());
        }
        let options = self.model_args.runtime_options();
        let runtime = OrtRuntime::new(&options).context("cannot start ONNX Runtime")?;
        let catalog = ModelCatalog::load_dir(&models_dir)?;
        let brain_options = BrainOptions {
            audio: false,
            ..BrainOptions::default()
        };
        let mut int8 = EdgeBrain::load(&runtime, &catalog, &pipeline, &brain_options)
            .context("cannot load the INT8 edge brain")?;
        let mut fp32 = EdgeBrain::load(
            &runtime,
            &catalog,
            &pipeline,
            &BrainOptions {
                image_precision: Some(Precision::Fp32),
                ..brain_options.clone()
            },
        )
        .context("cannot load the FP32 edge brain")?;
        let mut cloud =
            CloudHead::from_catalog(&runtime, &catalog, &pipeline, brain_options.provider)?;
        let provider = format!("{:?}", int8.image_encoder().provider()).to_lowercase();

        let bar = env.count_bar(questions.len() as u64);
        bar.set_message("questions");
        let started = Instant::now();
        let mut correct = [0usize; 5];
        let (mut second_views, mut second_time) = (0usize, Duration::ZERO);
        let (mut s8, mut s32) = (StageSum::default(), StageSum::default());
        let mut cloud_time = Duration::ZERO;
        let (mut kept, mut compact_bytes, mut raw_bytes, mut reuse) =
            (0usize, 0usize, 0usize, 0usize);
        let mut confidence = Vec::with_capacity(questions.len());
        let mut local_ok = Vec::with_capacity(questions.len());
        let mut images = std::collections::BTreeSet::new();
        let dim = int8.image_encoder().feature_dim();
        let total = int8.image_encoder().probe_layout().patches();
        let mut dense_buf = vec![0u8; compact::encoded_len(total, dim, total)];
        let mut records = match &self.records {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            )),
            None => None,
        };
        for (i, q) in questions.iter().enumerate() {
            let path = data.join("images").join(format!("{}.png", q.image));
            images.insert(q.image);
            let frame = msao_agent::host::inference::open_image(&path)
                .with_context(|| format!("question {i}"))?;
            let request = EdgeRequest {
                request_id: i as u32,
                image: ImageInput::Decoded(&frame),
                question: &q.text,
                audio: None,
            };
            let r8 = int8
                .process(&request)
                .with_context(|| format!("question {i} ({})", path.display()))?;
            let r32 = fp32
                .process(&request)
                .with_context(|| format!("question {i} ({})", path.display()))?;
            s8.add(&r8);
            s32.add(&r32);
            // The models alone: the first view's answer.
            correct[0] += usize::from(r8.first_view_answer == q.answer);
            correct[1] += usize::from(r32.first_view_answer == q.answer);
            // The brain's local answer, with a second view when the first was unsure.
            correct[4] += usize::from(r8.answer == q.answer);
            if let Some(t) = r8.timings.second_view {
                second_views += 1;
                second_time += t;
            }
            confidence.push(r8.confidence);
            local_ok.push(r8.answer == q.answer);
            kept += r8.image.spatial.kept;
            compact_bytes += r8.compact.len();
            raw_bytes += r8.raw_frame_bytes;
            reuse += usize::from(r8.image.temporal.reuse);

            let t = Instant::now();
            let c = cloud.run(&r8.compact, &r8.question_embedding)?;
            cloud_time += t.elapsed();
            correct[2] += usize::from(c.answer == q.answer);

            // Dense reference: every patch of the same INT8 features.
            let dense =
                compact::encode_features(&mut dense_buf, &r8.features, dim, &vec![true; total])?;
            let d = cloud.run(&dense_buf[..dense], &r8.question_embedding)?;
            correct[3] += usize::from(d.answer == q.answer);
            if let Some(w) = records.as_mut() {
                let record = Record {
                    index: i,
                    expected: q.answer,
                    edge_int8: r8.first_view_answer,
                    edge_fp32: r32.first_view_answer,
                    edge_int8_views: r8.answer,
                    cloud_compact: c.answer,
                    cloud_dense: d.answer,
                    keep_mask: keep_bits(&r8.image.spatial.keep),
                    confidence: r8.confidence,
                };
                writeln!(w, "{}", serde_json::to_string(&record)?)?;
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        if let (Some(mut w), Some(path)) = (records, &self.records) {
            w.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let n = questions.len();
        let row = |model: &str, input: &str, c: usize| ModelRow {
            model: model.into(),
            input: input.into(),
            correct: c,
            questions: n,
            accuracy: c as f64 / n as f64,
        };
        let compact_mean = compact_bytes as f64 / n as f64;
        Ok(Report {
            cpu: msao_agent::host::device::CpuIsa::detect(),
            data: data.display().to_string(),
            questions: n,
            images: images.len(),
            models: vec![
                row("edge-int8", "image + question (local head)", correct[0]),
                row("edge-fp32", "image + question (local head)", correct[1]),
                row(
                    "edge-int8, 2 views",
                    "the local answer: + a mirrored view when unsure",
                    correct[4],
                ),
                row(
                    "cloud-compact",
                    "MAS-kept int8 patches + question",
                    correct[2],
                ),
                row("cloud-dense", "all 16 int8 patches + question", correct[3]),
            ],
            stages_int8: s8.mean(),
            stages_fp32: s32.mean(),
            cloud_ms: ms(cloud_time) / n as f64,
            patches_kept_mean: kept as f64 / n as f64,
            patches_total: total,
            temporal_reuse: reuse as f64 / n as f64,
            compact_bytes_mean: compact_mean,
            dense_bytes: dense_buf.len(),
            raw_frame_bytes_mean: raw_bytes as f64 / n as f64,
            reduction_vs_input: raw_bytes as f64 / compact_bytes.max(1) as f64,
            reduction_vs_camera_frame: CAMERA_FRAME_BYTES as f64 / compact_mean.max(1.0),
            ece_int8: ece(&confidence, &local_ok, 15),
            confidence_int8_mean: confidence.iter().map(|c| f64::from(*c)).sum::<f64>() / n as f64,
            second_view_below: brain_options.second_view_below,
            second_view_fraction: second_views as f64 / n as f64,
            second_view_ms: ms(second_time) / second_views.max(1) as f64,
            provider,
            wall_s: started.elapsed().as_secs_f64(),
        })
    }
}

fn write_table(out: &mut impl Write, r: &Report) -> anyhow::Result<()> {
    writeln!(
        out,
        "easy-VQA eval: {} questions on {} images from {} ({} provider, {:.1} s)\nCPU: {}\n",
        r.questions,
        r.images,
        r.data,
        r.provider,
        r.wall_s,
        r.cpu.summary()
    )?;
    writeln!(out, "| model | input | accuracy |")?;
    writeln!(out, "|---|---|---|")?;
    for m in &r.models {
        writeln!(
            out,
            "| {} | {} | {:.2} % ({}/{}) |",
            m.model,
            m.input,
            100.0 * m.accuracy,
            m.correct,
            m.questions
        )?;
    }
    writeln!(out, "\nmean stage time per request (ms):\n")?;
    writeln!(out, "| stage | edge INT8 | edge FP32 |")?;
    writeln!(out, "|---|---|---|")?;
    let (a, b) = (&r.stages_int8, &r.stages_fp32);
    for (name, x, y) in [
        (
            "preprocess (decode, resize, normalise)",
            a.preprocess_ms,
            b.preprocess_ms,
        ),
        (
            "text encode (MiniLM INT8, cache misses)",
            a.text_encode_ms,
            b.text_encode_ms,
        ),
        (
            "image encode + local head",
            a.image_encode_ms,
            b.image_encode_ms,
        ),
        ("MAS", a.mas_ms, b.mas_ms),
        ("compact tensor", a.compact_ms, b.compact_ms),
    ] {
        writeln!(out, "| {name} | {x:.4} | {y:.4} |")?;
    }
    writeln!(
        out,
        "| **MAS / image encode** | **{:.2} %** | **{:.2} %** |",
        100.0 * a.mas_overhead,
        100.0 * b.mas_overhead
    )?;
    writeln!(
        out,
        "\ncloud model on the compact tensor: {:.3} ms/request",
        r.cloud_ms
    )?;
    if let Some(below) = r.second_view_below {
        writeln!(
            out,
            "second view (INT8 confidence below {below}): {:.1} % of requests, {:.4} ms each",
            100.0 * r.second_view_fraction,
            r.second_view_ms
        )?;
    }
    writeln!(
        out,
        "MAS kept {:.2} of {} patches on average; temporal reuse on {:.1} % of requests",
        r.patches_kept_mean,
        r.patches_total,
        100.0 * r.temporal_reuse
    )?;
    writeln!(
        out,
        "compact tensor {:.1} B mean (dense {} B) vs raw frame {:.0} B: {:.1}× smaller; vs a 640×480 frame: {:.0}× smaller",
        r.compact_bytes_mean,
        r.dense_bytes,
        r.raw_frame_bytes_mean,
        r.reduction_vs_input,
        r.reduction_vs_camera_frame
    )?;
    writeln!(
        out,
        "local head INT8: mean confidence (learned) {:.4}, ECE {:.4} (15 bins)",
        r.confidence_int8_mean, r.ece_int8
    )?;
    Ok(())
}

/// Keep-mask as bits (patch `p` at bit `p`; at most 64 patches are recorded).
fn keep_bits(keep: &[bool]) -> u64 {
    keep.iter()
        .take(64)
        .enumerate()
        .filter(|(_, k)| **k)
        .fold(0, |bits, (p, _)| bits | (1 << p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_of_perfectly_calibrated_bins_is_zero() {
        // 4 answers at confidence 0.75, 3 right: calibrated.
        let e = ece(&[0.75; 4], &[true, true, true, false], 15);
        assert!(e.abs() < 1e-9, "{e}");
        // Always 0.95 confident, always wrong: ECE 0.95.
        let e = ece(&[0.95; 3], &[false; 3], 15);
        assert!((e - 0.95).abs() < 1e-6, "{e}");
    }
}
