//! The end-of-run summary: frames per kind, drops per cause (all of them, zeros included),
//! truncated tail bytes, devices, plus command-specific extras.
use super::text::bytes;
use crate::monitor::{Monitor, Totals};
use msao::{DropCause, Message};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// A command-specific summary field: its JSON value and its human line.
#[derive(Debug, Clone)]
pub struct Extra {
    /// JSON key.
    pub key: &'static str,
    /// JSON value.
    pub value: Value,
    /// Human line (empty: JSON only).
    pub human: String,
}

/// What a run saw.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Counters.
    pub totals: Totals,
    /// `(device, source, boot id, frames, drops)` per row.
    pub devices: Vec<Value>,
    /// Run time.
    pub elapsed: Duration,
    /// Command-specific additions.
    pub extras: Vec<Extra>,
}

impl Summary {
    /// Summarises a monitor's state.
    pub fn of(monitor: &Monitor, elapsed: Duration) -> Self {
        let devices = monitor
            .rows()
            .iter()
            .map(|r| {
                json!({
                    "device": r.device.as_deref(),
                    "source": &*r.source,
                    "boot_id": r.boot_id.map(|b| format!("{b:08x}")),
                    "frames": r.frames,
                    "drops": r.drops,
                })
            })
            .collect();
        Self {
            totals: monitor.totals().clone(),
            devices,
            elapsed,
            extras: Vec::new(),
        }
    }

    /// Adds an extra field.
    pub fn with(
        mut self,
        key: &'static str,
        value: impl Into<Value>,
        human: impl Into<String>,
    ) -> Self {
        self.extras.push(Extra {
            key,
            value: value.into(),
            human: human.into(),
        });
        self
    }

    /// `{"type":"summary",…}`.
    pub fn json(&self) -> Value {
        let t = &self.totals;
        let kinds: Map<String, Value> = Message::KINDS
            .iter()
            .zip(t.kinds)
            .map(|(k, n)| ((*k).to_string(), n.into()))
            .collect();
        let drops: Map<String, Value> = DropCause::ALL
            .iter()
            .map(|c| (c.name().to_string(), t.drops[*c as usize].into()))
            .collect();
        let mut v = json!({
            "type": "summary",
            "frames": t.frames,
            "by_kind": kinds,
            "dropped": t.dropped(),
            "drops": drops,
            "bytes": t.bytes,
            "truncated_bytes": t.truncated_bytes,
            "truncated_tails": t.truncated_tails,
            "devices": self.devices,
            "elapsed_s": self.elapsed.as_secs_f64(),
        });
        if let Value::Object(map) = &mut v {
            for e in &self.extras {
                map.insert(e.key.to_string(), e.value.clone());
            }
        }
        v
    }

    /// Writes the summary: one JSON object, or the human lines.
    pub fn write(&self, out: &mut impl std::io::Write, json: bool) -> std::io::Result<()> {
        if json {
            writeln!(out, "{}", self.json())
        } else {
            self.human().iter().try_for_each(|l| writeln!(out, "{l}"))
        }
    }

    /// Human lines.
    pub fn human(&self) -> Vec<String> {
        let t = &self.totals;
        let kinds: Vec<String> = Message::KINDS
            .iter()
            .zip(t.kinds)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let drops: Vec<String> = DropCause::ALL
            .iter()
            .map(|c| format!("{} {}", c.name(), t.drops[*c as usize]))
            .collect();
        let mut out = vec![
            format!(
                "summary: {} frames decoded ({}), {} dropped, {} in {:.1} s, {} device(s)",
                t.frames,
                kinds.join(", "),
                t.dropped(),
                bytes(t.bytes),
                self.elapsed.as_secs_f64(),
                self.devices.len()
            ),
            format!("  drops: {}", drops.join(", ")),
        ];
        if t.truncated_bytes > 0 {
            out.push(format!(
                "  truncated tail: {} byte(s) in {} stream(s) ended mid-frame (not an error)",
                t.truncated_bytes, t.truncated_tails
            ));
        }
        out.extend(
            self.extras
                .iter()
                .filter(|e| !e.human.is_empty())
                .map(|e| format!("  {}", e.human)),
        );
        out
    }
}
