//! Agent time: microseconds since start on the monotonic clock, and the per-start boot id.
//!
//! Frame timestamps are relative to the start so wall-clock jumps (NTP, an RTC-less board
//! booting in 1970) never reorder a stream; the boot id tells two runs apart.

use std::time::{Duration, Instant};

/// The agent's start time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// Starts the clock now.
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// Microseconds since start at `t` (0 for instants before the start).
    pub fn us_at(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.start);
        // u64 µs lasts 584 000 years; saturate rather than wrap anyway.
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
    }

    /// Microseconds since start, now.
    pub fn now_us(&self) -> u64 {
        self.us_at(Instant::now())
    }

    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Four random bytes identifying this run. If the OS has no randomness to give (very early
/// boot), falls back to bits of the time and pid: distinct runs still differ in practice.
pub fn random_boot_id() -> [u8; 4] {
    let mut id = [0u8; 4];
    match getrandom::fill(&mut id) {
        Ok(()) => id,
        Err(e) => {
            log::warn!("no OS randomness for the boot id ({e}); deriving it from time and pid");
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            (nanos ^ std::process::id().rotate_left(16)).to_be_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_map_to_microseconds_since_start() {
        let c = Clock::start();
        let later = c.start + Duration::from_millis(1500);
        assert_eq!(c.us_at(later), 1_500_000);
        assert_eq!(c.us_at(c.start), 0);
    }
}
