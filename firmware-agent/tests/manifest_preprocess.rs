//! Model manifests' probe and `[preprocess]`: the committed manifests declare them, and
//! every bad value is a clear error naming the model and the key. No ONNX Runtime needed.

use msao::message::Precision;
use msao_agent::runtime::{
    ManifestError, ModelCatalog, ModelManifest,
    manifest::{
        AudioPreprocess, ColorOrder, Interpolation, Layout, Pooling, Preprocess, TextPreprocess,
    },
};
use std::path::{Path, PathBuf};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(models_dir().join(rel)).unwrap()
}

/// Every committed manifest, parsed where it lies (no ONNX file read).
fn committed() -> Vec<ModelManifest> {
    let mut out = Vec::new();
    for dir in ["vqa", "minilm", "silero-vad"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(models_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let m = ModelManifest::from_toml(&text, &f).unwrap_or_else(|e| panic!("{e}"));
            m.verify_preprocess_files()
                .unwrap_or_else(|e| panic!("{e}"));
            out.push(m);
        }
    }
    out
}

fn find<'a>(all: &'a [ModelManifest], name: &str, p: Precision) -> &'a ModelManifest {
    all.iter()
        .find(|m| m.name == name && m.precision == p)
        .unwrap_or_else(|| panic!("no {name} {p:?}"))
}

