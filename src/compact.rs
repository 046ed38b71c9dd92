//! The compact tensor: what the device uploads to the cloud model instead of a camera frame.
//!
//! Only the kept patches' features travel, as int8 with one symmetric scale per request, with
//! a bitmask saying which grid patches they are. The normative text is
//! `spec/compact-tensor.md`; worked vectors are in `spec/vectors/compact/`.
//!
//! ```text
//! offset  0  magic    "MC"
//!         2  version  u8 = 1
//!         3  flags    u8 = 0
//!         4  total    u16 LE   grid patches, 1..=256
//!         6  dim      u16 LE   features per patch, 1..=1024
//!         8  kept     u16 LE   kept patches, = popcount(mask)
//!        10  scale    f32 LE   finite, > 0
//!        14  mask     ceil(total / 8) bytes, bit p % 8 of byte p / 8 = patch p kept
//!         …  values   kept × dim i8, kept patches in ascending order, dim values each
//! ```
//!
//! Everything here is `no_std`, heap-free and panic-free: callers pass the buffers.
//!
//! ```
//! use msao::compact;
//! // 4 patches of 2 features, patch-major; keep patches 1 and 3.
//! let features = [0.0, 0.0, 1.0, -2.0, 9.0, 9.0, 0.5, 0.25];
//! let keep = [false, true, false, true];
//! let mut buf = [0u8; 64];
//! let n = compact::encode_features(&mut buf, &features, 2, &keep).unwrap();
//! assert_eq!(n, compact::encoded_len(4, 2, 2));
//! let view = compact::decode(&buf[..n]).unwrap();
//! assert_eq!(view.kept_indices().collect::<Vec<_>>(), [1, 3]);
//! assert_eq!(view.scale(), 2.0 / 127.0);
//! assert_eq!(view.values().collect::<Vec<_>>(), [64, -127, 32, 16]);
//! // The cloud model's dense inputs: zeros in dropped slots.
//! let (mut patches, mut mask) = ([0i8; 8], [0f32; 4]);
//! view.scatter_into(&mut patches, &mut mask).unwrap();
//! assert_eq!(patches, [0, 0, 64, -127, 0, 0, 32, 16]);
//! assert_eq!(mask, [0.0, 1.0, 0.0, 1.0]);
//! ```

use core::{fmt, iter::Map, slice};

/// First two bytes of every compact tensor: `b"MC"`.
pub const MAGIC: [u8; 2] = *b"MC";

/// Layout version written by this crate; [`decode`] refuses any other.
pub const VERSION: u8 = 1;

/// Flags understood by this version: none. [`decode`] refuses a tensor with any flag set.
pub const KNOWN_FLAGS: u8 = 0;

/// Bytes before the mask: magic, version, flags, total, dim, kept, scale.
pub const HEADER_LEN: usize = 14;

/// Most grid patches a tensor can describe.
pub const MAX_TOTAL: usize = 256;

/// Most features per patch.
pub const MAX_DIM: usize = 1024;

/// Largest quantised magnitude: values lie in `-127..=127` (`-128` is never produced).
pub const QMAX: i8 = 127;

/// Largest mask: `ceil(MAX_TOTAL / 8)` bytes.
pub const MAX_MASK_LEN: usize = MAX_TOTAL.div_ceil(8);

/// Largest encoded tensor: every patch kept at the largest `total` and `dim`.
pub const MAX_ENCODED: usize = encoded_len(MAX_TOTAL, MAX_DIM, MAX_TOTAL);

const AT_MAGIC: usize = 0;
const AT_VERSION: usize = 2;
const AT_FLAGS: usize = 3;
const AT_TOTAL: usize = 4;
const AT_DIM: usize = 6;
const AT_KEPT: usize = 8;
const AT_SCALE: usize = 10;

/// Bytes of the kept-patch bitmask for `total` grid patches: `ceil(total / 8)`.
pub const fn mask_len(total: usize) -> usize {
    total.div_ceil(8)
}

