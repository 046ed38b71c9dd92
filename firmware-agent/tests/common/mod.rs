//! Helpers shared by the integration tests: fixture paths and writable copies of them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fixture tree under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A temporary, writable copy of a fixture tree.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A workload directory in `dir`: the two golden easy-VQA frames (`tests/fixtures/golden`)
/// and `requests` requests cycling over them and two questions. Returns `dir`.
pub fn golden_workload(dir: &Path, requests: usize) -> PathBuf {
    const FRAMES: [&str; 2] = ["easyvqa-test-0.png", "easyvqa-test-3.png"];
    const QUESTIONS: [&str; 2] = ["what is the red shape?", "what color is the circle?"];
    let golden = fixture("golden");
    let mut frames = Vec::new();
    for (i, f) in FRAMES.iter().enumerate() {
        std::fs::copy(golden.join(f), dir.join(f)).unwrap();
        frames.push(serde_json::json!({"index": i, "file": f, "scene": i}));
    }
    let requests: Vec<_> = (0..requests)
        .map(|id| {
            serde_json::json!({
                "request_id": id, "frame": id % 2, "question": QUESTIONS[(id / 2) % 2]
            })
        })
        .collect();
    let (w, h) = image::image_dimensions(golden.join(FRAMES[0])).unwrap();
    let manifest = serde_json::json!({
        "format": "msao-workload", "version": 1, "width": w, "height": h,
        "frames": frames, "requests": requests,
    });
    std::fs::write(dir.join("workload.json"), manifest.to_string()).unwrap();
    dir.to_path_buf()
}
