//! Spatial MAS: which patches of a frame carry signal, from the probe's activation energy.
//!
//! For a probe map `a[c][y][x]` (C channels on an H × W grid) split into R × K patches,
//! patch `p` has energy `E_p = mean over its cells and all channels of a²`. With
//! `E_max`, `E_min` the largest and smallest patch energies:
//!
//! * **gate**: when `E_max − E_min < gate` the frame is flat (blank, or uniform texture the
//!   encoder does not respond to) and nothing is kept;
//! * otherwise patch `p` is kept when `E_p ≥ alpha · E_max`.
//!
//! The threshold adapts to each frame (a fraction of its own peak), so one setting works on
//! dim and bright frames; the gate stops a blank frame from keeping its least-empty patch.

use super::{MasError, check_range};
use serde::{Deserialize, Serialize};

/// Spatial keep-mask parameters (`[mas.spatial]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpatialConfig {
    /// Keep a patch when its energy is at least this fraction of the frame's peak.
    pub alpha: f32,
    /// Keep nothing when peak − lowest patch energy is below this (a flat frame).
    pub gate: f32,
}

impl Default for SpatialConfig {
    fn default() -> Self {
        // Chosen on the calibration split (docs/mas.md): alpha 0.03 keeps 8.4 of 16 patches
        // at the cloud accuracy of all 16; blank frames spread at most 0.030.
        Self {
            alpha: 0.03,
            gate: 0.04,
        }
    }
}

impl SpatialConfig {
    pub(super) fn validate(&self) -> Result<(), MasError> {
        check_range("mas.spatial.alpha", self.alpha, 0.0, 1.0)?;
        check_range("mas.spatial.gate", self.gate, 0.0, 1.0e6)
    }
}

/// How a probe tensor (batch 1, `[channels, height, width]`, row-major) maps to patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeLayout {
    /// Channels.
    pub channels: usize,
    /// Map height.
    pub height: usize,
    /// Map width.
    pub width: usize,
    /// Patch rows (the map height must divide by it).
    pub rows: usize,
    /// Patch columns (the map width must divide by it).
    pub cols: usize,
}

impl ProbeLayout {
    /// The easy-VQA edge model's probe: 16 channels on 16 × 16, 4 × 4 patches.
    pub const VQA_EDGE: Self = Self {
        channels: 16,
        height: 16,
        width: 16,
        rows: 4,
        cols: 4,
    };

    /// Number of patches.
    pub fn patches(&self) -> usize {
        self.rows * self.cols
    }

    /// Values in the probe tensor.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True when the layout holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, probe: &[f32]) -> Result<(), MasError> {
        if self.channels == 0 || self.rows == 0 || self.cols == 0 {
            return Err(MasError::Layout(format!("{self:?} has a zero size")));
        }
        if self.height == 0
            || self.width == 0
            || !self.height.is_multiple_of(self.rows)
            || !self.width.is_multiple_of(self.cols)
        {
            return Err(MasError::Layout(format!(
                "a {}×{} map does not split into {}×{} patches",
                self.height, self.width, self.rows, self.cols
            )));
        }
        if probe.len() != self.len() {
            return Err(MasError::ProbeShape {
                got: probe.len(),
                expected: self.len(),
                what: format!(
                    "{} channels × {} × {}, {} × {} patches",
                    self.channels, self.height, self.width, self.rows, self.cols
                ),
            });
        }
        if let Some(index) = probe.iter().position(|v| !v.is_finite()) {
            return Err(MasError::NotFinite { index });
        }
        Ok(())
    }
}

