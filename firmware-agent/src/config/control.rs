//! The `[control]` section: the key that authenticates host requests, whether a serial
//! line may send unsigned ones, and the limits every profile request must stay within.
//!
//! ```toml
//! [control]
//! key_file = "/etc/msao/control.key"  # 32–128 hex digits; or $MSAO_CONTROL_KEY (never a flag)
//! serial_unsigned = true              # serial without a key accepts unsigned requests
//! max_iterations = 10000              # timed runs per model
//! max_warmup = 1000                   # untimed runs per model
//! max_batch = 16                      # batch size
//! max_memory_share = 0.5              # of MemAvailable a batch may add (measured at batch 1)
//! max_seconds = 120                   # wall time of one request, all models together
//! queue = 2                           # requests waiting behind the running one
//! ```

use super::ConfigError;
use msao::sign::ControlKey;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Environment variable holding the control key as hex (instead of `key_file`).
pub const KEY_ENV: &str = "MSAO_CONTROL_KEY";

/// Default cap on timed runs per model: the default request asks for 100; 10,000 runs of
/// the largest shipped model take about a minute on a Jetson's CPU.
pub const DEFAULT_MAX_ITERATIONS: u32 = 10_000;
/// Default cap on warm-up runs per model.
pub const DEFAULT_MAX_WARMUP: u32 = 1_000;
/// Default cap on the batch size: MiniLM at batch 4096 took 1.85 GB; at 16 it stays
/// under 10 MB of inputs and activations.
pub const DEFAULT_MAX_BATCH: u16 = 16;
/// Default share of the memory available when a request arrives that one batch's
/// profile may add: a batch is run only if its projection from one run at batch 1 fits.
pub const DEFAULT_MAX_MEMORY_SHARE: f64 = 0.5;
/// Default cap on one request's wall time, s: profiling stops there and the results say
/// how many runs were timed.
pub const DEFAULT_MAX_SECONDS: u32 = 120;
/// Default number of requests that may wait behind the running one; more are refused
/// with a `busy` fault.
pub const DEFAULT_QUEUE: usize = 2;

/// `[control]` as written; every key is optional.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// File holding the key as hex digits.
    pub key_file: Option<PathBuf>,
    /// Id written into signatures (0 unless keys are rotated).
    pub key_id: Option<u8>,
    /// Without a key, accept unsigned requests on serial links (default true).
    pub serial_unsigned: Option<bool>,
    /// Timed runs per model.
    pub max_iterations: Option<u32>,
    /// Warm-up runs per model.
    pub max_warmup: Option<u32>,
    /// Batch size.
    pub max_batch: Option<u16>,
    /// Share of the available memory one batch may add, in (0, 1].
    pub max_memory_share: Option<f64>,
    /// Wall time of one request, s.
    pub max_seconds: Option<u32>,
    /// Requests waiting behind the running one.
    pub queue: Option<usize>,
}

/// What every profile request must stay within.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileLimits {
    /// Timed runs per model.
    pub max_iterations: u32,
    /// Warm-up runs per model.
    pub max_warmup: u32,
    /// Batch size.
    pub max_batch: u16,
    /// Share of the memory available when a request arrives that one batch may add.
    pub max_memory_share: f64,
    /// Wall time of one request, s.
    pub max_seconds: u32,
    /// Requests waiting behind the running one.
    pub queue: usize,
}

impl Default for ProfileLimits {
    fn default() -> Self {
        Self {
            max_iterations: DEFAULT_MAX_ITERATIONS,
            max_warmup: DEFAULT_MAX_WARMUP,
            max_batch: DEFAULT_MAX_BATCH,
            max_memory_share: DEFAULT_MAX_MEMORY_SHARE,
            max_seconds: DEFAULT_MAX_SECONDS,
            queue: DEFAULT_QUEUE,
        }
    }
}

/// The resolved `[control]` settings.
#[derive(Debug, Clone, Default)]
pub struct ControlSettings {
    /// The shared key; `None`: network links refuse every request.
    pub key: Option<ControlKey>,
    /// Where the key came from (for the log), never the key itself.
    pub key_origin: Option<String>,
    /// Serial links without a key accept unsigned requests.
    pub serial_unsigned: bool,
    /// Limits on profile requests.
    pub limits: ProfileLimits,
}

