//! [`LinkEstimator`]: an online estimate of what one cloud call costs, fed by the agent's
//! real transfers.
//!
//! Model: `elapsed = a + b · bytes`, where `a` is the fixed cost of a call (round trip plus
//! cloud compute) and `b` the seconds per byte on the link (1 / bandwidth). It is fitted by
//! recursive least squares with exponential forgetting, starting from the configured prior,
//! so it tracks a link that changes. With calls of one size only `a` is identifiable; `b`
//! then stays near its prior, which is why the prior bandwidth is a config value.
//!
//! A call that timed out never reports its duration, only that it took longer than the
//! time waited: [`LinkEstimator::observe_timeout`] feeds the fit that lower bound times
//! `timeout_penalty`, and adds a penalty that lifts every prediction to at least that
//! bound at once (a least-squares step alone would need a dozen timeouts to cross the
//! deadline). The penalty shrinks by `timeout_decay` per request ([`LinkEstimator::tick`])
//! so the cloud is tried again after a while, and a call that completes clears it.

use serde::{Deserialize, Serialize};

/// Prior belief about the link, and how fast it is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkPrior {
    /// Uplink bandwidth, Mbit/s.
    pub bandwidth_mbps: f64,
    /// Round-trip time, ms.
    pub rtt_ms: f64,
    /// Cloud compute per call, ms.
    pub cloud_ms: f64,
    /// Forgetting factor of the fit, in (0, 1]: 1 never forgets.
    pub forgetting: f64,
    /// A timed-out call is taken to have lasted the time waited times this, ≥ 1
    /// (it lasted longer than that, by an unknown amount).
    pub timeout_penalty: f64,
    /// Per request, the timeout penalty is multiplied by this, in [0, 1): how soon a
    /// cloud that timed out is tried again.
    pub timeout_decay: f64,
}

/// Default [`LinkPrior::timeout_penalty`]: a timed-out call is taken as a quarter slower
/// than the deadline, so the next prediction is clearly over it (a prediction equal to the
/// deadline would still offload).
pub const TIMEOUT_PENALTY: f64 = 1.25;
/// Default [`LinkPrior::timeout_decay`]: after one timeout at the default 250 ms deadline,
/// about a dozen requests (0.98¹² ≈ 0.78 of the 0.29 s penalty left) are answered locally
/// before the cloud is tried again; each further timeout renews the penalty.
pub const TIMEOUT_DECAY: f64 = 0.98;

impl Default for LinkPrior {
    fn default() -> Self {
        Self {
            bandwidth_mbps: 100.0,
            rtt_ms: 20.0,
            cloud_ms: 2.0,
            forgetting: 0.95,
            timeout_penalty: TIMEOUT_PENALTY,
            timeout_decay: TIMEOUT_DECAY,
        }
    }
}

impl LinkPrior {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.bandwidth_mbps.is_finite() && self.bandwidth_mbps > 0.0) {
            return Err(format!(
                "link.bandwidth_mbps must be > 0, got {}",
                self.bandwidth_mbps
            ));
        }
        for (name, v) in [("rtt_ms", self.rtt_ms), ("cloud_ms", self.cloud_ms)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("link.{name} must be ≥ 0, got {v}"));
            }
        }
        if !(self.forgetting > 0.0 && self.forgetting <= 1.0) {
            return Err(format!(
                "link.forgetting must be in (0, 1], got {}",
                self.forgetting
            ));
        }
        if !(self.timeout_penalty.is_finite() && (1.0..=100.0).contains(&self.timeout_penalty)) {
            return Err(format!(
                "link.timeout_penalty must be in [1, 100], got {}",
                self.timeout_penalty
            ));
        }
        if !(0.0..1.0).contains(&self.timeout_decay) {
            return Err(format!(
                "link.timeout_decay must be in [0, 1), got {}",
                self.timeout_decay
            ));
        }
        Ok(())
    }
}

/// Online estimate of a cloud call's duration from its size.
#[derive(Debug, Clone)]
pub struct LinkEstimator {
    /// `[a, b]`: seconds, seconds per byte.
    theta: [f64; 2],
    /// Covariance of the estimate.
    p: [[f64; 2]; 2],
    lambda: f64,
    observations: u64,
    /// Seconds added to every prediction after a timeout (decays per request).
    penalty: f64,
    timeout_penalty: f64,
    timeout_decay: f64,
    timeouts: u64,
}

impl LinkEstimator {
    /// Starts from a prior.
    pub fn new(prior: &LinkPrior) -> Self {
        let a = (prior.rtt_ms + prior.cloud_ms) / 1e3;
        let b = 8.0 / (prior.bandwidth_mbps * 1e6);
        Self {
            theta: [a, b],
            // Prior variances: (10 ms)² for the fixed cost, (b)² for the per-byte cost.
            p: [[1e-4, 0.0], [0.0, b * b]],
            lambda: prior.forgetting,
            observations: 0,
            penalty: 0.0,
            timeout_penalty: prior.timeout_penalty,
            timeout_decay: prior.timeout_decay,
            timeouts: 0,
        }
    }

    /// Feeds one completed call: bytes moved (up + down) and wall time, in seconds.
    /// A completed call clears any timeout penalty.
    pub fn observe(&mut self, bytes: usize, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        self.penalty = 0.0;
        self.fit(bytes, seconds);
    }

