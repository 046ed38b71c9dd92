//! The compact tensor (`spec/compact-tensor.md`): exact round trip, the quantisation rule, every
//! rejection path, the spec's vectors in both directions, and no panic on arbitrary bytes.

use msao::compact::{
    self, CompactError, CompactView, HEADER_LEN, MAX_DIM, MAX_ENCODED, MAX_TOTAL, Quantized,
    channel_major_to_patch_major, decode, encode_features, encode_into, encoded_len, mask_len,
    quantize, quantize_patches, quantize_value, scale_for,
};
use proptest::{collection::vec, prelude::*};
use serde_json::Value;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// helpers

fn encode_vec(dim: usize, scale: f32, keep: &[bool], values: &[i8]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_ENCODED];
    let n = encode_into(&mut buf, dim, scale, keep, values).unwrap();
    buf.truncate(n);
    buf
}

fn keep_of(total: usize, kept: &[usize]) -> Vec<bool> {
    let mut keep = vec![false; total];
    for &p in kept {
        keep[p] = true;
    }
    keep
}

/// 10 patches × 3 features, patches 1, 4, 9 kept: 14 + 2 + 9 = 25 bytes.
fn sample() -> Vec<u8> {
    let keep = keep_of(10, &[1, 4, 9]);
    encode_vec(3, 0.5, &keep, &[1, -2, 3, 4, -5, 6, 127, -127, 0])
}

fn err(bytes: &[u8]) -> CompactError {
    decode(bytes).expect_err("decode must reject")
}

fn with(mut bytes: Vec<u8>, at: usize, b: u8) -> Vec<u8> {
    bytes[at] = b;
    bytes
}

