//! Modality Activation Sparsity (MAS): from the encoders' early activations, how much of
//! each modality a request needs. The formulas are written down in `docs/mas.md`; this
//! module is their one implementation.
//!
//! | file       | owns |
//! |------------|------|
//! | `spatial`  | per-patch probe energy, the adaptive threshold, the keep-mask |
//! | `temporal` | change of the probe against the stream's previous frames; reuse |
//! | `modal`    | activity and question relevance per modality (VAD for audio) |
//! | `combine`  | the combined score per modality and the wire [`MasScore`] |
//! | `error`    | [`MasError`] |
//!
//! Every function here is plain arithmetic over slices the encoders already produced: no
//! model runs, no allocation beyond a few small vectors, so MAS costs a small fraction of an
//! encoder run (measured by `cargo bench -p msao-agent --bench edge` and `msao-host eval`).
//!
//! [`MasScore`]: msao::message::MasScore

mod combine;
mod error;
mod modal;
mod spatial;
mod temporal;

pub use combine::{ImageMas, combine_audio, combine_image, combine_text, permille};
pub use error::MasError;
pub use modal::{AudioActivity, ModalConfig, Relevance, audio_activity, relevance};
pub use spatial::{
    ProbeLayout, SpatialConfig, SpatialScore, patch_descriptor, patch_energy, spatial,
    spatial_with_descriptor,
};
pub use temporal::{TemporalConfig, TemporalScore, TemporalTracker};

use serde::{Deserialize, Serialize};

/// All MAS parameters (config section `[mas]`); the defaults are the values documented
/// in `docs/mas.md`, chosen on the calibration split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MasConfig {
    /// Spatial keep-mask.
    pub spatial: SpatialConfig,
    /// Temporal change and reuse.
    pub temporal: TemporalConfig,
    /// Modal activity and relevance.
    pub modal: ModalConfig,
}

impl MasConfig {
    /// Checks every parameter's range; the error names the key.
    pub fn validate(&self) -> Result<(), MasError> {
        self.spatial.validate()?;
        self.temporal.validate()?;
        self.modal.validate()
    }
}

/// Checks `lo <= value <= hi` (and finite) for a config key.
pub(crate) fn check_range(key: &'static str, value: f32, lo: f32, hi: f32) -> Result<(), MasError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(MasError::Config {
            key,
            reason: format!("{value} is outside [{lo}, {hi}]"),
        })
    }
}
