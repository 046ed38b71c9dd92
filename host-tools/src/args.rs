//! Command-line value types shared by several subcommands.
use std::{fmt, str::FromStr, time::Duration};

/// How fast `replay` re-emits frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// The recorded timing (1×).
    Recorded,
    /// No waits at all.
    Max,
    /// The recorded timing sped up N× (`4`, `4x`, `0.5x`).
    Factor(f64),
}

/// A `--speed` value that is none of `recorded`, `max`, `N`, `Nx`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("speed `{0}` is not `recorded`, `max` or a positive factor like `4` or `0.5x`")]
pub struct SpeedError(pub String);

impl FromStr for Speed {
    type Err = SpeedError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "recorded" | "1x" | "1" => Ok(Self::Recorded),
            "max" => Ok(Self::Max),
            _ => t
                .strip_suffix(['x', '×'])
                .unwrap_or(&t)
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f > 0.0)
                .map(Self::Factor)
                .ok_or_else(|| SpeedError(s.to_string())),
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Recorded => f.write_str("recorded"),
            Self::Max => f.write_str("max"),
            Self::Factor(x) => write!(f, "{x}x"),
        }
    }
}

impl Speed {
    /// Wall time to wait for a recorded offset; `None` for `max`.
    pub fn scale(self, recorded: Duration) -> Option<Duration> {
        match self {
            Self::Recorded => Some(recorded),
            Self::Max => None,
            Self::Factor(x) => Some(recorded.div_f64(x)),
        }
    }
}

/// Parses `10s`, `1m30s`, `500ms` (humantime syntax).
pub fn duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}

/// A [`duration`] that is not zero (a timeout or grace period of zero would refuse all).
pub fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_speeds() {
        assert_eq!("recorded".parse(), Ok(Speed::Recorded));
        assert_eq!("MAX".parse(), Ok(Speed::Max));
        assert_eq!("4".parse(), Ok(Speed::Factor(4.0)));
        assert_eq!("4x".parse(), Ok(Speed::Factor(4.0)));
        assert_eq!("0.5x".parse(), Ok(Speed::Factor(0.5)));
        assert!("0".parse::<Speed>().is_err());
        assert!("-2x".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
        assert!("nanx".parse::<Speed>().is_err());
    }

    #[test]
    fn scales_offsets() {
        let d = Duration::from_secs(4);
        assert_eq!(Speed::Recorded.scale(d), Some(d));
        assert_eq!(Speed::Factor(4.0).scale(d), Some(Duration::from_secs(1)));
        assert_eq!(Speed::Max.scale(d), None);
    }
}