/// Encoded size of a tensor: `14 + ceil(total / 8) + kept · dim` bytes.
///
/// Saturates instead of overflowing for absurd arguments.
pub const fn encoded_len(total: usize, dim: usize, kept: usize) -> usize {
    HEADER_LEN
        .saturating_add(mask_len(total))
        .saturating_add(kept.saturating_mul(dim))
}

/// What was wrong with a compact tensor or with the arguments to build one.
///
/// Errors about a received tensor carry the byte offset of the field at fault
/// ([`CompactError::offset`]); the `Display` text names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactError {
    /// The input ends at byte `have`, before byte `need` (a header field, the mask, or the
    /// values).
    Truncated {
        /// Bytes needed so far (the whole tensor once the header is read).
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Bytes follow the last value.
    TrailingBytes {
        /// Exact length the header and mask imply.
        expected: usize,
        /// Bytes present.
        have: usize,
    },
    /// Bytes 0–1 are not [`MAGIC`].
    BadMagic {
        /// The two bytes found.
        found: [u8; 2],
    },
    /// Byte 2 is not [`VERSION`].
    UnsupportedVersion {
        /// The version found.
        found: u8,
    },
    /// Byte 3 has bits outside [`KNOWN_FLAGS`].
    UnknownFlags {
        /// The flags byte found.
        found: u8,
    },
    /// `total` (bytes 4–5 on the wire) is outside `1..=`[`MAX_TOTAL`].
    TotalOutOfRange {
        /// The total found or given.
        total: usize,
    },
    /// `dim` (bytes 6–7 on the wire) is outside `1..=`[`MAX_DIM`].
    DimOutOfRange {
        /// The dim found or given.
        dim: usize,
    },
    /// `kept` (bytes 8–9) exceeds `total`.
    KeptOutOfRange {
        /// The kept count found.
        kept: usize,
        /// The total found.
        total: usize,
    },
    /// `scale` (bytes 10–13 on the wire) is not finite and positive.
    BadScale {
        /// The scale's IEEE-754 bits.
        bits: u32,
    },
    /// A mask bit at or beyond `total` is set, in the mask byte at offset `at`.
    PaddingBitSet {
        /// Byte offset of the offending mask byte.
        at: usize,
    },
    /// The header's `kept` differs from the number of bits set in the mask.
    KeptMismatch {
        /// `kept` from the header.
        kept: usize,
        /// Bits set in the mask.
        mask_popcount: usize,
    },
    /// The output buffer is smaller than the encoded tensor.
    BufferTooSmall {
        /// Bytes the tensor needs.
        need: usize,
        /// Bytes the caller provided.
        have: usize,
    },
    /// An input or output slice has the wrong number of elements.
    LengthMismatch {
        /// Which argument.
        what: &'static str,
        /// Elements it must have.
        expected: usize,
        /// Elements it has.
        found: usize,
    },
    /// A feature to quantise is NaN or infinite.
    NonFinite {
        /// Its index in the input slice.
        index: usize,
    },
}

