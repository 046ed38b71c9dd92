//! Config file validation and flag/file/default precedence.

use clap::Parser;
use msao::transport::Endpoint;
use msao_agent::{
    cli::Cli,
    config::{ConfigError, DEFAULT_QUEUE_DEPTH, FileConfig, Settings},
};
use std::{path::Path, time::Duration};

const FILE: &str = "/etc/msao/agent.toml";

fn parse(text: &str) -> Result<FileConfig, ConfigError> {
    FileConfig::from_toml(text, Path::new(FILE))
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("msao-agent").chain(args.iter().copied())).unwrap()
}

#[test]
fn full_example_parses() {
    let cfg = parse(include_str!("../agent.example.toml")).unwrap();
    assert_eq!(
        cfg.device_id.map(|d| d.to_string()).as_deref(),
        Some("jetson-01")
    );
    assert_eq!(
        cfg.telemetry.sinks,
        Some(vec![Endpoint::Udp("127.0.0.1:7878".into())])
    );
    assert_eq!(
        cfg.telemetry.sample_interval,
        Some(Duration::from_millis(100))
    );
    assert_eq!(cfg.telemetry.hello_interval, Some(Duration::from_secs(5)));
    assert_eq!(cfg.telemetry.queue_depth, Some(64));
    assert_eq!(cfg.system.sysfs_root.as_deref(), Some(Path::new("/")));
}

#[test]
fn unknown_key_is_named_with_file_and_line() {
    let e = error("device_id = \"a\"\n[telemetry]\nsampel_interval = \"1s\"\n");
    assert!(e.contains("unknown field `sampel_interval`"), "{e}");
    assert!(e.contains(FILE), "{e}");
    assert!(e.contains("line 3"), "{e}");
    let e = error("colour = \"blue\"\n");
    assert!(e.contains("unknown field `colour`"), "{e}");
}