/// The error of `text` parsed as if at `/models/x/m.toml`; must be `Invalid`: (key, message).
fn invalid(text: &str) -> (String, String) {
    let err = ModelManifest::from_toml(text, Path::new("/models/x/m.toml")).unwrap_err();
    let msg = err.to_string();
    match err {
        ManifestError::Invalid { key, model, .. } => {
            assert!(!model.is_empty(), "{msg}");
            (key, msg)
        }
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn every_committed_manifest_declares_probe_and_preprocess() {
    let all = committed();
    assert_eq!(
        all.len(),
        7,
        "{:?}",
        all.iter().map(|m| m.label()).collect::<Vec<_>>()
    );
    for p in [Precision::Fp32, Precision::Int8] {
        let edge = find(&all, "vqa-edge", p);
        assert_eq!(edge.probe.as_deref(), Some("probe"));
        assert_eq!(edge.probe_output().unwrap().name, "probe");
        let Preprocess::Image(img) = &edge.preprocess else {
            panic!("{:?}", edge.preprocess)
        };
        assert_eq!((img.width, img.height), (64, 64));
        assert_eq!((img.layout, img.color), (Layout::Nchw, ColorOrder::Rgb));
        assert_eq!(img.scale, 1.0 / 255.0);
        assert_eq!((img.mean, img.std), ([0.0; 3], [1.0; 3]));
        assert_eq!(img.interpolation, Interpolation::Triangle);

        let minilm = find(&all, "minilm-l6", p);
        assert_eq!(minilm.probe.as_deref(), Some("token_states"));
        let text = minilm.preprocess.as_text().unwrap();
        assert_eq!(
            text,
            &TextPreprocess {
                tokenizer: std::path::absolute(models_dir().join("minilm/tokenizer.json")).unwrap(),
                max_length: 128,
                pooling: Pooling::Mean,
                normalize: true,
            }
        );
        assert!(text.tokenizer.is_absolute());
    }
    let cloud = find(&all, "vqa-cloud", Precision::Fp32);
    assert_eq!(cloud.probe, None);
    assert_eq!(
        cloud.preprocess,
        Preprocess::CompactTensor {
            source_model: "vqa-edge".into(),
            source_output: "features".into(),
        }
    );
    assert_eq!(cloud.preprocess.kind(), "compact-tensor");
    for p in [Precision::Fp32, Precision::Fp16] {
        let vad = find(&all, "silero-vad", p);
        assert_eq!(vad.probe.as_deref(), Some("output"));
        let audio = vad.preprocess.as_audio().unwrap();
        assert_eq!(
            *audio,
            AudioPreprocess {
                sample_rate: 16000,
                chunk: 512,
                context: 64,
            }
        );
        // The declared input is context + chunk samples.
        assert_eq!(vad.dims["samples"], audio.context + audio.chunk);
    }
}

#[test]
fn committed_catalog_loads_with_preprocess() {
    // Absent ONNX files (models built by a script) are left out, not errors; the cloud
    // model's source model is declared, so the compact-tensor check passes.
    let catalog = ModelCatalog::load_dir(&models_dir()).unwrap_or_else(|e| panic!("{e}"));
    let vad = catalog.find("silero-vad", Precision::Fp32).unwrap();
    assert!(matches!(vad.preprocess, Preprocess::Audio(_)));
}

#[test]
fn probe_naming_a_missing_output_is_refused() {
    let text = read("vqa/vqa-edge-fp32.toml").replacen("probe = \"probe\"", "probe = \"conv9\"", 1);
    let (key, msg) = invalid(&text);
    assert_eq!(key, "probe");
    assert!(msg.contains("conv9") && msg.contains("vqa-edge"), "{msg}");
    assert!(msg.contains("features"), "lists the outputs: {msg}");
}

#[test]
fn preprocess_kind_must_fit_the_modality() {
    // Audio preprocessing on an image model.
    let text = read("vqa/vqa-edge-fp32.toml");
    let start = text.find("[preprocess]").unwrap();
    let end = text[start..].find("\n\n").unwrap() + start;
    let swapped = format!(
        "{}[preprocess]\nkind = \"audio\"\nsample_rate = 16000\nchunk = 512{}",
        &text[..start],
        &text[end..]
    );
    let (key, msg) = invalid(&swapped);
    assert_eq!(key, "preprocess.kind");
    assert!(msg.contains("audio") && msg.contains("image"), "{msg}");
    // Text preprocessing on an audio model.
    let text =
        read("silero-vad/silero-vad-fp32.toml").replacen("kind = \"audio\"", "kind = \"text\"", 1);
    let err = ModelManifest::from_toml(&text, Path::new("/m.toml")).unwrap_err();
    // The audio keys are unknown to the text kind: refused while parsing.
    assert!(matches!(err, ManifestError::Parse { .. }), "{err}");
    // An unknown kind is refused too.
    let text =
        read("silero-vad/silero-vad-fp32.toml").replacen("kind = \"audio\"", "kind = \"video\"", 1);
    let err = ModelManifest::from_toml(&text, Path::new("/m.toml")).unwrap_err();
    assert!(err.to_string().contains("video"), "{err}");
}

#[test]
fn bad_image_values_name_the_key() {
    let base = read("vqa/vqa-edge-fp32.toml");
    let cases: &[(&str, &str, &str)] = &[
        (
            "std = [1.0, 1.0, 1.0]",
            "std = [1.0, 0.0, 1.0]",
            "preprocess.std",
        ),
        (
            "std = [1.0, 1.0, 1.0]",
            "std = [1.0, 1.0]",
            "preprocess.std",
        ),
        (
            "mean = [0.0, 0.0, 0.0]",
            "mean = [0.0, 0.0, 0.0, 0.0]",
            "preprocess.mean",
        ),
        (
            "mean = [0.0, 0.0, 0.0]",
            "mean = [0.0, nan, 0.0]",
            "preprocess.mean",
        ),
        ("resize = [64, 64]", "resize = [0, 64]", "preprocess.resize"),
        // No input is [_, 3, 32, 64].
        (
            "resize = [64, 64]",
            "resize = [64, 32]",
            "preprocess.resize",
        ),
        (
            "layout = \"nchw\"",
            "layout = \"nhwc\"",
            "preprocess.resize",
        ),
        ("layout = \"nchw\"", "layout = \"chw\"", "preprocess.layout"),
        ("color = \"rgb\"", "color = \"cmyk\"", "preprocess.color"),
        // One channel takes one mean and one std.
        ("color = \"rgb\"", "color = \"gray\"", "preprocess.mean"),
        (
            "scale = 0.00392156862745098",
            "scale = 0.0",
            "preprocess.scale",
        ),
        (
            "scale = 0.00392156862745098",
            "scale = -1.0",
            "preprocess.scale",
        ),
        (
            "interpolation = \"triangle\"",
            "interpolation = \"bilinear\"",
            "preprocess.interpolation",
        ),
    ];
    for (from, to, key) in cases {
        assert!(base.contains(from), "fixture lacks {from}");
        let (k, msg) = invalid(&base.replacen(from, to, 1));
        assert_eq!(&k, key, "{from} → {to}: {msg}");
        assert!(msg.contains("vqa-edge"), "{msg}");
    }
}

#[test]
fn bad_text_and_audio_values_name_the_key() {
    let minilm = read("minilm/minilm-l6-fp32.toml");
    let vad = read("silero-vad/silero-vad-fp32.toml");
    let cloud = read("vqa/vqa-cloud-fp32.toml");
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            &minilm,
            "max_length = 128",
            "max_length = 0",
            "preprocess.max_length",
        ),
        (
            &minilm,
            "pooling = \"mean\"",
            "pooling = \"max\"",
            "preprocess.pooling",
        ),
        (
            &minilm,
            "tokenizer = \"tokenizer.json\"",
            "tokenizer = \"../tokenizer.json\"",
            "preprocess.tokenizer",
        ),
        (
            &minilm,
            "tokenizer = \"tokenizer.json\"",
            "tokenizer = \"/etc/tokenizer.json\"",
            "preprocess.tokenizer",
        ),
        (&vad, "chunk = 512", "chunk = 0", "preprocess.chunk"),
        (
            &vad,
            "sample_rate = 16000",
            "sample_rate = 0",
            "preprocess.sample_rate",
        ),
        (
            &cloud,
            "source_model = \"vqa-edge\"",
            "source_model = \"VQA Edge\"",
            "preprocess.source_model",
        ),
        (
            &cloud,
            "source_output = \"features\"",
            "source_output = \"\"",
            "preprocess.source_output",
        ),
    ];
    for (base, from, to, key) in cases {
        assert!(base.contains(from), "fixture lacks {from}");
        let (k, msg) = invalid(&base.replacen(from, to, 1));
        assert_eq!(&k, key, "{from} → {to}: {msg}");
    }
}

