//! The ONNX Runtime backend on the real Silero VAD models (FP32 and FP16).
//!
//! Needs `libonnxruntime.so`: these tests fail (they do not skip) with a message naming
//! every path searched and `scripts/setup.sh` when it is missing.
//!
//! Reference outputs come from onnxruntime 1.31.1 in Python on the same inputs (the Rust
//! runtime reproduces them to the printed digits)
//! (`InferenceSession(...).run(None, {"input": x, "state": zeros((2,1,128)), "sr": 16000})`):
//! silence → 0.0016697943 (FP32) / 0.0120120347 (FP16); a 440 Hz tone at amplitude 0.5
//! → 0.0032956600 (FP32) / 0.0238321424 (FP16).

use msao::message::{ExecProvider, Precision};
use msao_agent::runtime::{
    DType, InferenceRuntime, LoadedModel, ModelCatalog, ModelManifest, NamedTensor, OrtRuntime,
    RuntimeError, RuntimeOptions, Tensor, TensorMismatch,
};
use std::path::{Path, PathBuf};

const CHUNK: usize = 576; // 64 context + 512 new samples at 16 kHz

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn runtime() -> OrtRuntime {
    OrtRuntime::new(&RuntimeOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn manifest(precision: Precision) -> ModelManifest {
    ModelCatalog::load_dir(&models_dir())
        .unwrap()
        .find("silero-vad", precision)
        .unwrap()
        .clone()
}

fn load(rt: &OrtRuntime, precision: Precision) -> Box<dyn LoadedModel> {
    rt.load(&manifest(precision), ExecProvider::Cpu)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn tone() -> Vec<f32> {
    (0..CHUNK)
        .map(|n| (0.5 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 16000.0).sin()) as f32)
        .collect()
}

fn inputs(precision: Precision, audio: Vec<f32>, state: Tensor) -> Vec<NamedTensor> {
    let batch = state.shape()[1];
    let mut v = vec![
        NamedTensor::new(
            "input",
            Tensor::f32(vec![batch, audio.len() / batch], audio).unwrap(),
        ),
        NamedTensor::new("state", state),
    ];
    if precision == Precision::Fp32 {
        v.push(NamedTensor::new(
            "sr",
            Tensor::i64(vec![], vec![16000]).unwrap(),
        ));
    }
    v
}

fn zero_state(batch: usize) -> Tensor {
    Tensor::zeros(DType::F32, vec![2, batch, 128])
}

/// Speech probability of one chunk from a fresh state.
fn probability(model: &mut dyn LoadedModel, precision: Precision, audio: Vec<f32>) -> f32 {
    let out = model
        .run(&inputs(precision, audio, zero_state(1)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out[0].name, "output");
    assert_eq!(out[0].tensor.shape(), &[1, 1]);
    out[0].tensor.as_f32().unwrap()[0]
}

#[test]
fn runtime_reports_library_version_and_providers() {
    let rt = runtime();
    assert_eq!(rt.name(), "onnxruntime");
    let v = rt.version().expect("the loaded library's version");
    assert_eq!(v.split('.').count(), 3, "{v}");
    let file = rt
        .library()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    if let Some(from_name) = file.strip_prefix("libonnxruntime.so.") {
        assert_eq!(v, from_name);
    }
    assert!(rt.is_available(ExecProvider::Cpu));
    assert_eq!(rt.providers()[0], ExecProvider::Cpu);
}

#[test]
fn silero_fp32_matches_reference_on_silence_and_tone() {
    let rt = runtime();
    let mut vad = load(&rt, Precision::Fp32);
    assert_eq!(vad.provider(), ExecProvider::Cpu);
    let silence = probability(vad.as_mut(), Precision::Fp32, vec![0.0; CHUNK]);
    let tone = probability(vad.as_mut(), Precision::Fp32, tone());
    for p in [silence, tone] {
        assert!((0.0..=1.0).contains(&p), "{p}");
    }
    assert!(
        (silence - 0.001_669_794_3).abs() < 1e-6,
        "silence {silence}"
    );
    assert!((tone - 0.003_295_66).abs() < 1e-6, "tone {tone}");
}

#[test]
fn silero_fp16_matches_reference_on_silence_and_tone() {
    let rt = runtime();
    let mut vad = load(&rt, Precision::Fp16);
    let silence = probability(vad.as_mut(), Precision::Fp16, vec![0.0; CHUNK]);
    let tone = probability(vad.as_mut(), Precision::Fp16, tone());
    for p in [silence, tone] {
        assert!((0.0..=1.0).contains(&p), "{p}");
    }
    assert!((silence - 0.012_012_035).abs() < 1e-5, "silence {silence}");
    assert!((tone - 0.023_832_142).abs() < 1e-5, "tone {tone}");
}

#[test]
fn state_carries_across_chunks_and_batches_work() {
    let rt = runtime();
    for precision in [Precision::Fp32, Precision::Fp16] {
        let mut vad = load(&rt, precision);
        let mut state = zero_state(1);
        for _ in 0..5 {
            let mut out = vad.run(&inputs(precision, tone(), state)).unwrap();
            let p = out[0].tensor.as_f32().unwrap()[0];
            assert!((0.0..=1.0).contains(&p));
            assert_eq!(out[1].name, "stateN");
            assert_eq!(out[1].tensor.shape(), &[2, 1, 128]);
            state = out.remove(1).tensor;
        }
        // Three streams at once.
        let audio: Vec<f32> = [vec![0.0; CHUNK], tone(), tone()].concat();
        let out = vad.run(&inputs(precision, audio, zero_state(3))).unwrap();
        assert_eq!(out[0].tensor.shape(), &[3, 1]);
        let p = out[0].tensor.as_f32().unwrap();
        assert!((p[1] - p[2]).abs() < 1e-6, "same input, same output: {p:?}");
    }
}

#[test]
fn wrong_inputs_at_run_time_are_errors_naming_model_and_tensor() {
    let rt = runtime();
    let mut vad = load(&rt, Precision::Fp32);
    let mut bad = inputs(Precision::Fp32, vec![0.0; CHUNK], zero_state(1));
    bad[1] = NamedTensor::new("state", Tensor::zeros(DType::F32, vec![2, 1, 64]));
    let err = vad.run(&bad).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Tensor(TensorMismatch::Shape { model, tensor, .. }) if model == "silero-vad (fp32)" && tensor == "state"),
        "{err}"
    );
    let mut bad = inputs(Precision::Fp32, vec![0.0; CHUNK], zero_state(1));
    bad[2] = NamedTensor::new(
        "sr",
        Tensor::new(vec![], msao_agent::runtime::TensorData::I32(vec![16000])).unwrap(),
    );
    let err = vad.run(&bad).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Tensor(TensorMismatch::Dtype { tensor, expected: DType::I64, actual: DType::I32, .. }) if tensor == "sr"),
        "{err}"
    );
    // A length the manifest allows but the graph rejects: ONNX Runtime's error, named.
    let err = vad
        .run(&inputs(Precision::Fp32, vec![0.0; 100], zero_state(1)))
        .unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Run { model, .. } if model == "silero-vad (fp32)"),
        "{err}"
    );
    // The model still runs after errors.
    assert!(
        vad.run(&inputs(Precision::Fp32, vec![0.0; CHUNK], zero_state(1)))
            .is_ok()
    );
}

