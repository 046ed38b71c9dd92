//! `msao-agent check` (the real binary): on the Orin Nano JetPack 6 fixture tree it reports
//! the board, L4T and JetPack, CUDA and TensorRT from the tree, the ONNX Runtime library
//! and its providers, the GPU node, the models and the pipeline, and says ready (exit 0);
//! on this machine with a missing ONNX Runtime library and the API port taken it names both
//! as blocking (exit 1). Needs `scripts/setup.sh` (models, ONNX Runtime).

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn config(dir: &Path, onnxruntime: &Path, api: &str) -> PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "[telemetry]\nsinks = [\"udp://127.0.0.1:7878\"]\n\
             [runtime]\nonnxruntime = \"{}\"\nmodels_dir = \"{}\"\n\
             [offload]\npolicy = \"edge-only\"\n[api]\nlisten = \"{api}\"\n",
            onnxruntime.display(),
            repo().join("models").display()
        ),
    )
    .unwrap();
    path
}

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_msao-agent"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn by_name<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {doc}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_jetson_tree_reports_its_stack_and_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let ort = repo().join(".cache/onnxruntime/libonnxruntime.so");
    let cfg = config(dir.path(), &ort, &format!("127.0.0.1:{}", free_port()));
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jetson-orin-nano-jp6");
    let (code, out) = check(&[
        "--json",
        "--config",
        cfg.to_str().unwrap(),
        "--sysfs-root",
        tree.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!((code, &doc["ready"]), (0, &Value::Bool(true)), "{doc}");
    let detail = |n: &str| by_name(&doc, n)["detail"].as_str().unwrap().to_string();
    let status = |n: &str| by_name(&doc, n)["status"].as_str().unwrap().to_string();
    assert!(
        detail("board").starts_with("NVIDIA Jetson Orin Nano"),
        "{doc}"
    );
    assert_eq!(detail("l4t"), "L4T R36.4.3 (JetPack 6)");
    assert_eq!(
        (detail("cuda"), detail("tensorrt")),
        ("12.6".into(), "10.3.0".into())
    );
    assert_eq!(
        (status("gpu_nodes"), detail("gpu_nodes")),
        ("ok".into(), "/dev/nvmap".into())
    );
    assert!(detail("onnxruntime").starts_with("1.31.1 from "), "{doc}");
    assert!(detail("providers").starts_with("cpu"), "{doc}");
    assert_eq!(status("models"), "ok", "{doc}");
    assert!(detail("models").contains("sha256 verified"), "{doc}");
    assert!(detail("pipeline").starts_with("`easy-vqa`"), "{doc}");
    assert_eq!(status("cloud"), "skip");
    assert_eq!((status("sink"), status("api")), ("ok".into(), "ok".into()));
}

#[test]
fn a_missing_library_and_a_taken_port_are_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let cfg = config(dir.path(), &dir.path().join("no/libonnxruntime.so"), &addr);
    let (code, out) = check(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL onnxruntime"), "{out}");
    assert!(out.contains(&format!("FAIL api          {addr}")), "{out}");
    assert!(out.contains("blocking problem(s)"), "{out}");
    drop(taken);
}
