//! The profiling routine with a counting mock runtime (mocks live only in tests): what is
//! planned, what is refused, that warm-up runs are excluded from the statistics, progress
//! counts, and the conditions (power mode, temperatures, energy) read from a system
//! reader. No ONNX Runtime needed; no wall-clock assertions.

use msao::message::{ExecProvider, Fault, HardwareSummary, Precision, ProfileRequest, Sample};
use msao_agent::{
    profile::{ProfileError, ProfileSpec, plan, profile, profile_each},
    runtime::{
        InferenceRuntime, LoadedModel, ModelCatalog, ModelManifest, NamedTensor, RuntimeError,
        Tensor,
    },
    system::{LinuxReader, SystemReader, Unavailable},
};
use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn catalog() -> ModelCatalog {
    ModelCatalog::load_dir(&models_dir()).unwrap()
}

/// Counts runs; offers `available`; runs on `actual` when set (to simulate a fallback).
struct Mock {
    available: Vec<ExecProvider>,
    actual: Option<ExecProvider>,
    runs: Arc<AtomicU64>,
}

impl Mock {
    fn cpu() -> Self {
        Self {
            available: vec![ExecProvider::Cpu],
            actual: None,
            runs: Arc::new(AtomicU64::new(0)),
        }
    }
}

struct MockModel {
    manifest: ModelManifest,
    provider: ExecProvider,
    runs: Arc<AtomicU64>,
}

impl InferenceRuntime for Mock {
    fn name(&self) -> &'static str {
        "mock"
    }
    fn version(&self) -> Option<&str> {
        Some("0.0.0")
    }
    fn is_available(&self, p: ExecProvider) -> bool {
        self.available.contains(&p)
    }
    fn load(
        &self,
        m: &ModelManifest,
        p: ExecProvider,
    ) -> Result<Box<dyn LoadedModel>, RuntimeError> {
        Ok(Box::new(MockModel {
            manifest: m.clone(),
            provider: self.actual.unwrap_or(p),
            runs: self.runs.clone(),
        }))
    }
}

impl LoadedModel for MockModel {
    fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }
    fn provider(&self) -> ExecProvider {
        self.provider
    }
    fn run(&mut self, inputs: &[NamedTensor]) -> Result<Vec<NamedTensor>, RuntimeError> {
        let bound = self.manifest.check_inputs(inputs)?;
        self.runs.fetch_add(1, Ordering::SeqCst);
        let batch = bound["batch"];
        Ok(vec![NamedTensor::new(
            "output",
            Tensor::f32(vec![batch, 1], vec![0.5; batch]).unwrap(),
        )])
    }
}

/// A real reader on the x86 fixture tree, plus a constant total power and a power mode,
/// as a Jetson would report them.
struct Powered {
    inner: LinuxReader,
    total_mw: Option<u32>,
    reads: Arc<AtomicU64>,
}

