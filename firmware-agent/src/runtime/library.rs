//! Where `libonnxruntime.so` is looked for, in order, so that a missing library is an
//! error naming every place tried.
//!
//! 1. `[runtime] onnxruntime = "PATH"` in the config file;
//! 2. the `MSAO_ORT_LIB` environment variable;
//! 3. `.cache/onnxruntime/libonnxruntime.so` (where `scripts/setup.sh` puts it) under the
//!    working directory and each of its parents, then under the executable's directory and
//!    each of its parents (so `target/release/msao-agent` and test binaries in
//!    `target/debug/deps/` find the repository's copy);
//! 4. `libonnxruntime.so` through the system's library search path (`LD_LIBRARY_PATH`,
//!    `ld.so.cache`), for devices with ONNX Runtime installed system-wide.
//!
//! An explicit path (1 or 2) that does not exist is an error at once: a typo must not
//! silently load some other library.

use std::{
    ffi::OsString,
    fmt,
    path::{Path, PathBuf},
};

/// Environment variable naming the library.
pub const ORT_LIB_ENV: &str = "MSAO_ORT_LIB";
/// Where `scripts/setup.sh` puts the library, relative to the repository root.
pub const DEFAULT_RELATIVE: &str = ".cache/onnxruntime/libonnxruntime.so";
/// The bare name handed to the system loader as the last resort.
pub const SYSTEM_NAME: &str = "libonnxruntime.so";

/// Where a candidate path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `[runtime] onnxruntime` in the config file.
    Config,
    /// The `MSAO_ORT_LIB` environment variable.
    Env,
    /// Under the working directory or one of its parents.
    WorkingDir,
    /// Under the executable's directory or one of its parents.
    Executable,
    /// The bare library name, resolved by the system loader.
    System,
}

impl Source {
    /// Short label for messages.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Config => "config [runtime] onnxruntime",
            Self::Env => ORT_LIB_ENV,
            Self::WorkingDir => "working directory",
            Self::Executable => "next to the executable",
            Self::System => "system library search path",
        }
    }
}

/// One place the library may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The path (for [`Source::System`], the bare name).
    pub path: PathBuf,
    /// Where it came from.
    pub source: Source,
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.source.label())
    }
}

/// What the search starts from; a parameter so tests do not depend on the process.
#[derive(Debug, Clone, Default)]
pub struct SearchRoots {
    /// `[runtime] onnxruntime`.
    pub config: Option<PathBuf>,
    /// `MSAO_ORT_LIB` (empty counts as unset).
    pub env: Option<OsString>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// The running executable.
    pub exe: Option<PathBuf>,
}

impl SearchRoots {
    /// Roots of this process: the configured path, `MSAO_ORT_LIB`, the working directory
    /// and the executable.
    pub fn from_process(config: Option<&Path>) -> Self {
        Self {
            config: config.map(Path::to_path_buf),
            env: std::env::var_os(ORT_LIB_ENV),
            cwd: std::env::current_dir().ok(),
            exe: std::env::current_exe().ok(),
        }
    }
}

/// The outcome of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// A file that exists (or the bare name for the system loader, the last resort).
    Found(Candidate, Vec<Candidate>),
    /// An explicit path (config or env) that does not exist; nothing else was tried.
    ExplicitMissing(Vec<Candidate>),
}

/// Searches in the documented order. `Found` carries every candidate tried before it and
/// itself, so a later load failure can still list them.
pub fn locate(roots: &SearchRoots) -> Located {
    let mut tried = Vec::new();
    let explicit = roots
        .config
        .clone()
        .map(|p| (p, Source::Config))
        .or_else(|| {
            roots
                .env
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), Source::Env))
        });
    if let Some((path, source)) = explicit {
        let c = Candidate { path, source };
        tried.push(c.clone());
        return if c.path.is_file() {
            Located::Found(c, tried)
        } else {
            Located::ExplicitMissing(tried)
        };
    }
    let bases = [
        (roots.cwd.as_deref(), Source::WorkingDir),
        (
            roots.exe.as_deref().and_then(Path::parent),
            Source::Executable,
        ),
    ];
    for (base, source) in bases {
        let Some(base) = base else { continue };
        for dir in base.ancestors() {
            let path = dir.join(DEFAULT_RELATIVE);
            if tried.iter().any(|c: &Candidate| c.path == path) {
                continue;
            }
            let c = Candidate { path, source };
            tried.push(c.clone());
            if c.path.is_file() {
                return Located::Found(c, tried);
            }
        }
    }
    let c = Candidate {
        path: PathBuf::from(SYSTEM_NAME),
        source: Source::System,
    };
    tried.push(c.clone());
    Located::Found(c, tried)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }

    #[test]
    fn config_wins_over_env_and_missing_explicit_path_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib.so");
        touch(&lib);
        let roots = SearchRoots {
            config: Some(lib.clone()),
            env: Some("/nonexistent/env.so".into()),
            cwd: Some(dir.path().into()),
            exe: None,
        };
        match locate(&roots) {
            Located::Found(c, _) => assert_eq!((c.path, c.source), (lib, Source::Config)),
            other => panic!("{other:?}"),
        }
        let roots = SearchRoots {
            config: None,
            env: Some("/nonexistent/env.so".into()),
            cwd: Some(dir.path().into()),
            exe: None,
        };
        assert_eq!(
            locate(&roots),
            Located::ExplicitMissing(vec![Candidate {
                path: "/nonexistent/env.so".into(),
                source: Source::Env
            }])
        );
    }

    #[test]
    fn walks_up_from_cwd_then_exe_then_system() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let deep = repo.join("firmware-agent/src");
        std::fs::create_dir_all(&deep).unwrap();
        // Nothing installed: every ancestor is tried, then the system name.
        let roots = SearchRoots {
            config: None,
            env: Some("".into()),
            cwd: Some(deep.clone()),
            exe: Some(repo.join("target/debug/deps/test-bin")),
        };
        let Located::Found(last, tried) = locate(&roots) else {
            panic!("system fallback expected")
        };
        assert_eq!(last.source, Source::System);
        assert!(tried.contains(&Candidate {
            path: repo.join(DEFAULT_RELATIVE),
            source: Source::WorkingDir
        }));
        assert!(tried.contains(&Candidate {
            path: repo.join("target/debug").join(DEFAULT_RELATIVE),
            source: Source::Executable
        }));
        // Installed at the repository root: found from the crate directory.
        touch(&repo.join(DEFAULT_RELATIVE));
        let Located::Found(c, _) = locate(&roots) else {
            panic!()
        };
        assert_eq!(
            (c.path, c.source),
            (repo.join(DEFAULT_RELATIVE), Source::WorkingDir)
        );
    }
}
