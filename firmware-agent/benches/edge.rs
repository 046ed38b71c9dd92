//! Edge latency (criterion): batch 1 on the CPU, one request at a time, as on the device.
//!
//! `cargo bench -p msao-agent --bench edge -- --warm-up-time 1 --measurement-time 3`
//!
//! | group                          | what one iteration is |
//! |--------------------------------|-----------------------|
//! | `model/vqa-edge/{fp32,int8}`   | [`ImageEncoder::run`]: one preprocessed 64×64 easy-VQA frame + question embedding (the edge encode) |
//! | `model/minilm-l6/{fp32,int8}`  | [`TextEncoder::embed`] of a typical easy-VQA question |
//! | `model/silero-vad/{fp32,fp16}` | [`AudioEncoder::speech_probabilities`] on one 512-sample chunk (32 ms at 16 kHz); a precision the encoder cannot load (FP16: no `sr` input) is timed as one raw graph call, with `fp32-raw` alongside |
//! | `model/vqa-cloud/fp32`         | [`CloudHead::run`] on the compact tensor of an INT8 edge run (decode + scatter + model) |
//! | `mas/step`                     | what the brain's `timings.mas` covers: spatial + patch descriptor (one pass), temporal observe, image and text combines, on a stream of real probes (relevance is per distinct question, cached with the embedding: not per frame) |
//! | `mas/compact`                  | channel-major → patch-major + `encode_features` (the compact tensor) |
//! | `brain/process/int8`           | [`EdgeBrain::process`] on a decoded frame, question cached, no audio |
//!
//! Target: `mas/step` ≤ 1 % of `model/vqa-edge/*`; a quick in-process check of that ratio is
//! printed to stderr, with the compact tensor size against raw 64×64 and 640×480 RGB frames.
//!
//! Needs `libonnxruntime.so` (`scripts/setup.sh`) and the models under `models/`; without
//! them it says what is missing and measures nothing. The easy-VQA test images come from
//! `.cache/easy-vqa/test/images/` when present, else a synthetic 64×64 shape is used.

use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use image::{Rgb, RgbImage};
use msao::compact;
use msao::message::{ExecProvider, Precision};
use msao_agent::brain::{BrainOptions, CloudHead, EdgeBrain, EdgeRequest, ImageInput};
use msao_agent::encoders::{AudioEncoder, EdgeOutput, ImageEncoder, TextEncoder, open_image};
use msao_agent::mas::{self, ImageMas, MasConfig, TemporalTracker};
use msao_agent::pipelines::PipelineSpec;
use msao_agent::runtime::manifest::find_models_dir;
use msao_agent::runtime::{
    InferenceRuntime, ModelCatalog, NamedTensor, OrtRuntime, RuntimeOptions, Tensor,
};
use std::fmt::Display;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A typical easy-VQA question.
const QUESTION: &str = "What color is the shape?";
/// Raw 64×64 RGB frame (the easy-VQA image as captured).
const RAW_64: usize = 64 * 64 * 3;
/// Raw 640×480 RGB frame (a VGA camera frame).
const RAW_VGA: usize = 640 * 480 * 3;
/// Frames cycled through by the MAS benchmark (the temporal tracker sees a changing stream).
const STREAM_FRAMES: usize = 8;
/// Tokens of [`QUESTION`] (what the brain hands `combine_text`).
const QUESTION_TOKENS: usize = 6;
/// Test images used for the compact-size statistics.
const SIZE_SAMPLE: usize = 200;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `Some(value)`, or `None` after saying what is skipped and why.
fn or_skip<T, E: Display>(what: &str, r: Result<T, E>) -> Option<T> {
    r.map_err(|e| eprintln!("edge bench: {what}: {e} — skipped"))
        .ok()
}

fn models_dir() -> Option<PathBuf> {
    match find_models_dir(None) {
        Ok(d) => Some(d),
        Err(tried) => {
            let fallback = repo_root().join("models");
            if fallback.is_dir() {
                return Some(fallback);
            }
            eprintln!(
                "edge bench: no models directory (tried {}; set MSAO_MODELS_DIR) — nothing measured",
                tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            None
        }
    }
}

/// A 64×64 white frame with a filled red circle, when the easy-VQA images are absent.
fn synthetic_frame(shift: u32) -> RgbImage {
    let (cx, cy, r) = (24.0 + shift as f32 * 2.0, 30.0, 14.0);
    RgbImage::from_fn(64, 64, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        if dx * dx + dy * dy <= r * r {
            Rgb([220, 30, 30])
        } else {
            Rgb([255, 255, 255])
        }
    })
}

