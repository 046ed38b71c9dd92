//! MSAO Edge wire protocol: the telemetry contract between `msao-agent` and `msao-host`.
//!
//! A frame is `COBS(header ‖ postcard(message) ‖ CRC-32C) ‖ 0x00`; the normative text is
//! `spec/wire-format.md`, with byte-exact vectors in `spec/vectors/`.
//!
//! | module        | owns |
//! |---------------|------|
//! | [`bounded`]   | compile-time upper bounds on encoded sizes ([`MaxSize`]) |
//! | [`header`]    | the frame header: magic, version, flags, fingerprint, boot id, seq, time |
//! | [`message`]   | the message enum and every message type |
//! | [`schema`]    | the schema fingerprint derived from the message types |
//! | [`crc`]       | the frame CRC-32C: the CPU's CRC instruction where there is one, a table elsewhere |
//! | [`cobs`]      | COBS byte stuffing, a block at a time |
//! | [`frame`]     | encoding one frame into a caller buffer, without the heap |
//! | [`sign`]      | frame signatures (HMAC-SHA256 trailer) and the replay guard, for host → agent control |
//! | [`decoder`]   | the streaming decoder that resynchronises on `0x00` and counts drops |
//! | [`build_info`]| version, git revision, target, profile and fingerprint of this build |
//! | [`compact`]   | the compact tensor: kept patch features as int8 + scale + bitmask (what an offload uploads) |
//! | `transport`   | (feature `std`) serial, UDP and TCP byte transports and their URLs |
//!
//! The crate is `no_std` and heap-free unless the `std` feature is enabled.
//!
//! ```
//! use msao::{frame, header::FrameHeader, message::{Fault, Message}, decoder::{Decoder, Event}};
//! let msg = Message::Fault(Fault::new(7, "camera unplugged"));
//! let header = FrameHeader::new([1, 2, 3, 4], 0, 1_000);
//! let mut buf = [0u8; frame::MAX_FRAME];
//! let wire = frame::encode(&header, &msg, &mut buf).unwrap();
//! let mut dec = Decoder::new();
//! let mut input = wire;
//! match dec.push(&mut input) {
//!     Some(Event::Frame(f)) => assert_eq!(f.message, msg),
//!     other => panic!("{other:?}"),
//! }
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// Agent and protocol code never panics on bad input: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod bounded;
pub mod build_info;
pub mod cobs;
/// The compact tensor: kept patch features, int8 with one scale (`spec/compact-tensor.md`).
pub mod compact;
pub mod crc;
pub mod decoder;
pub mod error;
pub mod frame;
pub mod header;
pub mod message;
pub mod schema;
pub mod sign;
#[cfg(feature = "std")]
pub mod transport;

pub use bounded::MaxSize;
pub use decoder::{Decoder, DropCause, Event};
pub use error::EncodeError;
pub use header::FrameHeader;
pub use message::Message;
pub use schema::SCHEMA_FINGERPRINT;

/// Wire format major version. A decoder refuses frames whose version differs.
pub const WIRE_VERSION: u8 = 2;
