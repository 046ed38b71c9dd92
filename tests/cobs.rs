//! The COBS stuffing is byte-identical to the `cobs` crate's, accepts and refuses the same
//! inputs, and round-trips: on the edge cases (254-byte runs, trailing zeros) and on
//! random bodies.

use proptest::prelude::*;

fn ours(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; msao::cobs::max_encoding_length(body.len())];
    let n = msao::cobs::encode(body, &mut out).unwrap();
    out.truncate(n);
    out
}

fn reference(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; cobs::max_encoding_length(body.len())];
    let n = cobs::try_encode(body, &mut out).unwrap();
    out.truncate(n);
    out
}

fn check(body: &[u8]) {
    assert_eq!(
        msao::cobs::max_encoding_length(body.len()),
        cobs::max_encoding_length(body.len())
    );
    let wire = ours(body);
    assert_eq!(wire, reference(body), "encode, len {}", body.len());
    assert!(!wire.contains(&0));
    let mut buf = wire.clone();
    let n = msao::cobs::decode_in_place(&mut buf).unwrap();
    assert_eq!(&buf[..n], body, "round trip, len {}", body.len());
}

#[test]
fn edge_cases_match_the_reference() {
    let run = |n: usize| vec![0xAB; n];
    for body in [
        vec![],
        vec![0],
        vec![0, 0],
        vec![1, 0],
        vec![0, 1],
        run(253),
        run(254),
        run(255),
        [run(253), vec![0]].concat(),
        [run(254), vec![0]].concat(),
        [run(254), run(254)].concat(),
        [run(508), vec![0], run(3)].concat(),
        (0..=255u8).cycle().take(900).collect(),
    ] {
        check(&body);
    }
}

fn same_verdict(bytes: &[u8]) {
    let mut a = bytes.to_vec();
    let mut b = bytes.to_vec();
    let ours = msao::cobs::decode_in_place(&mut a).ok();
    let theirs = cobs::decode_in_place(&mut b).ok();
    assert_eq!(ours, theirs, "verdict on {bytes:02x?}");
    if let Some(n) = ours {
        assert_eq!(a[..n], b[..n]);
    }
}

#[test]
fn short_and_odd_inputs_get_the_reference_verdict() {
    for bytes in [
        &[][..],
        &[0x00],
        &[0x01],
        &[0x02],
        &[0x05, 0xAA, 0xBB],
        &[0x03, 0xAA, 0xBB],
        &[0x03, 0xAA, 0x00, 0xBB],
        &[0x01, 0x01, 0x00],
        &[0xFF],
    ] {
        same_verdict(bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn random_bodies_match_the_reference(
        body in proptest::collection::vec(prop_oneof![3 => any::<u8>(), 1 => Just(0u8)], 0..1100),
    ) {
        check(&body);
    }

    #[test]
    fn mostly_non_zero_bodies_match_the_reference(
        body in proptest::collection::vec(prop_oneof![60 => 1u8..=255, 1 => Just(0u8)], 0..1100),
    ) {
        check(&body);
    }

    #[test]
    fn arbitrary_bytes_get_the_reference_verdict(
        bytes in proptest::collection::vec(prop_oneof![20 => 1u8..=255, 1 => Just(0u8)], 0..600),
    ) {
        same_verdict(&bytes);
    }
}
