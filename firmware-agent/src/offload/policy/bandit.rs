//! [`Bandit`]: the `bandit` baseline's learner — PerLLM's constraint-aware UCB as a table
//! over the request's context — and its [`BanditConfig`].
//!
//! PerLLM (Yang et al., 2024, "PerLLM: Personalized Inference Scheduling with Edge-Cloud
//! Collaboration for Diverse LLM Services") schedules by constraint-satisfaction UCB: per
//! context, the arm with the highest upper confidence bound on its reward among the arms
//! that meet the constraint. Here:
//!
//! * **arms**: *local* (commit the local head's answer) and *offload* (the compact tensor);
//! * **context** ([`BanditContext`]): the local confidence, in [`CONFIDENCE_EDGES`] bins
//!   (fine near 1, where most requests are), × the predicted offload time for this upload
//!   relative to the deadline, in [`LINK_EDGES`] bins — 7 × 3 = 21 cells, one arm pair each;
//! * **constraint**: offload is excluded when the [`LinkEstimator`]'s predicted time for
//!   this upload exceeds the deadline (local always qualifies);
//! * **reward**: confidence of the committed answer (the cloud's softmax for an offload, the
//!   calibrated local confidence for a local answer or a fallback) − `latency_weight` ×
//!   latency / deadline. The expected answer is never used: production does not have it;
//! * **bound**: `mean + exploration · σ · √(2 ln t / n)`, UCB1 for σ-sub-Gaussian rewards
//!   with σ measured, not assumed (below); `t` counts the cell's pulls, `n` the arm's;
//! * **sharing**: each cell's arm starts from the arm's belief pooled over all cells, worth
//!   `prior_pulls` requests, so a rarely seen context is not explored from scratch.
//!
//! σ of an arm in a cell is the spread of its rewards there, mixed with the pooled
//! spread, which itself starts from the worst case the reward's range allows,
//! ((1 + `latency_weight`) / 2)², worth one request. Within one fine confidence bin a local
//! answer's reward hardly varies, so the bound stops paying for exploration the data does
//! not need. With σ fixed at the worst case, telling two arms 0.03 apart (a typical gap in
//! the bins near 1) costs hundreds of needless offloads per cell: 360 of 1,000 requests in
//! the synthetic `a_small_gap_near_1_costs_few_offloads` test, against 17 with σ measured.
//!
//! Untried arms are tried first (local before offload); ties go to local. No randomness:
//! the same requests and feedback give the same decisions.

use super::{REPLY_BYTES, RequestView};
use crate::offload::estimator::LinkEstimator;
use msao::message::Decision;
use serde::{Deserialize, Serialize};

/// Upper edges of the local-confidence bins (the last bin runs to 1): fine near 1, where
/// the calibrated confidence of most requests lies.
pub const CONFIDENCE_EDGES: [f32; 6] = [0.5, 0.8, 0.9, 0.95, 0.98, 0.99];

/// Upper edges of the link bins, as predicted offload time / deadline; the last bin holds
/// everything above (offload is excluded there once the ratio exceeds 1).
pub const LINK_EDGES: [f64; 2] = [1.0 / 3.0, 2.0 / 3.0];

const LINK_BINS: usize = LINK_EDGES.len() + 1;
const CELLS: usize = (CONFIDENCE_EDGES.len() + 1) * LINK_BINS;

/// The bandit baseline's parameters.
///
/// Defaults are reasoned from the reward's scale, not fitted to any split:
/// * `latency_weight` 0.5: the reward is in units of "probability the answer is right";
///   an offload that uses the whole deadline must lift it by 0.5 to pay off, one at a
///   tenth of the deadline (the bench link's ≈ 24 ms of 250 ms) by 0.05 — so the bandit
///   offloads unsure answers, not every answer the cloud might make a little surer;
/// * `exploration` 1: the bound is UCB1's `σ · √(2 ln t / n)` with σ measured per arm and
///   context, so the textbook constant applies (before per-context σ, the weight was 0.3 on
///   a bound with σ left implicit);
/// * `prior_pulls` 1: a context's arm starts from the arm's pooled belief worth one
///   request, enough to rank the arms before the context's own pulls, little enough that
///   two or three of them override it. 0 turns the sharing off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BanditConfig {
    /// Weight on the UCB exploration bonus (1: UCB1's constant).
    pub exploration: f64,
    /// Reward = answer confidence − `latency_weight` × latency / deadline.
    pub latency_weight: f64,
    /// Pseudo-pulls of the arm's pooled belief each context starts from.
    pub prior_pulls: f64,
}

