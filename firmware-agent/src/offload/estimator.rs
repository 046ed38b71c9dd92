//! [`LinkEstimator`]: an online estimate of what one cloud call costs, fed by the agent's
//! real transfers.
//!
//! Model: `elapsed = a + b · bytes`, where `a` is the fixed cost of a call (round trip plus
//! cloud compute) and `b` the seconds per byte on the link (1 / bandwidth). It is fitted by
//! recursive least squares with exponential forgetting, starting from the configured prior,
//! so it tracks a link that changes. With calls of one size only `a` is identifiable; `b`
//! then stays near its prior, which is why the prior bandwidth is a config value.

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
}

impl Default for LinkPrior {
    fn default() -> Self {
        Self {
            bandwidth_mbps: 100.0,
            rtt_ms: 20.0,
            cloud_ms: 2.0,
            forgetting: 0.95,
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
        }
    }

    /// Feeds one completed call: bytes moved (up + down) and wall time, in seconds.
    pub fn observe(&mut self, bytes: usize, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
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
        self.theta[0] + self.theta[1] * bytes as f64
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