impl Powered {
    fn new(total_mw: Option<u32>) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linux-x86");
        Self {
            inner: LinuxReader::new(root),
            total_mw,
            reads: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl SystemReader for Powered {
    fn name(&self) -> &'static str {
        "powered-test"
    }
    fn hardware(&self) -> HardwareSummary {
        self.inner.hardware()
    }
    fn sample(&mut self) -> Sample {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let mut s = self.inner.sample();
        s.total_power_mw = self.total_mw;
        s.power_mode = self.total_mw.map(|_| 2);
        s
    }
    fn take_faults(&mut self) -> Vec<Fault> {
        self.inner.take_faults()
    }
    fn unavailable(&self) -> Vec<Unavailable> {
        self.inner.unavailable()
    }
}

fn spec(warmup: u32, iterations: u32) -> ProfileSpec {
    ProfileSpec {
        model: Some("silero-vad".into()),
        precision: Some(Precision::Fp32),
        warmup,
        iterations,
        ..ProfileSpec::default()
    }
}

#[test]
fn warmup_is_excluded_and_progress_counts_every_run() {
    let rt = Mock::cpu();
    let mut reader = Powered::new(None);
    let mut seen = Vec::new();
    let s = ProfileSpec {
        precision: None,
        request_id: Some(77),
        ..spec(7, 13)
    };
    let runs = profile(&rt, &catalog(), &s, &mut reader, &mut |d, t| {
        seen.push((d, t))
    })
    .unwrap();
    assert_eq!(runs.len(), 2, "fp16 and fp32 on cpu");
    assert_eq!(rt.runs.load(Ordering::SeqCst), 2 * (7 + 13));
    let expected: Vec<(u64, u64)> = (1..=40).map(|d| (d, 40)).collect();
    assert_eq!(seen, expected);
    for (i, run) in runs.iter().enumerate() {
        let r = &run.result;
        assert_eq!(run.latencies.len(), 13, "timed runs only");
        assert_eq!((r.warmup, r.iterations), (7, 13));
        assert_eq!((r.index, r.total, r.request_id), (i as u16, 2, Some(77)));
        assert_eq!(
            (r.provider, r.batch, r.model.as_str()),
            (ExecProvider::Cpu, 1, "silero-vad")
        );
        let l = &r.latency;
        assert!(l.min_us <= l.p50_us && l.p50_us <= l.p90_us && l.p90_us <= l.p95_us);
        assert!(l.p95_us <= l.p99_us && l.p99_us <= l.max_us);
        assert!(l.min_us <= l.mean_us && l.mean_us <= l.max_us);
        assert_eq!(r.energy_uj, None, "no rails, no energy");
        assert_eq!(run.power_readings, 0);
        assert_eq!(run.runtime_version.as_deref(), Some("0.0.0"));
    }
    let precisions: Vec<Precision> = runs.iter().map(|r| r.result.precision).collect();
    assert!(precisions.contains(&Precision::Fp32) && precisions.contains(&Precision::Fp16));
}

#[test]
fn energy_power_mode_and_temperatures_come_from_the_reader() {
    let rt = Mock::cpu();
    let mut reader = Powered::new(Some(5000));
    // A short interval so the sampling thread usually reads during the run too.
    let s = ProfileSpec {
        power_interval: std::time::Duration::from_micros(200),
        ..spec(2, 2000)
    };
    let runs = profile(&rt, &catalog(), &s, &mut reader, &mut |_, _| {}).unwrap();
    let run = &runs[0];
    let r = &run.result;
    assert_eq!(r.power_mode, Some(2));
    // Constant 5 W: energy is 5 W × the timed wall time (µJ = mW × µs / 1000), within the
    // truncation to whole µs of each integration step (5 µJ at 5 W) and of the wall.
    let expected = 5000 * run.wall.as_micros() as u64 / 1000;
    let total = run.energy_total_uj.unwrap();
    assert!(
        total.abs_diff(expected) <= 5 * run.power_readings as u64 + 5,
        "{total} vs {expected}"
    );
    assert_eq!(r.energy_uj, Some((total / 2000) as u32));
    assert!(run.power_readings >= 2, "start and end at least");
    // Every reading taken is integrated, except at most one the sampler took while the
    // run was finishing (stamped after its end, left out by design: `run_energy_uj`).
    let reads = reader.reads.load(Ordering::SeqCst) as usize;
    assert!(
        reads == run.power_readings || reads == run.power_readings + 1,
        "{reads} readings taken, {} integrated",
        run.power_readings
    );
    // Temperatures: the hottest sensor of the fixture (static, so start = end).
    let mut fixture = Powered::new(None);
    let hw = fixture.hardware();
    let hottest = msao_agent::system::hottest_cdeg(&fixture.sample(), &hw);
    assert!(hottest.is_some());
    assert_eq!((r.temp_start_cdeg, r.temp_end_cdeg), (hottest, hottest));
}

#[test]
fn plan_refuses_unknown_models_providers_precisions_and_bad_numbers() {
    let rt = Mock::cpu();
    let c = catalog();
    let err = plan(
        &rt,
        &c,
        &ProfileSpec {
            model: Some("whisper".into()),
            ..ProfileSpec::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, ProfileError::UnknownModel { name, known } if name == "whisper" && known.contains("silero-vad")),
        "{err}"
    );
    let err = plan(
        &rt,
        &c,
        &ProfileSpec {
            provider: Some(ExecProvider::TensorRt),
            ..ProfileSpec::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, ProfileError::ProviderUnavailable { provider: "tensorrt", available, .. } if available == "cpu"),
        "{err}"
    );
    assert!(err.to_string().contains("mock 0.0.0"), "{err}");
    let err = plan(
        &rt,
        &c,
        &ProfileSpec {
            model: Some("silero-vad".into()),
            precision: Some(Precision::Int8),
            ..ProfileSpec::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            ProfileError::NoSuchPrecision {
                precision: "int8",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("silero-vad (fp32)"), "{err}");
    for bad in [
        ProfileSpec {
            iterations: 0,
            ..ProfileSpec::default()
        },
        ProfileSpec {
            batch: 0,
            ..ProfileSpec::default()
        },
        ProfileSpec {
            warmup: u32::MAX,
            ..ProfileSpec::default()
        },
    ] {
        assert!(matches!(
            plan(&rt, &c, &bad),
            Err(ProfileError::InvalidSpec(_))
        ));
    }
    let err = plan(&rt, &ModelCatalog::default(), &ProfileSpec::default()).unwrap_err();
    assert!(matches!(err, ProfileError::NoModels { .. }));
    // Every installed precision on every available provider: Silero VAD has two.
    let two = Mock {
        available: vec![ExecProvider::Cpu, ExecProvider::Cuda],
        ..Mock::cpu()
    };
    let silero = ProfileSpec {
        model: Some("silero-vad".into()),
        ..ProfileSpec::default()
    };
    assert_eq!(plan(&two, &c, &silero).unwrap().len(), 4);
    let all = plan(&two, &c, &ProfileSpec::default()).unwrap().len();
    assert_eq!(
        all,
        2 * c.models().len(),
        "every installed model on both providers"
    );
}

#[test]
fn batch_needs_a_batch_dimension() {
    let path = models_dir().join("silero-vad/silero-vad-fp32.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"batch\"", "1");
    let fixed = ModelManifest::from_toml(&text, &path).unwrap();
    let c = ModelCatalog::from_manifests(vec![fixed]).unwrap();
    let err = plan(
        &Mock::cpu(),
        &c,
        &ProfileSpec {
            batch: 4,
            ..spec(1, 1)
        },
    )
    .unwrap_err();
    assert!(
        matches!(&err, ProfileError::BatchUnsupported { model } if model == "silero-vad (fp32)"),
        "{err}"
    );
    // The real manifest has one: batch 4 builds [4, 576] inputs.
    let runs = profile(
        &Mock::cpu(),
        &catalog(),
        &ProfileSpec {
            batch: 4,
            ..spec(1, 3)
        },
        &mut Powered::new(None),
        &mut |_, _| {},
    )
    .unwrap();
    let input = &runs[0].inputs[0];
    assert_eq!((input.0.as_str(), input.2.clone()), ("input", vec![4, 576]));
    assert_eq!(runs[0].result.batch, 4);
    assert!((runs[0].items_per_s - 4.0 * runs[0].runs_per_s).abs() < 1e-6 * runs[0].items_per_s);
}

#[test]
fn a_model_that_falls_back_to_another_provider_is_not_reported_under_the_wrong_name() {
    let rt = Mock {
        available: vec![ExecProvider::Cpu, ExecProvider::Cuda],
        actual: Some(ExecProvider::Cpu),
        runs: Arc::new(AtomicU64::new(0)),
    };
    let s = ProfileSpec {
        provider: Some(ExecProvider::Cuda),
        ..spec(1, 1)
    };
    let err = profile(&rt, &catalog(), &s, &mut Powered::new(None), &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(
            &err,
            ProfileError::FellBack {
                requested: "cuda",
                actual: "cpu",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn spec_from_a_host_request() {
    let req = ProfileRequest {
        target_boot_id: [0; 4],
        request_id: 9,
        model: Some(msao::message::truncated("silero-vad")),
        provider: Some(ExecProvider::Cpu),
        precision: Some(Precision::Fp16),
        batch: 2,
        warmup: 3,
        iterations: 4,
    };
    let s = ProfileSpec::from(&req);
    assert_eq!(s.request_id, Some(9));
    assert_eq!(s.model.as_deref(), Some("silero-vad"));
    assert_eq!(
        (s.provider, s.precision),
        (Some(ExecProvider::Cpu), Some(Precision::Fp16))
    );
    assert_eq!((s.batch, s.warmup, s.iterations), (2, 3, 4));
    assert_eq!(s.runs_per_entry(), 7);
}

#[test]
fn results_stream_out_as_they_are_measured() {
    let rt = Mock::cpu();
    let mut seen = Vec::new();
    let s = ProfileSpec {
        precision: None,
        ..spec(1, 2)
    };
    let n = profile_each(
        &rt,
        &catalog(),
        &s,
        &mut Powered::new(None),
        &mut |_, _| {},
        &mut |run| {
            // Each run arrives before the next one starts: the runs counted so far are its own.
            seen.push((
                run.result.index,
                run.result.total,
                rt.runs.load(Ordering::SeqCst),
            ));
        },
    )
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(seen, vec![(0, 2, 3), (1, 2, 6)]);
}