impl Default for BanditConfig {
    fn default() -> Self {
        Self {
            exploration: 1.0,
            latency_weight: 0.5,
            prior_pulls: 1.0,
        }
    }
}

impl BanditConfig {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("exploration", self.exploration),
            ("latency_weight", self.latency_weight),
            ("prior_pulls", self.prior_pulls),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("bandit.{name} must be ≥ 0, got {v}"));
            }
        }
        Ok(())
    }
}

/// The cell a request falls in; handed back with its outcome
/// ([`super::Policy::feedback_in`]) so the reward lands where the decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BanditContext {
    confidence: u8,
    link: u8,
}

impl BanditContext {
    /// Index of the local-confidence bin (0 = below [`CONFIDENCE_EDGES`]`[0]`).
    pub fn confidence_bin(self) -> usize {
        usize::from(self.confidence)
    }

    /// Index of the link bin (0 = fastest, see [`LINK_EDGES`]).
    pub fn link_bin(self) -> usize {
        usize::from(self.link)
    }

    fn cell(self) -> usize {
        self.confidence_bin() * LINK_BINS + self.link_bin()
    }
}

/// Count, sum and sum of squares of one arm's rewards.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: u64,
    sum: f64,
    sumsq: f64,
}

impl Moments {
    fn add(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.sumsq += x * x;
    }

    /// Mean and variance, the variance mixed with one pseudo-pull of variance `worst`
    /// (`None` before the first pull).
    fn belief(&self, worst: f64) -> Option<(f64, f64)> {
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let squares = (self.sumsq - n * mean * mean).max(0.0);
        Some((mean, (squares + worst) / (n + 1.0)))
    }
}

/// UCB1 with a measured σ; an arm with no weight at all is tried first.
fn bound(mean: f64, var: f64, n: f64, t: f64, exploration: f64) -> f64 {
    if n <= 0.0 {
        return f64::INFINITY;
    }
    mean + exploration * (2.0 * var * t.max(1.0).ln() / n).sqrt()
}

/// The learner: per cell, an arm pair's reward moments, plus the arms' pooled moments.
#[derive(Debug, Clone)]
pub(super) struct Bandit {
    config: BanditConfig,
    deadline_s: f64,
    pooled: [Moments; 2],
    cells: [[Moments; 2]; CELLS],
    /// Rewards fed back with their context (0: only context-free feedback so far).
    placed: u64,
}

impl Bandit {
    pub(super) fn new(config: BanditConfig, deadline_s: f64) -> Self {
        Self {
            config,
            deadline_s: deadline_s.max(1e-6),
            pooled: [Moments::default(); 2],
            cells: [[Moments::default(); 2]; CELLS],
            placed: 0,
        }
    }

    /// The request's cell, and whether offload meets the deadline constraint.
    fn situate(&self, request: &RequestView, link: &LinkEstimator) -> (BanditContext, bool) {
        let predicted = link.predict(request.upload_bytes + REPLY_BYTES);
        let ratio = predicted / self.deadline_s;
        let confidence = CONFIDENCE_EDGES
            .iter()
            .take_while(|&&edge| request.confidence >= edge)
            .count();
        // A NaN ratio counts as the slowest bin (and fails the constraint below).
        let link_bin = LINK_EDGES.iter().take_while(|&&edge| ratio >= edge).count();
        let link_bin = if ratio.is_nan() {
            LINK_BINS - 1
        } else {
            link_bin
        };
        let context = BanditContext {
            confidence: confidence as u8,
            link: link_bin as u8,
        };
        (context, predicted <= self.deadline_s)
    }

    pub(super) fn context(&self, request: &RequestView, link: &LinkEstimator) -> BanditContext {
        self.situate(request, link).0
    }