/// Sum of `a` and of `a²` per (patch, channel), in one pass over the map: the rows of one
/// patch row are added column-wise into two width-long accumulators (a loop the compiler
/// vectorises), then each accumulator is cut into `cols` runs.
fn patch_sums(probe: &[f32], layout: &ProbeLayout) -> (Vec<f32>, Vec<f32>) {
    let patches = layout.patches();
    let mut sum = vec![0.0f32; patches * layout.channels];
    let mut sq = vec![0.0f32; patches * layout.channels];
    let plane = layout.height * layout.width;
    let (ph, pw) = (layout.height / layout.rows, layout.width / layout.cols);
    let mut acc_s = vec![0.0f32; layout.width];
    let mut acc_q = vec![0.0f32; layout.width];
    for (c, channel) in probe.chunks_exact(plane).enumerate() {
        for (r, band) in channel.chunks_exact(ph * layout.width).enumerate() {
            acc_s.fill(0.0);
            acc_q.fill(0.0);
            for row in band.chunks_exact(layout.width) {
                for ((s, q), v) in acc_s.iter_mut().zip(acc_q.iter_mut()).zip(row) {
                    *s += v;
                    *q += v * v;
                }
            }
            for (k, (s, q)) in acc_s
                .chunks_exact(pw)
                .zip(acc_q.chunks_exact(pw))
                .enumerate()
            {
                let i = (r * layout.cols + k) * layout.channels + c;
                sum[i] = s.iter().sum();
                sq[i] = q.iter().sum();
            }
        }
    }
    (sum, sq)
}

/// Mean squared activation per patch (row-major patch order).
pub fn patch_energy(probe: &[f32], layout: &ProbeLayout) -> Result<Vec<f32>, MasError> {
    layout.check(probe)?;
    let (_, sq) = patch_sums(probe, layout);
    Ok(energy_of(&sq, layout))
}

fn energy_of(sq: &[f32], layout: &ProbeLayout) -> Vec<f32> {
    let cells = (layout.channels * layout.height * layout.width / layout.patches()) as f32;
    sq.chunks_exact(layout.channels)
        .map(|c| c.iter().sum::<f32>() / cells)
        .collect()
}

/// Per-patch, per-channel mean activation (`patches × channels`, patch-major): the
/// descriptor temporal MAS compares between frames.
pub fn patch_descriptor(probe: &[f32], layout: &ProbeLayout) -> Result<Vec<f32>, MasError> {
    layout.check(probe)?;
    let (sum, _) = patch_sums(probe, layout);
    Ok(descriptor_of(sum, layout))
}

fn descriptor_of(mut sum: Vec<f32>, layout: &ProbeLayout) -> Vec<f32> {
    let cells = (layout.height * layout.width / layout.patches()) as f32;
    for v in &mut sum {
        *v /= cells;
    }
    sum
}

/// The spatial score of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SpatialScore {
    /// Energy per patch.
    pub energy: Vec<f32>,
    /// The keep-mask, per patch.
    pub keep: Vec<bool>,
    /// Patches kept.
    pub kept: usize,
    /// Peak minus lowest patch energy.
    pub spread: f32,
    /// `min(1, spread / gate)`: 1 for a frame with content, towards 0 for a flat one.
    pub activity: f32,
}

impl SpatialScore {
    /// Share of patches kept, in [0, 1].
    pub fn fraction(&self) -> f32 {
        if self.keep.is_empty() {
            0.0
        } else {
            self.kept as f32 / self.keep.len() as f32
        }
    }
}

/// Energy, gate and keep-mask of one probe map.
pub fn spatial(
    probe: &[f32],
    layout: &ProbeLayout,
    config: &SpatialConfig,
) -> Result<SpatialScore, MasError> {
    let energy = patch_energy(probe, layout)?;
    Ok(score(energy, config))
}

/// [`spatial`] and [`patch_descriptor`] from one pass over the probe (what the edge brain
/// runs per frame).
pub fn spatial_with_descriptor(
    probe: &[f32],
    layout: &ProbeLayout,
    config: &SpatialConfig,
) -> Result<(SpatialScore, Vec<f32>), MasError> {
    layout.check(probe)?;
    let (sum, sq) = patch_sums(probe, layout);
    let energy = energy_of(&sq, layout);
    Ok((score(energy, config), descriptor_of(sum, layout)))
}

