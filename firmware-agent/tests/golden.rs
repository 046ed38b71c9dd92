//! Golden outputs: every model the agent runs, on fixed inputs, against onnxruntime's Python
//! API on the same ONNX files (`tests/fixtures/golden/golden.json`, written by
//! `tests/fixtures/golden/make_golden.py` with `.cache/vqa-venv`; see that script for how
//! each value was produced).
//!
//! Needs `libonnxruntime.so` (`scripts/setup.sh`): without it these tests fail, they do not
//! skip. The MiniLM ONNX files are built by `scripts/setup.sh` too; only the MiniLM golden
//! skips (with a message) when they are absent — the easy-VQA and Silero goldens always run.
//!
//! Tolerances: both sides run the same ONNX Runtime version's CPU kernels on the same graph,
//! so differences come only from float summation order (thread partitioning, graph
//! optimisation) and from the input tensor (see `image_preprocessing_matches_the_reference_
//! exactly`). Each comparison states its bound where it is made.

mod common;

use msao::compact;
use msao::message::{ExecProvider, Precision};
use msao_agent::brain::CloudHead;
use msao_agent::encoders::{AudioEncoder, ImageEncoder, TextEncoder, open_image, read_wav};
use msao_agent::mas::{self, ProbeLayout, SpatialConfig};
use msao_agent::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    common::fixture("golden")
}

fn golden() -> Value {
    let path = golden_dir().join("golden.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run make_golden.py)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn runtime() -> OrtRuntime {
    OrtRuntime::new(&RuntimeOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n(run scripts/setup.sh to fetch ONNX Runtime)"))
}

fn catalog() -> ModelCatalog {
    ModelCatalog::load_dir(&models_dir()).unwrap_or_else(|e| panic!("{e}"))
}

fn pipeline() -> msao_agent::pipelines::PipelineSpec {
    msao_agent::pipelines::PipelineSpec::load_default(&models_dir())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_f32(values: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize())
}

/// Element-wise `|a − b| ≤ abs_tol`, naming the first offender.
fn assert_close(what: &str, got: &[f32], want: &[f32], abs_tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let (i, worst) = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold(
            (0, 0.0f32),
            |(bi, bw), (i, d)| if d > bw { (i, d) } else { (bi, bw) },
        );
    eprintln!("{what}: max |diff| {worst:e} (tolerance {abs_tol:e})");
    assert!(
        worst <= abs_tol,
        "{what}: value {i} is {} vs reference {} (|diff| {worst} > {abs_tol})",
        got[i],
        want[i]
    );
}

/// `|a − b| ≤ rel_tol · max(|b|, 1)`.
fn assert_close_rel(what: &str, got: f64, want: f64, rel_tol: f64) {
    eprintln!(
        "{what}: rel diff {:e} (tolerance {rel_tol:e})",
        (got - want).abs() / want.abs().max(1.0)
    );
    assert!(
        (got - want).abs() <= rel_tol * want.abs().max(1.0),
        "{what}: {got} vs reference {want} (rel tol {rel_tol})"
    );
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, x)| {
            if *x > bv { (i, *x) } else { (bi, bv) }
        })
        .0
}

// ------------------------------------------------------------------------------ images

/// The reference input of `vqa_common.to_nchw`: `pixel / 255` in f32 (numpy divides a
/// float32 array by 255 with IEEE division, correctly rounded), RGB, NCHW.
fn reference_nchw(frame: &image::RgbImage) -> Vec<f32> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let mut out = vec![0.0f32; 3 * w * h];
    for (x, y, px) in frame.enumerate_pixels() {
        for c in 0..3 {
            out[c * w * h + y as usize * w + x as usize] = f32::from(px[c]) / 255.0;
        }
    }
    out
}