impl ControlSection {
    /// Resolves the section; `env_key` is the value of [`KEY_ENV`], if set. The file wins
    /// over the environment when both are given.
    pub fn resolve(
        &self,
        origin: &str,
        env_key: Option<&str>,
    ) -> Result<ControlSettings, ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: format!("control.{key}"),
            origin: origin.into(),
            reason,
        };
        let (key, key_origin) = match (&self.key_file, env_key) {
            (Some(path), _) => (Some(read_key(path).map_err(|r| invalid("key_file", r))?), {
                Some(path.display().to_string())
            }),
            (None, Some(text)) => (
                Some(
                    ControlKey::from_hex(text)
                        .map_err(|e| invalid("key_file", format!("${KEY_ENV}: {e}")))?,
                ),
                Some(format!("${KEY_ENV}")),
            ),
            (None, None) => (None, None),
        };
        let key = key.map(|k| k.with_key_id(self.key_id.unwrap_or(0)));
        let d = ProfileLimits::default();
        let limits = ProfileLimits {
            max_iterations: self.max_iterations.unwrap_or(d.max_iterations),
            max_warmup: self.max_warmup.unwrap_or(d.max_warmup),
            max_batch: self.max_batch.unwrap_or(d.max_batch),
            max_memory_share: self.max_memory_share.unwrap_or(d.max_memory_share),
            max_seconds: self.max_seconds.unwrap_or(d.max_seconds),
            queue: self.queue.unwrap_or(d.queue),
        };
        for (name, v) in [
            ("max_iterations", u64::from(limits.max_iterations)),
            ("max_batch", u64::from(limits.max_batch)),
            ("max_seconds", u64::from(limits.max_seconds)),
        ] {
            if v == 0 {
                return Err(invalid(name, "must be at least 1".into()));
            }
        }
        for (name, v) in [
            ("max_iterations", limits.max_iterations),
            ("max_warmup", limits.max_warmup),
        ] {
            if v > crate::profile::MAX_RUNS {
                return Err(invalid(
                    name,
                    format!("at most {} runs, got {v}", crate::profile::MAX_RUNS),
                ));
            }
        }
        let share = limits.max_memory_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(invalid(
                "max_memory_share",
                format!("must be in (0, 1] (a share of MemAvailable), got {share}"),
            ));
        }
        if !(1..=16).contains(&limits.queue) {
            return Err(invalid(
                "queue",
                format!("must be in 1..=16, got {}", limits.queue),
            ));
        }
        Ok(ControlSettings {
            key,
            key_origin,
            serial_unsigned: self.serial_unsigned.unwrap_or(true),
            limits,
        })
    }
}

/// Reads a key file: hex digits, surrounding whitespace ignored. Refuses a file other
/// users may read (`msao-host` reads its copy the same way).
pub fn read_key(path: &Path) -> Result<ControlKey, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is readable by other users (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ControlKey::from_hex(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_a_private_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.key");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        let section = ControlSection {
            key_file: Some(path.clone()),
            ..Default::default()
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = section.resolve("f.toml", None).unwrap_err().to_string();
            assert!(
                e.contains("control.key_file") && e.contains("chmod 600"),
                "{e}"
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let s = section.resolve("f.toml", Some("00")).unwrap();
        assert!(s.key.is_some(), "the file wins over the environment");
        assert_eq!(s.key_origin.as_deref(), Some(path.to_str().unwrap()));

        let none = ControlSection::default();
        let s = none.resolve("f.toml", Some(&"cd".repeat(16))).unwrap();
        assert_eq!(s.key_origin.as_deref(), Some("$MSAO_CONTROL_KEY"));
        let e = none.resolve("f.toml", Some("xyz")).unwrap_err().to_string();
        assert!(e.contains("MSAO_CONTROL_KEY"), "{e}");
        let s = none.resolve("defaults", None).unwrap();
        assert!(s.key.is_none() && s.serial_unsigned);
        assert_eq!(s.limits, ProfileLimits::default());
    }

    #[test]
    fn limits_are_validated() {
        for (section, key) in [
            (
                ControlSection {
                    max_batch: Some(0),
                    ..Default::default()
                },
                "control.max_batch",
            ),
            (
                ControlSection {
                    max_memory_share: Some(1.5),
                    ..Default::default()
                },
                "control.max_memory_share",
            ),
            (
                ControlSection {
                    max_memory_share: Some(f64::NAN),
                    ..Default::default()
                },
                "control.max_memory_share",
            ),
            (
                ControlSection {
                    queue: Some(100),
                    ..Default::default()
                },
                "control.queue",
            ),
            (
                ControlSection {
                    max_iterations: Some(u32::MAX),
                    ..Default::default()
                },
                "control.max_iterations",
            ),
        ] {
            let e = section.resolve("f.toml", None).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }
}
