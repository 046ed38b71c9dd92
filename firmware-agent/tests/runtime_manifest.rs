//! Model manifests: the committed ones load and verify; every kind of bad manifest is a
//! clear error naming the model (and the key or tensor). No ONNX Runtime needed.

use msao::message::{Modality, Precision};
use msao_agent::runtime::{
    DType, ManifestError, ModelCatalog, ModelManifest, NamedTensor, Tensor, TensorMismatch,
    manifest::{Dim, Fill, Role},
};
use std::path::{Path, PathBuf};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn fp32_manifest_path() -> PathBuf {
    models_dir().join("silero-vad/silero-vad-fp32.toml")
}

fn fp32_text() -> String {
    std::fs::read_to_string(fp32_manifest_path()).unwrap()
}

/// A temporary models dir holding `toml` as `m.toml`, plus the real ONNX file when asked.
fn temp_manifest(toml: &str, with_onnx: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(&path, toml).unwrap();
    if with_onnx {
        std::fs::copy(
            models_dir().join("silero-vad/silero_vad.onnx"),
            dir.path().join("silero_vad.onnx"),
        )
        .unwrap();
    }
    (dir, path)
}

#[test]
fn committed_manifests_load_and_verify() {
    let catalog = ModelCatalog::load_dir(&models_dir()).unwrap();
    // Other models may be installed too (built by their scripts); Silero VAD always is.
    assert!(
        catalog.names().contains(&"silero-vad"),
        "{:?}",
        catalog.names()
    );
    assert!(catalog.models().len() >= 2);
    let fp32 = catalog.find("silero-vad", Precision::Fp32).unwrap();
    let fp16 = catalog.find("silero-vad", Precision::Fp16).unwrap();
    assert_eq!(fp32.modality, Modality::Audio);
    assert_eq!(fp32.licence, "MIT");
    assert!(fp32.file.ends_with("silero-vad/silero_vad.onnx"));
    assert!(fp16.file.ends_with("silero-vad/silero_vad_half.onnx"));
    let names = |m: &ModelManifest| m.inputs.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(fp32), ["input", "state", "sr"]);
    assert_eq!(names(fp16), ["input", "state"]);
    let sr = fp32.input("sr").unwrap();
    assert_eq!(
        (sr.dtype, sr.shape.clone(), sr.fill),
        (DType::I64, vec![], Fill::Const(16000.0))
    );
    assert_eq!(
        fp32.input("state").unwrap().shape,
        [Dim::Fixed(2), Dim::Named("batch".into()), Dim::Fixed(128)]
    );
    assert_eq!(fp32.dims.get("samples"), Some(&576));
    assert!(fp32.has_batch_dim());
    assert_eq!(
        catalog
            .select(Some("silero-vad"), Some(Precision::Int8))
            .len(),
        0
    );
}