fn put_u16(bytes: &mut [u8], at: usize, v: u16) {
    bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn reencode(view: &CompactView<'_>) -> Vec<u8> {
    let keep: Vec<bool> = (0..view.total()).map(|p| view.is_kept(p)).collect();
    let values: Vec<i8> = view.values().collect();
    encode_vec(view.dim(), view.scale(), &keep, &values)
}

// ---------------------------------------------------------------------------------------------
// layout

#[test]
fn layout_of_a_small_tensor_byte_by_byte() {
    let bytes = sample();
    assert_eq!(bytes.len(), 25);
    assert_eq!(bytes.len(), encoded_len(10, 3, 3));
    assert_eq!(&bytes[0..2], b"MC");
    assert_eq!(bytes[2], 1, "version");
    assert_eq!(bytes[3], 0, "flags");
    assert_eq!(&bytes[4..6], &[10, 0], "total");
    assert_eq!(&bytes[6..8], &[3, 0], "dim");
    assert_eq!(&bytes[8..10], &[3, 0], "kept");
    assert_eq!(&bytes[10..14], &0.5f32.to_le_bytes(), "scale");
    // patches 1, 4 → byte 0 bits 1, 4; patch 9 → byte 1 bit 1.
    assert_eq!(&bytes[14..16], &[0b0001_0010, 0b0000_0010], "mask");
    assert_eq!(
        &bytes[16..],
        &[1, 0xfe, 3, 4, 0xfb, 6, 0x7f, 0x81, 0],
        "values"
    );
}

#[test]
fn sizes_quoted_in_the_spec() {
    assert_eq!(HEADER_LEN, 14);
    assert_eq!(mask_len(1), 1);
    assert_eq!(mask_len(8), 1);
    assert_eq!(mask_len(9), 2);
    assert_eq!(mask_len(16), 2);
    assert_eq!(mask_len(256), 32);
    assert_eq!(encoded_len(16, 32, 8), 272);
    assert_eq!(encoded_len(16, 32, 16), 528);
    assert_eq!(encoded_len(16, 32, 4), 144);
    assert_eq!(encoded_len(16, 32, 0), 16);
    assert_eq!(MAX_ENCODED, 14 + 32 + 256 * 1024);
    assert_eq!(encoded_len(usize::MAX, usize::MAX, usize::MAX), usize::MAX);
}

#[test]
fn view_accessors() {
    let bytes = sample();
    let v = decode(&bytes).unwrap();
    assert_eq!((v.total(), v.dim(), v.kept(), v.scale()), (10, 3, 3, 0.5));
    assert_eq!(v.kept_indices().collect::<Vec<_>>(), [1, 4, 9]);
    assert_eq!(v.mask(), &[0x12, 0x02]);
    assert_eq!(
        v.values().collect::<Vec<_>>(),
        [1, -2, 3, 4, -5, 6, 127, -127, 0]
    );
    assert_eq!(v.value_bytes().len(), 9);
    assert_eq!(v.patch(4).unwrap().collect::<Vec<_>>(), [4, -5, 6]);
    assert_eq!(v.patch(9).unwrap().collect::<Vec<_>>(), [127, -127, 0]);
    assert!(v.patch(0).is_none());
    assert!(v.patch(10).is_none());
    assert!(v.patch(usize::MAX).is_none());
    assert!(v.is_kept(1) && !v.is_kept(2) && !v.is_kept(10) && !v.is_kept(15));
    let patches: Vec<(usize, Vec<i8>)> = v.patches().map(|(p, q)| (p, q.collect())).collect();
    assert_eq!(
        patches,
        [
            (1, vec![1, -2, 3]),
            (4, vec![4, -5, 6]),
            (9, vec![127, -127, 0])
        ]
    );
}

#[test]
fn scatter_fills_every_slot_and_dequantize_multiplies() {
    let bytes = sample();
    let v = decode(&bytes).unwrap();
    // Garbage in the outputs must be overwritten.
    let mut patches = [99i8; 30];
    let mut mask = [7.0f32; 10];
    v.scatter_into(&mut patches, &mut mask).unwrap();
    let mut want = [0i8; 30];
    want[3..6].copy_from_slice(&[1, -2, 3]);
    want[12..15].copy_from_slice(&[4, -5, 6]);
    want[27..30].copy_from_slice(&[127, -127, 0]);
    assert_eq!(patches, want);
    assert_eq!(mask, [0., 1., 0., 0., 1., 0., 0., 0., 0., 1.]);

    let mut deq = [0f32; 9];
    v.dequantize_into(&mut deq).unwrap();
    assert_eq!(deq, [0.5, -1.0, 1.5, 2.0, -2.5, 3.0, 63.5, -63.5, 0.0]);
    assert_eq!(compact::dequantize(-127, 0.25), -31.75);

    assert!(matches!(
        v.scatter_into(&mut [0i8; 29], &mut [0f32; 10]),
        Err(CompactError::LengthMismatch {
            what: "patches",
            expected: 30,
            found: 29
        })
    ));
    assert!(matches!(
        v.scatter_into(&mut [0i8; 30], &mut [0f32; 11]),
        Err(CompactError::LengthMismatch {
            what: "patch_mask",
            ..
        })
    ));
    assert!(v.dequantize_into(&mut [0f32; 10]).is_err());
}

#[test]
fn nothing_kept_is_valid() {
    let keep = [false; 16];
    let bytes = encode_vec(32, 1.0, &keep, &[]);
    assert_eq!(bytes.len(), 16);
    let v = decode(&bytes).unwrap();
    assert_eq!(v.kept(), 0);
    assert_eq!(v.kept_indices().count(), 0);
    assert_eq!(v.values().len(), 0);
    let (mut p, mut m) = ([1i8; 512], [1f32; 16]);
    v.scatter_into(&mut p, &mut m).unwrap();
    assert!(p.iter().all(|x| *x == 0) && m.iter().all(|x| *x == 0.0));
}

#[test]
fn largest_tensor_round_trips() {
    let keep = [true; MAX_TOTAL];
    let values: Vec<i8> = (0..MAX_TOTAL * MAX_DIM)
        .map(|i| ((i % 255) as i16 - 127) as i8)
        .collect();
    let bytes = encode_vec(MAX_DIM, 3.5, &keep, &values);
    assert_eq!(bytes.len(), MAX_ENCODED);
    let v = decode(&bytes).unwrap();
    assert_eq!((v.total(), v.dim(), v.kept()), (256, 1024, 256));
    assert!(v.values().eq(values.iter().copied()));
}

// ---------------------------------------------------------------------------------------------
// quantisation

#[test]
fn rounding_is_half_to_even() {
    let cases = [
        (0.5, 0),
        (1.5, 2),
        (2.5, 2),
        (3.5, 4),
        (-0.5, 0),
        (-1.5, -2),
        (-2.5, -2),
        (-3.5, -4),
        (126.5, 126),
        (-126.5, -126),
        (0.49999997, 0),
        (0.50000006, 1),
        (2.4, 2),
        (2.6, 3),
        (-2.6, -3),
        (0.0, 0),
        (-0.0, 0),
    ];
    for (x, q) in cases {
        assert_eq!(quantize_value(x, 1.0), q, "x = {x}");
    }
    // Through a scale: 5 / 2 = 2.5 → 2, 7 / 2 = 3.5 → 4.
    assert_eq!(quantize_value(5.0, 2.0), 2);
    assert_eq!(quantize_value(7.0, 2.0), 4);
}

#[test]
fn quantisation_clamps_to_127_and_never_gives_minus_128() {
    assert_eq!(quantize_value(127.5, 1.0), 127);
    assert_eq!(quantize_value(128.0, 1.0), 127);
    assert_eq!(quantize_value(1e30, 1.0), 127);
    assert_eq!(quantize_value(-127.5, 1.0), -127);
    assert_eq!(quantize_value(-128.0, 1.0), -127);
    assert_eq!(quantize_value(-1e30, 1.0), -127);
    assert_eq!(quantize_value(f32::INFINITY, 1.0), 127);
    assert_eq!(quantize_value(f32::NEG_INFINITY, 1.0), -127);
    assert_eq!(quantize_value(f32::NAN, 1.0), 0);
    assert_eq!(quantize_value(1.0, 0.0), 127);
    assert_eq!(quantize_value(0.0, 0.0), 0);
}

#[test]
fn scale_is_max_abs_over_127_in_f32() {
    let mut q = [0i8; 3];
    let s = quantize(&[0.3, -1.7, 1.0], &mut q).unwrap();
    assert_eq!(s.to_bits(), (1.7f32 / 127.0f32).to_bits());
    assert_eq!(q[1], -127, "the largest magnitude maps to ±127");
    assert_eq!(scale_for(12.0).to_bits(), 0x3dc1_8306);
    assert_eq!(scale_for(254.0), 2.0);
}

#[test]
fn all_zero_or_nothing_kept_gives_scale_one() {
    let mut q = [5i8; 4];
    assert_eq!(quantize(&[0.0, -0.0, 0.0, 0.0], &mut q).unwrap(), 1.0);
    assert_eq!(q, [0; 4]);
    assert_eq!(quantize(&[], &mut []).unwrap(), 1.0);
    assert_eq!(scale_for(0.0), 1.0);

    // Kept patches all zero, dropped ones not: still 1.0.
    let features = [0.0, 0.0, 50.0, -50.0];
    let mut out = [9i8; 4];
    let r = quantize_patches(&features, 2, &[true, false], &mut out).unwrap();
    assert_eq!(
        r,
        Quantized {
            scale: 1.0,
            kept: 1
        }
    );
    assert_eq!(&out[..2], &[0, 0]);
    assert_eq!(&out[2..], &[9, 9], "only kept · dim values are written");

    let r = quantize_patches(&features, 2, &[false, false], &mut []).unwrap();
    assert_eq!(
        r,
        Quantized {
            scale: 1.0,
            kept: 0
        }
    );
}

#[test]
fn a_scale_that_underflows_falls_back_to_one() {
    let tiny = f32::from_bits(1); // smallest subnormal: / 127 rounds to 0
    assert_eq!(scale_for(tiny), 1.0);
    let mut q = [1i8; 2];
    assert_eq!(quantize(&[tiny, -tiny], &mut q).unwrap(), 1.0);
    assert_eq!(q, [0, 0]);
}

#[test]
fn dropped_patches_do_not_affect_the_scale() {
    let features = [1.0, -2.0, 1000.0, 1000.0, 0.5, 0.25];
    let keep = [true, false, true];
    let mut out = [0i8; 4];
    let r = quantize_patches(&features, 2, &keep, &mut out).unwrap();
    assert_eq!(r.kept, 2);
    assert_eq!(r.scale, 2.0 / 127.0);
    assert_eq!(out[1], -127);
}

#[test]
fn non_finite_features_are_an_error() {
    let mut q = [0i8; 3];
    assert_eq!(
        quantize(&[1.0, f32::NAN, 2.0], &mut q),
        Err(CompactError::NonFinite { index: 1 })
    );
    assert_eq!(
        quantize(&[1.0, 2.0, f32::NEG_INFINITY], &mut q),
        Err(CompactError::NonFinite { index: 2 })
    );
    // Also in a dropped patch (the reference's scale would be NaN).
    let features = [1.0, 2.0, f32::INFINITY, 0.0];
    let keep = [true, false];
    assert_eq!(
        quantize_patches(&features, 2, &keep, &mut [0; 4]),
        Err(CompactError::NonFinite { index: 2 })
    );
    let mut buf = [0u8; 64];
    assert_eq!(
        encode_features(&mut buf, &features, 2, &keep),
        Err(CompactError::NonFinite { index: 2 })
    );
    assert!(
        CompactError::NonFinite { index: 2 }
            .to_string()
            .contains("index 2")
    );
}

#[test]
fn quantise_argument_errors() {
    assert!(matches!(
        quantize(&[1.0; 3], &mut [0; 2]),
        Err(CompactError::LengthMismatch { .. })
    ));
    assert!(matches!(
        quantize_patches(&[1.0; 5], 2, &[true, true], &mut [0; 4]),
        Err(CompactError::LengthMismatch {
            what: "features",
            expected: 4,
            found: 5
        })
    ));
    assert!(matches!(
        quantize_patches(&[1.0; 4], 2, &[true, true], &mut [0; 3]),
        Err(CompactError::LengthMismatch { expected: 4, .. })
    ));
    assert_eq!(
        quantize_patches(&[], 2, &[], &mut []),
        Err(CompactError::TotalOutOfRange { total: 0 })
    );
    assert_eq!(
        quantize_patches(&[], 0, &[true], &mut []),
        Err(CompactError::DimOutOfRange { dim: 0 })
    );
}

#[test]
fn channel_major_to_patch_major_transposes() {
    // dim 2, 3 patches: channel 0 = [a0 a1 a2], channel 1 = [b0 b1 b2].
    let cm = [10.0, 11.0, 12.0, 20.0, 21.0, 22.0];
    let mut pm = [0f32; 6];
    channel_major_to_patch_major(&cm, 2, 3, &mut pm).unwrap();
    assert_eq!(pm, [10.0, 20.0, 11.0, 21.0, 12.0, 22.0]);
    assert!(channel_major_to_patch_major(&cm, 2, 3, &mut [0f32; 5]).is_err());
    assert!(channel_major_to_patch_major(&cm, 4, 2, &mut [0f32; 8]).is_err());
    assert!(channel_major_to_patch_major(&[], 0, 3, &mut []).is_ok());
    assert!(channel_major_to_patch_major(&[], 3, 0, &mut []).is_ok());
    assert!(channel_major_to_patch_major(&cm, usize::MAX, 2, &mut pm).is_err());
}

// ---------------------------------------------------------------------------------------------
// rejections: one test per path, each checking variant, offset and message

fn assert_rejects(bytes: &[u8], want: CompactError, offset: usize, text: &str) {
    let e = err(bytes);
    assert_eq!(e, want);
    assert_eq!(e.offset(), Some(offset), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(text), "`{msg}` lacks `{text}`");
    assert!(
        msg.contains(&format!("byte {offset}")),
        "`{msg}` lacks the offset"
    );
}

#[test]
fn rejects_bad_magic() {
    assert_rejects(
        &with(sample(), 0, b'X'),
        CompactError::BadMagic { found: *b"XC" },
        0,
        "magic",
    );
    assert_rejects(
        &with(sample(), 1, b'c'),
        CompactError::BadMagic { found: *b"Mc" },
        0,
        "magic",
    );
}

#[test]
fn rejects_unknown_version() {
    for v in [0u8, 2, 255] {
        assert_rejects(
            &with(sample(), 2, v),
            CompactError::UnsupportedVersion { found: v },
            2,
            "version",
        );
    }
}

#[test]
fn rejects_unknown_flags() {
    for f in [1u8, 0x10, 0x80, 0xff] {
        assert_rejects(
            &with(sample(), 3, f),
            CompactError::UnknownFlags { found: f },
            3,
            "flags",
        );
    }
}

#[test]
fn rejects_total_out_of_range() {
    let mut b = sample();
    put_u16(&mut b, 4, 0);
    assert_rejects(&b, CompactError::TotalOutOfRange { total: 0 }, 4, "total");
    put_u16(&mut b, 4, 257);
    assert_rejects(&b, CompactError::TotalOutOfRange { total: 257 }, 4, "total");
    put_u16(&mut b, 4, u16::MAX);
    assert_rejects(
        &b,
        CompactError::TotalOutOfRange { total: 65535 },
        4,
        "total",
    );
}

#[test]
fn rejects_dim_out_of_range() {
    let mut b = sample();
    put_u16(&mut b, 6, 0);
    assert_rejects(&b, CompactError::DimOutOfRange { dim: 0 }, 6, "dim");
    put_u16(&mut b, 6, 1025);
    assert_rejects(&b, CompactError::DimOutOfRange { dim: 1025 }, 6, "dim");
}

#[test]
fn rejects_kept_above_total() {
    let mut b = sample();
    put_u16(&mut b, 8, 11);
    assert_rejects(
        &b,
        CompactError::KeptOutOfRange {
            kept: 11,
            total: 10,
        },
        8,
        "exceeds",
    );
}

#[test]
fn rejects_bad_scale() {
    for s in [
        0.0f32,
        -0.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        let mut b = sample();
        b[10..14].copy_from_slice(&s.to_le_bytes());
        assert_rejects(
            &b,
            CompactError::BadScale { bits: s.to_bits() },
            10,
            "scale",
        );
    }
    // A subnormal positive scale is legal.
    let mut b = sample();
    b[10..14].copy_from_slice(&f32::from_bits(1).to_le_bytes());
    assert!(decode(&b).is_ok());
}

#[test]
fn rejects_a_set_padding_bit() {
    // total 10: byte 15 holds patches 8, 9 in bits 0, 1; bits 2..7 are padding.
    for bit in 2..8 {
        let b = sample();
        let b = with(b.clone(), 15, b[15] | 1 << bit);
        assert_rejects(&b, CompactError::PaddingBitSet { at: 15 }, 15, "padding");
    }
    // total a multiple of 8 has no padding: every bit is a patch.
    let keep = keep_of(16, &[15]);
    assert!(decode(&encode_vec(1, 1.0, &keep, &[1])).is_ok());
}

#[test]
fn rejects_popcount_mismatch() {
    // Header says 3 kept; mask gets a 4th bit (patch 0), length unchanged.
    let b = sample();
    let b = with(b.clone(), 14, b[14] | 1);
    assert_rejects(
        &b,
        CompactError::KeptMismatch {
            kept: 3,
            mask_popcount: 4,
        },
        8,
        "bits set",
    );
    // Header says 2 kept, mask 3 bits, length for 2 kept.
    let mut b = sample();
    put_u16(&mut b, 8, 2);
    b.truncate(b.len() - 3);
    assert_rejects(
        &b,
        CompactError::KeptMismatch {
            kept: 2,
            mask_popcount: 3,
        },
        8,
        "bits set",
    );
}

#[test]
fn rejects_every_truncation() {
    let full = sample();
    for n in 0..full.len() {
        match err(&full[..n]) {
            CompactError::Truncated { need, have } => {
                assert_eq!(have, n);
                assert!(need > n && need <= full.len(), "n = {n}: need {need}");
            }
            other => panic!("prefix of {n} bytes: {other:?}"),
        }
    }
    let e = err(&full[..20]);
    assert_eq!(e, CompactError::Truncated { need: 25, have: 20 });
    assert_eq!(e.offset(), Some(20));
    assert!(e.to_string().contains("byte 20"));
    assert_eq!(err(&[]), CompactError::Truncated { need: 2, have: 0 });
    assert_eq!(err(b"MC\x01"), CompactError::Truncated { need: 4, have: 3 });
}

#[test]
fn rejects_trailing_bytes() {
    let mut b = sample();
    b.push(0);
    assert_rejects(
        &b,
        CompactError::TrailingBytes {
            expected: 25,
            have: 26,
        },
        25,
        "trailing",
    );
    let mut b = sample();
    b.extend_from_slice(&sample());
    assert!(matches!(
        err(&b),
        CompactError::TrailingBytes {
            expected: 25,
            have: 50
        }
    ));
}

#[test]
fn encode_argument_errors() {
    let keep = keep_of(10, &[1, 4, 9]);
    let values = [0i8; 9];
    // Every buffer shorter than the tensor is refused, and nothing beyond it is required.
    for have in 0..25 {
        let mut buf = vec![0u8; have];
        assert_eq!(
            encode_into(&mut buf, 3, 1.0, &keep, &values),
            Err(CompactError::BufferTooSmall { need: 25, have })
        );
    }
    assert_eq!(encode_into(&mut [0u8; 25], 3, 1.0, &keep, &values), Ok(25));
    let mut buf = [0u8; 64];
    assert_eq!(
        encode_into(&mut buf, 3, 1.0, &keep, &values[..8]),
        Err(CompactError::LengthMismatch {
            what: "values",
            expected: 9,
            found: 8
        })
    );
    assert_eq!(
        encode_into(&mut buf, 3, 1.0, &[], &[]),
        Err(CompactError::TotalOutOfRange { total: 0 })
    );
    assert_eq!(
        encode_into(&mut buf, 1, 1.0, &[false; 257], &[]),
        Err(CompactError::TotalOutOfRange { total: 257 })
    );
    assert_eq!(
        encode_into(&mut buf, 0, 1.0, &keep, &[]),
        Err(CompactError::DimOutOfRange { dim: 0 })
    );
    assert_eq!(
        encode_into(&mut buf, 1025, 1.0, &[false], &[]),
        Err(CompactError::DimOutOfRange { dim: 1025 })
    );
    for s in [0.0f32, -2.0, f32::NAN, f32::INFINITY] {
        assert_eq!(
            encode_into(&mut buf, 3, s, &keep, &values),
            Err(CompactError::BadScale { bits: s.to_bits() })
        );
    }
    let e = CompactError::BufferTooSmall { need: 25, have: 3 };
    assert_eq!(e.offset(), None);
    assert!(e.to_string().contains("need 25"));
}

// ---------------------------------------------------------------------------------------------
// the spec's vectors, both directions

fn vectors() -> Vec<Value> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/vectors/compact/compact-tensor.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["version"], 1);
    let v = doc["vectors"].as_array().unwrap().clone();
    assert!(v.len() >= 2);
    v
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn i8s(v: &Value) -> Vec<i8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| i8::try_from(x.as_i64().unwrap()).unwrap())
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn vectors_encode_to_their_bytes() {
    for v in vectors() {
        let name = v["name"].as_str().unwrap();
        let (total, dim) = (
            v["total"].as_u64().unwrap() as usize,
            v["dim"].as_u64().unwrap() as usize,
        );
        let keep = keep_of(total, &usizes(&v["keep"]));
        let mut features = f32s(&v["features"]);
        assert_eq!(features.len(), total * dim, "{name}");
        match v["layout"].as_str().unwrap() {
            "patch_major" => {}
            "channel_major" => {
                let cm = features.clone();
                channel_major_to_patch_major(&cm, dim, total, &mut features).unwrap();
            }
            other => panic!("{name}: layout {other}"),
        }
        let want = hex::decode(v["bytes_hex"].as_str().unwrap()).unwrap();
        assert_eq!(want.len(), v["encoded_len"].as_u64().unwrap() as usize);
        let scale_bits = u32::from_str_radix(v["scale_bits"].as_str().unwrap(), 16).unwrap();

        // features → quantised values and scale (the reference's numbers)
        let mut q = vec![0i8; total * dim];
        let r = quantize_patches(&features, dim, &keep, &mut q).unwrap();
        assert_eq!(r.scale.to_bits(), scale_bits, "{name}: scale");
        assert_eq!(r.scale, v["scale"].as_f64().unwrap() as f32, "{name}");
        assert_eq!(&q[..r.kept * dim], i8s(&v["values"]).as_slice(), "{name}");

        // features → bytes in one step, and values → bytes
        let mut buf = vec![0u8; MAX_ENCODED];
        let n = encode_features(&mut buf, &features, dim, &keep).unwrap();
        assert_eq!(hex::encode(&buf[..n]), hex::encode(&want), "{name}");
        let n = encode_into(&mut buf, dim, r.scale, &keep, &q[..r.kept * dim]).unwrap();
        assert_eq!(&buf[..n], want.as_slice(), "{name}");
    }
}

