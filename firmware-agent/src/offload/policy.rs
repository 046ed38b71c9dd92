//! [`Policy`]: per request, answer locally, offload, or speculate — ours (MSAO) and the
//! baselines the bench compares it with.
//!
//! MSAO's rule, in order (costs come from [`LinkEstimator`] and the request's own timings):
//! 1. the frame has no kept patch (MAS spatial found nothing) → **local**: there is nothing
//!    for the cloud to see that the local head did not;
//! 2. the predicted offload time exceeds the deadline → **local**;
//! 3. the local head is slow compared with the predicted offload
//!    (`head ≥ speculate_head_fraction × offload`) → **speculate**: the upload starts,
//!    and the head's confidence then commits the local answer (cancelling the upload) or
//!    waits for the cloud. With the fused edge graph the head has already run by then, so
//!    nothing overlaps the upload yet (`docs/offload.md`, "What speculation overlaps");
//! 4. the head is cheap, so its answer is known before anything is sent: confidence at or
//!    above the threshold → **local**, else **offload** (upload, await the cloud, fall
//!    back to the local answer on failure).
//!
//! Baselines: `edge-only`, `cloud-only` (the frame as a JPEG and the question text
//! uploaded; the cloud runs everything), `cloud-features` (every patch of the edge
//! encoder's output, int8 + scale, as a disaggregated encoder ships it), `offload-all` (compact tensor for
//! every request), and `bandit`, PerLLM's constraint-aware UCB over {local, offload}, one
//! arm pair per context (local confidence × link estimate; [`bandit`]).

mod bandit;

use super::estimator::LinkEstimator;
use bandit::Bandit;
pub use bandit::{BanditConfig, BanditContext};
use msao::message::Decision;
use serde::{Deserialize, Serialize};

/// Which policy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// Ours: MAS + cost model + the local answer's (learned) confidence.
    #[default]
    Msao,
    /// Always the local head.
    EdgeOnly,
    /// The frame (JPEG) and question text go to the cloud, which runs everything.
    CloudOnly,
    /// Every patch of the edge features (int8 + scale) goes to the cloud (disaggregated
    /// encoder/head, no MAS selection).
    CloudFeatures,
    /// The compact tensor goes to the cloud for every request.
    OffloadAll,
    /// Constraint-aware UCB bandit over {local, offload}, per context (local confidence,
    /// link estimate).
    Bandit,
}

impl PolicyKind {
    /// Every policy, in the bench's row order.
    pub const ALL: [Self; 6] = [
        Self::EdgeOnly,
        Self::CloudOnly,
        Self::CloudFeatures,
        Self::OffloadAll,
        Self::Bandit,
        Self::Msao,
    ];

    /// Config / CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Msao => "msao",
            Self::EdgeOnly => "edge-only",
            Self::CloudOnly => "cloud-only",
            Self::CloudFeatures => "cloud-features",
            Self::OffloadAll => "offload-all",
            Self::Bandit => "bandit",
        }
    }

    /// Parses a config / CLI name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// True when the policy runs the edge encoders on the device.
    pub fn runs_edge(self) -> bool {
        self != Self::CloudOnly
    }
}

/// What the policy sees of one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView {
    /// Calibrated local confidence.
    pub confidence: f32,
    /// Patches MAS kept (0: nothing worth sending).
    pub kept: usize,
    /// Bytes the offload would upload.
    pub upload_bytes: usize,
    /// Measured local head time, seconds (the fused edge graph on this model).
    pub head_seconds: f64,
}

/// A policy with its state (the bandit learns).
#[derive(Debug, Clone)]
pub struct Policy {
    kind: PolicyKind,
    threshold: f32,
    deadline_s: f64,
    speculate_head_fraction: f64,
    bandit: Bandit,
}

/// Bytes a reply carries besides the upload (OIP JSON header + logits), for predictions.
pub const REPLY_BYTES: usize = 400;

impl Policy {
    /// A policy of `kind`: `threshold` is the confidence at which a local answer
    /// is committed, `deadline_s` how long a cloud answer is awaited.
    pub fn new(
        kind: PolicyKind,
        threshold: f32,
        deadline_s: f64,
        speculate_head_fraction: f64,
        bandit: BanditConfig,
    ) -> Self {
        Self {
            kind,
            threshold,
            deadline_s,
            speculate_head_fraction,
            bandit: Bandit::new(bandit, deadline_s),
        }
    }

