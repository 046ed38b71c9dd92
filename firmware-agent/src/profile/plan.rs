//! Choosing what to profile: (manifest, provider) pairs from the catalog, the runtime and
//! the spec's filters, with an error naming what is missing rather than an empty result.

use super::{ProfileError, ProfileSpec};
use crate::runtime::{
    InferenceRuntime, ModelCatalog, ModelManifest, manifest::precision_name, provider_name,
};
use log::warn;
use msao::message::ExecProvider;

/// One thing to measure.
#[derive(Debug, Clone, Copy)]
pub struct PlanEntry<'a> {
    /// The model (name and precision).
    pub manifest: &'a ModelManifest,
    /// The provider to run it on.
    pub provider: ExecProvider,
}

/// Most entries in one profile (`ProfileResult::total` is a `u16`).
pub const MAX_ENTRIES: usize = u16::MAX as usize;

/// The entries `spec` selects, in catalog order, each model on each selected provider.
pub fn plan<'a>(
    runtime: &dyn InferenceRuntime,
    catalog: &'a ModelCatalog,
    spec: &ProfileSpec,
) -> Result<Vec<PlanEntry<'a>>, ProfileError> {
    spec.validate()?;
    if catalog.models().is_empty() {
        return Err(ProfileError::NoModels {
            dir: catalog.dir().to_path_buf(),
        });
    }
    if let Some(name) = &spec.model
        && !catalog.names().contains(&name.as_str())
    {
        return Err(ProfileError::UnknownModel {
            name: name.clone(),
            known: catalog.names().join(", "),
        });
    }
    let manifests = catalog.select(spec.model.as_deref(), spec.precision);
    if manifests.is_empty() {
        let available: Vec<String> = catalog
            .select(spec.model.as_deref(), None)
            .iter()
            .map(|m| m.label())
            .collect();
        return Err(ProfileError::NoSuchPrecision {
            model: spec.model.clone(),
            precision: spec.precision.map_or("?", precision_name),
            available: available.join(", "),
        });
    }
    let providers = match spec.provider {
        Some(p) if runtime.is_available(p) => vec![p],
        Some(p) => {
            let available: Vec<&str> = runtime.providers().into_iter().map(provider_name).collect();
            return Err(ProfileError::ProviderUnavailable {
                provider: provider_name(p),
                runtime: format!(
                    "{} {}",
                    runtime.name(),
                    runtime.version().unwrap_or("(version unknown)")
                ),
                available: available.join(", "),
            });
        }
        None => runtime.providers(),
    };
    let mut entries = Vec::new();
    for m in manifests {
        if spec.batch > 1 && !m.has_batch_dim() {
            if spec.model.is_some() {
                return Err(ProfileError::BatchUnsupported { model: m.label() });
            }
            warn!(
                "skipping {}: no batch dimension for batch {}",
                m.label(),
                spec.batch
            );
            continue;
        }
        for &provider in &providers {
            entries.push(PlanEntry {
                manifest: m,
                provider,
            });
        }
    }
    if entries.len() > MAX_ENTRIES {
        return Err(ProfileError::InvalidSpec(format!(
            "{} entries; at most {MAX_ENTRIES} per profile",
            entries.len()
        )));
    }
    Ok(entries)
}
