//! The combined score per modality, and its wire form ([`MasScore`], scores in ‰).
//!
//! * image: `modal = a · r`; `combined = modal · t` with `t` the temporal score (0 for a
//!   repeated frame: nothing new to process; 1 for a new scene); **needed** when
//!   `modal ≥ needed_above`; kept/total = the spatial keep-mask.
//! * audio: `combined = modal = a · r` (a = peak VAD probability); needed when
//!   `combined ≥ needed_above`; kept/total = speech chunks / chunks.
//! * text (the question): `combined = modal = 1` when it has tokens.

use super::{AudioActivity, ModalConfig, Relevance, SpatialScore, TemporalScore};
use msao::message::{MasScore, Modality};

/// A score in [0, 1] as ‰ (rounded, clamped; NaN → 0).
pub fn permille(x: f32) -> u16 {
    if x.is_finite() {
        (x.clamp(0.0, 1.0) * 1000.0).round() as u16
    } else {
        0
    }
}

fn count(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Everything MAS says about the image of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageMas {
    /// Spatial score and keep-mask.
    pub spatial: SpatialScore,
    /// Change against the stream's previous frames.
    pub temporal: TemporalScore,
    /// Relevance of the image to the question.
    pub relevance: Relevance,
    /// `activity · relevance`.
    pub modal: f32,
    /// `modal · temporal score`.
    pub combined: f32,
    /// True when the answer needs the image.
    pub needed: bool,
}

impl ImageMas {
    /// The wire form.
    pub fn to_wire(&self) -> MasScore {
        MasScore {
            modality: Modality::Image,
            spatial_pm: Some(permille(self.spatial.fraction())),
            temporal_pm: Some(permille(self.temporal.score)),
            modal_pm: Some(permille(self.modal)),
            combined_pm: permille(self.combined),
            kept: count(self.spatial.kept),
            total: count(self.spatial.keep.len()),
        }
    }
}

/// Combines the image's spatial, temporal and modal parts.
pub fn combine_image(
    spatial: SpatialScore,
    temporal: TemporalScore,
    relevance: Relevance,
    config: &ModalConfig,
) -> ImageMas {
    let modal = spatial.activity * relevance.score;
    ImageMas {
        combined: modal * temporal.score,
        needed: modal >= config.needed_above,
        spatial,
        temporal,
        relevance,
        modal,
    }
}

/// The audio's score and whether it is needed.
pub fn combine_audio(
    activity: &AudioActivity,
    relevance: Relevance,
    config: &ModalConfig,
) -> (MasScore, bool) {
    let modal = activity.peak * relevance.score;
    (
        MasScore {
            modality: Modality::Audio,
            spatial_pm: None,
            temporal_pm: None,
            modal_pm: Some(permille(modal)),
            combined_pm: permille(modal),
            kept: count(activity.speech_chunks),
            total: count(activity.chunks),
        },
        modal >= config.needed_above,
    )
}

/// The question's score: always needed; `tokens` of the question kept.
pub fn combine_text(tokens: usize) -> MasScore {
    let present = if tokens > 0 { 1000 } else { 0 };
    MasScore {
        modality: Modality::Text,
        spatial_pm: None,
        temporal_pm: None,
        modal_pm: Some(present),
        combined_pm: present,
        kept: count(tokens),
        total: count(tokens),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spatial(kept: usize, activity: f32) -> SpatialScore {
        SpatialScore {
            energy: vec![0.0; 16],
            keep: (0..16).map(|i| i < kept).collect(),
            kept,
            spread: activity,
            activity,
        }
    }

    const NEW: TemporalScore = TemporalScore {
        change: None,
        score: 1.0,
        reuse: false,
        matched_age: None,
    };

    #[test]
    fn image_combines_activity_relevance_and_novelty() {
        let cfg = ModalConfig::default();
        let rel = Relevance {
            cosine: 0.6,
            score: 1.0,
        };
        let m = combine_image(spatial(4, 1.0), NEW, rel, &cfg);
        assert!(m.needed);
        let w = m.to_wire();
        assert_eq!(
            (w.spatial_pm, w.combined_pm, w.kept, w.total),
            (Some(250), 1000, 4, 16)
        );
        let repeated = TemporalScore {
            change: Some(0.01),
            score: 0.025,
            reuse: true,
            matched_age: Some(1),
        };
        let m = combine_image(spatial(4, 1.0), repeated, rel, &cfg);
        assert!(
            m.needed,
            "a repeated frame is still needed, its work is reused"
        );
        assert_eq!(m.to_wire().combined_pm, 25);
        let blank = combine_image(spatial(0, 0.0), NEW, rel, &cfg);
        assert!(!blank.needed);
        assert_eq!(blank.to_wire().combined_pm, 0);
    }

    #[test]
    fn permille_clamps() {
        assert_eq!(permille(0.1234), 123);
        assert_eq!(permille(2.0), 1000);
        assert_eq!(permille(-1.0), 0);
        assert_eq!(permille(f32::NAN), 0);
    }
}