fn score(energy: Vec<f32>, config: &SpatialConfig) -> SpatialScore {
    let max = energy.iter().copied().fold(f32::MIN, f32::max);
    let min = energy.iter().copied().fold(f32::MAX, f32::min);
    let spread = (max - min).max(0.0);
    let open = spread >= config.gate;
    let threshold = config.alpha * max;
    let keep: Vec<bool> = energy.iter().map(|e| open && *e >= threshold).collect();
    let kept = keep.iter().filter(|k| **k).count();
    let activity = if config.gate > 0.0 {
        (spread / config.gate).min(1.0)
    } else {
        1.0
    };
    SpatialScore {
        energy,
        keep,
        kept,
        spread,
        activity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: ProbeLayout = ProbeLayout {
        channels: 2,
        height: 4,
        width: 4,
        rows: 2,
        cols: 2,
    };

    fn probe_with(patch_values: [f32; 4]) -> Vec<f32> {
        let mut p = vec![0.0; L.len()];
        for c in 0..2 {
            for y in 0..4 {
                for x in 0..4 {
                    p[c * 16 + y * 4 + x] = patch_values[(y / 2) * 2 + x / 2];
                }
            }
        }
        p
    }

    #[test]
    fn energy_is_mean_square_per_patch() {
        let e = patch_energy(&probe_with([1.0, 2.0, 0.0, 3.0]), &L).unwrap();
        assert_eq!(e, vec![1.0, 4.0, 0.0, 9.0]);
    }

    #[test]
    fn keeps_patches_above_fraction_of_peak() {
        let cfg = SpatialConfig {
            alpha: 0.2,
            gate: 0.5,
        };
        let s = spatial(&probe_with([1.0, 2.0, 0.0, 3.0]), &L, &cfg).unwrap();
        // peak 9, threshold 1.8: patches 1 (4) and 3 (9) kept.
        assert_eq!(s.keep, vec![false, true, false, true]);
        assert_eq!(s.kept, 2);
        assert!((s.fraction() - 0.5).abs() < 1e-6);
        assert_eq!(s.activity, 1.0);
    }

    #[test]
    fn flat_map_keeps_nothing() {
        let s = spatial(&probe_with([0.5; 4]), &L, &SpatialConfig::default()).unwrap();
        assert_eq!(s.kept, 0);
        assert_eq!(s.activity, 0.0);
    }

    #[test]
    fn descriptor_is_mean_per_patch_and_channel() {
        let p = probe_with([1.0, 2.0, 0.0, 3.0]);
        let d = patch_descriptor(&p, &L).unwrap();
        assert_eq!(d, vec![1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 3.0, 3.0]);
        let (s, d2) = spatial_with_descriptor(&p, &L, &SpatialConfig::default()).unwrap();
        assert_eq!(d2, d);
        assert_eq!(s, spatial(&p, &L, &SpatialConfig::default()).unwrap());
    }

    #[test]
    fn channels_and_rows_land_in_their_patch() {
        // One hot cell per channel, in different patches.
        let mut p = vec![0.0; L.len()];
        p[0] = 2.0; // channel 0, (0, 0) → patch 0
        p[16 + 3 * 4 + 1] = 4.0; // channel 1, (3, 1) → patch 2
        let d = patch_descriptor(&p, &L).unwrap();
        assert_eq!(d, vec![0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let e = patch_energy(&p, &L).unwrap();
        assert_eq!(e, vec![0.5, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn bad_shapes_and_values_are_errors() {
        assert!(matches!(
            patch_energy(&[0.0; 5], &L),
            Err(MasError::ProbeShape {
                got: 5,
                expected: 32,
                ..
            })
        ));
        let mut p = probe_with([1.0; 4]);
        p[7] = f32::NAN;
        assert_eq!(patch_energy(&p, &L), Err(MasError::NotFinite { index: 7 }));
        let odd = ProbeLayout { rows: 3, ..L };
        assert!(matches!(
            patch_energy(&[0.0; 32], &odd),
            Err(MasError::Layout(_))
        ));
    }
}
