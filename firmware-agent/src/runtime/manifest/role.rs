//! [`Role`]: the part a model plays in a pipeline, as its manifest declares it, and the
//! [`Bindings`] of its tensors to that role's slots.
//!
//! Tensor names live in one place. Where the model's export fixes which tensor does what
//! (Silero VAD's recurrent state, a cloud graph fed a scattered compact tensor), the
//! manifest's `[bindings]` say it, once for every pipeline using the model. Where a pipeline
//! chooses which of a graph's outputs plays a part (which output is the patch features,
//! which the embedding), the pipeline file says it.

use std::collections::BTreeMap;

/// The part a model plays. A manifest's `role` is optional; when present, a pipeline that
/// binds the model in another role is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `[image]` of a pipeline.
    ImageEncoder,
    /// `[text]`.
    TextEncoder,
    /// `[audio]`: speech activity per chunk; tensors from `[bindings]`.
    AudioActivity,
    /// `[head]` of kind `separate`.
    LocalHead,
    /// `[region]` of kind `detector`.
    RegionDetector,
    /// `[cloud] model`: the graph a compact tensor is scattered into; tensors from
    /// `[bindings]`.
    CloudCompact,
}

/// Whether a slot names an input or an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A graph input.
    Input,
    /// A graph output.
    Output,
}

/// One slot of a role: its key in `[bindings]`, the side, and whether it must be bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Key in `[bindings]`.
    pub key: &'static str,
    /// Input or output.
    pub side: Side,
    /// Required (else optional).
    pub required: bool,
}

const fn slot(key: &'static str, side: Side, required: bool) -> Slot {
    Slot {
        key,
        side,
        required,
    }
}

const AUDIO_SLOTS: &[Slot] = &[
    slot("input", Side::Input, true),
    slot("state", Side::Input, true),
    slot("sample_rate", Side::Input, false),
    slot("speech", Side::Output, true),
    slot("state_out", Side::Output, true),
];

const CLOUD_SLOTS: &[Slot] = &[
    slot("patches", Side::Input, true),
    slot("scale", Side::Input, true),
    slot("patch_mask", Side::Input, true),
    slot("question", Side::Input, true),
    slot("logits", Side::Output, true),
];

impl Role {
    const ALL: [Self; 6] = [
        Self::ImageEncoder,
        Self::TextEncoder,
        Self::AudioActivity,
        Self::LocalHead,
        Self::RegionDetector,
        Self::CloudCompact,
    ];

    /// Manifest spelling.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ImageEncoder => "image-encoder",
            Self::TextEncoder => "text-encoder",
            Self::AudioActivity => "audio-activity",
            Self::LocalHead => "local-head",
            Self::RegionDetector => "region-detector",
            Self::CloudCompact => "cloud-compact",
        }
    }

    /// Parses the manifest spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Every spelling, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The slots `[bindings]` fills for this role; empty where the pipeline file binds the
    /// tensors.
    pub const fn slots(self) -> &'static [Slot] {
        match self {
            Self::AudioActivity => AUDIO_SLOTS,
            Self::CloudCompact => CLOUD_SLOTS,
            _ => &[],
        }
    }
}

/// `[bindings]`, validated against the role's slots and the manifest's tensors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bindings(BTreeMap<String, String>);

impl Bindings {
    pub(super) fn new(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    /// The tensor bound to `slot`.
    pub fn get(&self, slot: &str) -> Option<&str> {
        self.0.get(slot).map(String::as_str)
    }

    /// True when nothing is bound.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_spelling_round_trips() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Some(r));
        }
        assert_eq!(Role::parse("encoder"), None);
    }
}
