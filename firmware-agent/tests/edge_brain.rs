//! [`EdgeBrain`] end to end on the real models: MAS on constructed frames and tracks, bad
//! inputs per request, and the compact tensor through the cloud model against the Python
//! onnxruntime reference (`tests/fixtures/golden/golden.json`, see `make_golden.py`).
//!
//! Needs `libonnxruntime.so` and the MiniLM ONNX files (`scripts/setup.sh`): `EdgeBrain::load`
//! embeds the MAS prompts, so without them these tests fail with the loader's message.

mod common;

use image::{Rgb, RgbImage};
use msao::compact;
use msao::message::{ExecProvider, Precision};
use msao_agent::brain::{
    AudioInput, BrainError, BrainOptions, CloudHead, EdgeBrain, EdgeRequest, EdgeResult, ImageInput,
};
use msao_agent::encoders::{AudioEncoderError, ImageEncoder, ImageEncoderError, TextEncoderError};
use msao_agent::mas;
use msao_agent::runtime::{ModelCatalog, OrtRuntime, RuntimeOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

const IMAGE_QUESTION: &str = "what is the red shape?";
/// One of the default audio prompts: audio relevance 1.
const AUDIO_QUESTION: &str = "Is someone speaking in the recording?";

fn golden_dir() -> PathBuf {
    common::fixture("golden")
}

fn good_png() -> PathBuf {
    golden_dir().join("easyvqa-test-0.png")
}

fn golden() -> Value {
    let text = std::fs::read_to_string(golden_dir().join("golden.json")).unwrap();
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

fn brain_with(options: &BrainOptions) -> EdgeBrain {
    let rt = runtime();
    EdgeBrain::load(&rt, &catalog(), &pipeline(), options).unwrap_or_else(|e| {
        panic!("{e}\n(EdgeBrain needs the MiniLM ONNX files: run scripts/setup.sh)")
    })
}

/// The device configuration: INT8 image and text models, MAS as the pipeline gives it.
fn brain() -> EdgeBrain {
    brain_with(&BrainOptions::default())
}

fn ask<'a>(image: ImageInput<'a>, audio: Option<AudioInput<'a>>) -> EdgeRequest<'a> {
    EdgeRequest {
        request_id: 1,
        image,
        question: IMAGE_QUESTION,
        audio,
    }
}

fn process(brain: &mut EdgeBrain, request: &EdgeRequest<'_>) -> EdgeResult {
    brain.process(request).unwrap_or_else(|e| panic!("{e}"))
}

fn white() -> RgbImage {
    RgbImage::from_pixel(64, 64, Rgb([255, 255, 255]))
}

/// Kept patch indices.
fn kept(result: &EdgeResult) -> Vec<usize> {
    let keep = &result.image.spatial.keep;
    (0..keep.len()).filter(|p| keep[*p]).collect()
}

/// Pixel rows (or columns) whose values reach probe block `b` (0..4) of the easy-VQA edge
/// model: the probe is two 3×3 stride-2 pad-1 convolutions deep, so probe cell `j` sees
/// pixels `4j − 3 ..= 4j + 3`, and a patch's 4 probe cells `4b .. 4b + 3` see
/// `16b − 3 ..= 16b + 15` (3 pixels before its 16-pixel block, none after).
fn receptive(b: usize) -> (i64, i64) {
    (16 * b as i64 - 3, 16 * b as i64 + 15)
}

/// Patches whose probe can see any pixel of the box `[y0, y1] × [x0, x1]` (inclusive).
fn patches_seeing(y0: i64, y1: i64, x0: i64, x1: i64) -> Vec<usize> {
    (0..16)
        .filter(|p| {
            let (r0, r1) = receptive(p / 4);
            let (c0, c1) = receptive(p % 4);
            r0 <= y1 && y0 <= r1 && c0 <= x1 && x0 <= c1
        })
        .collect()
}

// ------------------------------------------------------------------------------ MAS

#[test]
fn blank_frames_keep_no_patches() {
    let mut brain = brain();
    for (name, colour) in [("white", [255u8; 3]), ("black", [0u8; 3])] {
        let frame = RgbImage::from_pixel(64, 64, Rgb(colour));
        brain.reset_stream();
        let r = process(&mut brain, &ask(ImageInput::Decoded(&frame), None));
        let s = &r.image.spatial;
        assert_eq!(s.keep.len(), 16, "{name}");
        assert_eq!(
            s.kept,
            0,
            "{name} frame kept patches {:?} (spread {})",
            kept(&r),
            s.spread
        );
        // The gate closed it: its energy spread is below mas.spatial.gate.
        assert!(
            s.spread < pipeline().mas.spatial.gate,
            "{name}: spread {}",
            s.spread
        );
        let view = compact::decode(&r.compact).unwrap();
        assert_eq!((view.total(), view.kept()), (16, 0), "{name}");
        assert_eq!(r.image.to_wire().kept, 0);
    }
}

#[test]
fn repeated_frame_is_reused() {
    let mut brain = brain();
    let first = process(&mut brain, &ask(ImageInput::File(&good_png()), None));
    assert_eq!(
        first.image.temporal.change, None,
        "first frame of the stream"
    );
    assert_eq!(first.image.temporal.score, 1.0);
    assert!(!first.image.temporal.reuse);
    let again = process(&mut brain, &ask(ImageInput::File(&good_png()), None));
    let t = again.image.temporal;
    // Same bytes, same deterministic CPU run: the probe descriptor is identical, so the
    // change is 0 up to float noise (1e-6 is 4 orders below reuse_below = 0.05).
    assert!(t.reuse, "repeated frame not reused: {t:?}");
    assert!(t.score <= 1e-6, "temporal score of a repeated frame: {t:?}");
    assert_eq!(t.matched_age, Some(1));
    assert!(again.image.combined <= 1e-6, "{:?}", again.image);
    assert_eq!(again.answer, first.answer);
    // A different scene is new again (circle vs triangle, other colour and place).
    let other = golden_dir().join("easyvqa-test-3.png");
    let new = process(&mut brain, &ask(ImageInput::File(&other), None));
    assert!(!new.image.temporal.reuse, "{:?}", new.image.temporal);
    assert!(new.image.temporal.score > 0.5, "{:?}", new.image.temporal);
    // After a reset the stream starts over.
    brain.reset_stream();
    let reset = process(&mut brain, &ask(ImageInput::File(&good_png()), None));
    assert_eq!(reset.image.temporal.change, None);
}

#[test]
fn silent_audio_is_not_needed_and_speech_is() {
    let mut brain = brain();
    let frame = golden_dir().join("easyvqa-test-0.png");
    let silence = vec![0.0f32; 16_000];
    let quiet = brain
        .process(&EdgeRequest {
            request_id: 1,
            image: ImageInput::File(&frame),
            question: AUDIO_QUESTION,
            audio: Some(AudioInput::Samples(&silence)),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let a = quiet
        .audio
        .as_ref()
        .expect("audio MAS for a request with audio");
    assert_eq!(
        a.relevance.score, 1.0,
        "the question is an audio prompt: {a:?}"
    );
    assert_eq!(
        a.activity.chunks, 32,
        "1 s at 16 kHz = 31.25 chunks of 512 → 32"
    );
    assert_eq!(a.activity.speech_chunks, 0, "{a:?}");
    // Silero on digital silence gives ≈ 0.002 (tests/runtime_silero.rs); 0.05 leaves room
    // and is half of needed_above (0.1).
    assert!(a.activity.peak < 0.05, "{a:?}");
    assert!(!a.needed, "silence must not be needed: {a:?}");

    // espeak-ng speech (fixture, see tests/fixtures/golden/README.md): Silero fires.
    let wav = golden_dir().join("speech.wav");
    let spoken = brain
        .process(&EdgeRequest {
            request_id: 2,
            image: ImageInput::File(&frame),
            question: AUDIO_QUESTION,
            audio: Some(AudioInput::File(&wav)),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let s = spoken.audio.as_ref().unwrap();
    assert!(s.activity.peak > 0.9, "{s:?}");
    assert!(s.activity.peak > a.activity.peak);
    assert!(s.activity.speech_chunks >= 5, "{s:?}");
    assert!(s.needed, "speech asked about must be needed: {s:?}");
    assert!(s.score.combined_pm > a.score.combined_pm);

    // The same speech with an image question: relevance 0 (the image question's audio
    // cosine is below relevance_low), so not needed despite the activity.
    let image_q = brain
        .process(&ask(ImageInput::File(&frame), Some(AudioInput::File(&wav))))
        .unwrap_or_else(|e| panic!("{e}"));
    let i = image_q.audio.as_ref().unwrap();
    assert!(i.activity.peak > 0.9);
    assert!(!i.needed, "{i:?}");
}

/// One shape drawn on white, through the brain; returns the kept patches.
fn shape_case(brain: &mut EdgeBrain, frame: &RgbImage) -> Vec<usize> {
    brain.reset_stream();
    let r = process(brain, &ask(ImageInput::Decoded(frame), None));
    assert!(
        r.image.spatial.activity > 0.99,
        "a shape is content: {:?}",
        r.image.spatial
    );
    kept(&r)
}

#[test]
fn shape_on_white_keeps_only_the_patches_that_see_it() {
    let mut brain = brain();

    // 8×8 red square at rows/cols 20..=27: inside patch 5 (rows/cols 16..=31) with more
    // than 3 pixels to its top/left neighbours' reach, so only patch 5 sees it.
    let mut square = white();
    for y in 20..28 {
        for x in 20..28 {
            square.put_pixel(x, y, Rgb([255, 0, 0]));
        }
    }
    assert_eq!(patches_seeing(20, 27, 20, 27), vec![5]);
    assert_eq!(shape_case(&mut brain, &square), vec![5]);

    // Discs, centre (39, 39), radius 5 (pixels 34..=44): inside patch 10 only.
    let disc = |colour: [u8; 3]| {
        let mut img = white();
        for y in 0..64i64 {
            for x in 0..64i64 {
                if (y - 39).pow(2) + (x - 39).pow(2) <= 25 {
                    img.put_pixel(x as u32, y as u32, Rgb(colour));
                }
            }
        }
        img
    };
    assert_eq!(patches_seeing(34, 44, 34, 44), vec![10]);
    // A red disc is strong enough (peak energy ≈ 2.9) that only its patch is kept.
    assert_eq!(shape_case(&mut brain, &disc([255, 0, 0])), vec![10]);
    // A blue disc is fainter (peak ≈ 1.2): the keep threshold alpha · peak (0.037) then
    // falls below the energy the top row and left column of patches have on plain white
    // (≈ 0.04–0.054: their probes see the convolutions' zero padding, 3 pixels past the
    // top/left edge; the right/bottom patches' reach ends inside the image). Those patches
    // may be kept; no other patch that cannot see the disc may be.
    let border = [0usize, 1, 2, 3, 4, 8, 12];
    let k = shape_case(&mut brain, &disc([0, 0, 255]));
    assert!(k.contains(&10), "{k:?}");
    assert!(
        k.iter().all(|p| *p == 10 || border.contains(p)),
        "kept {k:?}: only patch 10 and padding-border patches may be"
    );
    if k.len() > 1 {
        eprintln!("note: faint blue disc also keeps border patches {k:?} (threshold alpha · peak)");
    }

    // A 16×16 square filling patch 5 exactly (16..=31): the right (6), lower (9) and
    // diagonal (10) neighbours' probes see its last 3 pixel rows/columns; nothing else can.
    let mut block = white();
    for y in 16..32 {
        for x in 16..32 {
            block.put_pixel(x, y, Rgb([255, 0, 0]));
        }
    }
    let reach = patches_seeing(16, 31, 16, 31);
    assert_eq!(reach, vec![5, 6, 9, 10]);
    let k = shape_case(&mut brain, &block);
    assert!(k.contains(&5), "{k:?}");
    assert!(
        k.iter().all(|p| reach.contains(p)),
        "kept {k:?} outside {reach:?}"
    );

    // A 24×24 square at 36..=59 covers parts of patches 10, 11, 14, 15; the patches above
    // and to the left reach only up to pixel 31, so exactly these four see it (all kept).
    let mut big = white();
    for y in 36..60 {
        for x in 36..60 {
            big.put_pixel(x, y, Rgb([0, 128, 0]));
        }
    }
    let reach = patches_seeing(36, 59, 36, 59);
    assert_eq!(reach, vec![10, 11, 14, 15]);
    assert_eq!(shape_case(&mut brain, &big), reach);
}

#[test]
fn probe_outside_a_shapes_reach_equals_the_blank_frames() {
    // The receptive-field claim behind the test above, checked on the model itself: for
    // the 8×8 square in patch 5, every other patch's probe energy is the white frame's.
    // The INT8 graph is static QDQ (fixed scales), so each probe cell is a function of its
    // 7×7 pixel window only; 1e-6 relative allows for kernel summation order.
    let rt = runtime();
    let mut enc = ImageEncoder::from_catalog(
        &rt,
        &catalog(),
        &pipeline(),
        Precision::Int8,
        ExecProvider::Cpu,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let g = golden();
    let question: Vec<f32> = g["question_embeddings"][IMAGE_QUESTION]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let layout = enc.probe_layout();
    let blank = enc.run(enc.preprocess(&white()), &question).unwrap();
    let mut square = white();
    for y in 20..28 {
        for x in 20..28 {
            square.put_pixel(x, y, Rgb([255, 0, 0]));
        }
    }
    let shape = enc.run(enc.preprocess(&square), &question).unwrap();
    let e0 = mas::patch_energy(&blank.probe, &layout).unwrap();
    let e1 = mas::patch_energy(&shape.probe, &layout).unwrap();
    for p in 0..16 {
        if p == 5 {
            assert!(
                e1[p] > 10.0 * e0[p],
                "patch 5 must light up: {} vs {}",
                e1[p],
                e0[p]
            );
        } else {
            assert!(
                (e1[p] - e0[p]).abs() <= 1e-6 * e0[p].max(1e-3),
                "patch {p} energy {} vs blank {}",
                e1[p],
                e0[p]
            );
        }
    }
}

// ------------------------------------------------------------------------------ bad input

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn wav_at(path: &Path, rate: u32, samples: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..samples {
        w.write_sample(((n % 50) as i16 - 25) * 100).unwrap();
    }
    w.finalize().unwrap();
}

/// A good request still works (the brain is not poisoned by the error before it).
fn still_works(brain: &mut EdgeBrain, after: &str) {
    let r = brain
        .process(&ask(ImageInput::File(&good_png()), None))
        .unwrap_or_else(|e| panic!("after {after}: good request failed: {e}"));
    assert_eq!(
        r.answer, 9,
        "after {after}: fixture answer is `triangle` (9)"
    );
}

#[test]
fn bad_inputs_fail_only_their_request() {
    let mut brain = brain();
    let dir = tempfile::tempdir().unwrap();
    let png = std::fs::read(good_png()).unwrap();

    let corrupt = write(
        dir.path(),
        "corrupt.png",
        b"\x89PNG\r\n\x1a\nthis is not a PNG body",
    );
    let truncated = write(dir.path(), "truncated.png", &png[..png.len() / 2]);
    let missing = dir.path().join("missing.png");
    for path in [&corrupt, &truncated, &missing] {
        let err = brain
            .process(&ask(ImageInput::File(path), None))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, BrainError::Image(ImageEncoderError::Decode { .. })),
            "{text}"
        );
        assert!(
            text.contains(&path.display().to_string()),
            "error does not name the file: {text}"
        );
        still_works(&mut brain, &text);
    }
    let err = brain
        .process(&ask(
            ImageInput::Bytes {
                bytes: &png[..40],
                name: "camera 3 frame 17",
            },
            None,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("camera 3 frame 17"), "{err}");
    still_works(&mut brain, "truncated bytes");

    let not_wav = write(dir.path(), "notes.wav", b"RIFF? no, just text");
    let wrong_rate = dir.path().join("8k.wav");
    wav_at(&wrong_rate, 8_000, 8_000);
    let missing_wav = dir.path().join("missing.wav");
    for path in [&not_wav, &wrong_rate, &missing_wav] {
        let err = brain
            .process(&ask(
                ImageInput::File(&good_png()),
                Some(AudioInput::File(path)),
            ))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, BrainError::Audio(AudioEncoderError::Read { .. })),
            "{text}"
        );
        assert!(
            text.contains(&path.display().to_string()),
            "error does not name the file: {text}"
        );
        still_works(&mut brain, &text);
    }
    let err = brain
        .process(&ask(
            ImageInput::File(&good_png()),
            Some(AudioInput::File(&wrong_rate)),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("8000 Hz"), "{err}");
    // A good WAV at the right rate works with the same brain.
    let good_wav = dir.path().join("16k.wav");
    wav_at(&good_wav, 16_000, 16_000);
    let ok = brain
        .process(&ask(
            ImageInput::File(&good_png()),
            Some(AudioInput::File(&good_wav)),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.audio.unwrap().activity.chunks, 32);

    for question in ["", "   "] {
        let err = brain
            .process(&EdgeRequest {
                request_id: 9,
                image: ImageInput::File(&good_png()),
                question,
                audio: None,
            })
            .unwrap_err();
        assert!(
            matches!(err, BrainError::Text(TextEncoderError::EmptyText { .. })),
            "question {question:?}: {err}"
        );
        still_works(&mut brain, &format!("question {question:?}"));
    }
}

// -------------------------------------------------------------------------- second view

#[test]
fn second_view_averages_the_mirrored_frame_only_when_unsure() {
    let path = good_png();
    let request = EdgeRequest {
        request_id: 1,
        image: ImageInput::File(&path),
        question: IMAGE_QUESTION,
        audio: None,
    };
    let mut one = brain_with(&BrainOptions {
        second_view_below: None,
        ..BrainOptions::default()
    });
    let first = process(&mut one, &request);
    assert_eq!((first.views, first.timings.second_view), (1, None));
    assert_eq!(first.first_view_answer, first.answer);

    // The mirrored view, computed by hand with the same encoder and temperature.
    let frame = msao_agent::encoders::open_image(&path).unwrap();
    let (question, _) = one.question_embedding(IMAGE_QUESTION).unwrap();
    let encoder = one.image_encoder_mut();
    assert!(
        encoder.has_confidence(),
        "the INT8 edge graph has a learned confidence"
    );
    let mut pixels = encoder.preprocess(&frame);
    let direct = encoder.run(pixels.clone(), &question).unwrap();
    encoder.mirror(&mut pixels);
    let mirrored = encoder.run(pixels, &question).unwrap();
    let p2 = one.temperature().probabilities(&mirrored.logits);
    // One view: the gate's signal is the graph's learned confidence, not the softmax.
    let learned = direct.confidence.expect("confidence output");
    assert_eq!(first.confidence, learned);
    assert_ne!(first.confidence, first.probabilities[first.answer]);

    // Below 1.01 every request is unsure: two views, probabilities averaged.
    let mut two = brain_with(&BrainOptions {
        second_view_below: Some(1.01),
        ..BrainOptions::default()
    });
    let both = process(&mut two, &request);
    assert_eq!(both.views, 2);
    assert!(both.timings.second_view.is_some());
    assert_eq!(both.first_view_answer, first.answer);
    for ((avg, a), b) in both.probabilities.iter().zip(&first.probabilities).zip(&p2) {
        assert!(
            (avg - 0.5 * (a + b)).abs() <= 1e-6,
            "{avg} vs ({a} + {b}) / 2"
        );
    }
    // Two views: the learned confidences are averaged.
    let learned2 = mirrored.confidence.expect("confidence output");
    assert!((both.confidence - 0.5 * (learned + learned2)).abs() <= 1e-6);
    // MAS and the compact tensor come from the first view alone.
    assert_eq!(both.compact, first.compact);

    // Below 0 nothing is unsure.
    let mut never = brain_with(&BrainOptions {
        second_view_below: Some(0.0),
        ..BrainOptions::default()
    });
    let r = process(&mut never, &request);
    assert_eq!((r.views, r.probabilities.clone()), (1, first.probabilities));

    // A graph without the output (the FP32 edge model): the calibrated probability of the
    // answer is the signal.
    let mut fp32 = brain_with(&BrainOptions {
        image_precision: Some(Precision::Fp32),
        second_view_below: Some(1.01),
        ..BrainOptions::default()
    });
    assert!(!fp32.image_encoder().has_confidence());
    let r = process(&mut fp32, &request);
    assert_eq!(r.views, 2);
    assert_eq!(r.confidence, r.probabilities[r.answer]);
}

// ------------------------------------------------------------------------------ compact

#[test]
fn compact_tensor_reaches_the_cloud_reference_answer() {
    let g = golden();
    // FP32 text so the brain's question embedding is the reference one (checked below); the
    // image model stays INT8, as on the device and in make_golden.py's cloud cases.
    let mut brain = brain_with(&BrainOptions {
        text_precision: Some(Precision::Fp32),
        ..BrainOptions::default()
    });
    let rt = runtime();
    let mut cloud = CloudHead::from_catalog(&rt, &catalog(), &pipeline(), ExecProvider::Cpu)
        .unwrap_or_else(|e| panic!("{e}"));
    for img in g["images"].as_array().unwrap() {
        let file = img["file"].as_str().unwrap();
        let question_text = img["question"].as_str().unwrap();
        let question: Vec<f32> = g["question_embeddings"][question_text]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        brain.reset_stream();
        let r = brain
            .process(&EdgeRequest {
                request_id: 3,
                image: ImageInput::File(&golden_dir().join(file)),
                question: question_text,
                audio: None,
            })
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        // FP32 MiniLM on both sides: identical (observed bit-equal; 1e-5 as in golden.rs).
        for (a, b) in r.question_embedding.iter().zip(&question) {
            assert!(
                (a - b).abs() <= 1e-5,
                "{file}: question embedding {a} vs {b}"
            );
        }
        assert_eq!(
            r.answer,
            img["edge_int8"]["answer"].as_u64().unwrap() as usize,
            "{file}"
        );

        let view = compact::decode(&r.compact).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((view.total(), view.dim()), (16, 32), "{file}");
        assert_eq!(view.kept(), r.image.spatial.kept, "{file}");
        let mask: Vec<bool> = (0..16).map(|p| view.is_kept(p)).collect();
        assert_eq!(
            mask, r.image.spatial.keep,
            "{file}: compact mask vs MAS keep-mask"
        );
        assert!(view.kept() > 0, "{file}: a real frame keeps patches");
        assert_eq!(r.compact.len(), compact::encoded_len(16, 32, view.kept()));

        // The reference built the same tensor from the same INT8 features and MAS mask.
        let reference = img["cloud"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["keep_label"] == "mas")
            .unwrap();
        let ref_keep: Vec<bool> = reference["keep"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        assert_eq!(
            r.image.spatial.keep, ref_keep,
            "{file}: keep-mask vs Python"
        );
        // Same image bytes → same INT8 edge features (golden.rs: bit-equal), so the int8
        // values and scale are the reference's exactly.
        let q: Vec<i64> = view.values().map(i64::from).collect();
        let q_ref: Vec<i64> = reference["q_kept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(q, q_ref, "{file}: int8 values");
        assert_eq!(
            view.scale(),
            reference["scale"].as_f64().unwrap() as f32,
            "{file}"
        );

        let out = cloud
            .run(&r.compact, &question)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            out.answer,
            reference["answer"].as_u64().unwrap() as usize,
            "{file}"
        );
        assert_eq!(
            g["answers"][out.answer].as_str().unwrap(),
            img["easy_vqa_answer"].as_str().unwrap(),
            "{file}: cloud answer"
        );
        // FP32 cloud graph on identical inputs: 1e-4 absolute (see golden.rs).
        for (a, b) in out
            .logits
            .iter()
            .zip(reference["logits"].as_array().unwrap())
        {
            let b = b.as_f64().unwrap() as f32;
            assert!((a - b).abs() <= 1e-4, "{file}: cloud logit {a} vs {b}");
        }
    }
}
