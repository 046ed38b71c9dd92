//! The workload generator: deterministic from its seed, scenes held, shapes where the
//! manifest says, audio in the documented format, and clear errors for bad input.

use image::{Rgb, RgbImage};
use msao_host::workload::{AudioMode, Config, dataset::Dataset, generate};
use std::{fs, path::Path};

/// A two-image dataset in the easy-VQA layout (solid squares, so pixels are predictable).
fn dataset(dir: &Path) -> Dataset {
    fs::create_dir_all(dir.join("images")).unwrap();
    for (id, colour) in [(0u32, [200u8, 30, 30]), (1, [30, 30, 200])] {
        RgbImage::from_pixel(64, 64, Rgb(colour))
            .save(dir.join(format!("images/{id}.png")))
            .unwrap();
    }
    fs::write(
        dir.join("questions.json"),
        r#"[["what color is the shape?","red",0],["is there a red shape?","yes",0],["what color is the shape?","blue",1]]"#,
    )
    .unwrap();
    Dataset::open(dir).unwrap()
}

fn config(seed: u64, noise: u8, audio: AudioMode) -> Config {
    Config {
        seed,
        scenes: 3,
        hold: 4,
        width: 320,
        height: 240,
        scale: (1.0, 2.0),
        noise,
        audio,
    }
}

fn run(data: &Dataset, cfg: &Config, out: &Path) -> msao_host::workload::Workload {
    generate(data, cfg, out, &mut |_, _| {}).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_workload_and_another_seed_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"));
    let a = run(&data, &config(5, 2, AudioMode::None), &tmp.path().join("a"));
    let b = run(&data, &config(5, 2, AudioMode::None), &tmp.path().join("b"));
    let c = run(&data, &config(6, 2, AudioMode::None), &tmp.path().join("c"));
    assert_eq!(a, b);
    for f in &a.frames {
        let read = |d: &str| fs::read(tmp.path().join(d).join(&f.file)).unwrap();
        assert_eq!(read("a"), read("b"), "{}", f.file);
    }
    assert_ne!(
        a.frames.iter().map(|f| f.bbox).collect::<Vec<_>>(),
        c.frames.iter().map(|f| f.bbox).collect::<Vec<_>>()
    );
    let json = fs::read_to_string(tmp.path().join("a/workload.json")).unwrap();
    assert!(json.contains("\"format\": \"msao-workload\""));
}

#[test]
fn scenes_are_held_and_shapes_sit_where_the_manifest_says() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"));
    let out = tmp.path().join("w");
    let w = run(&data, &config(9, 0, AudioMode::None), &out);
    assert_eq!(w.frames.len(), 12);
    assert_eq!(w.requests.len(), 12);
    assert_eq!(w.raw_frame_bytes, 320 * 240 * 3);
    for scene in w.frames.chunks(4) {
        let first = image::open(out.join(&scene[0].file)).unwrap().to_rgb8();
        for f in scene {
            assert_eq!(f.bbox, scene[0].bbox);
            // noise 0: a held scene is the identical frame (temporal MAS can reuse work)
            assert_eq!(
                image::open(out.join(&f.file)).unwrap().to_rgb8(),
                first,
                "{}",
                f.file
            );
        }
        let [x, y, side, _] = scene[0].bbox;
        assert!(x + side <= 320 && y + side <= 240);
        let want = if scene[0].image_id == 0 {
            [200, 30, 30]
        } else {
            [30, 30, 200]
        };
        assert_eq!(first.get_pixel(x + side / 2, y + side / 2).0, want);
    }
    for r in &w.requests {
        let f = &w.frames[r.frame as usize];
        let expected = if f.image_id == 0 {
            ["red", "yes"].as_slice()
        } else {
            ["blue"].as_slice()
        };
        assert!(expected.contains(&r.answer.as_str()), "{r:?}");
    }
}

