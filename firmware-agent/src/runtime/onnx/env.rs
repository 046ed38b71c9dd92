//! The process-wide ONNX Runtime: the library is loaded once and `ort` allows one
//! environment per process, so every [`super::OrtRuntime`] shares this one. A failed load
//! leaves nothing behind, so a later attempt (after `scripts/setup.sh`) can succeed.

use super::version::{LoadedLibrary, loaded_library};
use crate::runtime::{
    RuntimeError,
    library::{Candidate, Located, SearchRoots, Source, locate},
};
use log::{debug, error, info, warn};
use ort::{environment::Environment, logging::LogLevel};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

/// The loaded library and its environment.
pub(super) struct Shared {
    /// The environment every session is built in.
    pub env: Environment,
    /// The library actually mapped (from `/proc/self/maps`), else the path loaded.
    pub library: LoadedLibrary,
    /// Where the path came from.
    pub source: Source,
}

static SHARED: Mutex<Option<Arc<Shared>>> = Mutex::new(None);

/// The shared runtime, loading the library on first use. `config` is `[runtime]
/// onnxruntime`; once a library is loaded, a different one asked for later is not loaded
/// (a process can hold only one) and a warning says which one stays.
pub(super) fn shared(config: Option<&Path>) -> Result<Arc<Shared>, RuntimeError> {
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.as_ref() {
        if let Some(asked) = config
            && !same_file(asked, &s.library.path)
        {
            warn!(
                "ONNX Runtime is already loaded from {}; {} is not loaded (one library per process)",
                s.library.path.display(),
                asked.display()
            );
        }
        return Ok(s.clone());
    }
    let roots = SearchRoots::from_process(config);
    let (candidate, tried) = match locate(&roots) {
        Located::Found(c, tried) => (c, tried),
        Located::ExplicitMissing(searched) => {
            return Err(RuntimeError::LibraryNotFound { searched });
        }
    };
    let builder = ort::init_from(&candidate.path).map_err(|e| load_error(&candidate, &tried, e))?;
    let env = builder
        .with_name("msao-agent")
        .with_telemetry(false)
        .with_logger(Arc::new(forward_log))
        .build()
        .map_err(|e| RuntimeError::Environment {
            reason: e.to_string(),
        })?;
    // The custom logger receives every severity unless told otherwise; formatting verbose
    // messages costs time in the hot path.
    env.set_log_level(LogLevel::Warning);
    let library = loaded_library().unwrap_or(LoadedLibrary {
        path: candidate.path.clone(),
        version: None,
    });
    info!(
        "ONNX Runtime {} loaded from {} ({})",
        library.version.as_deref().unwrap_or("(version unknown)"),
        library.path.display(),
        candidate.source.label()
    );
    let shared = Arc::new(Shared {
        env,
        library,
        source: candidate.source,
    });
    *slot = Some(shared.clone());
    Ok(shared)
}

fn load_error(
    candidate: &Candidate,
    tried: &[Candidate],
    e: ort::LoadDynamicError,
) -> RuntimeError {
    match e {
        // The bare name was the last resort: not finding it means not found anywhere.
        ort::LoadDynamicError::Dlopen { .. } if candidate.source == Source::System => {
            RuntimeError::LibraryNotFound {
                searched: tried.to_vec(),
            }
        }
        other => RuntimeError::LibraryLoad {
            path: candidate.path.clone(),
            origin: candidate.source.label(),
            reason: other.to_string(),
        },
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p));
    canon(a) == canon(b)
}

/// ONNX Runtime's own log lines, into the agent's log under target `onnxruntime`.
fn forward_log(level: LogLevel, category: &str, _id: &str, location: &str, message: &str) {
    let target = "onnxruntime";
    match level {
        LogLevel::Fatal | LogLevel::Error => {
            error!(target: target, "[{category}] {message} ({location})")
        }
        LogLevel::Warning => warn!(target: target, "[{category}] {message}"),
        LogLevel::Info | LogLevel::Verbose => debug!(target: target, "[{category}] {message}"),
    }
}
