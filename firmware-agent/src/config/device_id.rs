//! The device id: at most 32 bytes (the `Hello.device_id` wire field); defaults to the hostname.

use std::{fmt, str::FromStr};

/// Bytes the wire field holds.
pub const MAX_DEVICE_ID: usize = 32;

/// A validated device id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(heapless::String<MAX_DEVICE_ID>);

/// A device id that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceIdError {
    /// Empty or only spaces.
    #[error("the device id is empty")]
    Empty,
    /// Longer than the wire field.
    #[error("device id `{id}` is {len} bytes; the wire field holds at most {max}")]
    TooLong {
        /// The input.
        id: String,
        /// Its length in bytes.
        len: usize,
        /// [`MAX_DEVICE_ID`].
        max: usize,
    },
    /// Control characters would garble every log and table that shows the id.
    #[error("device id {id:?} contains a control character")]
    Control {
        /// The input.
        id: String,
    },
}

impl FromStr for DeviceId {
    type Err = DeviceIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(DeviceIdError::Empty);
        }
        if s.chars().any(char::is_control) {
            return Err(DeviceIdError::Control { id: s.into() });
        }
        let too_long = || DeviceIdError::TooLong {
            id: s.into(),
            len: s.len(),
            max: MAX_DEVICE_ID,
        };
        let mut id = heapless::String::new();
        id.push_str(s).map_err(|_| too_long())?;
        Ok(Self(id))
    }
}

impl DeviceId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The wire form.
    pub fn to_wire(&self) -> heapless::String<MAX_DEVICE_ID> {
        self.0.clone()
    }

    /// A best-effort id from a hostname: cut to the wire field rather than refused, because
    /// nobody chose it; `None` when nothing usable is left.
    pub fn from_hostname(name: &str) -> Option<Self> {
        let cleaned: String = name.trim().chars().filter(|c| !c.is_control()).collect();
        msao::message::truncated::<MAX_DEVICE_ID>(&cleaned)
            .parse()
            .ok()
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// This machine's hostname (Linux), `None` when it cannot be read.
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_length_and_content() {
        assert_eq!(
            "jetson-01".parse::<DeviceId>().map(|d| d.to_string()),
            Ok("jetson-01".into())
        );
        let long = "x".repeat(33);
        assert_eq!(
            long.parse::<DeviceId>(),
            Err(DeviceIdError::TooLong {
                id: long.clone(),
                len: 33,
                max: 32
            })
        );
        assert!("x".repeat(32).parse::<DeviceId>().is_ok());
        assert_eq!("  ".parse::<DeviceId>(), Err(DeviceIdError::Empty));
        assert!(matches!(
            "a\tb".parse::<DeviceId>(),
            Err(DeviceIdError::Control { .. })
        ));
    }

    #[test]
    fn hostname_is_cut_not_refused() {
        let long = format!("{}\n", "h".repeat(40));
        assert_eq!(
            DeviceId::from_hostname(&long).map(|d| d.as_str().len()),
            Some(32)
        );
        assert_eq!(DeviceId::from_hostname(" \n"), None);
    }
}
