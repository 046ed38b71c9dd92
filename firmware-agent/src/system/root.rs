//! Reading small text files under a root directory (`/` on a device, a fixture in tests).

use std::{
    fmt, io,
    io::Read,
    path::{Path, PathBuf},
    str::FromStr,
};

/// Largest file a reader takes in. The biggest one read, `/proc/cpuinfo`, is ~1 KiB per
/// core; this bound only guards against a wrong root pointing at something huge.
pub const MAX_FILE: u64 = 1 << 20;

/// Why one reading is unavailable. Displayed once per field in the log.
///
/// `Clone` (the OS error is kept as kind and text) because one failed file can make
/// several fields unavailable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read (missing, permission denied, I/O error).
    #[error("{}: {reason}", path.display())]
    Io {
        /// Full path.
        path: PathBuf,
        /// The OS error kind.
        kind: io::ErrorKind,
        /// `missing`, `permission denied`, or the OS message.
        reason: String,
    },
    /// The content is not what the kernel documents.
    #[error("{}: cannot parse `{text}` as {what}", path.display())]
    Parse {
        /// Full path.
        path: PathBuf,
        /// The offending text, cut to 40 characters.
        text: String,
        /// What was expected.
        what: &'static str,
    },
    /// The value does not fit the wire field.
    #[error("{}: {value} is out of range for {what}", path.display())]
    OutOfRange {
        /// Full path.
        path: PathBuf,
        /// The value read.
        value: i64,
        /// The wire field.
        what: &'static str,
    },
    /// A keyed file (`/proc/meminfo`) lacks the key.
    #[error("{}: no `{key}` entry", path.display())]
    MissingKey {
        /// Full path.
        path: PathBuf,
        /// The key.
        key: &'static str,
    },
    /// None of the places a value can come from exists.
    #[error("none of {tried} is readable")]
    NoSource {
        /// The paths tried, comma-separated.
        tried: String,
    },
    /// The CPU is listed as present but the kernel reports no times for it.
    #[error("cpu{cpu} is present but offline (not in {})", path.display())]
    Offline {
        /// CPU number.
        cpu: u32,
        /// The stat file.
        path: PathBuf,
    },
}

impl ReadError {
    /// An I/O failure on `path`.
    pub fn io(path: PathBuf, e: &io::Error) -> Self {
        let reason = match e.kind() {
            io::ErrorKind::NotFound => "missing".into(),
            io::ErrorKind::PermissionDenied => "permission denied".into(),
            _ => e.to_string(),
        };
        Self::Io {
            path,
            kind: e.kind(),
            reason,
        }
    }
}

/// A root directory that the kernel's `proc/` and `sys/` paths are resolved under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot(PathBuf);

impl SysRoot {
    /// Uses `root` (`/` on a device).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self(root.into())
    }

    /// Full path of `rel` (written without a leading `/`).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.join(rel)
    }

    /// The file's text, at most `MAX_FILE` (1 MiB) bytes.
    pub fn read_text(&self, rel: impl AsRef<Path>) -> Result<String, ReadError> {
        let path = self.path(rel);
        let io_err = |e: io::Error| ReadError::io(path.clone(), &e);
        let file = std::fs::File::open(&path).map_err(io_err)?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        // Device-tree strings end in NUL; sysfs values end in a newline.
        let text = String::from_utf8_lossy(&bytes);
        Ok(text.trim_end_matches(['\0', '\n', ' ', '\t']).to_string())
    }

    /// The file's trimmed text parsed as a number.
    pub fn read_num<T: FromStr>(
        &self,
        rel: impl AsRef<Path>,
        what: &'static str,
    ) -> Result<T, ReadError> {
        let rel = rel.as_ref();
        let text = self.read_text(rel)?;
        let text = text.trim();
        text.parse()
            .map_err(|_| parse_error(self.path(rel), text, what))
    }

    /// Entries of directory `rel` named `PREFIX<number>`, sorted by number.
    pub fn numbered_entries(
        &self,
        rel: impl AsRef<Path>,
        prefix: &str,
    ) -> Result<Vec<(u32, String)>, ReadError> {
        let path = self.path(rel);
        let dir = std::fs::read_dir(&path).map_err(|e| ReadError::io(path.clone(), &e))?;
        let mut found: Vec<(u32, String)> = dir
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let n = name.strip_prefix(prefix)?.parse().ok()?;
                Some((n, name))
            })
            .collect();
        // Numeric, not lexical: thermal_zone10 comes after thermal_zone9.
        found.sort();
        Ok(found)
    }
}

impl SysRoot {
    /// Names in directory `rel`, sorted (byte order), skipping names that are not UTF-8.
    pub fn list_dir(&self, rel: impl AsRef<Path>) -> Result<Vec<String>, ReadError> {
        let path = self.path(rel);
        let dir = std::fs::read_dir(&path).map_err(|e| ReadError::io(path.clone(), &e))?;
        let mut names: Vec<String> = dir
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether `rel` exists (following links; a dangling link does not exist).
    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.path(rel).exists()
    }

    /// The first of `candidates` that exists. When none does, the error is the first
    /// permission failure met on the way (so "debugfs is root-only" is reported as such),
    /// else [`ReadError::NoSource`] listing every candidate.
    pub fn first_existing<'a>(&self, candidates: &[&'a str]) -> Result<&'a str, ReadError> {
        let mut denied = None;
        for rel in candidates {
            let path = self.path(rel);
            match std::fs::metadata(&path) {
                Ok(_) => return Ok(rel),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied && denied.is_none() => {
                    denied = Some(ReadError::io(path, &e));
                }
                Err(_) => {}
            }
        }
        Err(denied.unwrap_or_else(|| self.no_source(candidates)))
    }

    /// [`ReadError::NoSource`] naming the full paths of `candidates`.
    pub fn no_source<S: AsRef<str>>(&self, candidates: &[S]) -> ReadError {
        ReadError::NoSource {
            tried: candidates
                .iter()
                .map(|rel| self.path(rel.as_ref()).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Last component of the target of symlink `rel` (`device` → `17000000.gpu`), or `None`
    /// when `rel` is not a link. sysfs links are relative, so the name is meaningful even
    /// under a fixture root.
    pub fn link_name(&self, rel: impl AsRef<Path>) -> Option<String> {
        let target = std::fs::read_link(self.path(rel)).ok()?;
        target.file_name()?.to_str().map(str::to_owned)
    }
}

/// A [`ReadError::Parse`] with the text cut to a readable length.
pub(crate) fn parse_error(path: PathBuf, text: &str, what: &'static str) -> ReadError {
    ReadError::Parse {
        path,
        text: text.chars().take(40).collect(),
        what,
    }
}

impl fmt::Display for SysRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}
