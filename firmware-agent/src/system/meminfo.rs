//! `/proc/meminfo`: total memory and memory in use (`MemTotal − MemAvailable`).

use super::{ReadError, SysRoot, root::parse_error};

const MEMINFO: &str = "proc/meminfo";

/// One reading; each half fails on its own.
#[derive(Debug)]
pub struct MemReading {
    /// `MemTotal`.
    pub total_kib: Result<u32, ReadError>,
    /// `MemTotal − MemAvailable` (`MemAvailable` exists since Linux 3.14).
    pub used_kib: Result<u32, ReadError>,
}

/// Reads `/proc/meminfo` once for both values.
pub fn read_meminfo(root: &SysRoot) -> MemReading {
    let path = root.path(MEMINFO);
    let text = match root.read_text(MEMINFO) {
        Ok(t) => t,
        Err(e) => {
            return MemReading {
                total_kib: Err(e.clone()),
                used_kib: Err(e),
            };
        }
    };
    let total = value_kib(&text, "MemTotal", &path);
    let used = match (&total, value_kib(&text, "MemAvailable", &path)) {
        (Ok(t), Ok(a)) => Ok(t.saturating_sub(a)),
        (Err(e), _) => Err(e.clone()),
        (_, Err(e)) => Err(e),
    };
    MemReading {
        total_kib: total,
        used_kib: used,
    }
}

fn value_kib(text: &str, key: &'static str, path: &std::path::Path) -> Result<u32, ReadError> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .ok_or_else(|| ReadError::MissingKey {
            path: path.to_path_buf(),
            key,
        })?;
    let number = line.trim().trim_end_matches("kB").trim();
    let kib: u64 = number
        .parse()
        .map_err(|_| parse_error(path.to_path_buf(), line.trim(), "kB"))?;
    u32::try_from(kib).map_err(|_| ReadError::OutOfRange {
        path: path.to_path_buf(),
        value: i64::try_from(kib).unwrap_or(i64::MAX),
        what: "KiB (u32)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_exactly() {
        let p = std::path::Path::new("/proc/meminfo");
        let text = "MemTotal:       16 kB\nMemAvailableX:  1 kB\nMemAvailable:    4 kB\n";
        assert_eq!(value_kib(text, "MemTotal", p).ok(), Some(16));
        assert_eq!(value_kib(text, "MemAvailable", p).ok(), Some(4));
        assert!(matches!(
            value_kib(text, "SwapTotal", p),
            Err(ReadError::MissingKey { .. })
        ));
        assert!(matches!(
            value_kib("MemTotal: 99999999999 kB", "MemTotal", p),
            Err(ReadError::OutOfRange { .. })
        ));
    }
}
