//! The crate boundary: the host tools reach the agent crate only through its host surface
//! (`msao_agent::host`, firmware-agent/src/host.rs). Any other `msao_agent::` path in
//! `host-tools/src` fails here, naming file and line. (Tests may stand up parts of a device
//! in-process; the product code may not.)

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `msao_agent::…` path in `text` that does not start with `msao_agent::host::`, with
/// its line number. `use msao_agent::{…}` groups count as outside the surface.
fn outside_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("msao_agent::") {
            let tail = &rest[at + "msao_agent::".len()..];
            if !tail.starts_with("host::") {
                found.push((i + 1, line.trim().to_string()));
                break;
            }
            rest = tail;
        }
    }
    found
}

#[test]
fn the_checker_sees_a_path_outside_the_surface() {
    let text = "use msao_agent::host::models::ModelCatalog;\nuse msao_agent::runtime::OrtRuntime;\nlet x = msao_agent::{brain::EdgeBrain};";
    let found = outside_paths(text);
    assert_eq!(
        found.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [2, 3],
        "{found:?}"
    );
}

#[test]
fn host_tools_use_only_the_host_surface() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 20,
        "found {} files under {}",
        files.len(),
        src.display()
    );
    let mut offenders = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (line, code) in outside_paths(&text) {
            offenders.push(format!("{}:{line}: {code}", f.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "host-tools reaches agent internals outside msao_agent::host:\n{}",
        offenders.join("\n")
    );
}
