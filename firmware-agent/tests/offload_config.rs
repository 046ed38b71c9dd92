//! `[offload]` and `[workload]` in the agent's config file, and their flags: a bad value is
//! refused with its key named.

use clap::Parser;
use msao_agent::{
    cli::Cli,
    config::{ConfigError, FileConfig, Settings},
    offload::PolicyKind,
};
use std::path::{Path, PathBuf};

const FILE: &str = "/etc/msao/agent.toml";

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("msao-agent").chain(args.iter().copied())).unwrap()
}

fn settings(text: &str, args: &[&str]) -> Result<Settings, ConfigError> {
    let file = FileConfig::from_toml(text, Path::new(FILE))?;
    Settings::merge(&cli(args), Some((Path::new(FILE), &file)), Some("h".into()))
}

#[test]
fn offload_and_workload_tables_parse_and_flags_override_them() {
    let text = r#"
[workload]
dir = "/var/lib/msao/wl"
answers = "/tmp/answers.jsonl"
fps = 15.0
warmup = 50
[offload]
policy = "edge-only"
threshold = 0.8
[offload.cloud]
url = "http://10.0.0.5:8000"
"#;
    let s = settings(text, &[]).unwrap();
    let w = s.workload.clone().unwrap();
    assert_eq!(w.dir, PathBuf::from("/var/lib/msao/wl"));
    assert_eq!(w.answers, Some(PathBuf::from("/tmp/answers.jsonl")));
    assert_eq!(w.fps, Some(15.0));
    assert_eq!((w.warmup, w.limit), (50, None));
    assert_eq!(s.offload.policy, PolicyKind::EdgeOnly);
    assert_eq!(s.offload.threshold, Some(0.8));
    assert_eq!(s.offload.cloud.url, "http://10.0.0.5:8000");

    let s = settings(
        text,
        &[
            "--policy",
            "bandit",
            "--cloud-url",
            "http://127.0.0.1:9",
            "--fps",
            "30",
            "--warmup",
            "0",
            "--limit",
            "12",
        ],
    )
    .unwrap();
    assert_eq!(s.offload.policy, PolicyKind::Bandit);
    assert_eq!(s.offload.cloud.url, "http://127.0.0.1:9");
    let w = s.workload.unwrap();
    assert_eq!((w.fps, w.warmup, w.limit), (Some(30.0), 0, Some(12)));

    // No workload anywhere: none runs, and the defaults validate.
    let s = settings("", &[]).unwrap();
    assert!(s.workload.is_none());
    assert_eq!(s.offload.policy, PolicyKind::Msao);
}

#[test]
fn bad_offload_values_name_their_key() {
    for (text, args, key) in [
        ("[offload]\nthreshold = 1.5", &[][..], "offload.threshold"),
        ("[offload]\nmax_in_flight = 0", &[], "offload.max_in_flight"),
        (
            "[offload.link]\nbandwidth_mbps = -1.0",
            &[],
            "offload.link.bandwidth_mbps",
        ),
        (
            "[offload.cloud]\nurl = \"ftp://x\"",
            &[],
            "offload.cloud.url",
        ),
        ("", &["--cloud-url", "not a url"], "offload.cloud.url"),
        ("[offload]\npolcy = \"msao\"", &[], "polcy"),
        ("[offload]\npolicy = \"fastest\"", &[], "offload.policy"),
        ("[workload]\nfps = 0.0", &[], "workload.fps"),
        ("[workload]\nlimit = 0", &[], "workload.limit"),
        ("[workload]\nwarmup = -1", &[], "workload.warmup"),
        ("[workload]\nfolder = \"x\"", &[], "folder"),
    ] {
        let msg = settings(text, args).unwrap_err().to_string();
        assert!(msg.contains(key), "{text} {args:?}: {msg}");
    }
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["--policy", "fastest"][..],
        &["--fps", "0"],
        &["--fps", "fast"],
        &["--limit", "0"],
        &["--warmup", "many"],
    ] {
        let all = std::iter::once("msao-agent").chain(args.iter().copied());
        assert!(Cli::try_parse_from(all).is_err(), "{args:?}");
    }
    for args in [
        &["--answers", "/tmp/a.jsonl"][..],
        &["--limit", "3"],
        &["--warmup", "3"],
    ] {
        let msg = settings("", args).unwrap_err().to_string();
        assert!(msg.contains("--workload"), "{args:?}: {msg}");
    }
}