    pub(super) fn decide(&self, request: &RequestView, link: &LinkEstimator) -> Decision {
        let (context, offload_fits) = self.situate(request, link);
        if !offload_fits {
            return Decision::Local;
        }
        let [local, offload] = if self.placed == 0 {
            self.pooled_bounds()
        } else {
            self.cell_bounds(context)
        };
        if offload > local {
            Decision::Offload
        } else {
            Decision::Local
        }
    }

    /// Before any feedback with a context: the context-free two-arm UCB.
    fn pooled_bounds(&self) -> [f64; 2] {
        let t = self.pooled.iter().map(|m| m.n as f64).sum();
        self.pooled.map(|m| match m.belief(self.worst_variance()) {
            Some((mean, var)) => bound(mean, var, m.n as f64, t, self.config.exploration),
            None => f64::INFINITY,
        })
    }

    fn cell_bounds(&self, context: BanditContext) -> [f64; 2] {
        let cell = &self.cells[context.cell()];
        // Each arm: its own pulls in the cell plus `prior_pulls` pseudo-pulls of its
        // pooled belief.
        let beliefs: [(f64, f64, f64); 2] = std::array::from_fn(|arm| {
            let own = cell[arm];
            let (w, mean0, var0) = match self.pooled[arm].belief(self.worst_variance()) {
                Some((m, v)) => (self.config.prior_pulls, m, v),
                None => (0.0, 0.0, 0.0),
            };
            let n = own.n as f64 + w;
            if n <= 0.0 {
                return (0.0, 0.0, 0.0);
            }
            let mean = (own.sum + w * mean0) / n;
            let second = (own.sumsq + w * (var0 + mean0 * mean0)) / n;
            (mean, (second - mean * mean).max(0.0), n)
        });
        let t = beliefs.iter().map(|b| b.2).sum();
        beliefs.map(|(mean, var, n)| bound(mean, var, n, t, self.config.exploration))
    }

    /// The variance the reward's range allows at most: ((1 + latency_weight) / 2)².
    fn worst_variance(&self) -> f64 {
        let half_range = (1.0 + self.config.latency_weight) / 2.0;
        half_range * half_range
    }

    /// Feeds one committed request; `context: None` (its cell unknown) feeds the pooled
    /// belief only.
    pub(super) fn learn(
        &mut self,
        context: Option<BanditContext>,
        decision: Decision,
        confidence: f32,
        latency_s: f64,
    ) {
        let arm = usize::from(decision != Decision::Local);
        let reward =
            f64::from(confidence) - self.config.latency_weight * latency_s / self.deadline_s;
        if !reward.is_finite() {
            return;
        }
        self.pooled[arm].add(reward);
        if let Some(c) = context {
            self.cells[c.cell()][arm].add(reward);
            self.placed += 1;
        }
    }