#[test]
fn unknown_or_missing_preprocess_keys_are_refused_by_name() {
    let base = read("vqa/vqa-edge-fp32.toml");
    let text = base.replacen(
        "interpolation = \"triangle\"",
        "interpolation = \"triangle\"\ncrop = \"center\"",
        1,
    );
    let err = ModelManifest::from_toml(&text, Path::new("/m.toml")).unwrap_err();
    let ManifestError::Parse { key, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(key.as_deref(), Some("preprocess"), "{err}");
    assert!(err.to_string().contains("crop"), "{err}");
    // A key of another kind is unknown too.
    let text = base.replacen(
        "interpolation = \"triangle\"",
        "interpolation = \"triangle\"\nmax_length = 128",
        1,
    );
    let err = ModelManifest::from_toml(&text, Path::new("/m.toml")).unwrap_err();
    assert!(err.to_string().contains("max_length"), "{err}");
    // A missing key is named.
    let text: String = base
        .lines()
        .filter(|l| !l.starts_with("std = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text, base);
    let err = ModelManifest::from_toml(&text, Path::new("/m.toml")).unwrap_err();
    assert!(err.to_string().contains("std"), "{err}");
    // The table itself is required.
    let vad = read("silero-vad/silero-vad-fp32.toml");
    let start = vad.find("[preprocess]").unwrap();
    let end = vad[start..].find("\n\n").unwrap() + start;
    let text = format!("{}{}", &vad[..start], &vad[end + 2..]);
    let err = ModelManifest::from_toml(&text, Path::new("/m.toml")).unwrap_err();
    assert!(err.to_string().contains("preprocess"), "{err}");
}

#[test]
fn missing_tokenizer_file_is_an_error_naming_the_path() {
    // The MiniLM manifest in a directory without tokenizer.json: parsing alone succeeds
    // (from_toml reads no files), loading checks the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    let text = read("minilm/minilm-l6-fp32.toml").replacen(
        "tokenizer = \"tokenizer.json\"",
        "tokenizer = \"tok/missing.json\"",
        1,
    );
    std::fs::write(&path, &text).unwrap();
    let m = ModelManifest::from_toml(&text, &path).unwrap();
    let err = m.verify_preprocess_files().unwrap_err();
    let expected = dir.path().join("tok/missing.json");
    let ManifestError::Invalid { key, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(key, "preprocess.tokenizer");
    assert!(
        err.to_string().contains(&expected.display().to_string()),
        "{err}"
    );
    // `load` checks it once the ONNX file is there (absent, it is "not installed").
    let onnx = models_dir().join("minilm/minilm-l6-fp32.onnx");
    if onnx.is_file() {
        std::fs::copy(&onnx, dir.path().join("minilm-l6-fp32.onnx")).unwrap();
        let err = ModelManifest::load(&path).unwrap_err();
        assert!(
            err.to_string().contains(&expected.display().to_string()),
            "{err}"
        );
        let err = ModelCatalog::load_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("missing.json"), "{err}");
    } else {
        let err = ModelManifest::load(&path).unwrap_err();
        assert!(matches!(err, ManifestError::MissingFile { .. }), "{err}");
    }
}

#[test]
fn compact_tensor_source_is_checked_against_the_catalog() {
    // The cloud manifest alone in a directory: its source model is not declared there.
    let dir = tempfile::tempdir().unwrap();
    let cloud = read("vqa/vqa-cloud-fp32.toml");
    std::fs::write(dir.path().join("cloud.toml"), &cloud).unwrap();
    let onnx = models_dir().join("vqa/vqa-cloud-fp32.onnx");
    std::fs::copy(&onnx, dir.path().join("vqa-cloud-fp32.onnx")).unwrap();
    let err = ModelCatalog::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, ManifestError::Invalid { key, .. } if key == "preprocess.source_model"),
        "{err}"
    );
    // With the edge manifest (ONNX absent: not installed) it is declared.
    std::fs::write(dir.path().join("edge.toml"), read("vqa/vqa-edge-fp32.toml")).unwrap();
    let catalog = ModelCatalog::load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.not_installed().len(), 1);
    // Installed, the edge model must have the named output.
    std::fs::copy(
        models_dir().join("vqa/vqa-edge-fp32.onnx"),
        dir.path().join("vqa-edge-fp32.onnx"),
    )
    .unwrap();
    ModelCatalog::load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("cloud.toml"),
        cloud.replacen(
            "source_output = \"features\"",
            "source_output = \"patches\"",
            1,
        ),
    )
    .unwrap();
    let err = ModelCatalog::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, ManifestError::Invalid { key, .. } if key == "preprocess.source_output"),
        "{err}"
    );
    assert!(err.to_string().contains("patches"), "{err}");
}
