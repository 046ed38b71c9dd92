//! [`OrtRuntime`]: [`InferenceRuntime`] on ONNX Runtime through the `ort` crate, with the
//! library loaded at run time (`load-dynamic`), so the agent builds and starts without it
//! and says clearly where it looked when it is missing.
//!
//! | file      | owns |
//! |-----------|------|
//! | `env`     | the process-wide library and environment (one per process) |
//! | `version` | which library is mapped and its version |
//! | `ep/`     | one file per execution provider behind [`ep::ExecutionProvider`] |
//! | `graph`   | manifest ↔ ONNX graph check at load |
//! | `convert` | [`crate::runtime::Tensor`] ↔ `ort` values |
//! | `session` | [`OrtModel`], the loaded model |

mod convert;
mod env;
pub mod ep;
mod graph;
mod session;
pub mod version;

pub use session::OrtModel;
pub use version::LoadedLibrary;

use crate::runtime::{
    InferenceRuntime, LoadedModel, ModelManifest, RuntimeError, RuntimeOptions, library::Source,
    options::provider_name,
};
use env::Shared;
use log::{info, warn};
use msao::message::ExecProvider;
use ort::session::{Session, builder::SessionBuilder};
use std::{
    path::Path,
    sync::{Arc, Mutex},
};

/// ONNX Runtime, loaded.
pub struct OrtRuntime {
    shared: Arc<Shared>,
    options: RuntimeOptions,
    /// Providers already warned about (one warning each per runtime).
    warned: Mutex<Vec<ExecProvider>>,
}

impl OrtRuntime {
    /// Finds and loads `libonnxruntime.so` (see [`crate::runtime::library`] for the order).
    /// A missing library is [`RuntimeError::LibraryNotFound`] naming every path tried.
    pub fn new(options: &RuntimeOptions) -> Result<Self, RuntimeError> {
        let shared = env::shared(options.library.as_deref())?;
        let rt = Self {
            shared,
            options: options.clone(),
            warned: Mutex::new(Vec::new()),
        };
        let offered: Vec<&str> = rt.providers().into_iter().map(provider_name).collect();
        info!("ONNX Runtime providers: {}", offered.join(", "));
        Ok(rt)
    }

    /// The library in use.
    pub fn library(&self) -> &Path {
        &self.shared.library.path
    }

    /// Where the library's path came from.
    pub fn library_source(&self) -> Source {
        self.shared.source
    }

    /// The provider models load for unless told otherwise (`[runtime] provider`).
    pub fn default_provider(&self) -> ExecProvider {
        self.options.provider
    }

    /// The options this runtime was made with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    fn builder(&self, manifest: &ModelManifest) -> Result<SessionBuilder, RuntimeError> {
        let fail = |e: ort::Error<SessionBuilder>| RuntimeError::Session {
            model: manifest.label(),
            file: manifest.file.clone(),
            reason: e.to_string(),
        };
        let mut b = Session::builder(&self.shared.env).map_err(|e| RuntimeError::Session {
            model: manifest.label(),
            file: manifest.file.clone(),
            reason: e.to_string(),
        })?;
        if let Some(n) = self.options.intra_threads {
            b = b.with_intra_threads(n).map_err(fail)?;
        }
        b = b
            .with_intra_op_spinning(self.options.spin_wait)
            .map_err(fail)?;
        Ok(b)
    }

    /// Logs `message` the first time `provider` falls back; later fallbacks stay quiet.
    fn warn_once(&self, provider: ExecProvider, message: &str) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if !warned.contains(&provider) {
            warned.push(provider);
            warn!("{message}; running on CPU");
        }
    }

    fn commit(
        &self,
        manifest: &ModelManifest,
        mut builder: SessionBuilder,
    ) -> Result<Session, RuntimeError> {
        builder
            .commit_from_file(&manifest.file)
            .map_err(|e| RuntimeError::Session {
                model: manifest.label(),
                file: manifest.file.clone(),
                reason: e.to_string(),
            })
    }

    /// A session on `provider`, or on CPU after a warning when that is impossible.
    fn session(
        &self,
        manifest: &ModelManifest,
        provider: ExecProvider,
    ) -> Result<(Session, ExecProvider), RuntimeError> {
        let cpu = |rt: &Self| {
            Ok((
                rt.commit(manifest, rt.builder(manifest)?)?,
                ExecProvider::Cpu,
            ))
        };
        if provider == ExecProvider::Cpu {
            return cpu(self);
        }
        let ep = ep::for_kind(provider, &self.options);
        let lib = self.library().display();
        if !ep.is_available() {
            self.warn_once(
                provider,
                &format!(
                    "ONNX Runtime at {lib} has no {} (a CPU-only build)",
                    ep.name()
                ),
            );
            return cpu(self);
        }
        let builder = match ep.register(self.builder(manifest)?) {
            Ok(b) => b,
            Err(reason) => {
                self.warn_once(
                    provider,
                    &format!("cannot register {}: {reason}", ep.name()),
                );
                return cpu(self);
            }
        };
        match self.commit(manifest, builder) {
            Ok(s) => Ok((s, provider)),
            Err(e) => {
                self.warn_once(
                    provider,
                    &format!("{} failed for this model: {e}", ep.name()),
                );
                cpu(self)
            }
        }
    }
}

impl InferenceRuntime for OrtRuntime {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }

    fn version(&self) -> Option<&str> {
        self.shared.library.version.as_deref()
    }

    fn is_available(&self, provider: ExecProvider) -> bool {
        ep::for_kind(provider, &self.options).is_available()
    }

    fn load(
        &self,
        manifest: &ModelManifest,
        provider: ExecProvider,
    ) -> Result<Box<dyn LoadedModel>, RuntimeError> {
        let (session, actual) = self.session(manifest, provider)?;
        graph::check_graph(manifest, session.inputs(), session.outputs())?;
        Ok(Box::new(OrtModel {
            session,
            manifest: manifest.clone(),
            provider: actual,
        }))
    }
}
