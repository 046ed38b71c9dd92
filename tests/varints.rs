//! What a decoder does with odd varints (spec §5): too long or out of range drops the frame
//! as `header` when in the header and `malformed` when in the message; a redundant
//! in-range encoding is accepted.

use msao::{Decoder, DropCause, Event, Message, SCHEMA_FINGERPRINT, WIRE_VERSION, frame};

/// A frame from raw body parts: fixed header prefix, then `rest` (seq, timestamp,
/// message), then the CRC.
fn frame_of(rest: &[u8]) -> Vec<u8> {
    let mut body = vec![msao::header::MAGIC, WIRE_VERSION, 0];
    body.extend(SCHEMA_FINGERPRINT);
    body.extend([0x12, 0x34, 0x56, 0x78]);
    body.extend(rest);
    body.extend(frame::CRC32C.checksum(&body).to_le_bytes());
    let mut out = [0u8; frame::MAX_FRAME];
    frame::stuff(&body, &mut out).unwrap().to_vec()
}

fn decode(wire: &[u8]) -> Event {
    let mut input = wire;
    Decoder::new().push(&mut input).unwrap()
}

fn dropped(wire: &[u8]) -> DropCause {
    match decode(wire) {
        Event::Dropped { cause, .. } => cause,
        other => panic!("decoded: {other:?}"),
    }
}

/// `Fault { code: 1, message: "x" }`.
const FAULT: [u8; 4] = [0x03, 0x01, 0x01, b'x'];

#[test]
fn the_reference_frame_decodes() {
    let wire = frame_of(&[[0x01, 0x01].as_slice(), &FAULT].concat());
    assert!(matches!(decode(&wire), Event::Frame(f) if matches!(f.message, Message::Fault(_))));
}

#[test]
fn odd_header_varints_drop_as_header() {
    // seq (u32): six bytes; then a fifth byte above 0x0F (2^32).
    for seq in [
        &[0x81, 0x80, 0x80, 0x80, 0x80, 0x00][..],
        &[0x80, 0x80, 0x80, 0x80, 0x10],
    ] {
        let wire = frame_of(&[seq, &[0x01], &FAULT].concat());
        assert_eq!(dropped(&wire), DropCause::Header, "seq {seq:02x?}");
    }
    // timestamp_us (u64): eleven bytes; then a tenth byte above 0x01.
    let mut eleven = vec![0x80; 10];
    eleven.push(0x00);
    let mut high = vec![0x80; 9];
    high.push(0x02);
    for ts in [eleven, high] {
        let wire = frame_of(&[&[0x01], ts.as_slice(), &FAULT].concat());
        assert_eq!(dropped(&wire), DropCause::Header, "timestamp {ts:02x?}");
    }
}

#[test]
fn odd_message_varints_drop_as_malformed() {
    // Fault.code (u16): four bytes; then a third byte above 0x03 (2^16).
    for code in [&[0x81, 0x80, 0x80, 0x00][..], &[0x80, 0x80, 0x04]] {
        let msg = [&[0x03], code, &[0x01, b'x']].concat();
        let wire = frame_of(&[&[0x01, 0x01], msg.as_slice()].concat());
        assert_eq!(dropped(&wire), DropCause::Malformed, "code {code:02x?}");
    }
}

#[test]
fn a_redundant_in_range_varint_is_accepted() {
    // seq 0 as `80 00`, code 1 as `81 00`.
    let wire = frame_of(&[0x80, 0x00, 0x01, 0x03, 0x81, 0x00, 0x01, b'x']);
    match decode(&wire) {
        Event::Frame(f) => {
            assert_eq!(f.header.seq, 0);
            assert!(matches!(f.message, Message::Fault(ref x) if x.code == 1));
        }
        other => panic!("{other:?}"),
    }
}
