//! The profiling routine on the real Silero VAD models with ONNX Runtime: consistent
//! statistics, counts, memory, the trtexec-style summary, and clear errors.
//!
//! Needs `libonnxruntime.so`: fails (does not skip) with a message naming every path
//! searched and `scripts/setup.sh` when it is missing. No wall-clock assertions.

use msao::message::{ExecProvider, Precision};
use msao_agent::{
    profile::{ProfileError, ProfileSpec, profile, write_summary},
    runtime::{InferenceRuntime, ModelCatalog, OrtRuntime, RuntimeOptions},
    system::LinuxReader,
};
use std::path::{Path, PathBuf};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn runtime() -> OrtRuntime {
    OrtRuntime::new(&RuntimeOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn reader() -> LinuxReader {
    LinuxReader::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linux-x86"))
}

#[test]
fn silero_profile_statistics_are_consistent() {
    let rt = runtime();
    let catalog = ModelCatalog::load_dir(&models_dir()).unwrap();
    let spec = ProfileSpec {
        model: Some("silero-vad".into()),
        precision: Some(Precision::Fp32),
        provider: Some(ExecProvider::Cpu),
        warmup: 5,
        iterations: 60,
        ..ProfileSpec::default()
    };
    let mut last = (0, 0);
    let mut calls = 0;
    let runs = profile(&rt, &catalog, &spec, &mut reader(), &mut |d, t| {
        assert_eq!(d, last.0 + 1, "progress moves one run at a time");
        last = (d, t);
        calls += 1;
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (calls, last),
        (65, (65, 65)),
        "warm-up and timed runs both count"
    );
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let r = &run.result;
    assert_eq!(
        (r.model.as_str(), r.precision, r.provider),
        ("silero-vad", Precision::Fp32, ExecProvider::Cpu)
    );
    assert_eq!(
        (r.warmup, r.iterations, r.batch, r.index, r.total),
        (5, 60, 1, 0, 1)
    );
    assert_eq!(
        run.latencies.len(),
        60,
        "warm-up runs are not in the statistics"
    );
    assert_eq!(run.runtime, "onnxruntime");
    assert_eq!(run.runtime_version.as_deref(), rt.version());

    let l = run.latency_ns;
    assert!(l.min > 0);
    assert!(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max);
    assert!(l.min <= l.mean && l.mean <= l.max);
    let slowest = run.latencies.iter().max().unwrap().as_nanos() as u64;
    let fastest = run.latencies.iter().min().unwrap().as_nanos() as u64;
    assert_eq!((l.max, l.min), (slowest, fastest));
    let w = &r.latency;
    assert!(
        w.p50_us <= w.p90_us
            && w.p90_us <= w.p95_us
            && w.p95_us <= w.p99_us
            && w.p99_us <= w.max_us
    );

    // Throughput is timed runs over the timed loop's wall time, which holds every run.
    let sum: std::time::Duration = run.latencies.iter().sum();
    assert!(run.wall >= sum);
    let expected = 60.0 / run.wall.as_secs_f64();
    assert!((run.runs_per_s - expected).abs() <= 1e-9 * expected);
    assert_eq!(r.throughput_milli, (run.runs_per_s * 1000.0).round() as u32);
    assert!(
        r.peak_mem_kib.is_some_and(|k| k > 1024),
        "{:?}",
        r.peak_mem_kib
    );
    assert_eq!(r.energy_uj, None, "the fixture has no rails");
}

#[test]
fn every_installed_precision_on_every_available_provider() {
    let rt = runtime();
    let catalog = ModelCatalog::load_dir(&models_dir()).unwrap();
    let spec = ProfileSpec {
        model: Some("silero-vad".into()),
        warmup: 1,
        iterations: 5,
        request_id: Some(3),
        ..ProfileSpec::default()
    };
    let runs = profile(&rt, &catalog, &spec, &mut reader(), &mut |_, _| {}).unwrap();
    let providers = rt.providers();
    // Silero VAD is installed at two precisions (fp32, fp16).
    assert_eq!(runs.len(), 2 * providers.len());
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.result.index as usize, i);
        assert_eq!(run.result.total as usize, runs.len());
        assert_eq!(run.result.request_id, Some(3));
        assert!(providers.contains(&run.result.provider));
    }
    // The FP16 model has no `sr` input; the FP32 one does.
    for run in &runs {
        let names: Vec<&str> = run.inputs.iter().map(|i| i.0.as_str()).collect();
        match run.result.precision {
            Precision::Fp32 => assert_eq!(names, ["input", "state", "sr"]),
            _ => assert_eq!(names, ["input", "state"]),
        }
    }
}

#[test]
fn unknown_model_and_unavailable_provider_are_errors() {
    let rt = runtime();
    let catalog = ModelCatalog::load_dir(&models_dir()).unwrap();
    let err = profile(
        &rt,
        &catalog,
        &ProfileSpec {
            model: Some("nope".into()),
            ..ProfileSpec::default()
        },
        &mut reader(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, ProfileError::UnknownModel { .. }), "{err}");
    if !rt.is_available(ExecProvider::TensorRt) {
        let err = profile(
            &rt,
            &catalog,
            &ProfileSpec {
                provider: Some(ExecProvider::TensorRt),
                ..ProfileSpec::default()
            },
            &mut reader(),
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ProfileError::ProviderUnavailable {
                    provider: "tensorrt",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("onnxruntime"), "{err}");
    }
}

#[test]
fn summary_reads_like_trtexec() {
    let rt = runtime();
    let catalog = ModelCatalog::load_dir(&models_dir()).unwrap();
    let spec = ProfileSpec {
        precision: Some(Precision::Fp16),
        warmup: 3,
        iterations: 10,
        batch: 2,
        ..ProfileSpec::default()
    };
    let runs = profile(&rt, &catalog, &spec, &mut reader(), &mut |_, _| {}).unwrap();
    let mut out = Vec::new();
    write_summary(&runs[0], &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "=== Performance summary: silero-vad (fp16) on cpu, batch 2 ===",
        "Input shapes: input:f32[2, 576], state:f32[2, 2, 128]",
        "Warm-up: 3 runs (excluded)",
        "Iterations: 10 timed runs in ",
        "Throughput: ",
        "median = ",
        "percentile(90%) = ",
        "percentile(99%) = ",
        "Energy: n/a",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
