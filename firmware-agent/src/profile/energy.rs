//! Power readings during a timed run: a second thread reads the system's total power every
//! `interval` while the runs go on, so the run itself is not interrupted by sysfs reads.
//! Integration (trapezoid rule) is [`crate::system::EnergyMeter`]'s.

use crate::system::{EnergyMeter, SystemReader};
use std::{
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

/// Total-power readings (mW, `None` when a reading had no total) at offsets from `origin`.
pub type PowerReadings = Vec<(Duration, Option<u32>)>;

/// Runs `work` on this thread while another thread reads `reader.sample().total_power_mw`
/// every `interval`, measured from `origin`. Stops reading as soon as `work` returns.
pub fn sample_power_during<R>(
    reader: &mut dyn SystemReader,
    interval: Duration,
    origin: Instant,
    work: impl FnOnce() -> R,
) -> (R, PowerReadings) {
    thread::scope(|s| {
        let (stop, stopped) = mpsc::channel::<()>();
        let sampler = s.spawn(move || {
            let mut readings = PowerReadings::new();
            // Dropping `stop` ends the wait at once (Disconnected), not after an interval.
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                readings.push((origin.elapsed(), reader.sample().total_power_mw));
            }
            readings
        });
        let result = work();
        drop(stop);
        // A panicking reader loses its readings, not the run: energy is then unknown.
        let readings = sampler
            .join()
            .unwrap_or_else(|_| vec![(Duration::ZERO, None)]);
        (result, readings)
    })
}

/// Energy of a run from its start reading, the readings during it and its end reading, µJ;
/// `None` when any reading lacked a total. Readings stamped after the end (the sampler can
/// read once more while the run finishes) are left out.
pub fn run_energy_uj(
    start_mw: Option<u32>,
    during: &[(Duration, Option<u32>)],
    end: (Duration, Option<u32>),
) -> Option<u64> {
    let mut meter = EnergyMeter::new();
    meter.add(Duration::ZERO, start_mw);
    for &(at, mw) in during.iter().filter(|(at, _)| *at <= end.0) {
        meter.add(at, mw);
    }
    meter.add(end.0, end.1);
    meter.energy_uj()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_power_over_readings() {
        let during = [
            (Duration::from_millis(50), Some(5000)),
            (Duration::from_millis(100), Some(5000)),
        ];
        // 5 W for 0.2 s = 1 J.
        assert_eq!(
            run_energy_uj(
                Some(5000),
                &during,
                (Duration::from_millis(200), Some(5000))
            ),
            Some(1_000_000)
        );
        // Only the two ends (a run shorter than one interval) still integrates.
        assert_eq!(
            run_energy_uj(Some(4000), &[], (Duration::from_millis(10), Some(6000))),
            Some(50_000)
        );
        assert_eq!(
            run_energy_uj(None, &[], (Duration::from_millis(10), Some(6000))),
            None
        );
        // A reading after the end does not extend the run.
        let late = [(Duration::from_millis(300), Some(9000))];
        assert_eq!(
            run_energy_uj(Some(5000), &late, (Duration::from_millis(200), Some(5000))),
            Some(1_000_000)
        );
    }
}
