//! The live tegrastats source and the `[system] source` choice. `tegrastats` itself exists
//! only on Jetsons, so a small script stands in for it here (test only), printing lines
//! recorded in `fixtures/tegrastats/`.

mod common;

use clap::Parser;
use msao::message::FaultCode;
use msao_agent::{
    agent::open_system,
    cli::Cli,
    config::Settings,
    system::{SystemReader, TegrastatsReader, TegrastatsSourceError, parse_tegrastats},
};
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

const INTERVAL: Duration = Duration::from_millis(50);

fn orin_nano_line() -> String {
    let log = fs::read_to_string(common::fixture("tegrastats").join("jp6-orin-nano.log")).unwrap();
    log.lines().find(|l| l.contains("RAM")).unwrap().to_string()
}

/// Writes an executable script standing in for `tegrastats`.
fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("tegrastats");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn repeating(dir: &Path, line: &str) -> PathBuf {
    script(
        dir,
        &format!("while true; do echo '{line}'; sleep 0.05; done"),
    )
}

#[test]
fn samples_carry_the_latest_line_and_names_come_from_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::copy_fixture("jetson-orin-nano-jp6");
    let line = orin_nano_line();
    let prog = repeating(dir.path(), &line);
    let mut r = TegrastatsReader::spawn(&prog, INTERVAL, root.path()).unwrap();
    let expected = parse_tegrastats(&line).unwrap();
    let hw = r.hardware();
    assert_eq!(hw.thermal_zones, expected.temp_names());
    assert_eq!(hw.rails, expected.rail_names());
    assert_eq!(hw.cpu_cores, 6);
    let s = r.sample();
    let mut want = expected.to_sample();
    want.power_mode = s.power_mode;
    assert_eq!(s, want);
    assert_eq!(s.gpu_load_pm, Some(0));
    assert_eq!(s.total_power_mw, Some(4321), "VDD_IN is the total");
    // nvpmodel is read from the root: tegrastats does not print it.
    // (the fixture's /var/lib/nvpmodel/status says `pmode:0001`: mode 1 is `25W`)
    assert_eq!(s.power_mode, Some(1));
    assert_eq!(r.capability().power_mode_name.as_deref(), Some("25W"));
    assert_eq!(r.name(), "tegrastats");
}

#[test]
fn a_stalled_tegrastats_reads_unsupported_and_raises_one_fault() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::copy_fixture("jetson-orin-nano-jp6");
    let prog = script(
        dir.path(),
        &format!("echo '{}'; sleep 30", orin_nano_line()),
    );
    let mut r = TegrastatsReader::spawn(&prog, INTERVAL, root.path()).unwrap();
    assert!(r.sample().gpu_load_pm.is_some());
    assert!(r.take_faults().is_empty());
    std::thread::sleep(INTERVAL * 4);
    let s = r.sample();
    assert_eq!(
        (s.gpu_load_pm, s.total_power_mw, s.mem_used_kib),
        (None, None, None)
    );
    assert_eq!(
        s.temps_cdeg.len(),
        r.hardware().thermal_zones.len(),
        "arrays keep Hello's length"
    );
    assert!(s.temps_cdeg.iter().all(Option::is_none));
    let faults = r.take_faults();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].code, FaultCode::SensorRead as u16);
    assert!(
        faults[0]
            .message
            .starts_with("tegrastats: no tegrastats line"),
        "{}",
        faults[0].message
    );
    r.sample();
    assert!(r.take_faults().is_empty(), "one fault per outage");
}

#[test]
fn a_program_that_is_not_tegrastats_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(dir.path(), "while true; do echo hello; sleep 0.05; done");
    let err = TegrastatsReader::spawn(&prog, INTERVAL, "/").err().unwrap();
    assert!(matches!(err, TegrastatsSourceError::Silent { .. }), "{err}");
    let missing = dir.path().join("no-such-tegrastats");
    let err = TegrastatsReader::spawn(&missing, INTERVAL, "/")
        .err()
        .unwrap();
    assert!(err.to_string().contains("no-such-tegrastats"), "{err}");
}

fn settings(root: &Path, source: &str, tegrastats: &Path) -> Settings {
    let cli = Cli::try_parse_from([
        "msao-agent",
        "--sysfs-root",
        root.to_str().unwrap(),
        "--system-source",
        source,
        "--sample-interval",
        "50ms",
    ])
    .unwrap();
    let mut s = Settings::merge(&cli, None, Some("test-host".into())).unwrap();
    s.tegrastats = tegrastats.to_path_buf();
    s
}

#[test]
fn auto_uses_sysfs_when_the_gpu_load_node_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::copy_fixture("jetson-orin-nano-jp6");
    let prog = repeating(dir.path(), &orin_nano_line());
    let reader = open_system(&settings(root.path(), "auto", &prog)).unwrap();
    assert_eq!(reader.name(), "jetson");
}

#[test]
fn auto_falls_back_to_tegrastats_when_the_gpu_load_node_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let root = common::copy_fixture("jetson-orin-nano-jp6");
    fs::remove_file(root.path().join("sys/devices/platform/gpu.0/load")).unwrap();
    let prog = repeating(dir.path(), &orin_nano_line());
    let reader = open_system(&settings(root.path(), "auto", &prog)).unwrap();
    assert_eq!(reader.name(), "tegrastats");
    // Without a working tegrastats, auto keeps the sysfs reader.
    let missing = dir.path().join("absent");
    let reader = open_system(&settings(root.path(), "auto", &missing)).unwrap();
    assert_eq!(reader.name(), "jetson");
    // Asked for explicitly, a missing tegrastats is an error.
    assert!(open_system(&settings(root.path(), "tegrastats", &missing)).is_err());
}