impl CompactError {
    /// Byte offset in the received tensor where the fault lies, for errors of [`decode`].
    pub const fn offset(&self) -> Option<usize> {
        match self {
            Self::Truncated { have, .. } => Some(*have),
            Self::TrailingBytes { expected, .. } => Some(*expected),
            Self::BadMagic { .. } => Some(AT_MAGIC),
            Self::UnsupportedVersion { .. } => Some(AT_VERSION),
            Self::UnknownFlags { .. } => Some(AT_FLAGS),
            Self::TotalOutOfRange { .. } => Some(AT_TOTAL),
            Self::DimOutOfRange { .. } => Some(AT_DIM),
            Self::KeptOutOfRange { .. } | Self::KeptMismatch { .. } => Some(AT_KEPT),
            Self::BadScale { .. } => Some(AT_SCALE),
            Self::PaddingBitSet { at } => Some(*at),
            Self::BufferTooSmall { .. } | Self::LengthMismatch { .. } | Self::NonFinite { .. } => {
                None
            }
        }
    }
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { need, have } => write!(
                f,
                "compact tensor truncated at byte {have}: need {need} bytes, have {have}"
            ),
            Self::TrailingBytes { expected, have } => write!(
                f,
                "compact tensor has {} trailing bytes from byte {expected}: expected exactly \
                 {expected} bytes, have {have}",
                have.saturating_sub(*expected)
            ),
            Self::BadMagic { found } => write!(
                f,
                "not a compact tensor: magic at byte 0 is {:02x} {:02x}, expected 4d 43 (\"MC\")",
                found[0], found[1]
            ),
            Self::UnsupportedVersion { found } => write!(
                f,
                "unsupported compact tensor version {found} at byte 2 (this reader knows {VERSION})"
            ),
            Self::UnknownFlags { found } => write!(
                f,
                "unknown compact tensor flags {found:#04x} at byte 3 (known: {KNOWN_FLAGS:#04x})"
            ),
            Self::TotalOutOfRange { total } => write!(
                f,
                "total patch count {total} (field at byte 4) outside 1..={MAX_TOTAL}"
            ),
            Self::DimOutOfRange { dim } => write!(
                f,
                "feature dim {dim} (field at byte 6) outside 1..={MAX_DIM}"
            ),
            Self::KeptOutOfRange { kept, total } => write!(
                f,
                "kept patch count {kept} (field at byte 8) exceeds total {total}"
            ),
            Self::BadScale { bits } => write!(
                f,
                "scale {} (bits {bits:#010x}, field at byte 10) is not finite and positive",
                f32::from_bits(*bits)
            ),
            Self::PaddingBitSet { at } => write!(
                f,
                "padding bit set in the patch mask byte at byte {at} (bits at or past `total` \
                 must be zero)"
            ),
            Self::KeptMismatch {
                kept,
                mask_popcount,
            } => write!(
                f,
                "kept patch count {kept} (field at byte 8) differs from the {mask_popcount} \
                 bits set in the patch mask (from byte {HEADER_LEN})"
            ),
            Self::BufferTooSmall { need, have } => write!(
                f,
                "compact tensor buffer too small: need {need} bytes, have {have}"
            ),
            Self::LengthMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected} elements, got {found}"),
            Self::NonFinite { index } => {
                write!(f, "feature at index {index} is NaN or infinite")
            }
        }
    }
}

impl core::error::Error for CompactError {}

/// Iterator over int8 values stored as two's-complement bytes.
pub type I8Iter<'a> = Map<slice::Iter<'a, u8>, fn(&u8) -> i8>;

fn i8_iter(bytes: &[u8]) -> I8Iter<'_> {
    bytes.iter().map(|b| b.cast_signed())
}

// ---------------------------------------------------------------------------------------------
// Quantisation
// ---------------------------------------------------------------------------------------------

/// The per-request scale for the largest kept magnitude `max_abs`: `max_abs / 127` in f32.
///
/// `1.0` when `max_abs` is zero (nothing kept, or all kept values zero), and also when the
/// division underflows to zero (`max_abs` below about `9e-44`; every value then quantises
/// to 0), so the scale is always finite and positive for a finite `max_abs`.
pub fn scale_for(max_abs: f32) -> f32 {
    let scale = max_abs / 127.0;
    if scale > 0.0 && scale.is_finite() {
        scale
    } else {
        1.0
    }
}

/// Rounds `v` to the nearest integer, ties to even, for `|v| < 2^23` (exact in f32).
fn round_half_even(v: f32) -> f32 {
    // `as` truncates toward zero; both `t` and `v - t` are exact for |v| < 2^23.
    let t = v as i32;
    let frac = v - t as f32;
    let step = if v < 0.0 { -1 } else { 1 };
    let r = if frac.abs() > 0.5 || (frac.abs() == 0.5 && t % 2 != 0) {
        t + step
    } else {
        t
    };
    r as f32
}

