//! Human durations (`100ms`, `5s`, `1m 30s`) for intervals, which must be greater than zero.

use std::time::Duration;

/// An interval that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    /// Not a duration humantime understands.
    #[error("`{text}` is not a duration ({reason}); write e.g. 100ms, 5s, 1m")]
    Syntax {
        /// The input.
        text: String,
        /// What humantime said.
        reason: String,
    },
    /// Zero would mean "as fast as possible", which is never what a telemetry agent wants.
    #[error("`{text}` is zero; an interval must be greater than zero")]
    Zero {
        /// The input.
        text: String,
    },
}

/// Parses a human duration and refuses zero. Used by both the config file and the flags.
pub fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| IntervalError::Syntax {
        text: text.into(),
        reason: e.to_string(),
    })?;
    if d.is_zero() {
        return Err(IntervalError::Zero { text: text.into() });
    }
    Ok(d)
}

/// Serde adapter for `Option<Duration>` fields written as human strings.
pub(crate) mod serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_interval(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_refuses_zero() {
        assert_eq!(parse_interval("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_interval(" 1m 30s "), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse_interval("0s"),
            Err(IntervalError::Zero { text: "0s".into() })
        );
        assert!(matches!(
            parse_interval("fast"),
            Err(IntervalError::Syntax { .. })
        ));
    }
}
