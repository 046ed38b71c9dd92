//! Latency statistics over the timed runs (warm-up excluded).
//!
//! Percentiles use the **nearest-rank** method on the sorted latencies: the p-th
//! percentile of n values is the value at rank ⌈p/100 · n⌉ (1-based), so it is always one
//! of the measured latencies, p50 ≤ p90 ≤ p95 ≤ p99 ≤ max holds by construction, and p100
//! is the maximum. The mean is the arithmetic mean, truncated to whole nanoseconds.

use msao::message::LatencyStats;
use std::time::Duration;

/// Latency distribution in nanoseconds (the wire form, [`LatencyStats`], is in µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyNs {
    /// Mean.
    pub mean: u64,
    /// Median (nearest rank).
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Fastest run.
    pub min: u64,
    /// Slowest run.
    pub max: u64,
}

impl LatencyNs {
    /// Statistics of `latencies`; all zero when there are none.
    pub fn from_durations(latencies: &[Duration]) -> Self {
        let mut ns: Vec<u64> = latencies
            .iter()
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .collect();
        ns.sort_unstable();
        let (Some(&min), Some(&max)) = (ns.first(), ns.last()) else {
            return Self::default();
        };
        let sum: u128 = ns.iter().map(|&v| u128::from(v)).sum();
        let mean = u64::try_from(sum / ns.len() as u128).unwrap_or(u64::MAX);
        Self {
            mean,
            p50: nearest_rank(&ns, 50),
            p90: nearest_rank(&ns, 90),
            p95: nearest_rank(&ns, 95),
            p99: nearest_rank(&ns, 99),
            min,
            max,
        }
    }

    /// The wire form, rounded to the nearest microsecond (saturating at `u32::MAX` µs).
    pub fn to_wire(self) -> LatencyStats {
        let us = |ns: u64| u32::try_from(ns.saturating_add(500) / 1000).unwrap_or(u32::MAX);
        LatencyStats {
            mean_us: us(self.mean),
            p50_us: us(self.p50),
            p90_us: us(self.p90),
            p95_us: us(self.p95),
            p99_us: us(self.p99),
            min_us: us(self.min),
            max_us: us(self.max),
        }
    }
}

/// The `pct`-th percentile (1..=100) of ascending `sorted` by nearest rank; 0 when empty.
pub fn nearest_rank(sorted: &[u64], pct: u32) -> u64 {
    let n = sorted.len();
    if n == 0 {
        return 0;
    }
    let rank = (u128::from(pct.min(100)) * n as u128).div_ceil(100);
    let index = usize::try_from(rank).unwrap_or(n).clamp(1, n) - 1;
    sorted[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 50), 50);
        assert_eq!(nearest_rank(&v, 90), 90);
        assert_eq!(nearest_rank(&v, 99), 99);
        assert_eq!(nearest_rank(&v, 100), 100);
        assert_eq!(nearest_rank(&v, 1), 1);
        assert_eq!(nearest_rank(&[], 50), 0);
        // Small samples: p99 of 10 values is the maximum, p50 the 5th.
        let w: Vec<u64> = (1..=10).collect();
        assert_eq!((nearest_rank(&w, 50), nearest_rank(&w, 99)), (5, 10));
    }

    #[test]
    fn stats_of_unsorted_durations() {
        let d: Vec<Duration> = [300u64, 100, 200, 400]
            .iter()
            .map(|&us| Duration::from_micros(us))
            .collect();
        let s = LatencyNs::from_durations(&d);
        assert_eq!((s.min, s.max, s.mean), (100_000, 400_000, 250_000));
        assert_eq!((s.p50, s.p90, s.p99), (200_000, 400_000, 400_000));
        let w = s.to_wire();
        assert_eq!((w.mean_us, w.p50_us, w.max_us), (250, 200, 400));
        assert_eq!(LatencyNs::from_durations(&[]), LatencyNs::default());
    }
}