    /// Feeds a call of `bytes` that timed out after `waited` seconds: the fit gets
    /// `waited × timeout_penalty`, and every prediction is lifted to at least that at once.
    pub fn observe_timeout(&mut self, bytes: usize, waited: f64) {
        if !waited.is_finite() || waited < 0.0 {
            return;
        }
        let bound = waited * self.timeout_penalty;
        self.fit(bytes, bound);
        self.penalty = self.penalty.max(bound - self.fitted(bytes));
        self.timeouts += 1;
    }

    /// One request went by: the timeout penalty decays.
    pub fn tick(&mut self) {
        self.penalty *= self.timeout_decay;
    }

    /// Timed-out calls observed.
    pub fn timeouts(&self) -> u64 {
        self.timeouts
    }

    fn fitted(&self, bytes: usize) -> f64 {
        self.theta[0] + self.theta[1] * bytes as f64
    }

    fn fit(&mut self, bytes: usize, seconds: f64) {
        let x = [1.0, bytes as f64];
        let px = [
            self.p[0][0] * x[0] + self.p[0][1] * x[1],
            self.p[1][0] * x[0] + self.p[1][1] * x[1],
        ];
        let denom = self.lambda + x[0] * px[0] + x[1] * px[1];
        if !denom.is_finite() || denom <= 0.0 {
            return;
        }
        let k = [px[0] / denom, px[1] / denom];
        let err = seconds - (self.theta[0] + self.theta[1] * x[1]);
        self.theta[0] = (self.theta[0] + k[0] * err).max(0.0);
        self.theta[1] = (self.theta[1] + k[1] * err).max(0.0);
        #[allow(clippy::needless_range_loop)] // a 2×2 update reads clearest with indices
        for i in 0..2 {
            for j in 0..2 {
                self.p[i][j] = (self.p[i][j] - k[i] * px[j]) / self.lambda;
            }
        }
        self.observations += 1;
    }

    /// Predicted wall time of a call moving `bytes`, in seconds.
    pub fn predict(&self, bytes: usize) -> f64 {
        self.fitted(bytes) + self.penalty
    }

    /// Estimated fixed cost per call (round trip + cloud compute), seconds.
    pub fn fixed_seconds(&self) -> f64 {
        self.theta[0]
    }

    /// Estimated bandwidth, Mbit/s (infinite when the per-byte cost fits to zero).
    pub fn bandwidth_mbps(&self) -> f64 {
        if self.theta[1] > 0.0 {
            8.0 / self.theta[1] / 1e6
        } else {
            f64::INFINITY
        }
    }

    /// Calls observed.
    pub fn observations(&self) -> u64 {
        self.observations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_link_different_from_its_prior() {
        // True link: 25 ms fixed, 200 Mbit/s; prior says 20 ms + 2 ms and 100 Mbit/s.
        let mut e = LinkEstimator::new(&LinkPrior::default());
        let truth = |bytes: usize| 0.025 + bytes as f64 * 8.0 / 200e6;
        for i in 0..400 {
            let bytes = [300, 2_048, 921_600, 50_000][i % 4];
            e.observe(bytes, truth(bytes));
        }
        assert!(
            (e.fixed_seconds() - 0.025).abs() < 1e-3,
            "{}",
            e.fixed_seconds()
        );
        assert!(
            (e.bandwidth_mbps() - 200.0).abs() < 10.0,
            "{}",
            e.bandwidth_mbps()
        );
        assert!((e.predict(921_600) - truth(921_600)).abs() < 2e-3);
    }

    #[test]
    fn tracks_a_change_and_ignores_garbage() {
        let mut e = LinkEstimator::new(&LinkPrior::default());
        for _ in 0..100 {
            e.observe(300, 0.030);
        }
        for _ in 0..100 {
            e.observe(300, 0.060);
        }
        assert!((e.predict(300) - 0.060).abs() < 2e-3, "{}", e.predict(300));
        let before = e.predict(300);
        e.observe(300, f64::NAN);
        e.observe(300, -1.0);
        assert_eq!(e.predict(300), before);
        assert_eq!(e.observations(), 200);
    }

    #[test]
    fn a_timeout_lifts_the_prediction_over_the_deadline_until_it_decays() {
        let mut e = LinkEstimator::new(&LinkPrior::default());
        let deadline = 0.25;
        assert!(e.predict(2_000) < deadline);
        e.observe_timeout(2_000, deadline);
        assert_eq!(e.timeouts(), 1);
        assert!(e.predict(2_000) >= deadline * TIMEOUT_PENALTY - 1e-9);
        let mut local = 0;
        while e.predict(2_000) > deadline {
            e.tick();
            local += 1;
            assert!(local < 1_000, "the penalty never decays");
        }
        assert!((5..=30).contains(&local), "{local} requests local");
        // A completed call clears the penalty at once.
        e.observe_timeout(2_000, deadline);
        e.observe(2_000, 0.03);
        assert!(e.predict(2_000) < deadline, "{}", e.predict(2_000));
    }

    #[test]
    fn prior_is_validated() {
        assert!(LinkPrior::default().validate().is_ok());
        let bad = LinkPrior {
            bandwidth_mbps: 0.0,
            ..LinkPrior::default()
        };
        assert!(bad.validate().unwrap_err().contains("bandwidth_mbps"));
        let bad = LinkPrior {
            forgetting: 1.5,
            ..LinkPrior::default()
        };
        assert!(bad.validate().unwrap_err().contains("forgetting"));
    }
}