#[test]
fn sha256_mismatch_names_model_and_file() {
    let text = fp32_text().replace(
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
        "0000000000000000000000000000000000000000000000000000000000000000",
    );
    let (_dir, path) = temp_manifest(&text, true);
    let err = ModelManifest::load(&path).unwrap_err();
    let ManifestError::Sha256Mismatch {
        model,
        file,
        expected,
        actual,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(model, "silero-vad (fp32)");
    assert!(file.ends_with("silero_vad.onnx"));
    assert_eq!(expected, &"0".repeat(64));
    assert_eq!(
        actual,
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
    );
    assert!(err.to_string().contains("silero-vad (fp32)"), "{err}");
    // A present file with the wrong hash refuses the whole directory.
    assert!(matches!(
        ModelCatalog::load_dir(path.parent().unwrap()),
        Err(ManifestError::Sha256Mismatch { .. })
    ));
}

#[test]
fn missing_onnx_file_names_model_and_file() {
    let (_dir, path) = temp_manifest(&fp32_text(), false);
    let err = ModelManifest::load(&path).unwrap_err();
    assert!(
        matches!(&err, ManifestError::MissingFile { model, file } if model == "silero-vad (fp32)" && file.ends_with("silero_vad.onnx")),
        "{err}"
    );
    // The catalog leaves an absent model out and says which (a sha256 mismatch, by
    // contrast, refuses the whole directory: see the test above).
    let dir = path.parent().unwrap();
    let catalog = ModelCatalog::load_dir(dir).unwrap();
    assert!(catalog.models().is_empty());
    let [(model, file)] = catalog.not_installed() else {
        panic!("{:?}", catalog.not_installed())
    };
    assert_eq!(model, "silero-vad (fp32)");
    assert!(file.ends_with("silero_vad.onnx"));
}

#[test]
fn unknown_keys_are_errors_with_their_table() {
    let top = format!("colour = \"red\"\n{}", fp32_text());
    let (_d1, p1) = temp_manifest(&top, true);
    let err = ModelManifest::load(&p1).unwrap_err();
    assert!(matches!(err, ManifestError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("colour"), "{err}");

    let nested = fp32_text().replacen(
        "name = \"input\"\n",
        "name = \"input\"\nlayout = \"NCW\"\n",
        1,
    );
    let (_d2, p2) = temp_manifest(&nested, true);
    let err = ModelManifest::load(&p2).unwrap_err();
    let ManifestError::Parse { key, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(key.as_deref(), Some("inputs[0].layout"), "{err}");
    assert!(err.to_string().contains("layout"), "{err}");
}

#[test]
fn invalid_values_name_the_key() {
    let base = fp32_text();
    let cases: &[(&str, &str, &str)] = &[
        ("name = \"silero-vad\"", "name = \"Silero VAD\"", "name"),
        ("modality = \"audio\"", "modality = \"speech\"", "modality"),
        ("precision = \"fp32\"", "precision = \"fp64\"", "precision"),
        (
            "file = \"silero_vad.onnx\"",
            "file = \"/tmp/x.onnx\"",
            "file",
        ),
        ("file = \"silero_vad.onnx\"", "file = \"../x.onnx\"", "file"),
        ("sha256 = \"1a15", "sha256 = \"1A15", "sha256"),
        ("licence = \"MIT\"", "licence = \" \"", "licence"),
        ("samples = 576", "samples = 0", "dims.samples"),
        ("samples = 576", "samples = 576\nframes = 3", "dims.frames"),
        ("samples = 576", "samples = 576\nbatch = 2", "dims.batch"),
        (
            "shape = [\"batch\", \"samples\"]",
            "shape = [\"batch\", \"frames\"]",
            "inputs[0].shape",
        ),
        ("dtype = \"i64\"", "dtype = \"int64\"", "inputs[2].dtype"),
        ("name = \"state\"", "name = \"input\"", "inputs[1].name"),
        (
            "range = [-1.0, 1.0]",
            "range = [1.0, -1.0]",
            "inputs[0].range",
        ),
        (
            "range = [-1.0, 1.0]",
            "range = [-1.0, 1.0]\nfill = 0.5",
            "inputs[0].fill",
        ),
        // Roles and bindings.
        ("role = \"audio-activity\"", "role = \"vad\"", "role"),
        (
            "speech = \"output\"",
            "speech = \"stateN\"\nprobability = \"output\"",
            "bindings.probability",
        ),
        (
            "speech = \"output\"",
            "speech = \"input\"",
            "bindings.speech",
        ),
        ("state = \"state\"", "state = \"stateN\"", "bindings.state"),
        ("state_out = \"stateN\"", "", "bindings.state_out"),
        (
            "role = \"audio-activity\"",
            "role = \"text-encoder\"",
            "bindings.input",
        ),
        ("role = \"audio-activity\"", "", "bindings.input"),
    ];
    for (from, to, key) in cases {
        assert!(base.contains(from), "fixture lacks {from}");
        let text = base.replacen(from, to, 1);
        let err = ModelManifest::from_toml(&text, Path::new("/models/m.toml")).unwrap_err();
        match &err {
            ManifestError::Invalid { key: k, model, .. } => {
                assert_eq!(k, key, "{err}");
                assert!(!model.is_empty());
            }
            other => panic!("{from} → {to}: expected Invalid at {key}, got {other}"),
        }
    }
    // Fill on an output is refused too.
    let text = base.replacen(
        "shape = [\"batch\", 1]",
        "shape = [\"batch\", 1]\nfill = 1.0",
        1,
    );
    let err = ModelManifest::from_toml(&text, Path::new("/m.toml")).unwrap_err();
    assert!(
        matches!(&err, ManifestError::Invalid { key, .. } if key == "outputs[0].fill"),
        "{err}"
    );
}

#[test]
fn a_role_is_checked_where_a_pipeline_binds_the_model() {
    let vad = ModelManifest::from_toml(&fp32_text(), &fp32_manifest_path()).unwrap();
    assert_eq!(vad.role, Some(Role::AudioActivity));
    assert_eq!(
        (vad.binding("speech"), vad.binding("sample_rate")),
        (Some("output"), Some("sr"))
    );
    assert!(vad.check_role(Role::AudioActivity).is_ok());
    let e = vad.check_role(Role::ImageEncoder).unwrap_err();
    assert!(
        e.contains("silero-vad (fp32)")
            && e.contains("declares role `audio-activity`")
            && e.contains("as `image-encoder`"),
        "{e}"
    );
    // No role: fine where the pipeline binds the tensors, refused where [bindings] must.
    let text = fp32_text().replace("role = \"audio-activity\"", "");
    let text = format!(
        "{}{}",
        &text[..text.find("[bindings]").unwrap()],
        &text[text.find("[preprocess]").unwrap()..]
    );
    let bare = ModelManifest::from_toml(&text, &fp32_manifest_path()).unwrap();
    assert!(bare.check_role(Role::ImageEncoder).is_ok());
    let e = bare.check_role(Role::AudioActivity).unwrap_err();
    assert!(
        e.contains("declares no role") && e.contains("state_out"),
        "{e}"
    );
}

#[test]
fn duplicate_model_and_precision_is_refused() {
    let (dir, _path) = temp_manifest(&fp32_text(), true);
    std::fs::write(dir.path().join("copy.toml"), fp32_text()).unwrap();
    let err = ModelCatalog::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, ManifestError::Duplicate { model, .. } if model == "silero-vad (fp32)"),
        "{err}"
    );
}

fn fp32() -> ModelManifest {
    ModelManifest::load(&fp32_manifest_path()).unwrap()
}

fn good_inputs(batch: usize) -> Vec<NamedTensor> {
    vec![
        NamedTensor::new("input", Tensor::zeros(DType::F32, vec![batch, 576])),
        NamedTensor::new("state", Tensor::zeros(DType::F32, vec![2, batch, 128])),
        NamedTensor::new("sr", Tensor::i64(vec![], vec![16000]).unwrap()),
    ]
}

#[test]
fn run_time_checks_bind_named_dims() {
    let m = fp32();
    let bound = m.check_inputs(&good_inputs(3)).unwrap();
    assert_eq!(bound.get("batch"), Some(&3));
    assert_eq!(bound.get("samples"), Some(&576));
    // Any chunk length is allowed by the manifest's named dimension.
    let mut other = good_inputs(1);
    other[0] = NamedTensor::new("input", Tensor::zeros(DType::F32, vec![1, 288]));
    assert!(m.check_inputs(&other).is_ok());
}

#[test]
fn wrong_inputs_name_model_and_tensor() {
    let m = fp32();
    let check = |inputs: Vec<NamedTensor>| m.check_inputs(&inputs).unwrap_err();

    let mut v = good_inputs(1);
    v[2] = NamedTensor::new("sr", Tensor::f32(vec![], vec![16000.0]).unwrap());
    let err = check(v);
    assert_eq!(
        err,
        TensorMismatch::Dtype {
            model: "silero-vad (fp32)".into(),
            kind: "input",
            tensor: "sr".into(),
            expected: DType::I64,
            actual: DType::F32
        }
    );

    let mut v = good_inputs(1);
    v[0] = NamedTensor::new("input", Tensor::zeros(DType::F32, vec![1, 576, 1]));
    let err = check(v);
    assert!(
        matches!(&err, TensorMismatch::Shape { tensor, .. } if tensor == "input"),
        "{err}"
    );
    assert!(err.to_string().contains("rank 3 instead of 2"), "{err}");

    let mut v = good_inputs(1);
    v[1] = NamedTensor::new("state", Tensor::zeros(DType::F32, vec![2, 1, 64]));
    let err = check(v);
    assert!(
        err.to_string().contains("`state`")
            && err.to_string().contains("axis 2 is 64, must be 128"),
        "{err}"
    );

    let mut v = good_inputs(2);
    v[1] = NamedTensor::new("state", Tensor::zeros(DType::F32, vec![2, 1, 128]));
    let err = check(v);
    assert!(
        err.to_string()
            .contains("`batch` is 2 in an earlier tensor"),
        "{err}"
    );

    let mut v = good_inputs(1);
    v.pop();
    assert!(matches!(check(v), TensorMismatch::Missing { tensor, .. } if tensor == "sr"));

    let mut v = good_inputs(1);
    v.push(NamedTensor::new("h", Tensor::zeros(DType::F32, vec![1])));
    let err = check(v);
    assert!(
        matches!(&err, TensorMismatch::Unknown { tensor, known, .. } if tensor == "h" && known == "input, state, sr"),
        "{err}"
    );

    let mut v = good_inputs(1);
    v.push(good_inputs(1).remove(0));
    assert!(matches!(check(v), TensorMismatch::Duplicate { tensor, .. } if tensor == "input"));
}
