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
use wide::f32x4;

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

    /// The shape checks: sizes that split evenly, and a probe of the right length.
    fn check_shape(&self, probe: &[f32]) -> Result<(), MasError> {
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
        Ok(())
    }

    /// True for a 16 × 16 map in 4 × 4 patches (any channel count): [`Self::VQA_EDGE`]'s
    /// geometry, which has the fixed-size fast path.
    fn is_16x16_in_4x4(&self) -> bool {
        (self.height, self.width, self.rows, self.cols) == (16, 16, 4, 4)
    }
}

/// Per-patch energy (`patches`) and descriptor (`patches × channels`, patch-major) of one
/// probe, in one pass. Both are bit-identical between the two paths: every patch sum adds
/// rows top to bottom, then the patch's columns left to right, then (energy) channels in
/// order, as `docs/mas.md` states them.
///
/// A non-finite probe value makes its patch energy non-finite (`v²` is `inf` or NaN and
/// every other term is ≥ 0), so the scan for the offending index runs only then, instead of
/// a branchy pass over every value of every frame.
fn energy_and_descriptor(
    probe: &[f32],
    layout: &ProbeLayout,
) -> Result<(Vec<f32>, Vec<f32>), MasError> {
    layout.check_shape(probe)?;
    let mut energy = vec![0.0f32; layout.patches()];
    let mut descriptor = vec![0.0f32; layout.patches() * layout.channels];
    if layout.is_16x16_in_4x4() {
        sums_16x16_in_4x4(probe, layout.channels, &mut energy, &mut descriptor);
    } else {
        sums_any(probe, layout, &mut energy, &mut descriptor);
    }
    if energy.iter().any(|e| !e.is_finite())
        && let Some(index) = probe.iter().position(|v| !v.is_finite())
    {
        return Err(MasError::NotFinite { index });
    }
    Ok((energy, descriptor))
}

/// The fast path for a 16 × 16 map in 4 × 4 patches, in explicit 4-lane vectors
/// ([`wide::f32x4`]: SSE here, NEON on the Jetson): a row of 16 values is four vectors, one
/// per patch column band, so each (channel, patch row) band of 4 rows is folded into 4 sum
/// and 4 square-sum vectors by vertical adds; one 4 × 4 transpose then turns "add each
/// patch's 4 columns" into three vertical adds for the band's 4 patches at once. Descriptor
/// sums go to a channel-major stack block of up to `GROUP` channels and are scattered
/// patch-major once per block. Measured as `spatial_with_descriptor` in the edge bench's
/// parts line: 1.38 µs with scalar arrays and strided stores in the band loop (LLVM's SLP
/// vectoriser shuffled every row into patch-major lanes), 1.14 µs with the block, 0.71 µs
/// with explicit vectors.
fn sums_16x16_in_4x4(probe: &[f32], channels: usize, energy: &mut [f32], descriptor: &mut [f32]) {
    const W: usize = 16;
    const P: usize = 4;
    const GROUP: usize = 16;
    // Energy accumulators: lane k of e[r] is patch (r, k), summed over channels in order.
    let mut e = [f32x4::ZERO; P];
    let (planes, _) = probe.as_chunks::<{ W * W }>();
    let planes = &planes[..channels.min(planes.len())];
    for (g, group) in planes.chunks(GROUP).enumerate() {
        // [channel in group][patch row], lane k = patch column k.
        let mut block = [[f32x4::ZERO; P]; GROUP];
        for (plane, out) in group.iter().zip(block.iter_mut()) {
            let (bands, _) = plane.as_chunks::<{ P * W }>();
            for ((band, er), dr) in bands.iter().zip(e.iter_mut()).zip(out.iter_mut()) {
                let (rows, _) = band.as_chunks::<W>();
                // s[k], q[k]: lane j = column j of patch k (sums and sums of squares).
                let mut s = [f32x4::ZERO; P];
                let mut q = [f32x4::ZERO; P];
                for row in rows {
                    let (quads, _) = row.as_chunks::<P>();
                    for ((s, q), quad) in s.iter_mut().zip(q.iter_mut()).zip(quads) {
                        let v = f32x4::from(*quad);
                        *s += v;
                        *q += v * v;
                    }
                }
                *er += patch_sums(q);
                *dr = patch_sums(s);
            }
        }
        for (i, sums) in block.iter().take(group.len()).enumerate() {
            let c = g * GROUP + i;
            for (r, v) in sums.iter().enumerate() {
                for (k, d) in v.to_array().iter().enumerate() {
                    // 16 cells per patch: the division is exact as a multiplication.
                    descriptor[(r * P + k) * channels + c] = d * (1.0 / 16.0);
                }
            }
        }
    }
    let cells = (channels * 16) as f32;
    for (r, e) in e.iter().enumerate() {
        for (k, e) in e.to_array().iter().enumerate() {
            energy[r * P + k] = e / cells;
        }
    }
}

