//! The shipped `msao-agent` as a child process (`demo`, `bench`): where its binary is, and
//! the answers file it writes (`--answers`, one JSON line per request).

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `msao-agent` in the directory of the running executable.
pub fn default_agent() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let dir = exe
        .parent()
        .context("the running executable has no directory")?;
    Ok(dir.join(format!("msao-agent{}", std::env::consts::EXE_SUFFIX)))
}

/// `explicit`, else [`default_agent`]; an error naming the build command when it is absent.
pub fn find_agent(explicit: Option<&Path>, command: &str) -> anyhow::Result<PathBuf> {
    let agent = match explicit {
        Some(p) => p.to_path_buf(),
        None => default_agent()?,
    };
    if !agent.is_file() {
        anyhow::bail!(
            "msao-agent not found at {}: build both binaries with `cargo build --release --workspace` \
             ({command} runs the agent next to msao-host), or pass --agent PATH",
            agent.display()
        );
    }
    Ok(agent)
}

/// One line of the agent's answers file: the fields the host reads, and every other field
/// kept as written (so a record can be passed on whole).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// The workload request it answers.
    #[serde(default)]
    pub request_id: Option<u32>,
    /// `local`, `cloud`, `fallback`, `error`.
    pub source: String,
    /// `local`, `offload`, `speculate`.
    pub decision: String,
    /// Frame in memory → answer committed, µs.
    pub latency_us: u64,
    /// Bytes uploaded.
    pub bytes_up: u64,
    /// Bytes downloaded.
    pub bytes_down: u64,
    /// Bytes of cancelled uploads that had left for the connection.
    #[serde(default)]
    pub bytes_wasted: u64,
    /// Matches the expected answer.
    pub correct: Option<bool>,
    /// The record's other fields (answer, confidences, fault, …).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Reads a JSON-lines answers file.
pub fn read_answers(path: &Path) -> anyhow::Result<Vec<Answer>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the agent's answers {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not an answer record", path.display(), i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the agent writes is what the host reads: a real record, serialised by the
    /// agent's own type, read back with every field kept.
    #[test]
    fn an_agent_record_reads_back_whole() {
        let record = msao_agent::host::workload::AnswerRecord {
            request_id: 4,
            answer: Some("circle".into()),
            source: "cloud",
            decision: "offload",
            confidence: Some(0.5),
            local_confidence: Some(0.25),
            latency_us: 1200,
            bytes_up: 900,
            bytes_down: 80,
            bytes_wasted: 0,
            expected: Some("circle".into()),
            correct: Some(true),
            local_answer: Some("square".into()),
            fault: None,
        };
        let line = serde_json::to_string(&record).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.jsonl");
        std::fs::write(&path, format!("{line}\n\n{line}\n")).unwrap();
        let read = read_answers(&path).unwrap();
        assert_eq!(read.len(), 2);
        let a = &read[0];
        assert_eq!(
            (a.request_id, a.source.as_str(), a.decision.as_str()),
            (Some(4), "cloud", "offload")
        );
        assert_eq!(
            (a.latency_us, a.bytes_up, a.correct),
            (1200, 900, Some(true))
        );
        assert_eq!(a.other["local_answer"], "square");
        let back: serde_json::Value = serde_json::to_value(a).unwrap();
        let orig: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, orig);

        std::fs::write(&path, format!("{line}\nnot json\n")).unwrap();
        let e = format!("{:#}", read_answers(&path).unwrap_err());
        assert!(e.contains("line 2: not an answer record"), "{e}");
    }
}