#[test]
fn bad_url_names_the_key_and_the_reason() {
    let e = error("[telemetry]\nsinks = [\"udp://127.0.0.1:1\", \"http://x:1\"]\n");
    assert!(e.contains("key `telemetry.sinks[1]`"), "{e}");
    assert!(e.contains("unsupported transport scheme `http`"), "{e}");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn zero_and_malformed_intervals_are_refused() {
    let e = error("[telemetry]\nsample_interval = \"0ms\"\n");
    assert!(e.contains("key `telemetry.sample_interval`"), "{e}");
    assert!(e.contains("must be greater than zero"), "{e}");
    let e = error("[telemetry]\nhello_interval = \"soon\"\n");
    assert!(e.contains("key `telemetry.hello_interval`"), "{e}");
    assert!(e.contains("`soon` is not a duration"), "{e}");
    let e = error("[telemetry]\nhello_interval = 5\n");
    assert!(e.contains("key `telemetry.hello_interval`"), "{e}");
}

#[test]
fn device_id_longer_than_the_wire_field_is_refused() {
    let e = error(&format!("device_id = \"{}\"\n", "j".repeat(33)));
    assert!(e.contains("key `device_id`"), "{e}");
    assert!(
        e.contains("is 33 bytes; the wire field holds at most 32"),
        "{e}"
    );
}

#[test]
fn queue_depth_is_bounded() {
    for bad in ["0", "-1", "257"] {
        let e = error(&format!("[telemetry]\nqueue_depth = {bad}\n"));
        assert!(e.contains("key `telemetry.queue_depth`"), "{e}");
        assert!(e.contains("is outside 1..=256"), "{e}");
    }
    assert_eq!(
        parse("[telemetry]\nqueue_depth = 256\n")
            .unwrap()
            .telemetry
            .queue_depth,
        Some(256)
    );
}

#[test]
fn toml_syntax_error_keeps_line_and_column() {
    let e = error("[telemetry\nsinks = []\n");
    assert!(e.contains(FILE) && e.contains("line 1, column"), "{e}");
}

#[test]
fn missing_file_is_a_read_error() {
    let c = cli(&["--config", "/nonexistent/agent.toml"]);
    let e = Settings::resolve(&c).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/agent.toml"));
}

#[test]
fn flags_override_file_which_overrides_defaults() {
    let file = parse(
        "device_id = \"from-file\"\n[telemetry]\nsinks = [\"tcp://10.0.0.1:9000\"]\nsample_interval = \"250ms\"\nqueue_depth = 8\n[system]\nsysfs_root = \"/srv/root\"\n",
    )
    .unwrap();
    let path = Path::new(FILE);
    let s = Settings::merge(&cli(&[]), Some((path, &file)), Some("host".into())).unwrap();
    assert_eq!(s.device_id.as_str(), "from-file");
    assert_eq!(s.sinks, [Endpoint::Tcp("10.0.0.1:9000".into())]);
    assert_eq!(s.sample_interval, Duration::from_millis(250));
    assert_eq!(s.hello_interval, Duration::from_secs(5));
    assert_eq!(s.queue_depth, 8);
    assert_eq!(s.sysfs_root, Path::new("/srv/root"));
    assert_eq!(s.duration, None);

    let flags = cli(&[
        "--device-id",
        "from-flag",
        "--telemetry",
        "udp://127.0.0.1:1",
        "--telemetry",
        "udp://127.0.0.1:2",
        "--sample-interval",
        "1s",
        "--sysfs-root",
        "/tmp/x",
        "--duration",
        "3s",
    ]);
    let s = Settings::merge(&flags, Some((path, &file)), Some("host".into())).unwrap();
    assert_eq!(s.device_id.as_str(), "from-flag");
    assert_eq!(
        s.sinks,
        [
            Endpoint::Udp("127.0.0.1:1".into()),
            Endpoint::Udp("127.0.0.1:2".into())
        ]
    );
    assert_eq!(s.sample_interval, Duration::from_secs(1));
    assert_eq!(s.sysfs_root, Path::new("/tmp/x"));
    assert_eq!(s.duration, Some(Duration::from_secs(3)));
}

#[test]
fn defaults_use_hostname_and_the_local_udp_sink() {
    let s = Settings::merge(&cli(&[]), None, Some("orin-nx-7\n".into())).unwrap();
    assert_eq!(s.device_id.as_str(), "orin-nx-7");
    assert_eq!(s.sinks, [Endpoint::Udp("127.0.0.1:7878".into())]);
    assert_eq!(s.sample_interval, Duration::from_millis(100));
    assert_eq!(s.queue_depth, DEFAULT_QUEUE_DEPTH);
    assert_eq!(s.sysfs_root, Path::new("/"));
    let s = Settings::merge(&cli(&[]), None, None).unwrap();
    assert_eq!(s.device_id.as_str(), "msao-agent");
}

#[test]
fn duplicate_sinks_collapse_and_too_many_are_refused() {
    let dup = cli(&[
        "--telemetry",
        "udp://127.0.0.1:1",
        "--telemetry",
        "udp://127.0.0.1:1",
    ]);
    assert_eq!(Settings::merge(&dup, None, None).unwrap().sinks.len(), 1);
    let urls: Vec<String> = (1..=9).map(|p| format!("udp://127.0.0.1:{p}")).collect();
    let mut args = vec![];
    for u in &urls {
        args.extend(["--telemetry", u.as_str()]);
    }
    let e = Settings::merge(&cli(&args), None, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`telemetry.sinks`") && e.contains("9 sinks; at most 8"),
        "{e}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let err = |args: &[&str]| {
        Cli::try_parse_from(std::iter::once("msao-agent").chain(args.iter().copied())).unwrap_err()
    };
    for args in [
        &["--sample-interval", "0s"][..],
        &["--telemetry", "ftp://x:1"],
        &[
            "--device-id",
            "a-device-id-that-is-much-too-long-for-the-wire",
        ],
        &["--bogus"],
    ] {
        assert_eq!(err(args).exit_code(), 2, "{args:?}");
    }
}

#[test]
fn intervals_below_the_floor_are_refused_naming_key_and_origin() {
    use msao_agent::config::{MIN_HELLO_INTERVAL, MIN_SAMPLE_INTERVAL};
    let merge = |args: &[&str], text: &str| {
        let file = parse(text).unwrap();
        Settings::merge(&cli(args), Some((Path::new(FILE), &file)), None)
            .map(|s| (s.sample_interval, s.hello_interval))
            .map_err(|e| e.to_string())
    };
    let e = merge(&[], "[telemetry]\nsample_interval = \"1ns\"\n").unwrap_err();
    assert!(e.contains("`telemetry.sample_interval`"), "{e}");
    assert!(e.contains(FILE) && e.contains("floor of 10ms"), "{e}");
    let e = merge(&["--hello-interval", "50ms"], "").unwrap_err();
    assert!(e.contains("`telemetry.hello_interval`"), "{e}");
    assert!(
        e.contains("--hello-interval") && e.contains("floor of 100ms"),
        "{e}"
    );
    // The floors themselves are accepted, from the flag over the file.
    let ok = merge(
        &["--sample-interval", "10ms"],
        "[telemetry]\nsample_interval = \"1ns\"\nhello_interval = \"100ms\"\n",
    )
    .unwrap();
    assert_eq!(ok, (MIN_SAMPLE_INTERVAL, MIN_HELLO_INTERVAL));
}