/// `((x[k][0] + x[k][1]) + x[k][2]) + x[k][3]` in lane `k` (the order of the general path,
/// so results are bit-identical): a 4 × 4 transpose and three vertical adds.
#[inline(always)]
fn patch_sums(x: [f32x4; 4]) -> f32x4 {
    let [t0, t1, t2, t3] = f32x4::transpose(x);
    ((t0 + t1) + t2) + t3
}

/// Any other geometry: the rows of one patch row are added column-wise into two width-long
/// accumulators, then each accumulator is cut into `cols` runs.
fn sums_any(probe: &[f32], layout: &ProbeLayout, energy: &mut [f32], descriptor: &mut [f32]) {
    let plane = layout.height * layout.width;
    let (ph, pw) = (layout.height / layout.rows, layout.width / layout.cols);
    let mut sq = vec![0.0f32; energy.len()];
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
                let p = r * layout.cols + k;
                descriptor[p * layout.channels + c] = s.iter().fold(0.0, |a, v| a + v);
                sq[p] += q.iter().fold(0.0, |a, v| a + v);
            }
        }
    }
    let cells = (ph * pw) as f32;
    for v in descriptor.iter_mut() {
        *v /= cells;
    }
    let cells = (layout.channels * ph * pw) as f32;
    for (e, q) in energy.iter_mut().zip(&sq) {
        *e = q / cells;
    }
}

/// Mean squared activation per patch (row-major patch order).
pub fn patch_energy(probe: &[f32], layout: &ProbeLayout) -> Result<Vec<f32>, MasError> {
    Ok(energy_and_descriptor(probe, layout)?.0)
}

/// Per-patch, per-channel mean activation (`patches × channels`, patch-major): the
/// descriptor temporal MAS compares between frames.
pub fn patch_descriptor(probe: &[f32], layout: &ProbeLayout) -> Result<Vec<f32>, MasError> {
    Ok(energy_and_descriptor(probe, layout)?.1)
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
    let (energy, _) = energy_and_descriptor(probe, layout)?;
    Ok(score(energy, config))
}

/// [`spatial`] and [`patch_descriptor`] from one pass over the probe (what the edge brain
/// runs per frame).
pub fn spatial_with_descriptor(
    probe: &[f32],
    layout: &ProbeLayout,
    config: &SpatialConfig,
) -> Result<(SpatialScore, Vec<f32>), MasError> {
    let (energy, descriptor) = energy_and_descriptor(probe, layout)?;
    Ok((score(energy, config), descriptor))
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

    /// Deterministic values in [-2, 2) with a few exact zeros and negative zeros.
    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                match i % 37 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => (x >> 8) as f32 / (1u32 << 22) as f32 - 2.0,
                }
            })
            .collect()
    }

    #[test]
    fn fast_path_is_bit_identical_to_the_general_one() {
        for channels in [1, 3, 16, 17, 40] {
            let layout = ProbeLayout {
                channels,
                ..ProbeLayout::VQA_EDGE
            };
            for seed in 1..20 {
                let probe = noise(layout.len(), seed);
                let (mut e_any, mut d_any) = (vec![0.0; 16], vec![0.0; 16 * channels]);
                sums_any(&probe, &layout, &mut e_any, &mut d_any);
                let (e, d) = energy_and_descriptor(&probe, &layout).unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.abs().to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&e),
                    bits(&e_any),
                    "energy, {channels} channels, seed {seed}"
                );
                assert_eq!(
                    bits(&d),
                    bits(&d_any),
                    "descriptor, {channels} channels, seed {seed}"
                );
            }
        }
    }

    #[test]
    fn fast_path_matches_the_formula() {
        let layout = ProbeLayout::VQA_EDGE;
        let probe = noise(layout.len(), 7);
        let (e, d) = energy_and_descriptor(&probe, &layout).unwrap();
        for p in 0..16 {
            let (y0, x0) = (4 * (p / 4), 4 * (p % 4));
            let mut sq = 0.0f64;
            for c in 0..16 {
                let mut sum = 0.0f64;
                for y in y0..y0 + 4 {
                    for x in x0..x0 + 4 {
                        let v = f64::from(probe[c * 256 + y * 16 + x]);
                        sum += v;
                        sq += v * v;
                    }
                }
                assert!(
                    (f64::from(d[p * 16 + c]) - sum / 16.0).abs() < 1e-5,
                    "d[{p}][{c}]"
                );
            }
            assert!((f64::from(e[p]) - sq / 256.0).abs() < 1e-5, "e[{p}]");
        }
    }

    #[test]
    fn non_finite_values_are_found_on_the_fast_path_too() {
        let layout = ProbeLayout::VQA_EDGE;
        let mut probe = noise(layout.len(), 3);
        probe[1234] = f32::INFINITY;
        probe[3000] = f32::NAN;
        assert_eq!(
            spatial_with_descriptor(&probe, &layout, &SpatialConfig::default()),
            Err(MasError::NotFinite { index: 1234 })
        );
        // Finite but huge: the energy overflows, as it always did, but it is no error.
        let mut probe = noise(layout.len(), 3);
        probe[5] = 3.0e30;
        assert!(patch_energy(&probe, &layout).unwrap()[1].is_infinite());
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