    /// The policy's kind.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The commit threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Decides one request.
    pub fn decide(&self, request: &RequestView, link: &LinkEstimator) -> Decision {
        match self.kind {
            PolicyKind::EdgeOnly => Decision::Local,
            PolicyKind::CloudOnly | PolicyKind::CloudFeatures | PolicyKind::OffloadAll => {
                Decision::Offload
            }
            PolicyKind::Bandit => self.bandit.decide(request, link),
            PolicyKind::Msao => {
                if request.kept == 0 {
                    return Decision::Local;
                }
                let offload = link.predict(request.upload_bytes + REPLY_BYTES);
                if offload > self.deadline_s {
                    return Decision::Local;
                }
                if request.head_seconds >= self.speculate_head_fraction * offload {
                    Decision::Speculate
                } else if request.confidence >= self.threshold {
                    Decision::Local
                } else {
                    Decision::Offload
                }
            }
        }
    }

    /// The bandit's context of a request (any policy can compute it; only the bandit
    /// learns from it). Hand it back with the outcome through [`Self::feedback_in`].
    pub fn context(&self, request: &RequestView, link: &LinkEstimator) -> BanditContext {
        self.bandit.context(request, link)
    }

    /// Feeds back a committed request whose context is unknown: the bandit learns only its
    /// pooled, context-free belief from it (others ignore it). `confidence`: of the
    /// committed answer.
    pub fn feedback(&mut self, decision: Decision, confidence: f32, latency_s: f64) {
        if self.kind == PolicyKind::Bandit {
            self.bandit.learn(None, decision, confidence, latency_s);
        }
    }

    /// Feeds back a committed request with the context it was decided in
    /// ([`Self::context`] of the same request and link estimate); others ignore it.
    /// `confidence`: of the committed answer (the cloud's softmax for a cloud answer, the
    /// calibrated local confidence for a local answer or a fallback).
    pub fn feedback_in(
        &mut self,
        context: BanditContext,
        decision: Decision,
        confidence: f32,
        latency_s: f64,
    ) {
        if self.kind == PolicyKind::Bandit {
            self.bandit
                .learn(Some(context), decision, confidence, latency_s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::estimator::LinkPrior;

    fn view(confidence: f32, kept: usize) -> RequestView {
        RequestView {
            confidence,
            kept,
            upload_bytes: 300,
            head_seconds: 0.0002,
        }
    }

    fn msao(fraction: f64) -> Policy {
        Policy::new(
            PolicyKind::Msao,
            0.9,
            0.25,
            fraction,
            BanditConfig::default(),
        )
    }

    #[test]
    fn msao_rules_in_order() {
        let link = LinkEstimator::new(&LinkPrior::default());
        let p = msao(0.1);
        assert_eq!(p.decide(&view(0.95, 9), &link), Decision::Local);
        assert_eq!(p.decide(&view(0.5, 9), &link), Decision::Offload);
        assert_eq!(
            p.decide(&view(0.5, 0), &link),
            Decision::Local,
            "nothing kept"
        );
        // A slow head relative to the link → speculate, whatever the confidence (the head
        // has not answered when the upload starts).
        assert_eq!(msao(0.0).decide(&view(0.5, 9), &link), Decision::Speculate);
        assert_eq!(msao(0.0).decide(&view(0.99, 9), &link), Decision::Speculate);
        assert_eq!(msao(0.0).decide(&view(0.99, 0), &link), Decision::Local);
        // A link slower than the deadline → local.
        let slow = LinkEstimator::new(&LinkPrior {
            rtt_ms: 400.0,
            ..LinkPrior::default()
        });
        assert_eq!(p.decide(&view(0.5, 9), &slow), Decision::Local);
    }

    #[test]
    fn baselines_are_fixed() {
        let link = LinkEstimator::new(&LinkPrior::default());
        let b = BanditConfig::default();
        let d = |k| Policy::new(k, 0.9, 0.25, 0.1, b).decide(&view(0.99, 9), &link);
        assert_eq!(d(PolicyKind::EdgeOnly), Decision::Local);
        assert_eq!(d(PolicyKind::CloudOnly), Decision::Offload);
        assert_eq!(d(PolicyKind::CloudFeatures), Decision::Offload);
        assert_eq!(d(PolicyKind::OffloadAll), Decision::Offload);
    }

    #[test]
    fn names_round_trip() {
        for k in PolicyKind::ALL {
            assert_eq!(PolicyKind::parse(k.name()), Some(k));
        }
        assert_eq!(PolicyKind::parse("nope"), None);
    }
}
