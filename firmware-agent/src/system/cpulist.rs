//! Kernel CPU lists (`/sys/devices/system/cpu/present`: `0-3,5,7-8`).

/// Largest CPU count accepted; guards against a corrupt range allocating gigabytes.
pub const MAX_CPUS: u32 = 8192;

/// A CPU list that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuListError {
    /// A part is not `N` or `A-B` with A ≤ B.
    #[error("bad CPU list part `{part}`")]
    Syntax {
        /// The part.
        part: String,
    },
    /// A CPU number at or above [`MAX_CPUS`].
    #[error("CPU {cpu} is beyond the supported {max}")]
    TooLarge {
        /// The number.
        cpu: u32,
        /// [`MAX_CPUS`].
        max: u32,
    },
}

/// CPU numbers in a list, ascending and without duplicates. An empty string is no CPUs.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, CpuListError> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let bad = || CpuListError::Syntax { part: part.into() };
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let n: u32 = part.trim().parse().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a > b {
            return Err(bad());
        }
        if b >= MAX_CPUS {
            return Err(CpuListError::TooLarge {
                cpu: b,
                max: MAX_CPUS,
            });
        }
        cpus.extend(a..=b);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_singles() {
        assert_eq!(parse_cpu_list("0-3,5,7-8\n"), Ok(vec![0, 1, 2, 3, 5, 7, 8]));
        assert_eq!(parse_cpu_list("0"), Ok(vec![0]));
        assert_eq!(parse_cpu_list(""), Ok(vec![]));
        assert_eq!(
            parse_cpu_list("3-1"),
            Err(CpuListError::Syntax { part: "3-1".into() })
        );
        assert_eq!(
            parse_cpu_list("0-99999"),
            Err(CpuListError::TooLarge {
                cpu: 99_999,
                max: MAX_CPUS
            })
        );
        assert!(parse_cpu_list("a-b").is_err());
    }
}
