//! Property tests: every message round-trips; encoded sizes respect the compile-time bounds;
//! arbitrary bytes never panic the decoder.

mod common {
    pub mod arb;
}
use common::arb;
use msao::sign::{Auth, ControlKey};
use msao::{Decoder, Event, MaxSize, Message, frame};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_message_round_trips(header in arb::header(), message in arb::message()) {
        let mut buf = [0u8; frame::MAX_FRAME];
        let wire = frame::encode(&header, &message, &mut buf).unwrap();
        prop_assert!(wire.len() <= frame::MAX_ENCODED);
        prop_assert_eq!(wire.iter().filter(|b| **b == 0).count(), 1, "only the terminator is 0x00");
        let mut dec = Decoder::new();
        let mut input = wire;
        match dec.push(&mut input) {
            Some(Event::Frame(f)) => {
                prop_assert_eq!(f.header, header);
                prop_assert_eq!(f.message, message);
            }
            other => prop_assert!(false, "not decoded: {:?}", other),
        }
        prop_assert_eq!(dec.pending(), 0);
    }

    /// A signed frame decodes as verified with the key; with any one bit of its signed
    /// bytes or tag changed (CRC recomputed, so only the signature can catch it) it never
    /// decodes as verified.
    #[test]
    fn signed_frames_verify_and_any_change_is_caught(
        header in arb::header(),
        message in arb::message(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key = ControlKey::new(&[0x42; 32]).unwrap();
        let mut body = [0u8; frame::MAX_BODY];
        let n = frame::encode_body_with(&header, &message, Some(&key), &mut body).unwrap();
        let mut out = [0u8; frame::MAX_FRAME];
        let wire = frame::stuff(&body[..n], &mut out).unwrap().to_vec();
        prop_assert!(wire.len() <= frame::MAX_ENCODED);
        let mut input = wire.as_slice();
        match Decoder::with_key(key.clone()).push(&mut input) {
            Some(Event::Frame(f)) => {
                prop_assert_eq!(f.message, message);
                prop_assert_eq!(f.auth, Auth::Verified { key_id: 0 });
            }
            other => prop_assert!(false, "not decoded: {:?}", other),
        }
        let i = flip.index(n - 4);
        body[i] ^= 1 << bit;
        let crc = frame::CRC32C.checksum(&body[..n - 4]).to_le_bytes();
        body[n - 4..n].copy_from_slice(&crc);
        let wire = frame::stuff(&body[..n], &mut out).unwrap().to_vec();
        let mut input = wire.as_slice();
        let event = Decoder::with_key(key).push(&mut input);
        let verified = matches!(&event, Some(Event::Frame(f)) if f.auth != Auth::Unsigned);
        prop_assert!(!verified, "byte {} bit {}: {:?}", i, bit, event);
    }

    #[test]
    fn postcard_size_within_bound(message in arb::message()) {
        let mut buf = [0u8; 2048];
        let n = postcard::to_slice(&message, &mut buf).unwrap().len();
        prop_assert!(n <= Message::MAX_SIZE, "{} > {}", n, Message::MAX_SIZE);
    }

    #[test]
    fn chunking_does_not_matter(messages in proptest::collection::vec(arb::message(), 1..8),
                                cuts in proptest::collection::vec(1usize..64, 1..32)) {
        let mut stream = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let mut buf = [0u8; frame::MAX_FRAME];
            stream.extend_from_slice(frame::encode(&msao::FrameHeader::new([1; 4], i as u32, 0), m, &mut buf).unwrap());
        }
        let mut dec = Decoder::new();
        let mut got = Vec::new();
        let mut rest = stream.as_slice();
        let mut k = 0;
        while !rest.is_empty() {
            let n = cuts[k % cuts.len()].min(rest.len());
            k += 1;
            let mut chunk = &rest[..n];
            rest = &rest[n..];
            while let Some(e) = dec.push(&mut chunk) {
                if let Event::Frame(f) = e { got.push(f.message) } else { prop_assert!(false, "{:?}", e) }
            }
        }
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut dec = Decoder::new();
        let mut input = bytes.as_slice();
        let mut events = 0u64;
        while dec.push(&mut input).is_some() {
            events += 1;
        }
        let s = dec.stats();
        prop_assert_eq!(s.frames + s.dropped_total(), events);
        prop_assert!(events <= bytes.iter().filter(|b| **b == 0).count() as u64);
        prop_assert_eq!(s.bytes, bytes.len() as u64);
    }
}
