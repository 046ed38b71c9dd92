//! [`ModelCatalog`]: every manifest (`*.toml`) under the models directory, loaded and
//! verified, keyed by (name, precision).

use super::{ManifestError, ModelManifest, Preprocess};
use msao::message::Precision;
use std::path::{Path, PathBuf};

/// Environment variable naming the models directory.
pub const MODELS_DIR_ENV: &str = "MSAO_MODELS_DIR";

/// Directory under the models directory holding pipeline files, not manifests
/// ([`crate::pipelines`]): the catalog does not look inside it.
pub const PIPELINES_DIR: &str = "pipelines";

/// The installed models.
#[derive(Debug, Clone, Default)]
pub struct ModelCatalog {
    models: Vec<ModelManifest>,
    dir: PathBuf,
    not_installed: Vec<(String, PathBuf)>,
}

impl ModelCatalog {
    /// Loads every `*.toml` under `dir` (recursively, in path order; [`PIPELINES_DIR`] at
    /// the top is left out: it holds pipeline files). An invalid manifest
    /// or an ONNX file whose sha256 differs fails the whole load: a device must not run a
    /// model it cannot vouch for. A manifest whose ONNX file is absent is a model not
    /// installed on this device (large models are built by a script, not committed): it is
    /// left out, logged once, and listed by [`Self::not_installed`]. A `compact-tensor`
    /// model's `source_model` must be declared under `dir` (installed or not) and, when
    /// installed, have `source_output`.
    pub fn load_dir(dir: &Path) -> Result<Self, ManifestError> {
        let mut files = Vec::new();
        collect_toml(dir, &dir.join(PIPELINES_DIR), &mut files)?;
        files.sort();
        let mut catalog = Self {
            models: Vec::with_capacity(files.len()),
            dir: dir.to_path_buf(),
            not_installed: Vec::new(),
        };
        for f in files {
            match ModelManifest::load(&f) {
                Ok(m) => catalog.insert(m)?,
                Err(ManifestError::MissingFile { model, file }) => {
                    log::warn!(
                        "model {model} not installed (no {}), left out",
                        file.display()
                    );
                    catalog.not_installed.push((model, file));
                }
                Err(e) => return Err(e),
            }
        }
        catalog.check_sources()?;
        Ok(catalog)
    }

    /// Every `compact-tensor` model's source model is declared, and its installed
    /// precisions have the source output.
    fn check_sources(&self) -> Result<(), ManifestError> {
        for m in &self.models {
            let Preprocess::CompactTensor {
                source_model,
                source_output,
            } = &m.preprocess
            else {
                continue;
            };
            let invalid = |key: &str, reason: String| ManifestError::Invalid {
                path: m.path.clone(),
                model: m.name.clone(),
                key: key.into(),
                reason,
            };
            let prefix = format!("{source_model} (");
            let declared = self.models.iter().any(|s| &s.name == source_model)
                || self
                    .not_installed
                    .iter()
                    .any(|(label, _)| label.starts_with(&prefix));
            if !declared {
                return Err(invalid(
                    "preprocess.source_model",
                    format!(
                        "no manifest under {} declares model `{source_model}`",
                        self.dir.display()
                    ),
                ));
            }
            if let Some(source) = self
                .models
                .iter()
                .find(|s| &s.name == source_model && s.output(source_output).is_none())
            {
                return Err(invalid(
                    "preprocess.source_output",
                    format!("{} has no output `{source_output}`", source.label()),
                ));
            }
        }
        Ok(())
    }

    /// A catalog from manifests already loaded (tests, tools).
    pub fn from_manifests(models: Vec<ModelManifest>) -> Result<Self, ManifestError> {
        let mut catalog = Self::default();
        for m in models {
            catalog.insert(m)?;
        }
        Ok(catalog)
    }

    fn insert(&mut self, m: ModelManifest) -> Result<(), ManifestError> {
        if let Some(first) = self.find(&m.name, m.precision) {
            return Err(ManifestError::Duplicate {
                model: m.label(),
                first: first.path.clone(),
                second: m.path.clone(),
            });
        }
        self.models.push(m);
        Ok(())
    }

    /// Models left out because their ONNX file is absent: (model label, expected file).
    pub fn not_installed(&self) -> &[(String, PathBuf)] {
        &self.not_installed
    }

    /// The directory it was loaded from (empty for [`Self::from_manifests`]).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every manifest, in load order.
    pub fn models(&self) -> &[ModelManifest] {
        &self.models
    }

    /// The manifest of `name` at `precision`.
    pub fn find(&self, name: &str, precision: Precision) -> Option<&ModelManifest> {
        self.models
            .iter()
            .find(|m| m.name == name && m.precision == precision)
    }

    /// Distinct model names, in load order.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for m in &self.models {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
        names
    }

    /// Manifests matching both filters (`None` matches everything), in load order.
    pub fn select(&self, name: Option<&str>, precision: Option<Precision>) -> Vec<&ModelManifest> {
        self.models
            .iter()
            .filter(|m| name.is_none_or(|n| m.name == n))
            .filter(|m| precision.is_none_or(|p| m.precision == p))
            .collect()
    }
}

fn collect_toml(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) -> Result<(), ManifestError> {
    let read_err = |source| ManifestError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path == skip {
            continue;
        }
        if path.is_dir() {
            collect_toml(&path, skip, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// The models directory: `explicit` (config `[runtime] models_dir`), else `MSAO_MODELS_DIR`,
/// else the first `models/` holding a manifest under the working directory or one of its
/// parents, then under the executable's directory or one of its parents. `Err` lists every
/// directory tried.
pub fn find_models_dir(explicit: Option<&Path>) -> Result<PathBuf, Vec<PathBuf>> {
    if let Some(p) = explicit {
        return if p.is_dir() {
            Ok(p.to_path_buf())
        } else {
            Err(vec![p.to_path_buf()])
        };
    }
    if let Some(p) = std::env::var_os(MODELS_DIR_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_dir() { Ok(p) } else { Err(vec![p]) };
    }
    let mut tried = Vec::new();
    let cwd = std::env::current_dir().ok();
    let exe = std::env::current_exe().ok();
    let exe_dir = exe.as_deref().and_then(Path::parent);
    for base in [cwd.as_deref(), exe_dir].into_iter().flatten() {
        for dir in base.ancestors() {
            let candidate = dir.join("models");
            if tried.contains(&candidate) {
                continue;
            }
            let mut found = Vec::new();
            if candidate.is_dir()
                && collect_toml(&candidate, &candidate.join(PIPELINES_DIR), &mut found).is_ok()
                && !found.is_empty()
            {
                return Ok(candidate);
            }
            tried.push(candidate);
        }
    }
    Err(tried)
}
