//! A missing or broken ONNX Runtime library is a clear error, not a panic. Its own test
//! binary: nothing here loads a library, so the process-wide one-library rule never hides
//! the path under test.

use msao_agent::runtime::{OrtRuntime, RuntimeError, RuntimeOptions, library::Source};
use std::path::PathBuf;

#[test]
fn missing_configured_library_names_the_path_and_the_setup_script() {
    let path = PathBuf::from("/nonexistent/msao/libonnxruntime.so");
    let options = RuntimeOptions {
        library: Some(path.clone()),
        ..RuntimeOptions::default()
    };
    let err = OrtRuntime::new(&options).err().expect("must fail");
    let RuntimeError::LibraryNotFound { searched } = &err else {
        panic!("{err}")
    };
    assert_eq!(searched.len(), 1, "an explicit path is final: {err}");
    assert_eq!(
        (searched[0].path.clone(), searched[0].source),
        (path, Source::Config)
    );
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/msao/libonnxruntime.so"), "{msg}");
    assert!(msg.contains("scripts/setup.sh"), "{msg}");
    assert!(msg.contains("MSAO_ORT_LIB"), "{msg}");
}

#[test]
fn a_file_that_is_not_a_library_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not an ELF file").unwrap();
    let options = RuntimeOptions {
        library: Some(fake.clone()),
        ..RuntimeOptions::default()
    };
    let err = OrtRuntime::new(&options).err().expect("must fail");
    assert!(
        matches!(&err, RuntimeError::LibraryLoad { path, .. } if *path == fake),
        "{err}"
    );
}