#[test]
fn png_decode_matches_pillow() {
    let g = golden();
    for img in g["images"].as_array().unwrap() {
        let file = img["file"].as_str().unwrap();
        let frame = open_image(&golden_dir().join(file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((frame.width(), frame.height()), (64, 64), "{file}");
        // Exact: PNG is lossless, both decoders must give the same 8-bit RGB bytes.
        assert_eq!(
            hex(&Sha256::digest(frame.as_raw())),
            img["rgb_sha256"].as_str().unwrap(),
            "{file}: decoded RGB differs from Pillow's"
        );
        let sum: u64 = frame.as_raw().iter().map(|b| u64::from(*b)).sum();
        assert_eq!(sum, img["pixel_sum"].as_u64().unwrap(), "{file}");
    }
}

#[test]
fn image_preprocessing_matches_the_reference_exactly() {
    // The same PNG must give the bit-identical model input in Rust and in Python
    // (`to_nchw`: pixel / 255), so any golden difference downstream is the runtime's.
    let g = golden();
    let rt = runtime();
    let cat = catalog();
    let enc =
        ImageEncoder::from_catalog(&rt, &cat, &pipeline(), Precision::Fp32, ExecProvider::Cpu)
            .unwrap_or_else(|e| panic!("{e}"));
    for img in g["images"].as_array().unwrap() {
        let file = img["file"].as_str().unwrap();
        let frame = open_image(&golden_dir().join(file)).unwrap();
        let reference = reference_nchw(&frame);
        // The in-test reference is the Python one (hash of the f32 tensor numpy built).
        assert_eq!(
            sha256_f32(&reference),
            img["input_sha256"].as_str().unwrap(),
            "{file}: pixel/255 in f32 differs from numpy's to_nchw"
        );
        let got = enc.preprocess(&frame);
        assert_eq!(got.len(), 3 * 64 * 64);
        let diffs: Vec<(usize, f32, f32)> = got
            .iter()
            .zip(&reference)
            .enumerate()
            .filter(|(_, (a, b))| a.to_bits() != b.to_bits())
            .map(|(i, (a, b))| (i, *a, *b))
            .collect();
        assert!(
            diffs.is_empty(),
            "{file}: {} of {} preprocessed values differ from the reference pixel / 255 \
             (first: index {} = {:e}, reference {:e}); `pixel · scale` with scale = 1/255 \
             rounded to f32 is not `pixel / 255`",
            diffs.len(),
            got.len(),
            diffs[0].0,
            diffs[0].1,
            diffs[0].2
        );
        assert_eq!(sha256_f32(&got), img["input_sha256"].as_str().unwrap());
    }
}

/// The edge model at `precision` on the fixture PNGs, through the agent's own decode and
/// preprocessing, with the question embedding from the JSON (identical f32 values).
fn check_edge(precision: Precision, key: &str, logit_tol: f32, value_tol: f32, sum_rel: f64) {
    let g = golden();
    let rt = runtime();
    let cat = catalog();
    let mut enc = ImageEncoder::from_catalog(&rt, &cat, &pipeline(), precision, ExecProvider::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
    let layout = enc.probe_layout();
    assert_eq!(layout, ProbeLayout::VQA_EDGE);
    let spatial_cfg = SpatialConfig::default();
    assert_eq!(
        (spatial_cfg.alpha, spatial_cfg.gate),
        (
            g["mas_spatial"]["alpha"].as_f64().unwrap() as f32,
            g["mas_spatial"]["gate"].as_f64().unwrap() as f32
        ),
        "make_golden.py computes the keep-mask with other MAS defaults than the agent"
    );
    for img in g["images"].as_array().unwrap() {
        let file = img["file"].as_str().unwrap();
        let question = floats(&g["question_embeddings"][img["question"].as_str().unwrap()]);
        assert_eq!(question.len(), 384);
        let want = &img[key];
        let out = enc
            .run_file(&golden_dir().join(file), &question)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let what = |t: &str| format!("{key} {file} {t}");
        assert_close(
            &what("logits"),
            &out.logits,
            &floats(&want["logits"]),
            logit_tol,
        );
        assert_eq!(
            argmax(&out.logits),
            want["answer"].as_u64().unwrap() as usize,
            "{}",
            what("answer")
        );
        let answer = g["answers"][argmax(&out.logits)].as_str().unwrap();
        assert_eq!(
            answer,
            img["easy_vqa_answer"].as_str().unwrap(),
            "{}",
            what("answer text")
        );
        assert_close(
            &what("image_embedding"),
            &out.image_embedding,
            &floats(&want["image_embedding"]),
            value_tol,
        );
        assert_close(
            &what("probe[..8]"),
            &out.probe[..8],
            &floats(&want["probe_first"]),
            value_tol,
        );
        assert_close(
            &what("features[..8]"),
            &out.features[..8],
            &floats(&want["features_first"]),
            value_tol,
        );
        let sum = |v: &[f32]| v.iter().map(|x| f64::from(*x)).sum::<f64>();
        assert_close_rel(
            &what("probe sum"),
            sum(&out.probe),
            want["probe_sum"].as_f64().unwrap(),
            sum_rel,
        );
        assert_close_rel(
            &what("features sum"),
            sum(&out.features),
            want["features_sum"].as_f64().unwrap(),
            sum_rel,
        );
        // MAS on the agent's probe gives the reference energies and keep-mask.
        let energy = mas::patch_energy(&out.probe, &layout).unwrap();
        for (p, (e, r)) in energy
            .iter()
            .zip(floats(&want["probe_patch_energy"]))
            .enumerate()
        {
            assert_close_rel(
                &what(&format!("patch {p} energy")),
                f64::from(*e),
                f64::from(r),
                sum_rel,
            );
        }
        let keep: Vec<bool> = want["mas_keep"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        let s = mas::spatial(&out.probe, &layout, &spatial_cfg).unwrap();
        assert_eq!(s.keep, keep, "{}", what("MAS keep-mask"));
    }
}

#[test]
fn vqa_edge_fp32_matches_onnxruntime_python() {
    // FP32: only summation order and (at most) 1-ulp input differences separate the two runs;
    // logits are O(10), so 1e-4 absolute is ~1e-5 relative — orders above float noise
    // (observed on x86-64: 4.8e-6 on logits, from the 1-ulp input differences; 0 elsewhere),
    // orders below any real change (a wrong input scale moves logits by whole units).
    // Probe/features/embedding are O(1): 1e-4 absolute; sums of 4096/512 values: 1e-5
    // relative.
    check_edge(Precision::Fp32, "edge_fp32", 1e-4, 1e-4, 1e-5);
}

#[test]
fn vqa_edge_int8_matches_onnxruntime_python() {
    // INT8 (static QDQ): the same integer kernels run in both; a 1-ulp input difference can
    // at worst move one activation across a rounding boundary by one quantisation step
    // (scale ≈ 1e-2 here), so values get 2e-3 / 1e-4-relative sums and logits 5e-3
    // absolute; an argmax flip or a wrong scale would exceed these by far. Observed: 0 (the
    // input QuantizeLinear absorbs the 1-ulp input differences), with the goldens written on
    // an AVX-512 VNNI host and this test run there, under qemu-x86_64 -cpu Haswell (AVX2) and
    // as an aarch64 build under qemu-aarch64 (2026-12-02): the U8U8 model computes the same
    // integers on all three (calibration/REPORT.md). FP32 above: at most 3.1e-5 on aarch64.
    check_edge(Precision::Int8, "edge_int8", 5e-3, 2e-3, 1e-4);
}

#[test]
fn vqa_cloud_matches_onnxruntime_python_on_fixed_compact_tensors() {
    let g = golden();
    let rt = runtime();
    let cat = catalog();
    let mut cloud = CloudHead::from_catalog(&rt, &cat, &pipeline(), ExecProvider::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((cloud.patches(), cloud.dim()), (16, 32));
    for img in g["images"].as_array().unwrap() {
        let file = img["file"].as_str().unwrap();
        let question = floats(&g["question_embeddings"][img["question"].as_str().unwrap()]);
        let features = floats(&img["edge_int8_features_patch_major"]);
        assert_eq!(features.len(), 16 * 32);
        for case in img["cloud"].as_array().unwrap() {
            let label = format!("{file} keep={}", case["keep_label"].as_str().unwrap());
            let keep: Vec<bool> = case["keep"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_bool().unwrap())
                .collect();
            let kept = keep.iter().filter(|k| **k).count();
            let mut buf = vec![0u8; compact::encoded_len(16, 32, kept)];
            let n = compact::encode_features(&mut buf, &features, 32, &keep).unwrap();
            buf.truncate(n);
            let view = compact::decode(&buf).unwrap();
            // Quantisation is exact arithmetic on identical f32 inputs (max|x|/127 in f32,
            // round half to even): scale and every int8 value must equal quantize_compact's.
            assert_eq!(
                view.scale(),
                case["scale"].as_f64().unwrap() as f32,
                "{label}: scale"
            );
            let q: Vec<i64> = view.values().map(i64::from).collect();
            let q_ref: Vec<i64> = case["q_kept"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(
                q, q_ref,
                "{label}: int8 values differ from quantize_compact"
            );
            let out = cloud
                .run(&buf, &question)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            // FP32 graph on identical inputs: summation order only (see the edge FP32 bound).
            assert_close(
                &format!("{label} logits"),
                &out.logits,
                &floats(&case["logits"]),
                1e-4,
            );
            assert_eq!(
                out.answer,
                case["answer"].as_u64().unwrap() as usize,
                "{label}"
            );
        }
    }
}

// ------------------------------------------------------------------------------ MiniLM

#[test]
fn minilm_embeddings_match_onnxruntime_python() {
    let g = golden();
    let cat = catalog();
    let sentences: Vec<&str> = g["minilm"]["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let rt = runtime();
    let mut ran = 0;
    // FP32: unit vectors of 384 values ≈ ±0.05..0.2 each; summation order only → 1e-5.
    // (Observed: 0 for both precisions, same tokens and kernels.)
    // INT8 (dynamic quantisation: activation scales from each input's own range, computed
    // identically on both sides): 1e-4.
    for (precision, key, tol) in [
        (Precision::Fp32, "fp32", 1e-5),
        (Precision::Int8, "int8", 1e-4),
    ] {
        let text = pipeline().text;
        if cat.find(&text.model, precision).is_none() {
            eprintln!(
                "SKIP minilm-l6 {key}: not in the catalog (models/minilm/minilm-l6-{key}.onnx is built by scripts/setup.sh)"
            );
            continue;
        }
        let mut enc = TextEncoder::from_catalog(&rt, &cat, &text, precision, ExecProvider::Cpu)
            .unwrap_or_else(|e| panic!("{e}"));
        let want = g["minilm"][key].as_array().unwrap();
        for (s, w) in sentences.iter().zip(want) {
            // One input per run, as the reference (no padding involved).
            let e = enc.embed(s).unwrap_or_else(|e| panic!("{e}"));
            assert_close(&format!("minilm {key} {s:?}"), &e, &floats(w), tol);
        }
        ran += 1;
    }
    if ran == 0 {
        eprintln!("SKIP: no MiniLM model built; the other goldens still ran");
    }
}

// ------------------------------------------------------------------------------ Silero

/// The synthetic track of `make_golden.py` (`xorshift_signal`), bit for bit.
fn synthetic_track() -> Vec<i16> {
    let mut state: u32 = 0x2545_F491;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    (0..20_000u32)
        .map(|n| {
            let v: i32 = if n < 4000 {
                0
            } else if n < 10_000 {
                (rnd() & 0x3FFF) as i32 - 8192
            } else {
                let ph = (n % 36) as i32;
                let tri = if ph < 18 { ph } else { 36 - ph };
                tri * 24_000 / 18 - 12_000 + (rnd() & 0x7FF) as i32 - 1024
            };
            i16::try_from(v).unwrap()
        })
        .collect()
}

fn vad() -> AudioEncoder {
    let rt = runtime();
    let audio = pipeline()
        .audio
        .expect("the shipped pipeline has an audio model");
    AudioEncoder::from_catalog(
        &rt,
        &catalog(),
        &audio.model,
        Precision::Fp32,
        ExecProvider::Cpu,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

// Silero FP32 probabilities lie in [0, 1]; the recurrent state is carried over 39–40 chunks,
// so float-order noise can compound a little: 1e-4 absolute (observed: 0 on x86-64). A chunking
// mistake (context not carried, state reset, no padding of the last chunk) moves them by
// 1e-2 or more.
const VAD_TOL: f32 = 1e-4;

#[test]
fn silero_vad_matches_onnxruntime_python_on_a_synthetic_track() {
    let g = golden();
    let want = &g["silero"]["synthetic"];
    let track = synthetic_track();
    let mut h = Sha256::new();
    for s in &track {
        h.update(s.to_le_bytes());
    }
    assert_eq!(
        hex(&h.finalize()),
        want["int16_sha256"].as_str().unwrap(),
        "the Rust synthetic track differs from make_golden.py's"
    );
    let samples: Vec<f32> = track.iter().map(|s| f32::from(*s) / 32768.0).collect();
    let mut enc = vad();
    assert_eq!((enc.sample_rate(), enc.chunk()), (16_000, 512));
    let p = enc.speech_probabilities(&samples).unwrap();
    let want = floats(&want["probabilities"]);
    assert_eq!(p.len(), 40, "20,000 samples = 39 chunks + a padded one");
    assert_close("silero synthetic", &p, &want, VAD_TOL);
}

#[test]
fn silero_vad_matches_onnxruntime_python_on_speech_wav() {
    let g = golden();
    let want = &g["silero"]["speech_wav"];
    let path = golden_dir().join(want["file"].as_str().unwrap());
    let mut enc = vad();
    let samples = read_wav(&path, enc.sample_rate()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(samples.len() as u64, want["samples"].as_u64().unwrap());
    let p = enc.speech_probabilities(&samples).unwrap();
    assert_close(
        "silero speech.wav",
        &p,
        &floats(&want["probabilities"]),
        VAD_TOL,
    );
    assert!(
        p.iter().any(|x| *x > 0.9),
        "espeak-ng speech must fire the VAD: {p:?}"
    );
}