    #[cfg(test)]
    fn pulls(&self, context: BanditContext) -> [u64; 2] {
        self.cells[context.cell()].map(|m| m.n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Policy, PolicyKind};
    use super::*;
    use crate::offload::estimator::LinkPrior;

    fn view(confidence: f32) -> RequestView {
        RequestView {
            confidence,
            kept: 9,
            upload_bytes: 300,
            head_seconds: 0.0002,
        }
    }

    fn bandit() -> Policy {
        Policy::new(PolicyKind::Bandit, 0.9, 0.25, 0.1, BanditConfig::default())
    }

    /// Deterministic stand-in for noise: a value in [0, 1) from a step number.
    fn wobble(i: u64) -> f64 {
        (i.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0
    }

    /// What a request's outcome would be: the local answer's own confidence in 1 ms, or
    /// the cloud's 0.7–0.9 in 40–60 ms (reward ≈ 0.6–0.8 at a 250 ms deadline).
    fn outcome(decision: Decision, confidence: f32, i: u64) -> (f32, f64) {
        match decision {
            Decision::Local => (confidence, 0.001),
            _ => ((0.7 + 0.2 * wobble(i)) as f32, 0.04 + 0.02 * wobble(i + 7)),
        }
    }

    #[test]
    fn contexts_follow_the_bins() {
        let link = LinkEstimator::new(&LinkPrior::default());
        let p = bandit();
        let bins = |c: f32| p.context(&view(c), &link).confidence_bin();
        assert_eq!([bins(0.0), bins(0.49), bins(0.5), bins(0.79)], [0, 0, 1, 1]);
        assert_eq!(
            [bins(0.85), bins(0.9), bins(0.97), bins(0.985)],
            [2, 3, 4, 5]
        );
        assert_eq!([bins(0.99), bins(1.0)], [6, 6]);
        // Default link: ≈ 22 ms of 250 ms → the fast bin; 120 ms → the middle; 400 ms and
        // beyond → the slow bin.
        let at = |rtt_ms| {
            let l = LinkEstimator::new(&LinkPrior {
                rtt_ms,
                ..LinkPrior::default()
            });
            p.context(&view(0.5), &l).link_bin()
        };
        assert_eq!([at(20.0), at(120.0), at(180.0), at(400.0)], [0, 1, 2, 2]);
    }

    #[test]
    fn learns_to_offload_unsure_requests_and_answer_sure_ones_locally() {
        let link = LinkEstimator::new(&LinkPrior::default());
        let mut p = bandit();
        // Unsure requests (0.2–0.45: the cloud's ≈ 0.7 is better) and sure ones
        // (0.96–0.98: the local answer is better), alternating.
        let confidence = |i: u64| match i % 2 {
            0 => (0.2 + 0.25 * wobble(i)) as f32,
            _ => (0.96 + 0.02 * wobble(i)) as f32,
        };
        let mut late = [[0usize; 2]; 2]; // [unsure, sure] × [local, offload], last 200
        for i in 0..1000 {
            let c = confidence(i);
            let v = view(c);
            let d = p.decide(&v, &link);
            if i >= 800 {
                late[(i % 2) as usize][usize::from(d == Decision::Offload)] += 1;
            }
            let context = p.context(&v, &link);
            let (answer, latency) = outcome(d, c, i);
            p.feedback_in(context, d, answer, latency);
        }
        assert!(late[0][1] >= 95, "unsure requests offloaded: {late:?}");
        assert!(late[1][0] >= 95, "sure requests answered locally: {late:?}");
        // Both arms were tried in both contexts.
        let b = &p.bandit;
        let unsure = b.pulls(b.context(&view(0.3), &link));
        let sure = b.pulls(b.context(&view(0.97), &link));
        assert!(unsure[0] >= 1 && unsure[1] > 400, "{unsure:?}");
        assert!(sure[1] >= 1 && sure[0] > 400, "{sure:?}");
    }

    #[test]
    fn never_offloads_past_the_deadline() {
        let fast = LinkEstimator::new(&LinkPrior::default());
        let slow = LinkEstimator::new(&LinkPrior {
            rtt_ms: 400.0,
            ..LinkPrior::default()
        });
        let mut p = bandit();
        // Teach it that offloading unsure requests pays off, on both links' cells.
        for i in 0..200 {
            for link in [&fast, &slow] {
                let v = view(0.3);
                let context = p.context(&v, link);
                p.feedback_in(context, Decision::Offload, 0.99, 0.01);
                p.feedback_in(context, Decision::Local, 0.3, 0.001);
            }
            assert_eq!(p.decide(&view(0.3), &fast), Decision::Offload, "round {i}");
        }
        for c in [0.0, 0.3, 0.6, 0.95, 1.0] {
            assert_eq!(p.decide(&view(c), &slow), Decision::Local, "confidence {c}");
        }
        // The constraint reads the link estimate of this upload: a big enough upload
        // breaks it on the fast link too (100 Mbit/s: 3 MB ≈ 240 ms + 22 ms).
        let big = RequestView {
            upload_bytes: 3_000_000,
            ..view(0.3)
        };
        assert_eq!(p.decide(&big, &fast), Decision::Local);
    }

    #[test]
    fn a_small_gap_near_1_costs_few_offloads() {
        // Sure requests (0.96–0.98) whose offload is only a little worse (the cloud's
        // 0.97–0.99 in ≈ 24 ms: reward ≈ 0.93–0.95): the measured spread is small, so the
        // bound stops exploring early instead of offloading a large share of the cell.
        let link = LinkEstimator::new(&LinkPrior::default());
        let mut p = bandit();
        let mut offloads = 0;
        for i in 0..1000 {
            let c = (0.96 + 0.02 * wobble(i)) as f32;
            let v = view(c);
            let d = p.decide(&v, &link);
            let (answer, latency) = match d {
                Decision::Local => (c, 0.001),
                _ => ((0.97 + 0.02 * wobble(i + 3)) as f32, 0.024),
            };
            offloads += usize::from(d == Decision::Offload);
            p.feedback_in(p.context(&v, &link), d, answer, latency);
        }
        assert!(offloads < 100, "{offloads} of 1000 offloaded");
    }

    #[test]
    fn decisions_are_deterministic() {
        let link = LinkEstimator::new(&LinkPrior::default());
        let run = || {
            let mut p = bandit();
            (0..300u64)
                .map(|i| {
                    let c = wobble(i * 3) as f32;
                    let v = view(c);
                    let d = p.decide(&v, &link);
                    let (answer, latency) = outcome(d, c, i);
                    p.feedback_in(p.context(&v, &link), d, answer, latency);
                    d
                })
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.contains(&Decision::Local) && first.contains(&Decision::Offload));
    }

    #[test]
    fn a_new_context_starts_from_the_pooled_belief() {
        let link = LinkEstimator::new(&LinkPrior::default());
        let mut p = bandit();
        // Offload has been much better than local in the 0.5–0.8 cell…
        for _ in 0..100 {
            let context = p.context(&view(0.6), &link);
            p.feedback_in(context, Decision::Offload, 0.99, 0.01);
            p.feedback_in(context, Decision::Local, 0.1, 0.001);
        }
        // …so in an unseen cell (0.8–0.9) the pooled belief prefers offload at once.
        assert_eq!(p.decide(&view(0.85), &link), Decision::Offload);
        // Without sharing, the unseen cell tries local first.
        let mut alone = Policy::new(
            PolicyKind::Bandit,
            0.9,
            0.25,
            0.1,
            BanditConfig {
                prior_pulls: 0.0,
                ..BanditConfig::default()
            },
        );
        for _ in 0..100 {
            let context = alone.context(&view(0.6), &link);
            alone.feedback_in(context, Decision::Offload, 0.99, 0.01);
            alone.feedback_in(context, Decision::Local, 0.1, 0.001);
        }
        assert_eq!(alone.decide(&view(0.85), &link), Decision::Local);
    }

    #[test]
    fn context_free_feedback_keeps_the_two_arm_ucb() {
        // `Policy::feedback` (no context) teaches the pooled arms only, and decisions then
        // come from them: local first, offload second, then the better arm.
        let link = LinkEstimator::new(&LinkPrior::default());
        let mut p = bandit();
        let v = view(0.9);
        assert_eq!(p.decide(&v, &link), Decision::Local);
        p.feedback(Decision::Local, 0.9, 0.001);
        assert_eq!(p.decide(&v, &link), Decision::Offload);
        p.feedback(Decision::Offload, 0.95, 0.2);
        // Offload's reward (0.95 − 0.5·0.8) is far below local's (0.9 − 0.002).
        let mut local = 0;
        for _ in 0..200 {
            let d = p.decide(&v, &link);
            let (c, l) = if d == Decision::Local {
                local += 1;
                (0.9, 0.001)
            } else {
                (0.95, 0.2)
            };
            p.feedback(d, c, l);
        }
        assert!(local > 180, "{local} of 200 local");
    }

    #[test]
    fn config_is_backward_compatible_and_checked() {
        let old: BanditConfig = toml::from_str("exploration = 0.3\nlatency_weight = 0.5").unwrap();
        assert_eq!(old.prior_pulls, BanditConfig::default().prior_pulls);
        assert_eq!(old.exploration, 0.3);
        let e = toml::from_str::<BanditConfig>("explore = 1.0").unwrap_err();
        assert!(e.to_string().contains("explore"), "{e}");
        BanditConfig::default().validate().unwrap();
        let bad = BanditConfig {
            prior_pulls: -1.0,
            ..BanditConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("bandit.prior_pulls"));
        let bad = BanditConfig {
            exploration: f64::NAN,
            ..BanditConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("bandit.exploration"));
    }
}
