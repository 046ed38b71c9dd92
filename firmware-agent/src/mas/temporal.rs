//! Temporal MAS: how much a frame changed against the stream's previous frames, from the
//! probe descriptor ([`super::patch_descriptor`]).
//!
//! `change = min over the last H frames h of ‖d − h‖₂ / max(‖h‖₂, ε)` (relative distance to
//! the closest recent frame); `score = min(1, change / full_change)`; the frame **reuses**
//! the earlier work when `change ≤ reuse_below`. The first frame of a stream has score 1.
//!
//! Measured on the camera-size workload (docs/mas.md): frames of one held scene with
//! ±2-level sensor noise differ by at most 0.014; a new scene by at least 0.45.

use super::{MasError, check_range};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Temporal parameters (`[mas.temporal]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemporalConfig {
    /// Frames remembered per stream.
    pub history: usize,
    /// Relative change at or below which the scene counts as unchanged (reuse).
    pub reuse_below: f32,
    /// Relative change that counts as a wholly new scene (score 1).
    pub full_change: f32,
}

impl Default for TemporalConfig {
    fn default() -> Self {
        Self {
            history: 4,
            reuse_below: 0.05,
            full_change: 0.4,
        }
    }
}

impl TemporalConfig {
    pub(super) fn validate(&self) -> Result<(), MasError> {
        if !(1..=64).contains(&self.history) {
            return Err(MasError::Config {
                key: "mas.temporal.history",
                reason: format!("{} is outside [1, 64]", self.history),
            });
        }
        check_range("mas.temporal.reuse_below", self.reuse_below, 0.0, 10.0)?;
        check_range("mas.temporal.full_change", self.full_change, 1.0e-6, 10.0)?;
        if self.reuse_below >= self.full_change {
            return Err(MasError::Config {
                key: "mas.temporal.reuse_below",
                reason: format!(
                    "{} must be below mas.temporal.full_change ({})",
                    self.reuse_below, self.full_change
                ),
            });
        }
        Ok(())
    }
}

/// The temporal score of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemporalScore {
    /// Relative change to the closest remembered frame; `None` for a stream's first frame.
    pub change: Option<f32>,
    /// `min(1, change / full_change)`; 1 for the first frame.
    pub score: f32,
    /// True when the scene is unchanged and earlier work can be reused.
    pub reuse: bool,
    /// How many frames back the closest remembered frame is (1 = the previous one).
    pub matched_age: Option<usize>,
}

/// Remembers the last few descriptors of one stream.
#[derive(Debug, Clone)]
pub struct TemporalTracker {
    config: TemporalConfig,
    history: VecDeque<(Vec<f32>, f32)>,
}

impl TemporalTracker {
    /// An empty tracker.
    pub fn new(config: TemporalConfig) -> Self {
        Self {
            config,
            history: VecDeque::with_capacity(config.history),
        }
    }

    /// Forgets the stream (a new camera, a restart).
    pub fn reset(&mut self) {
        self.history.clear();
    }

    /// Scores `descriptor` against the remembered frames, then remembers it. A descriptor
    /// of another length than the remembered ones resets the stream first.
    ///
    /// No allocation once the history is full: the oldest frame's buffer takes the new one.
    pub fn observe(&mut self, descriptor: &[f32]) -> Result<TemporalScore, MasError> {
        let norm_sq = dist_sq(descriptor, None);
        // A non-finite value makes ‖d‖² non-finite; only then look for it (a huge finite
        // descriptor overflows too, finds nothing and is scored as before).
        if !norm_sq.is_finite()
            && let Some(index) = descriptor.iter().position(|v| !v.is_finite())
        {
            return Err(MasError::NotFinite { index });
        }
        if self
            .history
            .front()
            .is_some_and(|(h, _)| h.len() != descriptor.len())
        {
            self.reset();
        }
        let mut best: Option<(f32, usize)> = None;
        for (age, (h, norm)) in self.history.iter().enumerate() {
            let dist = dist_sq(descriptor, Some(h)).sqrt();
            let change = dist / norm.max(1.0e-6);
            if best.is_none_or(|(c, _)| change < c) {
                best = Some((change, age + 1));
            }
        }
        let mut buffer = if self.history.len() >= self.config.history {
            self.history.pop_back().map(|(v, _)| v).unwrap_or_default()
        } else {
            Vec::with_capacity(descriptor.len())
        };
        buffer.clear();
        buffer.extend_from_slice(descriptor);
        self.history.push_front((buffer, norm_sq.sqrt()));
        Ok(match best {
            None => TemporalScore {
                change: None,
                score: 1.0,
                reuse: false,
                matched_age: None,
            },
            Some((change, age)) => TemporalScore {
                change: Some(change),
                score: (change / self.config.full_change).min(1.0),
                reuse: change <= self.config.reuse_below,
                matched_age: Some(age),
            },
        })
    }
}

/// Lanes of the squared-distance sums: independent accumulators, so the additions are
/// not one dependency chain and LLVM keeps them in one or two SIMD registers.
const LANES: usize = 8;

/// `‖a − b‖²` (`‖a‖²` without `b`; `b` as long as `a`), summed in [`LANES`] interleaved
/// partial sums: the value differs from a sequential sum only in float rounding.
fn dist_sq(a: &[f32], b: Option<&[f32]>) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (chunks, rest) = a.as_chunks::<LANES>();
    let mut tail = 0.0f32;
    match b {
        Some(b) => {
            let (b_chunks, b_rest) = b.as_chunks::<LANES>();
            for (x, y) in chunks.iter().zip(b_chunks) {
                for i in 0..LANES {
                    let d = x[i] - y[i];
                    acc[i] += d * d;
                }
            }
            for (x, y) in rest.iter().zip(b_rest) {
                tail += (x - y) * (x - y);
            }
        }
        None => {
            for x in chunks {
                for i in 0..LANES {
                    acc[i] += x[i] * x[i];
                }
            }
            for x in rest {
                tail += x * x;
            }
        }
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_frame_is_new_repeat_is_reused_change_is_scored() {
        let mut t = TemporalTracker::new(TemporalConfig::default());
        let a = vec![1.0, 0.0, 0.0, 0.0];
        let first = t.observe(&a).unwrap();
        assert_eq!((first.change, first.score, first.reuse), (None, 1.0, false));
        let again = t.observe(&a).unwrap();
        assert_eq!(again.change, Some(0.0));
        assert!(again.reuse);
        assert_eq!(again.score, 0.0);
        let b = vec![1.0, 0.2, 0.0, 0.0];
        let moved = t.observe(&b).unwrap();
        assert!((moved.change.unwrap() - 0.2).abs() < 1e-6);
        assert!((moved.score - 0.5).abs() < 1e-6);
        assert!(!moved.reuse);
    }

    #[test]
    fn a_scene_seen_a_few_frames_ago_matches() {
        let mut t = TemporalTracker::new(TemporalConfig::default());
        let a = vec![1.0, 0.0];
        let b = vec![0.0, 1.0];
        t.observe(&a).unwrap();
        t.observe(&b).unwrap();
        let back = t.observe(&a).unwrap();
        assert_eq!(back.matched_age, Some(2));
        assert!(back.reuse);
    }

    #[test]
    fn history_is_bounded() {
        let cfg = TemporalConfig {
            history: 2,
            ..TemporalConfig::default()
        };
        let mut t = TemporalTracker::new(cfg);
        t.observe(&[1.0, 0.0]).unwrap();
        t.observe(&[0.0, 1.0]).unwrap();
        t.observe(&[1.0, 1.0]).unwrap();
        // [1, 0] has been forgotten: the closest is now [1, 1].
        let s = t.observe(&[1.0, 0.0]).unwrap();
        assert!(!s.reuse);
    }

    #[test]
    fn bad_config_is_named() {
        let cfg = TemporalConfig {
            reuse_below: 0.5,
            full_change: 0.4,
            ..TemporalConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("mas.temporal.reuse_below"), "{err}");
    }
}