#[test]
fn vectors_decode_to_their_values() {
    for v in vectors() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex::decode(v["bytes_hex"].as_str().unwrap()).unwrap();
        let view = decode(&bytes).unwrap();
        let total = v["total"].as_u64().unwrap() as usize;
        let dim = v["dim"].as_u64().unwrap() as usize;
        assert_eq!((view.total(), view.dim()), (total, dim), "{name}");
        assert_eq!(
            view.kept_indices().collect::<Vec<_>>(),
            usizes(&v["keep"]),
            "{name}"
        );
        assert_eq!(
            format!("{:08x}", view.scale().to_bits()),
            v["scale_bits"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            view.values().collect::<Vec<_>>(),
            i8s(&v["values"]),
            "{name}"
        );
        // The cloud model's dense inputs, as the reference builds them.
        let mut patches = vec![0i8; total * dim];
        let mut mask = vec![0f32; total];
        view.scatter_into(&mut patches, &mut mask).unwrap();
        assert_eq!(patches, i8s(&v["patches"]), "{name}: patches");
        assert_eq!(mask, f32s(&v["patch_mask"]), "{name}: patch_mask");
    }
}

// ---------------------------------------------------------------------------------------------
// properties

fn tensor() -> impl Strategy<Value = (usize, f32, Vec<bool>, Vec<i8>)> {
    (1..=MAX_TOTAL, 1usize..=40, any::<u32>())
        .prop_flat_map(|(total, dim, scale_bits)| {
            let keep = vec(any::<bool>(), total);
            (Just(dim), Just(scale_bits), keep)
        })
        .prop_flat_map(|(dim, scale_bits, keep)| {
            let kept = keep.iter().filter(|k| **k).count();
            // Any finite positive scale.
            let scale = f32::from_bits(scale_bits & 0x7fff_ffff);
            let scale = if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            };
            (
                Just(dim),
                Just(scale),
                Just(keep),
                vec(any::<i8>(), kept * dim),
            )
        })
}

