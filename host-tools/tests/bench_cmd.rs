//! `msao-host bench` end to end on a tiny workload, through the real binaries: every run
//! the shipped `msao-agent` (built beside msao-host by `cargo test --workspace`), the
//! reference cloud as a child process, the delay proxy, rate limiting in user space (`--no-netns`, so
//! no root is needed), the warm-up, repeated runs, the JSON report, `records.jsonl` and the
//! oracle row.
//! Needs `libonnxruntime.so` and the models (`scripts/setup.sh`) and the easy-VQA test split
//! (`scripts/fetch-easy-vqa.sh`).

use msao_host::workload::{AudioMode, Config, dataset::Dataset, generate};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// 2 scenes × 3 frames.
const REQUESTS: usize = 6;
const POLICIES: [&str; 3] = ["edge-only", "offload-all", "msao"];
const RUNS: u64 = 2;

#[test]
fn bench_reports_every_policy_the_oracle_and_every_answer() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = repo.join(".cache/easy-vqa/test");
    let dataset =
        Dataset::open(&data).unwrap_or_else(|e| panic!("{e}\n(run scripts/fetch-easy-vqa.sh)"));
    let tmp = tempfile::tempdir().unwrap();
    let workload = tmp.path().join("workload");
    let config = Config {
        seed: 3,
        scenes: 2,
        hold: 3,
        width: 320,
        height: 240,
        scale: (1.0, 2.0),
        noise: 2,
        audio: AudioMode::None,
    };
    generate(&dataset, &config, &workload, &mut |_, _| {}).unwrap();
    let out = tmp.path().join("out");
    let host = Path::new(env!("CARGO_BIN_EXE_msao-host"));
    let agent = host.with_file_name(format!("msao-agent{}", std::env::consts::EXE_SUFFIX));
    assert!(
        agent.is_file(),
        "{} missing: run the workspace's tests (`cargo test --workspace`), which build it",
        agent.display()
    );

    let run = Command::new(env!("CARGO_BIN_EXE_msao-host"))
        .args(["bench", "--no-netns", "--rates", "400", "--rtt-ms", "4"])
        .args(["--policies", &POLICIES.join(","), "--warmup", "2"])
        .args(["--repeat", &RUNS.to_string()])
        .arg("--workload")
        .arg(&workload)
        .arg("--out")
        .arg(&out)
        .arg("--models")
        .arg(repo.join("models"))
        .arg("--agent")
        .arg(&agent)
        .args(["--records", "--json"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).expect("--json prints the report");
    let link = &report["links"][0];
    assert_eq!(link["rate_mbps"], 400.0);
    assert_eq!(link["rate_limiter"], "user-space pacing (--no-netns)");
    let rows: BTreeMap<&str, &Value> = link["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["policy"].as_str().unwrap(), r))
        .collect();
    for policy in POLICIES.iter().chain(&["oracle"]) {
        let row = rows
            .get(policy)
            .unwrap_or_else(|| panic!("no {policy} row"));
        // The warm-up requests are not counted; both runs are pooled.
        assert_eq!(row["requests"], REQUESTS, "{policy}");
        assert_eq!(row["runs"], RUNS, "{policy}");
    }
    assert_eq!(report["runs"], RUNS);

    // records.jsonl: each run's answers once, on this link.
    let text = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let mut answers: BTreeMap<(String, u64), BTreeMap<u64, Value>> = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["rate_mbps"], 400.0);
        let id = v["record"]["request_id"].as_u64().unwrap();
        let policy = v["policy"].as_str().unwrap().to_string();
        let repeat = v["repeat"].as_u64().unwrap();
        let again = answers
            .entry((policy, repeat))
            .or_default()
            .insert(id, v["record"].clone());
        assert!(again.is_none(), "request {id} answered twice in one run");
    }
    let ids: BTreeSet<u64> = (0..REQUESTS as u64).collect();
    let run = |policy: &str, k: u64| &answers[&(policy.to_string(), k)];
    for policy in POLICIES {
        for k in 0..RUNS {
            let got: BTreeSet<u64> = run(policy, k).keys().copied().collect();
            assert_eq!(got, ids, "{policy}, run {k}");
        }
    }
    assert_eq!(answers.len(), POLICIES.len() * RUNS as usize);
    assert!(
        (0..RUNS).all(|k| run("offload-all", k)
            .values()
            .all(|r| r["decision"] == "offload")),
        "offload-all offloads every request"
    );

    // The oracle's accuracy is, by its definition, the share of requests that the local
    // head or the cloud got right, counted here from the paired runs' records (the k-th
    // edge-only run with the k-th offload-all run).
    let either: usize = (0..RUNS)
        .map(|k| {
            ids.iter()
                .filter(|id| {
                    run("edge-only", k)[id]["correct"] == true
                        || run("offload-all", k)[id]["correct"] == true
                })
                .count()
        })
        .sum();
    let oracle = rows["oracle"]["accuracy_pct"].as_f64().unwrap();
    let expected = either as f64 / (REQUESTS as u64 * RUNS) as f64 * 100.0;
    assert!(
        (oracle - expected).abs() < 1e-9,
        "oracle {oracle} vs {expected}"
    );
    for file in ["bench.md", "bench.json", "latency.svg", "tradeoff.svg"] {
        assert!(out.join(file).is_file(), "{file} written");
    }

    // The runs were the agent binary's, with its own warm-up, and the records are whole.
    let named = report["setup"]["agent"].as_str().unwrap();
    assert!(named.starts_with("msao-agent "), "{named}");
    let log = std::fs::read_to_string(out.join("agent/agent.log")).unwrap();
    assert!(log.contains("warm-up: 2 requests edge-only"), "{log}");
    let config = std::fs::read_to_string(out.join("agent/agent.toml")).unwrap();
    assert!(
        config.contains("[offload]") && config.contains("warmup = 2"),
        "{config}"
    );
    let record = run("msao", 0).values().next().unwrap();
    assert!(record.get("local_answer").is_some(), "{record}");
}
