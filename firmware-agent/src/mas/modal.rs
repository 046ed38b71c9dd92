//! Modal MAS: is a modality active, and does the question ask about it?
//!
//! * **activity** `a`: image — the spatial [`activity`](super::SpatialScore::activity)
//!   (0 for a flat frame); audio — the peak Silero VAD speech probability over the chunks;
//!   text — 1 when the question has tokens.
//! * **relevance** `r`: the question's MiniLM embedding against short prompts that describe
//!   each modality (`c = max cos(question, prompt)`), mapped linearly:
//!   `r = clamp((c − relevance_low) / (relevance_high − relevance_low), 0, 1)`. The question
//!   itself (text) has `r = 1`.
//! * `modal = a · r`; a modality is **needed** when its combined score reaches
//!   `needed_above` (see [`super::combine_image`]).

use super::{MasError, check_range};
use serde::{Deserialize, Serialize};

/// Modal parameters (`[mas.modal]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModalConfig {
    /// Cosine at or below which a modality is irrelevant to the question.
    pub relevance_low: f32,
    /// Cosine at or above which it is fully relevant.
    pub relevance_high: f32,
    /// VAD probability from which an audio chunk counts as speech (kept).
    pub speech_threshold: f32,
    /// Combined score from which a modality is needed.
    pub needed_above: f32,
    /// Prompts describing questions about the image.
    pub image_prompts: Vec<String>,
    /// Prompts describing questions about the audio.
    pub audio_prompts: Vec<String>,
}

impl Default for ModalConfig {
    fn default() -> Self {
        // Measured with MiniLM-L6 (docs/mas.md): every easy-VQA question has image cosine
        // ≥ 0.40 and audio cosine ≤ 0.25; spoken-content questions score the other way.
        Self {
            relevance_low: 0.25,
            relevance_high: 0.40,
            speech_threshold: 0.5,
            needed_above: 0.1,
            // The prompts belong to the pipeline (`[mas.modal]` of its file): none by
            // default, and validation asks for at least one of each.
            image_prompts: Vec::new(),
            audio_prompts: Vec::new(),
        }
    }
}

impl ModalConfig {
    pub(super) fn validate(&self) -> Result<(), MasError> {
        check_range("mas.modal.relevance_low", self.relevance_low, -1.0, 1.0)?;
        check_range("mas.modal.relevance_high", self.relevance_high, -1.0, 1.0)?;
        if self.relevance_high <= self.relevance_low {
            return Err(MasError::Config {
                key: "mas.modal.relevance_high",
                reason: format!(
                    "{} must be above mas.modal.relevance_low ({})",
                    self.relevance_high, self.relevance_low
                ),
            });
        }
        check_range(
            "mas.modal.speech_threshold",
            self.speech_threshold,
            0.0,
            1.0,
        )?;
        check_range("mas.modal.needed_above", self.needed_above, 0.0, 1.0)?;
        for (key, prompts) in [
            ("mas.modal.image_prompts", &self.image_prompts),
            ("mas.modal.audio_prompts", &self.audio_prompts),
        ] {
            if prompts.is_empty() || prompts.iter().any(|p| p.trim().is_empty()) {
                return Err(MasError::Config {
                    key,
                    reason: "needs at least one non-empty prompt".into(),
                });
            }
        }
        Ok(())
    }
}

/// How relevant a modality is to the question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relevance {
    /// Highest cosine between the question and the modality's prompts.
    pub cosine: f32,
    /// Mapped to [0, 1].
    pub score: f32,
}

/// Relevance of a modality, described by its prompt embeddings, to a question embedding.
pub fn relevance(
    question: &[f32],
    prompts: &[Vec<f32>],
    config: &ModalConfig,
) -> Result<Relevance, MasError> {
    let mut best = -1.0f32;
    for p in prompts {
        if p.len() != question.len() {
            return Err(MasError::EmbeddingLength {
                a: question.len(),
                b: p.len(),
            });
        }
        // `None` = a zero-length vector: no similarity.
        best = best.max(crate::encoders::cosine(question, p).unwrap_or(-1.0));
    }
    let span = config.relevance_high - config.relevance_low;
    let score = ((best - config.relevance_low) / span).clamp(0.0, 1.0);
    Ok(Relevance {
        cosine: best,
        score: if score.is_finite() { score } else { 0.0 },
    })
}

/// Speech activity of an audio track from per-chunk VAD probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioActivity {
    /// Highest speech probability (0 for an empty track).
    pub peak: f32,
    /// Chunks at or above the speech threshold (kept).
    pub speech_chunks: usize,
    /// Chunks in the track.
    pub chunks: usize,
}

/// Audio activity from VAD probabilities (non-finite values count as 0).
pub fn audio_activity(probabilities: &[f32], config: &ModalConfig) -> AudioActivity {
    let clean = |p: &f32| {
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    AudioActivity {
        peak: probabilities.iter().map(clean).fold(0.0, f32::max),
        speech_chunks: probabilities
            .iter()
            .map(clean)
            .filter(|p| *p >= config.speech_threshold)
            .count(),
        chunks: probabilities.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevance_maps_cosine_linearly() {
        let cfg = ModalConfig::default();
        let q = vec![1.0, 0.0];
        let same = relevance(&q, &[vec![1.0, 0.0]], &cfg).unwrap();
        assert_eq!(same.score, 1.0);
        let orthogonal = relevance(&q, &[vec![0.0, 1.0]], &cfg).unwrap();
        assert_eq!(orthogonal.score, 0.0);
        // cos = 0.325 is halfway between 0.25 and 0.40.
        let half = relevance(&q, &[vec![0.325, (1.0f32 - 0.325 * 0.325).sqrt()]], &cfg).unwrap();
        assert!((half.score - 0.5).abs() < 1e-3, "{half:?}");
        assert!(relevance(&q, &[vec![1.0]], &cfg).is_err());
    }

    #[test]
    fn silence_has_no_activity() {
        let cfg = ModalConfig::default();
        let silent = audio_activity(&[0.01, 0.02, 0.0], &cfg);
        assert_eq!(silent.speech_chunks, 0);
        assert!(silent.peak < 0.05);
        let speech = audio_activity(&[0.1, 0.9, 0.95, f32::NAN], &cfg);
        assert_eq!((speech.speech_chunks, speech.chunks), (2, 4));
        assert_eq!(speech.peak, 0.95);
    }
}
