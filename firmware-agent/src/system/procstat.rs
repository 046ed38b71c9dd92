//! `/proc/stat` CPU time counters and the busy share between two readings.
//!
//! Each `cpu`/`cpuN` line holds cumulative ticks: user nice system idle iowait irq softirq
//! steal guest guest_nice (proc(5)). `guest*` are already inside `user`/`nice`, so they
//! are left out of the total; idle time is `idle + iowait`.

use std::collections::BTreeMap;

/// Cumulative ticks of one CPU line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Non-idle ticks.
    pub busy: u64,
    /// All ticks (busy + idle + iowait).
    pub total: u64,
}

/// One reading of `/proc/stat`. Offline CPUs have no line, so no entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatSnapshot {
    /// The aggregate `cpu` line.
    pub all: Option<CpuTimes>,
    /// `cpuN` lines by N.
    pub cores: BTreeMap<u32, CpuTimes>,
}

/// Parses the CPU lines of `/proc/stat`; other lines and malformed CPU lines are skipped.
pub fn parse_stat(text: &str) -> StatSnapshot {
    let mut snap = StatSnapshot::default();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let Some(label) = words.next() else { continue };
        let Some(suffix) = label.strip_prefix("cpu") else {
            continue;
        };
        let Some(times) = parse_times(words) else {
            continue;
        };
        if suffix.is_empty() {
            snap.all = Some(times);
        } else if let Ok(n) = suffix.parse() {
            snap.cores.insert(n, times);
        }
    }
    snap
}

fn parse_times<'a>(words: impl Iterator<Item = &'a str>) -> Option<CpuTimes> {
    // user nice system idle iowait irq softirq steal; guest and guest_nice are skipped.
    let mut v = [0u64; 8];
    let mut n = 0;
    for (slot, w) in v.iter_mut().zip(words) {
        *slot = w.parse().ok()?;
        n += 1;
    }
    // Kernels before 2.6 give four fields; fewer means the line is not a CPU line.
    if n < 4 {
        return None;
    }
    let total = v.iter().fold(0u64, |a, x| a.saturating_add(*x));
    let idle = v[3].saturating_add(v[4]);
    Some(CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    })
}

/// Busy share between two readings, per-mille, rounded to nearest. `None` when no tick
/// elapsed (nothing to measure) or the counters went backwards (CPU hot-plug resets them).
pub fn load_pm(prev: CpuTimes, now: CpuTimes) -> Option<u16> {
    let total = now.total.checked_sub(prev.total).filter(|t| *t > 0)?;
    // iowait can step backwards on some kernels, so busy may too: clamp at 0.
    let busy = now.busy.saturating_sub(prev.busy).min(total);
    let pm = (u128::from(busy) * 1000 + u128::from(total) / 2) / u128::from(total);
    u16::try_from(pm).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aggregate_and_cores() {
        let s = parse_stat(
            "cpu  10 0 10 70 10 0 0 0 5 0\ncpu0 1 2 3 4\ncpu7 1 1 1 1 1 1 1 1 1 1\nintr 1 2\ncpux 1 2 3 4\n",
        );
        assert_eq!(
            s.all,
            Some(CpuTimes {
                busy: 20,
                total: 100
            })
        );
        assert_eq!(s.cores.get(&0), Some(&CpuTimes { busy: 6, total: 10 }));
        assert_eq!(s.cores.get(&7), Some(&CpuTimes { busy: 6, total: 8 }));
        assert_eq!(s.cores.len(), 2);
    }

    #[test]
    fn load_rounds_and_refuses_empty_or_backwards_intervals() {
        let a = CpuTimes {
            busy: 100,
            total: 1000,
        };
        assert_eq!(
            load_pm(
                a,
                CpuTimes {
                    busy: 125,
                    total: 1100
                }
            ),
            Some(250)
        );
        assert_eq!(
            load_pm(
                a,
                CpuTimes {
                    busy: 101,
                    total: 1003
                }
            ),
            Some(333)
        );
        assert_eq!(
            load_pm(
                a,
                CpuTimes {
                    busy: 102,
                    total: 1003
                }
            ),
            Some(667)
        );
        assert_eq!(load_pm(a, a), None);
        assert_eq!(
            load_pm(
                a,
                CpuTimes {
                    busy: 50,
                    total: 500
                }
            ),
            None
        );
        // busy fell (iowait quirk) while total rose: idle, not negative
        assert_eq!(
            load_pm(
                a,
                CpuTimes {
                    busy: 90,
                    total: 1010
                }
            ),
            Some(0)
        );
    }
}