/// Up to `n` easy-VQA test frames (`0.png`, `1.png`, …); synthetic ones when absent.
fn frames(n: usize) -> (Vec<RgbImage>, bool) {
    let dir = repo_root().join(".cache/easy-vqa/test/images");
    let real: Vec<RgbImage> = (0..n)
        .map_while(|i| open_image(&dir.join(format!("{i}.png"))).ok())
        .collect();
    if real.is_empty() {
        eprintln!(
            "edge bench: no easy-VQA images in {} — using synthetic 64×64 frames",
            dir.display()
        );
        let synthetic = (0..n.min(STREAM_FRAMES))
            .map(|i| synthetic_frame(i as u32))
            .collect();
        (synthetic, false)
    } else {
        (real, true)
    }
}

/// A unit-norm stand-in embedding, when MiniLM is not installed.
fn stand_in_embedding(dim: usize, seed: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..dim)
        .map(|i| (((i * 7 + seed * 13) % 17) as f32 - 8.0) / 8.0)
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.into_iter().map(|x| x / n).collect()
}

/// 0.3 × a 220 Hz tone, `n` samples at `rate` Hz.
fn tone(n: usize, rate: u32) -> Vec<f32> {
    (0..n)
        .map(|i| 0.3 * (std::f32::consts::TAU * 220.0 * i as f32 / rate as f32).sin())
        .collect()
}

/// Times one Silero VAD graph call (one chunk with context, zero state) on the model
/// itself, for a precision [`AudioEncoder`] cannot load.
fn bench_raw_vad(
    g: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &OrtRuntime,
    catalog: &ModelCatalog,
    vad_model: &str,
    precision: Precision,
    tag: &str,
) {
    let Some(manifest) = catalog.find(vad_model, precision) else {
        eprintln!("edge bench: silero-vad {tag} not in the catalog — skipped");
        return;
    };
    let Some(pre) = manifest.preprocess.as_audio().copied() else {
        eprintln!("edge bench: silero-vad {tag}: no audio preprocessing — skipped");
        return;
    };
    let has_sr = manifest.input("sr").is_some();
    let Some(mut model) = or_skip(
        &format!("silero-vad {tag} (raw graph)"),
        runtime.load(manifest, ExecProvider::Cpu),
    ) else {
        return;
    };
    let mut window = vec![0.0f32; pre.context];
    window.extend(tone(pre.chunk, pre.sample_rate));
    let inputs = move || {
        let mut v = vec![
            NamedTensor::new(
                "input",
                Tensor::f32(vec![1, window.len()], window.clone()).expect("input"),
            ),
            NamedTensor::new(
                "state",
                Tensor::f32(vec![2, 1, 128], vec![0.0; 256]).expect("state"),
            ),
        ];
        if has_sr {
            v.push(NamedTensor::new(
                "sr",
                Tensor::i64(vec![], vec![i64::from(pre.sample_rate)]).expect("sr"),
            ));
        }
        v
    };
    g.bench_function(format!("silero-vad/{tag}"), |b| {
        b.iter_batched(
            &inputs,
            |i| black_box(model.run(&i).expect("vad run")),
            BatchSize::SmallInput,
        )
    });
}

/// The MAS step of [`EdgeBrain::process`] (no audio): exactly the work its `timings.mas`
/// covers — spatial keep-mask and descriptor in one pass, temporal observe, the image and
/// text combines. The question's relevance is not in it: the brain computes it once per
/// distinct question, with the embedding, and keeps it in its question cache, so here it is
/// computed once up front ([`mas::relevance`] is timed alone in the parts line).
fn mas_step(
    probe: &[f32],
    layout: &mas::ProbeLayout,
    tracker: &mut TemporalTracker,
    relevance: mas::Relevance,
    tokens: usize,
    config: &MasConfig,
) -> (ImageMas, msao::message::MasScore) {
    let (spatial, descriptor) =
        mas::spatial_with_descriptor(probe, layout, &config.spatial).expect("spatial");
    let temporal = tracker.observe(&descriptor).expect("temporal");
    let image = mas::combine_image(spatial, temporal, relevance, &config.modal);
    (image, mas::combine_text(tokens))
}