/// Quantises one value: `clamp(round_half_even(x / scale), -127, 127)`, computed in f32.
///
/// Total over all inputs: a NaN quotient gives 0, infinities clamp.
pub fn quantize_value(x: f32, scale: f32) -> i8 {
    let v = x / scale;
    if v.is_nan() {
        return 0;
    }
    // Clamping before rounding gives the same result (the bounds are integers) and keeps
    // the rounding exact.
    let v = v.clamp(-f32::from(QMAX), f32::from(QMAX));
    round_half_even(v) as i8
}

/// Dequantises one value: `q · scale` in f32, as the cloud graph does (`Cast · scale`).
pub fn dequantize(q: i8, scale: f32) -> f32 {
    f32::from(q) * scale
}

fn check_finite(values: &[f32]) -> Result<(), CompactError> {
    match values.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(CompactError::NonFinite { index }),
        None => Ok(()),
    }
}

fn max_abs<'a>(values: impl Iterator<Item = &'a f32>) -> f32 {
    values.fold(0.0f32, |m, x| m.max(x.abs()))
}

/// Quantises `values` (all of them kept) with one scale; writes `out` and returns the scale.
///
/// `out.len()` must equal `values.len()`. Non-finite input is an error, not a panic.
pub fn quantize(values: &[f32], out: &mut [i8]) -> Result<f32, CompactError> {
    expect_len("quantize output", values.len(), out.len())?;
    check_finite(values)?;
    let scale = scale_for(max_abs(values.iter()));
    for (q, x) in out.iter_mut().zip(values) {
        *q = quantize_value(*x, scale);
    }
    Ok(scale)
}

/// The result of [`quantize_patches`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantized {
    /// The per-request scale.
    pub scale: f32,
    /// Patches kept; `kept · dim` values were written.
    pub kept: usize,
}

/// Checks `features` (patch-major `[keep.len(), dim]`) and `keep`; returns the kept count.
fn check_features(features: &[f32], dim: usize, keep: &[bool]) -> Result<usize, CompactError> {
    check_shape(keep.len(), dim)?;
    expect_len("features", keep.len() * dim, features.len())?;
    check_finite(features)?;
    Ok(keep.iter().filter(|k| **k).count())
}

fn kept_rows<'a>(
    features: &'a [f32],
    dim: usize,
    keep: &'a [bool],
) -> impl Iterator<Item = &'a [f32]> + Clone + 'a {
    features
        .chunks_exact(dim)
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(row, _)| row)
}

/// Quantises the kept patches of patch-major `features` (`[keep.len(), dim]`, feature `j` of
/// patch `p` at `p · dim + j`) with one scale over the kept values.
///
/// Writes the kept patches' values, in ascending patch order, to the start of `out`
/// (`out.len() ≥ kept · dim`). Like the reference, any non-finite feature is an error, kept
/// or not (the reference's scale would be NaN).
pub fn quantize_patches(
    features: &[f32],
    dim: usize,
    keep: &[bool],
    out: &mut [i8],
) -> Result<Quantized, CompactError> {
    let kept = check_features(features, dim, keep)?;
    let n = kept * dim;
    let found = out.len();
    let out = out.get_mut(..n).ok_or(CompactError::LengthMismatch {
        what: "quantize_patches output",
        expected: n,
        found,
    })?;
    let scale = scale_for(max_abs(kept_rows(features, dim, keep).flatten()));
    for (q, x) in out.iter_mut().zip(kept_rows(features, dim, keep).flatten()) {
        *q = quantize_value(*x, scale);
    }
    Ok(Quantized { scale, kept })
}