proptest! {
    #[test]
    fn encode_decode_round_trips_exactly((dim, scale, keep, values) in tensor()) {
        let bytes = encode_vec(dim, scale, &keep, &values);
        let kept = keep.iter().filter(|k| **k).count();
        prop_assert_eq!(bytes.len(), encoded_len(keep.len(), dim, kept));
        let v = decode(&bytes).unwrap();
        prop_assert_eq!(v.total(), keep.len());
        prop_assert_eq!(v.dim(), dim);
        prop_assert_eq!(v.kept(), kept);
        prop_assert_eq!(v.scale().to_bits(), scale.to_bits());
        let want: Vec<usize> = (0..keep.len()).filter(|p| keep[*p]).collect();
        prop_assert_eq!(v.kept_indices().collect::<Vec<_>>(), want);
        prop_assert_eq!(v.values().collect::<Vec<_>>(), values.clone());
        for (p, k) in keep.iter().enumerate() {
            prop_assert_eq!(v.is_kept(p), *k);
        }
        prop_assert_eq!(reencode(&v), bytes);
    }

    #[test]
    fn quantised_features_decode_within_half_a_step(
        total in 1usize..=32,
        dim in 1usize..=16,
        seed in vec(-1e6f32..1e6f32, 32 * 16),
        keep in vec(any::<bool>(), 32),
        zero_some in any::<bool>(),
    ) {
        let mut features: Vec<f32> = seed[..total * dim].to_vec();
        if zero_some {
            for x in features.iter_mut().step_by(3) { *x = 0.0; }
        }
        let keep = &keep[..total];
        let mut buf = vec![0u8; MAX_ENCODED];
        let n = encode_features(&mut buf, &features, dim, keep).unwrap();
        let v = decode(&buf[..n]).unwrap();
        let kept_values: Vec<f32> = features
            .chunks(dim)
            .zip(keep)
            .filter(|(_, k)| **k)
            .flat_map(|(row, _)| row.iter().copied())
            .collect();
        let max = kept_values.iter().fold(0f32, |m, x| m.max(x.abs()));
        prop_assert_eq!(v.scale(), if max > 0.0 { max / 127.0 } else { 1.0 });
        let q: Vec<i8> = v.values().collect();
        if max > 0.0 {
            prop_assert_eq!(q.iter().map(|x| x.unsigned_abs()).max(), Some(127));
        }
        let mut deq = vec![0f32; q.len()];
        v.dequantize_into(&mut deq).unwrap();
        for (x, y) in kept_values.iter().zip(&deq) {
            // Half a step, plus f32 rounding of the quotient and product.
            prop_assert!((x - y).abs() <= v.scale() * 0.5001 + max * 1e-6, "{} vs {}", x, y);
        }
        // encode_features = quantize_patches + encode_into
        let mut qv = vec![0i8; total * dim];
        let r = quantize_patches(&features, dim, keep, &mut qv).unwrap();
        prop_assert_eq!(&qv[..r.kept * dim], q.as_slice());
        prop_assert_eq!(r.scale.to_bits(), v.scale().to_bits());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        if let Ok(v) = decode(&bytes) {
            prop_assert_eq!(reencode(&v), bytes);
        } else {
            let e = decode(&bytes).unwrap_err();
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn corrupted_tensors_never_panic_and_accepted_ones_are_canonical(
        (dim, scale, keep, values) in tensor(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = encode_vec(dim, scale, &keep, &values);
        // Header and mask edits are the interesting ones: aim there half the time.
        for (i, b) in &edits {
            let span = if *b % 2 == 0 { (HEADER_LEN + 32).min(bytes.len()) } else { bytes.len() };
            let at = i.index(span);
            bytes[at] = *b;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        match decode(&bytes) {
            Ok(v) => prop_assert_eq!(reencode(&v), bytes),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