/// The compact step of [`EdgeBrain::process`]: what `mas/compact` times.
fn compact_step(out: &EdgeOutput, dim: usize, keep: &[bool], kept: usize) -> Vec<u8> {
    let patches = keep.len();
    let mut patch_major = vec![0.0f32; dim * patches];
    compact::channel_major_to_patch_major(&out.features, dim, patches, &mut patch_major)
        .expect("features");
    let mut buf = vec![0u8; compact::encoded_len(patches, dim, kept)];
    let n = compact::encode_features(&mut buf, &patch_major, dim, keep).expect("encode");
    buf.truncate(n);
    buf
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn edge(c: &mut Criterion) {
    let runtime = match OrtRuntime::new(&RuntimeOptions::default()) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "edge bench: ONNX Runtime not available: {e}\n(run scripts/setup.sh or set MSAO_ORT_LIB) — nothing measured"
            );
            return;
        }
    };
    let Some(dir) = models_dir() else { return };
    let Some(catalog) = or_skip(
        &format!("model catalog {}", dir.display()),
        ModelCatalog::load_dir(&dir),
    ) else {
        return;
    };
    let Some(pipeline) = or_skip("pipeline", PipelineSpec::load_default(&dir)) else {
        return;
    };
    let vad_model = pipeline.audio.as_ref().map_or("silero-vad", |a| &a.model);
    let cpu = ExecProvider::Cpu;
    let config = pipeline.mas.clone();
    let (frames, real) = frames(SIZE_SAMPLE);

    let mut g = c.benchmark_group("model");
    // Model runs take 0.1–10 ms: flat sampling keeps the run short.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(50);
    g.throughput(Throughput::Elements(1));

    // ---- MiniLM-L6: question embedding (also feeds the image model and MAS) ----
    let mut question = None;
    let mut image_prompts = None;
    for (precision, tag) in [(Precision::Fp32, "fp32"), (Precision::Int8, "int8")] {
        let Some(mut text) = or_skip(
            &format!("minilm-l6 {tag}"),
            TextEncoder::from_catalog(&runtime, &catalog, &pipeline.text, precision, cpu),
        ) else {
            continue;
        };
        if question.is_none() {
            question = text.embed(QUESTION).ok();
            let refs: Vec<&str> = config
                .modal
                .image_prompts
                .iter()
                .map(String::as_str)
                .collect();
            image_prompts = text.embed_batch(&refs).ok();
        }
        g.bench_function(format!("minilm-l6/{tag}"), |b| {
            b.iter(|| black_box(text.embed(black_box(QUESTION)).expect("embed")))
        });
    }

    // ---- vqa-edge: the edge encode ----
    let mut edge_runs: Vec<(&str, ImageEncoder)> = Vec::new();
    for (precision, tag) in [(Precision::Fp32, "fp32"), (Precision::Int8, "int8")] {
        if let Some(enc) = or_skip(
            &format!("vqa-edge {tag}"),
            ImageEncoder::from_catalog(&runtime, &catalog, &pipeline, precision, cpu),
        ) {
            edge_runs.push((tag, enc));
        }
    }
    let question_dim = edge_runs.first().map_or(384, |(_, e)| e.question_dim());
    let question = question.unwrap_or_else(|| stand_in_embedding(question_dim, 0));
    let image_prompts = image_prompts.unwrap_or_else(|| {
        (1..=config.modal.image_prompts.len())
            .map(|s| stand_in_embedding(question_dim, s))
            .collect()
    });
    for (tag, enc) in &mut edge_runs {
        let pixels = enc.preprocess(&frames[0]);
        g.bench_function(format!("vqa-edge/{tag}"), |b| {
            b.iter_batched(
                || pixels.clone(),
                |p| black_box(enc.run(p, black_box(&question)).expect("edge run")),
                BatchSize::SmallInput,
            )
        });
    }

    // ---- Silero VAD: one 512-sample chunk ----
    let mut fp16_raw = false;
    for (precision, tag) in [(Precision::Fp32, "fp32"), (Precision::Fp16, "fp16")] {
        match AudioEncoder::from_catalog(&runtime, &catalog, vad_model, precision, cpu) {
            Ok(mut vad) => {
                let chunk = tone(vad.chunk(), vad.sample_rate());
                g.bench_function(format!("silero-vad/{tag}"), |b| {
                    b.iter(|| black_box(vad.speech_probabilities(black_box(&chunk)).expect("vad")))
                });
            }
            // The FP16 export has no `sr` input, which the encoder requires: time one call
            // of the graph itself, with the same inputs the encoder would feed.
            Err(e) => {
                eprintln!(
                    "edge bench: silero-vad {tag} through AudioEncoder: {e} — timing the raw graph instead"
                );
                fp16_raw |= precision == Precision::Fp16;
                bench_raw_vad(&mut g, &runtime, &catalog, vad_model, precision, tag);
            }
        }
    }
    if fp16_raw {
        // Same raw path for FP32, so the two precisions compare like for like.
        bench_raw_vad(
            &mut g,
            &runtime,
            &catalog,
            vad_model,
            Precision::Fp32,
            "fp32-raw",
        );
    }

    // The INT8 edge run (the device default) gives the real probes and compact tensors.
    let Some((_, int8)) = edge_runs.iter_mut().find(|(tag, _)| *tag == "int8") else {
        g.finish();
        eprintln!("edge bench: vqa-edge int8 not loaded — MAS, compact and cloud skipped");
        return;
    };
    let layout = int8.probe_layout();
    let dim = int8.feature_dim();
    // Once per distinct question, as the brain's question cache does.
    let relevance = mas::relevance(&question, &image_prompts, &config.modal).expect("relevance");
    let outputs: Vec<EdgeOutput> = frames
        .iter()
        .map(|f| {
            let p = int8.preprocess(f);
            int8.run(p, &question).expect("edge run")
        })
        .collect();
    let scored: Vec<(ImageMas, Vec<u8>)> = {
        let mut tracker = TemporalTracker::new(config.temporal);
        outputs
            .iter()
            .map(|out| {
                let (m, _) = mas_step(
                    &out.probe,
                    &layout,
                    &mut tracker,
                    black_box(relevance),
                    black_box(QUESTION_TOKENS),
                    &config,
                );
                let bytes = compact_step(out, dim, &m.spatial.keep, m.spatial.kept);
                (m, bytes)
            })
            .collect()
    };

    // ---- vqa-cloud on a compact tensor ----
    if let Some(mut cloud) = or_skip(
        "vqa-cloud fp32",
        CloudHead::from_catalog(&runtime, &catalog, &pipeline, cpu),
    ) {
        let bytes = &scored[0].1;
        g.bench_function("vqa-cloud/fp32", |b| {
            b.iter(|| black_box(cloud.run(black_box(bytes), &question).expect("cloud")))
        });
    }
    g.finish();

    // ---- MAS and compact steps ----
    let stream = &outputs[..outputs.len().min(STREAM_FRAMES)];
    let mut g = c.benchmark_group("mas");
    g.throughput(Throughput::Elements(1));
    g.bench_function("step", |b| {
        let mut tracker = TemporalTracker::new(config.temporal);
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % stream.len();
            black_box(mas_step(
                black_box(&stream[i].probe),
                &layout,
                &mut tracker,
                black_box(relevance),
                black_box(QUESTION_TOKENS),
                &config,
            ))
        })
    });
    let (m0, _) = &scored[0];
    g.bench_function("compact", |b| {
        b.iter(|| {
            black_box(compact_step(
                black_box(&outputs[0]),
                dim,
                &m0.spatial.keep,
                m0.spatial.kept,
            ))
        })
    });
    g.finish();

    // ---- the whole edge request ----
    let options = BrainOptions {
        audio: false,
        ..BrainOptions::default()
    };
    if let Some(mut brain) = or_skip(
        "EdgeBrain (int8)",
        EdgeBrain::load(&runtime, &catalog, &pipeline, &options),
    ) {
        let mut g = c.benchmark_group("brain");
        g.sampling_mode(SamplingMode::Flat);
        g.sample_size(50);
        g.throughput(Throughput::Elements(1));
        let mut id = 0u32;
        g.bench_function("process/int8", |b| {
            b.iter(|| {
                id = id.wrapping_add(1);
                let frame = &frames[id as usize % frames.len().min(STREAM_FRAMES)];
                black_box(
                    brain
                        .process(&EdgeRequest {
                            request_id: id,
                            image: ImageInput::Decoded(frame),
                            question: QUESTION,
                            audio: None,
                        })
                        .expect("process"),
                )
            })
        });
        g.finish();
    }

    // ---- quick in-process MAS overhead check (median of single calls) ----
    let mut tracker = TemporalTracker::new(config.temporal);
    let mas_median = median(
        (0..4000)
            .map(|i| {
                let out = &stream[i % stream.len()];
                let t = Instant::now();
                black_box(mas_step(
                    &out.probe,
                    &layout,
                    &mut tracker,
                    black_box(relevance),
                    black_box(QUESTION_TOKENS),
                    &config,
                ));
                t.elapsed()
            })
            .collect(),
    );
    let part = |f: &mut dyn FnMut(&EdgeOutput)| {
        median(
            (0..4000)
                .map(|i| {
                    let out = &stream[i % stream.len()];
                    let t = Instant::now();
                    f(out);
                    t.elapsed()
                })
                .collect(),
        )
        .as_secs_f64()
            * 1e6
    };
    let mut tracker = TemporalTracker::new(config.temporal);
    let descriptors: Vec<Vec<f32>> = stream
        .iter()
        .map(|o| mas::patch_descriptor(&o.probe, &layout).expect("descriptor"))
        .collect();
    let mut d = 0;
    let (spatial0, _) =
        mas::spatial_with_descriptor(&stream[0].probe, &layout, &config.spatial).expect("spatial");
    let temporal0 = tracker.observe(&descriptors[0]).expect("temporal");
    eprintln!(
        "MAS step parts (median µs): spatial_with_descriptor {:.2}, temporal observe {:.2}, \
         combine image+text {:.2}; not in the step (once per distinct question): relevance {:.2}",
        part(&mut |o| {
            black_box(mas::spatial_with_descriptor(&o.probe, &layout, &config.spatial).ok());
        }),
        part(&mut |_| {
            d = (d + 1) % descriptors.len();
            black_box(tracker.observe(black_box(&descriptors[d])).ok());
        }),
        part(&mut |_| {
            black_box(mas::combine_image(
                black_box(spatial0.clone()),
                temporal0,
                relevance,
                &config.modal,
            ));
            black_box(mas::combine_text(black_box(QUESTION_TOKENS)));
        }),
        part(&mut |_| {
            black_box(mas::relevance(&question, &image_prompts, &config.modal).ok());
        }),
    );
    for (tag, enc) in &mut edge_runs {
        let pixels = enc.preprocess(&frames[0]);
        let encode_median = median(
            (0..300)
                .map(|_| {
                    let p = pixels.clone();
                    let t = Instant::now();
                    black_box(enc.run(p, &question).expect("edge run"));
                    t.elapsed()
                })
                .collect(),
        );
        eprintln!(
            "MAS overhead ({tag}): MAS step {:.2} µs / edge encode {:.1} µs = {:.3} % (target ≤ 1 %)",
            mas_median.as_secs_f64() * 1e6,
            encode_median.as_secs_f64() * 1e6,
            100.0 * mas_median.as_secs_f64() / encode_median.as_secs_f64().max(1e-12)
        );
    }

    // ---- compact tensor size vs raw frames ----
    let sizes: Vec<usize> = scored.iter().map(|(_, b)| b.len()).collect();
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    let typical = sorted[sorted.len() / 2];
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    let patches = layout.patches();
    let full = compact::encoded_len(patches, dim, patches);
    eprintln!(
        "compact tensor (vqa-edge int8, default MAS, {} {} frame(s)): first frame {} B ({} of {} patches kept); \
         median {typical} B, mean {mean:.0} B, min {} B, max {} B; all patches kept would be {full} B",
        sizes.len(),
        if real { "easy-VQA test" } else { "synthetic" },
        sizes[0],
        scored[0].0.spatial.kept,
        patches,
        sorted[0],
        sorted[sorted.len() - 1],
    );
    for (name, raw) in [("64×64 RGB", RAW_64), ("640×480 RGB", RAW_VGA)] {
        eprintln!(
            "  vs raw {name} {raw} B: median compact is {:.2} % of raw ({:.0}× smaller); first frame {:.0}×",
            100.0 * typical as f64 / raw as f64,
            raw as f64 / typical as f64,
            raw as f64 / sizes[0] as f64
        );
    }
}

criterion_group!(benches, edge);
criterion_main!(benches);
