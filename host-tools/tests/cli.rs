//! The real binary: `--version`, exit codes (0 with drops, 1 for I/O errors, 2 for usage).
use std::process::Command;

fn host(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_msao-host"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn version_shows_the_msao_build() {
    let o = host(&["--version"]);
    assert!(o.status.success());
    let v = String::from_utf8(o.stdout).unwrap();
    let b = msao::build_info::BUILD;
    assert!(v.starts_with(&format!("msao-host {}", b.version)), "{v}");
    assert!(v.contains(b.git_rev) && v.contains(b.target), "{v}");
    assert!(
        v.contains(&format!("schema {:016x}", u64::from_le_bytes(b.schema))),
        "{v}"
    );
}

#[test]
fn decode_with_drops_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("garbage.bin");
    std::fs::write(&p, [0x03, 0xAA, 0xBB, 0x00, 0x42]).unwrap();
    let o = host(&["decode", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("crc 1") && out.contains("truncated tail: 1 byte(s)"),
        "{out}"
    );
}

#[test]
fn decode_reads_stdin() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_msao-host"))
        .args(["decode", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&[0x03, 0xAA, 0xBB, 0x00])
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains(r#""source":"stdin""#) && out.contains(r#""crc":1"#),
        "{out}"
    );
}

#[test]
fn missing_file_exits_one_with_context() {
    let o = host(&["decode", "/nonexistent/capture.msaocap"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("error: cannot open /nonexistent/capture.msaocap"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["decode"][..],
        &["replay", "x", "--speed", "fast"],
        &["listen", "http://x:1"],
        &["bogus"],
    ] {
        let o = host(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
    }
}

#[test]
fn demo_without_agent_names_the_path_and_the_build_command() {
    let o = host(&[
        "demo",
        "--agent",
        "/nonexistent/msao-agent",
        "--duration",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("/nonexistent/msao-agent")
            && err.contains("cargo build --release --workspace"),
        "{err}"
    );
}
