//! The spec's test vectors (`spec/vectors/`), checked in both directions: value → bytes and
//! bytes → value. A message kind without a vector fails here.

use msao::sign::{Auth, ControlKey};
use msao::{Decoder, Event, Message, decoder::DropCause, frame, header::FrameHeader};
use serde_json::Value;
use std::{collections::BTreeSet, fs, path::PathBuf};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/vectors")
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn header_of(v: &Value) -> FrameHeader {
    let h = &v["header"];
    let mut schema = [0u8; 8];
    hex::decode_to_slice(h["schema"].as_str().unwrap(), &mut schema).unwrap();
    let mut boot = [0u8; 4];
    hex::decode_to_slice(h["boot_id"].as_str().unwrap(), &mut boot).unwrap();
    FrameHeader {
        magic: msao::header::MAGIC,
        version: h["version"].as_u64().unwrap() as u8,
        flags: h["flags"].as_u64().unwrap() as u8,
        schema,
        boot_id: boot,
        seq: h["seq"].as_u64().unwrap() as u32,
        timestamp_us: h["timestamp_us"].as_u64().unwrap(),
    }
}

/// The vector's signing key (`key_hex`: the published test key), for signed vectors.
fn key_of(v: &Value) -> Option<ControlKey> {
    let text = v.get("key_hex")?.as_str()?;
    Some(ControlKey::from_hex(text).unwrap())
}

fn message_vectors() -> Vec<Value> {
    let mut out = Vec::new();
    for entry in fs::read_dir(vectors_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".json") && name != "corrupt.json" {
            out.push(load(&name));
        }
    }
    out
}

#[test]
fn every_message_kind_has_a_vector() {
    let have: BTreeSet<String> = message_vectors()
        .iter()
        .map(|v| v["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in Message::KINDS {
        assert!(
            have.contains(kind),
            "no vector in spec/vectors for message kind `{kind}`"
        );
    }
}

#[test]
fn vectors_encode_to_their_bytes() {
    for v in message_vectors() {
        let name = v["name"].as_str().unwrap();
        let header = header_of(&v);
        assert_eq!(
            header.schema,
            msao::SCHEMA_FINGERPRINT,
            "vector {name}: schema fingerprint changed; if the wire change is intended, bump \
             the spec and run `cargo run --example gen_vectors`"
        );
        let message: Message = serde_json::from_value(v["message"].clone()).unwrap();
        let key = key_of(&v);
        let mut buf = [0u8; frame::MAX_FRAME];
        let wire = match &key {
            Some(k) => frame::encode_signed(&header, &message, k, &mut buf).unwrap(),
            None => frame::encode(&header, &message, &mut buf).unwrap(),
        };
        assert_eq!(
            hex::encode(wire),
            v["frame_hex"].as_str().unwrap(),
            "vector {name}"
        );
        assert_eq!(
            wire.len() as u64,
            v["frame_len"].as_u64().unwrap(),
            "vector {name}"
        );
        let mut body = [0u8; frame::MAX_BODY];
        let n = frame::encode_body_with(&header, &message, key.as_ref(), &mut body).unwrap();
        assert_eq!(
            hex::encode(&body[..n]),
            v["body_hex"].as_str().unwrap(),
            "vector {name}"
        );
    }
}

#[test]
fn vectors_decode_to_their_values() {
    for v in message_vectors() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex::decode(v["frame_hex"].as_str().unwrap()).unwrap();
        let expected: Message = serde_json::from_value(v["message"].clone()).unwrap();
        let key = key_of(&v);
        let mut dec = key.clone().map_or_else(Decoder::new, Decoder::with_key);
        let mut input = bytes.as_slice();
        match dec.push(&mut input) {
            Some(Event::Frame(f)) => {
                assert_eq!(f.message, expected, "vector {name}");
                assert_eq!(f.header, header_of(&v), "vector {name}");
                let auth = match &key {
                    Some(_) => Auth::Verified { key_id: 0 },
                    None => Auth::Unsigned,
                };
                assert_eq!(f.auth, auth, "vector {name}");
            }
            other => panic!("vector {name}: {other:?}"),
        }
        assert!(input.is_empty());
        if key.is_some() {
            // Without a key the frame still decodes, its signature unchecked; with another
            // key it is dropped.
            let mut input = bytes.as_slice();
            match Decoder::new().push(&mut input) {
                Some(Event::Frame(f)) => assert_eq!(f.auth, Auth::Unchecked { key_id: 0 }),
                other => panic!("vector {name} without a key: {other:?}"),
            }
            let other = ControlKey::new(&[0x55; 32]).unwrap();
            let mut input = bytes.as_slice();
            assert!(matches!(
                Decoder::with_key(other).push(&mut input),
                Some(Event::Dropped {
                    cause: DropCause::Signature,
                    ..
                })
            ));
        }
    }
}

#[test]
fn corrupt_vectors_give_their_drop_cause() {
    let cases = load("corrupt.json");
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let bytes = hex::decode(case["bytes_hex"].as_str().unwrap()).unwrap();
        let mut dec = key_of(case).map_or_else(Decoder::new, Decoder::with_key);
        let mut input = bytes.as_slice();
        let mut events = Vec::new();
        while let Some(e) = dec.push(&mut input) {
            events.push(e);
        }
        match case["expect_drop"].as_str() {
            Some(cause) => {
                assert_eq!(events.len(), 1, "case {name}: {events:?}");
                match &events[0] {
                    Event::Dropped { cause: c, .. } => assert_eq!(c.name(), cause, "case {name}"),
                    other => panic!("case {name}: expected drop {cause}, got {other:?}"),
                }
                let counted: Vec<_> = DropCause::ALL
                    .iter()
                    .filter(|c| dec.stats().dropped(**c) > 0)
                    .collect();
                assert_eq!(counted.len(), 1, "case {name}");
            }
            None => {
                assert_eq!(events.len(), 1, "case {name}: {events:?}");
                assert!(matches!(events[0], Event::Frame(_)), "case {name}");
                assert_eq!(dec.stats().dropped_total(), 0, "case {name}");
            }
        }
    }
}