/// Converts the edge model's channel-major `features` (`[dim, rows, cols]`, `patches =
/// rows · cols`, patch `p` = grid cell `(p / cols, p % cols)`) to patch-major `[patches, dim]`.
///
/// `out[p · dim + j] = channel_major[j · patches + p]`; both slices hold `dim · patches`
/// values.
pub fn channel_major_to_patch_major(
    channel_major: &[f32],
    dim: usize,
    patches: usize,
    out: &mut [f32],
) -> Result<(), CompactError> {
    // Saturated, an impossible product matches no slice length.
    let n = dim.saturating_mul(patches);
    expect_len("channel-major features", n, channel_major.len())?;
    expect_len("patch-major output", n, out.len())?;
    if n == 0 {
        return Ok(());
    }
    for (j, channel) in channel_major.chunks_exact(patches).enumerate() {
        for (p, x) in channel.iter().enumerate() {
            if let Some(o) = out.get_mut(p * dim + j) {
                *o = *x;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

fn expect_len(what: &'static str, expected: usize, found: usize) -> Result<(), CompactError> {
    if expected == found {
        Ok(())
    } else {
        Err(CompactError::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

fn check_shape(total: usize, dim: usize) -> Result<(), CompactError> {
    if !(1..=MAX_TOTAL).contains(&total) {
        return Err(CompactError::TotalOutOfRange { total });
    }
    if !(1..=MAX_DIM).contains(&dim) {
        return Err(CompactError::DimOutOfRange { dim });
    }
    Ok(())
}

fn check_scale(scale: f32) -> Result<(), CompactError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(CompactError::BadScale {
            bits: scale.to_bits(),
        })
    }
}

/// Writes header and mask for `keep` into `out` (already checked to be long enough);
/// returns the offset of the values.
fn write_header(out: &mut [u8], dim: usize, kept: usize, scale: f32, keep: &[bool]) -> usize {
    let total = keep.len();
    let mut header = [0u8; HEADER_LEN];
    header[0..2].copy_from_slice(&MAGIC);
    header[AT_VERSION] = VERSION;
    header[AT_FLAGS] = KNOWN_FLAGS;
    // Ranges were checked: total ≤ 256, dim ≤ 1024, kept ≤ total.
    header[AT_TOTAL..AT_TOTAL + 2].copy_from_slice(&(total as u16).to_le_bytes());
    header[AT_DIM..AT_DIM + 2].copy_from_slice(&(dim as u16).to_le_bytes());
    header[AT_KEPT..AT_KEPT + 2].copy_from_slice(&(kept as u16).to_le_bytes());
    header[AT_SCALE..AT_SCALE + 4].copy_from_slice(&scale.to_le_bytes());
    let mut mask = [0u8; MAX_MASK_LEN];
    for (p, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        if let Some(byte) = mask.get_mut(p / 8) {
            *byte |= 1 << (p % 8);
        }
    }
    let mlen = mask_len(total);
    let values_at = HEADER_LEN + mlen;
    for (o, b) in out.iter_mut().zip(header.iter().chain(&mask[..mlen])) {
        *o = *b;
    }
    values_at
}

fn prepare<'o>(
    out: &'o mut [u8],
    dim: usize,
    kept: usize,
    scale: f32,
    keep: &[bool],
) -> Result<&'o mut [u8], CompactError> {
    let need = encoded_len(keep.len(), dim, kept);
    let have = out.len();
    let out = out
        .get_mut(..need)
        .ok_or(CompactError::BufferTooSmall { need, have })?;
    let values_at = write_header(out, dim, kept, scale, keep);
    Ok(out.get_mut(values_at..).unwrap_or_default())
}

/// Encodes a tensor into `out` and returns its length, [`encoded_len`]`(keep.len(), dim,
/// kept)`.
///
/// `keep[p]` says whether grid patch `p` is kept (`total = keep.len()`); `values` holds the
/// kept patches' `dim` values each, in ascending patch order (`kept · dim` in all). `scale`
/// must be finite and positive.
pub fn encode_into(
    out: &mut [u8],
    dim: usize,
    scale: f32,
    keep: &[bool],
    values: &[i8],
) -> Result<usize, CompactError> {
    check_shape(keep.len(), dim)?;
    check_scale(scale)?;
    let kept = keep.iter().filter(|k| **k).count();
    expect_len("values", kept * dim, values.len())?;
    let body = prepare(out, dim, kept, scale, keep)?;
    for (o, q) in body.iter_mut().zip(values) {
        *o = q.cast_unsigned();
    }
    Ok(encoded_len(keep.len(), dim, kept))
}

/// Quantises the kept patches of patch-major `features` (as [`quantize_patches`]) straight
/// into an encoded tensor in `out`; returns its length. No scratch buffer.
pub fn encode_features(
    out: &mut [u8],
    features: &[f32],
    dim: usize,
    keep: &[bool],
) -> Result<usize, CompactError> {
    let kept = check_features(features, dim, keep)?;
    let scale = scale_for(max_abs(kept_rows(features, dim, keep).flatten()));
    let body = prepare(out, dim, kept, scale, keep)?;
    for (o, x) in body
        .iter_mut()
        .zip(kept_rows(features, dim, keep).flatten())
    {
        *o = quantize_value(*x, scale).cast_unsigned();
    }
    Ok(encoded_len(keep.len(), dim, kept))
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// A validated compact tensor, borrowed from the received bytes (see [`decode`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactView<'a> {
    total: usize,
    dim: usize,
    kept: usize,
    scale: f32,
    mask: &'a [u8],
    values: &'a [u8],
}

fn field<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], CompactError> {
    bytes
        .get(at..at + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(CompactError::Truncated {
            need: at + N,
            have: bytes.len(),
        })
}

/// Validates `bytes` as exactly one version-1 compact tensor and returns a view of it.
///
/// Checks, in order: magic, version, flags, `total` and `dim` ranges, `kept ≤ total`, scale
/// finite and positive, mask present, mask padding bits zero, `popcount(mask) = kept`, and
/// the exact length (no truncation, no trailing bytes). Never panics.
pub fn decode(bytes: &[u8]) -> Result<CompactView<'_>, CompactError> {
    let magic = field::<2>(bytes, AT_MAGIC)?;
    if magic != MAGIC {
        return Err(CompactError::BadMagic { found: magic });
    }
    let [version] = field::<1>(bytes, AT_VERSION)?;
    if version != VERSION {
        return Err(CompactError::UnsupportedVersion { found: version });
    }
    let [flags] = field::<1>(bytes, AT_FLAGS)?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(CompactError::UnknownFlags { found: flags });
    }
    let total = usize::from(u16::from_le_bytes(field(bytes, AT_TOTAL)?));
    let dim = usize::from(u16::from_le_bytes(field(bytes, AT_DIM)?));
    let kept = usize::from(u16::from_le_bytes(field(bytes, AT_KEPT)?));
    let scale = f32::from_le_bytes(field(bytes, AT_SCALE)?);
    check_shape(total, dim)?;
    if kept > total {
        return Err(CompactError::KeptOutOfRange { kept, total });
    }
    check_scale(scale)?;

    let values_at = HEADER_LEN + mask_len(total);
    let mask = bytes
        .get(HEADER_LEN..values_at)
        .ok_or(CompactError::Truncated {
            need: values_at,
            have: bytes.len(),
        })?;
    if let Some(last) = mask.last() {
        let used = total - (mask.len() - 1) * 8; // 1..=8 bits of the last byte are patches
        if used < 8 && last >> used != 0 {
            return Err(CompactError::PaddingBitSet { at: values_at - 1 });
        }
    }
    let mask_popcount = mask.iter().map(|b| b.count_ones() as usize).sum();
    if mask_popcount != kept {
        return Err(CompactError::KeptMismatch {
            kept,
            mask_popcount,
        });
    }
    let expected = encoded_len(total, dim, kept);
    let values = bytes
        .get(values_at..expected)
        .ok_or(CompactError::Truncated {
            need: expected,
            have: bytes.len(),
        })?;
    if bytes.len() != expected {
        return Err(CompactError::TrailingBytes {
            expected,
            have: bytes.len(),
        });
    }
    Ok(CompactView {
        total,
        dim,
        kept,
        scale,
        mask,
        values,
    })
}

/// Iterator over the kept patch indices of a [`CompactView`], ascending.
#[derive(Debug, Clone)]
pub struct KeptIndices<'a> {
    mask: &'a [u8],
    next: usize,
    total: usize,
}