#[test]
fn noise_changes_pixels_by_at_most_its_amplitude() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"));
    let clean = run(
        &data,
        &config(3, 0, AudioMode::None),
        &tmp.path().join("clean"),
    );
    let noisy = run(
        &data,
        &config(3, 3, AudioMode::None),
        &tmp.path().join("noisy"),
    );
    // Noise draws from the same generator, so scenes differ after the first frame; compare
    // the first frame, painted before any noise was drawn.
    let a = image::open(tmp.path().join("clean").join(&clean.frames[0].file))
        .unwrap()
        .to_rgb8();
    let b = image::open(tmp.path().join("noisy").join(&noisy.frames[0].file))
        .unwrap()
        .to_rgb8();
    let max = a
        .pixels()
        .zip(b.pixels())
        .flat_map(|(p, q)| (0..3).map(move |i| (i16::from(p.0[i]) - i16::from(q.0[i])).abs()))
        .max();
    assert!(max.is_some_and(|m| (1..=3).contains(&m)), "{max:?}");
}

#[test]
fn audio_tracks_are_16khz_mono_wav() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"));
    for (mode, silent) in [(AudioMode::Silence, true), (AudioMode::Noise, false)] {
        let out = tmp.path().join(format!("{mode:?}"));
        let w = run(&data, &config(1, 0, mode), &out);
        let r = &w.requests[0];
        assert_eq!(r.audio_kind, Some(mode));
        let mut wav = hound::WavReader::open(out.join(r.audio.as_ref().unwrap())).unwrap();
        let spec = wav.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (16_000, 1, 16)
        );
        let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(samples.len(), 16_000);
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert_eq!(peak == 0, silent, "{mode:?} peak {peak}");
        assert!(peak <= (0.02 * f32::from(i16::MAX)) as u16 + 1);
    }
}

/// Whether an executable `name` is on `PATH` (what `Command::new(name)` would run).
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// With `espeak-ng` on `PATH`, speech tracks must be generated and be speech; without it,
/// generation must fail with an error naming espeak-ng. Which branch is decided before
/// generating, so either can fail. `MSAO_REQUIRE_ESPEAK_NG=1` (CI) makes a missing espeak-ng a
/// failure instead of the error-path check.
#[test]
fn speech_needs_espeak_ng_and_says_so() {
    let installed = on_path("espeak-ng");
    if !installed && std::env::var("MSAO_REQUIRE_ESPEAK_NG").as_deref() == Ok("1") {
        panic!("espeak-ng is not on PATH and MSAO_REQUIRE_ESPEAK_NG=1 (apt-get install espeak-ng)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"));
    let out = tmp.path().join("speech");
    let result = generate(
        &data,
        &config(1, 0, AudioMode::Speech),
        &out,
        &mut |_, _| {},
    );
    if installed {
        let w = result.unwrap_or_else(|e| panic!("espeak-ng is on PATH, yet: {e}"));
        let wav = hound::WavReader::open(out.join(w.requests[0].audio.as_ref().unwrap())).unwrap();
        assert_eq!(wav.spec().sample_rate, 16_000);
        assert!(
            wav.len() > 8_000,
            "a spoken question lasts more than half a second"
        );
        let samples: Vec<i16> = wav.into_samples::<i16>().map(Result::unwrap).collect();
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 1_000, "speech is not near-silence (peak {peak})");
    } else {
        let e = match result {
            Ok(_) => panic!("espeak-ng is not on PATH, yet speech tracks were generated"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("espeak-ng"), "{e}");
        eprintln!(
            "NOTE: espeak-ng not on PATH: checked the error path only ({e}); \
             set MSAO_REQUIRE_ESPEAK_NG=1 to require it"
        );
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"));
    let mut cfg = config(1, 0, AudioMode::None);
    cfg.scale = (1.0, 5.0);
    let err = generate(&data, &cfg, &tmp.path().join("x"), &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not fit a 320×240 frame"), "{err}");
    // A corrupt image names its file.
    fs::write(tmp.path().join("data/images/0.png"), b"not a png").unwrap();
    fs::write(tmp.path().join("data/images/1.png"), b"not a png").unwrap();
    let err = generate(
        &data,
        &config(1, 0, AudioMode::None),
        &tmp.path().join("y"),
        &mut |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cannot be decoded") && err.contains(".png"),
        "{err}"
    );
    // A questions file of the wrong shape names the file.
    fs::write(tmp.path().join("data/questions.json"), r#"{"q": 1}"#).unwrap();
    let err = Dataset::open(&tmp.path().join("data"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("questions.json is not an easy-VQA questions file"),
        "{err}"
    );
}
