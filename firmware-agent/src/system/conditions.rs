//! Conditions read off samples for profiling: the hottest temperature, the total power, and
//! the energy used over a run (power integrated over time).

use msao::message::{HardwareSummary, Sample};
use std::time::Duration;

/// Zones left out of "hottest": the PMIC die zone of the Jetson Nano and TX1 (`PMIC-Die`,
/// tegrastats `PMIC@100C`) reads a fixed 100 °C placeholder, not a measurement.
pub const NOT_MEASURED_PREFIXES: [&str; 1] = ["PMIC"];

/// The hottest sensor's name (from the reader's `hardware`) and temperature, centi-°C;
/// `None` when no sensor read.
pub fn hottest_zone<'a>(sample: &Sample, hardware: &'a HardwareSummary) -> Option<(&'a str, i16)> {
    sample
        .temps_cdeg
        .iter()
        .zip(hardware.thermal_zones.iter())
        .filter(|(_, name)| !NOT_MEASURED_PREFIXES.iter().any(|p| name.starts_with(p)))
        .filter_map(|(t, name)| t.map(|t| (name.as_str(), t)))
        .max_by_key(|(_, t)| *t)
}

/// The hottest temperature of the sample, centi-°C (see [`hottest_zone`]).
pub fn hottest_cdeg(sample: &Sample, hardware: &HardwareSummary) -> Option<i16> {
    hottest_zone(sample, hardware).map(|(_, t)| t)
}

/// Total input power per the board's rule (spec §4.3), mW; `None` without rails.
pub fn total_power_mw(sample: &Sample) -> Option<u32> {
    sample.total_power_mw
}

/// Energy of a constant `power_mw` over `elapsed`, µJ (mW × ms).
pub fn energy_uj(power_mw: u32, elapsed: Duration) -> u64 {
    let uj = u128::from(power_mw) * elapsed.as_micros() / 1000;
    u64::try_from(uj).unwrap_or(u64::MAX)
}

/// Integrates total power over a run with the trapezoid rule, from samples taken at known
/// offsets. One sample without a total makes the whole run's energy `None`: a partial
/// integral would understate it.
#[derive(Debug, Default, Clone)]
pub struct EnergyMeter {
    last: Option<(Duration, u32)>,
    readings: u32,
    uj: u128,
    missing: bool,
}

impl EnergyMeter {
    /// Nothing measured yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A total-power reading at `at` (time since any fixed start, non-decreasing).
    pub fn add(&mut self, at: Duration, total_mw: Option<u32>) {
        let Some(mw) = total_mw else {
            self.missing = true;
            return;
        };
        if let Some((then, prev)) = self.last {
            let us = at.saturating_sub(then).as_micros();
            // Mean of the two ends (mW) × µs / 1000 = µJ.
            self.uj += (u128::from(prev) + u128::from(mw)) * us / 2000;
        }
        self.last = Some((at, mw));
        self.readings = self.readings.saturating_add(1);
    }

    /// Energy between the first and the last reading, µJ; `None` with fewer than two
    /// readings or when one lacked a total.
    pub fn energy_uj(&self) -> Option<u64> {
        if self.missing || self.readings < 2 {
            return None;
        }
        u64::try_from(self.uj).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_and_refuses_partial_runs() {
        assert_eq!(energy_uj(5000, Duration::from_millis(200)), 1_000_000);
        let mut m = EnergyMeter::new();
        assert_eq!(m.energy_uj(), None);
        m.add(Duration::ZERO, Some(4000));
        assert_eq!(m.energy_uj(), None, "one reading spans no time");
        m.add(Duration::from_millis(100), Some(6000));
        m.add(Duration::from_millis(300), Some(6000));
        // 0.1 s at 5 W mean + 0.2 s at 6 W = 0.5 J + 1.2 J
        assert_eq!(m.energy_uj(), Some(1_700_000));
        m.add(Duration::from_millis(400), None);
        assert_eq!(m.energy_uj(), None);
    }
}