#[test]
fn manifest_that_disagrees_with_the_graph_is_refused_at_load() {
    let rt = runtime();
    let path = models_dir().join("silero-vad/silero-vad-fp32.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let load = |text: String| {
        let m = ModelManifest::from_toml(&text, &path).unwrap();
        rt.load(&m, ExecProvider::Cpu)
            .err()
            .expect("load must fail")
    };
    // Wrong dtype for `sr`.
    let err = load(text.replacen("dtype = \"i64\"", "dtype = \"i32\"", 1));
    assert!(
        matches!(&err, RuntimeError::ManifestMismatch { tensor, model, .. } if tensor == "sr" && model == "silero-vad (fp32)"),
        "{err}"
    );
    // A fixed axis declared with another size.
    let err = load(text.replacen(
        "shape = [2, \"batch\", 128]",
        "shape = [3, \"batch\", 128]",
        1,
    ));
    assert!(
        matches!(&err, RuntimeError::ManifestMismatch { tensor, .. } if tensor == "state"),
        "{err}"
    );
    // An input the graph has but the manifest forgot.
    let cut = text.find("[[inputs]]\n# Sample rate").unwrap();
    let end = text[cut..].find("[[outputs]]").unwrap() + cut;
    let forgot =
        format!("{}{}", &text[..cut], &text[end..]).replacen("sample_rate = \"sr\"", "", 1);
    let err = load(forgot);
    assert!(
        matches!(&err, RuntimeError::ManifestMismatch { tensor, .. } if tensor == "sr"),
        "{err}"
    );
    // A misspelt output (and its binding).
    let err = load(text.replace("\"stateN\"", "\"state_n\""));
    assert!(
        matches!(&err, RuntimeError::ManifestMismatch { .. }),
        "{err}"
    );
}

#[test]
fn unavailable_gpu_providers_fall_back_to_cpu_and_say_so() {
    let rt = runtime();
    for provider in [ExecProvider::Cuda, ExecProvider::TensorRt] {
        let vad = rt.load(&manifest(Precision::Fp32), provider).unwrap();
        if rt.is_available(provider) {
            // A GPU build of ONNX Runtime: the provider (or its documented fallback) runs.
            assert!(matches!(vad.provider(), p if p == provider || p == ExecProvider::Cpu));
        } else {
            assert_eq!(vad.provider(), ExecProvider::Cpu, "{provider:?}");
        }
    }
}