impl Iterator for KeptIndices<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.next < self.total {
            let p = self.next;
            self.next += 1;
            if bit(self.mask, p) {
                return Some(p);
            }
        }
        None
    }
}

fn bit(mask: &[u8], p: usize) -> bool {
    mask.get(p / 8).is_some_and(|b| b & (1 << (p % 8)) != 0)
}

impl<'a> CompactView<'a> {
    /// Grid patches, kept or not (`1..=256`).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Features per patch (`1..=1024`).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Kept patches (`0..=total`).
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// The dequantisation scale (finite, positive).
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The raw kept-patch bitmask, `ceil(total / 8)` bytes.
    pub fn mask(&self) -> &'a [u8] {
        self.mask
    }

    /// Whether grid patch `p` is kept (`false` past `total`).
    pub fn is_kept(&self, p: usize) -> bool {
        p < self.total && bit(self.mask, p)
    }

    /// Kept patch indices, ascending.
    pub fn kept_indices(&self) -> KeptIndices<'a> {
        KeptIndices {
            mask: self.mask,
            next: 0,
            total: self.total,
        }
    }

    /// All `kept · dim` values, kept patches in ascending order.
    pub fn values(&self) -> I8Iter<'a> {
        i8_iter(self.values)
    }

    /// The values as the raw two's-complement bytes on the wire.
    pub fn value_bytes(&self) -> &'a [u8] {
        self.values
    }

    /// The `dim` values of grid patch `p`; `None` if `p` is not kept.
    pub fn patch(&self, p: usize) -> Option<I8Iter<'a>> {
        if !self.is_kept(p) {
            return None;
        }
        let rank: usize = (0..p).filter(|i| bit(self.mask, *i)).count();
        let start = rank * self.dim;
        self.values.get(start..start + self.dim).map(i8_iter)
    }

    /// Kept patches as `(grid index, values)`, ascending.
    pub fn patches(&self) -> impl Iterator<Item = (usize, I8Iter<'a>)> + 'a {
        self.kept_indices()
            .zip(self.values.chunks_exact(self.dim).map(i8_iter))
    }

    /// Writes the dequantised kept values (`q · scale`, kept patches ascending) to `out`,
    /// which must hold exactly `kept · dim` values.
    pub fn dequantize_into(&self, out: &mut [f32]) -> Result<(), CompactError> {
        expect_len("dequantize output", self.values.len(), out.len())?;
        for (o, q) in out.iter_mut().zip(self.values()) {
            *o = dequantize(q, self.scale);
        }
        Ok(())
    }

    /// Fills the cloud model's dense inputs: `patches` (`[total, dim]` i8, zeros in dropped
    /// slots) and `patch_mask` (`[total]`, 1.0 kept, 0.0 dropped). Every element is written.
    pub fn scatter_into(
        &self,
        patches: &mut [i8],
        patch_mask: &mut [f32],
    ) -> Result<(), CompactError> {
        expect_len("patches", self.total * self.dim, patches.len())?;
        expect_len("patch_mask", self.total, patch_mask.len())?;
        patches.fill(0);
        for (p, m) in patch_mask.iter_mut().enumerate() {
            *m = if bit(self.mask, p) { 1.0 } else { 0.0 };
        }
        for (p, values) in self.patches() {
            let start = p * self.dim;
            if let Some(slot) = patches.get_mut(start..start + self.dim) {
                for (o, q) in slot.iter_mut().zip(values) {
                    *o = q;
                }
            }
        }
        Ok(())
    }
}
