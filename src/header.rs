//! The frame header: what a decoder checks before it trusts the message bytes.
//!
//! Encoded with postcard, fields in this order (see `spec/wire-format.md` §3):
//! `magic u8 | version u8 | flags u8 | schema [u8; 8] | boot_id [u8; 4] | seq varint(u32) |
//! timestamp_us varint(u64)`. The first 15 bytes are fixed-width, so a peer of any schema
//! can read version and fingerprint.

use crate::bounded::MaxSize;
use serde::{Deserialize, Serialize};

/// First byte of every frame body.
pub const MAGIC: u8 = 0x4D;

/// Flag bits 0–3 are *incompatible*: a decoder that does not know a set bit drops the frame.
pub const FLAGS_INCOMPATIBLE_MASK: u8 = 0x0F;
/// Flag bits 4–7 are *compatible*: unknown ones are ignored.
pub const FLAGS_COMPATIBLE_MASK: u8 = 0xF0;
/// Compatible flag: the frame is re-emitted from a capture (`msao-host replay --to`).
pub const FLAG_REPLAYED: u8 = 0x10;
/// Incompatible flags this version understands: [`crate::sign::FLAG_SIGNED`].
pub const KNOWN_INCOMPATIBLE_FLAGS: u8 = crate::sign::FLAG_SIGNED;

/// Header of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameHeader {
    /// Always [`MAGIC`].
    pub magic: u8,
    /// Wire version ([`crate::WIRE_VERSION`]).
    pub version: u8,
    /// Flag bits; see [`FLAGS_INCOMPATIBLE_MASK`] and [`FLAGS_COMPATIBLE_MASK`].
    pub flags: u8,
    /// Schema fingerprint of the sender's build ([`crate::SCHEMA_FINGERPRINT`]).
    pub schema: [u8; 8],
    /// Random id chosen by the device at start; identifies one run of one agent.
    pub boot_id: [u8; 4],
    /// Per-stream sequence number, +1 per frame sent on that stream (wraps).
    pub seq: u32,
    /// Monotonic microseconds since the agent started, when the message was produced.
    pub timestamp_us: u64,
}

impl FrameHeader {
    /// Header for this build's version and schema.
    pub const fn new(boot_id: [u8; 4], seq: u32, timestamp_us: u64) -> Self {
        Self {
            magic: MAGIC,
            version: crate::WIRE_VERSION,
            flags: 0,
            schema: crate::SCHEMA_FINGERPRINT,
            boot_id,
            seq,
            timestamp_us,
        }
    }

    /// Boot id as a number (displayed `{:08x}`).
    pub const fn boot_id_u32(&self) -> u32 {
        u32::from_be_bytes(self.boot_id)
    }

    /// Schema fingerprint as a number (displayed `{:016x}`).
    pub const fn schema_u64(&self) -> u64 {
        u64::from_le_bytes(self.schema)
    }

    /// True when this decoder can interpret the frame: same version, no unknown
    /// incompatible flag.
    pub const fn is_compatible(&self) -> bool {
        self.version == crate::WIRE_VERSION
            && (self.flags & FLAGS_INCOMPATIBLE_MASK & !KNOWN_INCOMPATIBLE_FLAGS) == 0
    }
}

impl MaxSize for FrameHeader {
    const MAX_SIZE: usize = 3 + 8 + 4 + u32::MAX_SIZE + u64::MAX_SIZE;
}

/// Bytes of the fixed-width header prefix (magic through boot id).
pub const FIXED_PREFIX: usize = 15;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_prefix_layout() {
        let h = FrameHeader::new([0xDE, 0xAD, 0xBE, 0xEF], 300, 1);
        let mut buf = [0u8; 64];
        let bytes = postcard::to_slice(&h, &mut buf).unwrap();
        assert_eq!(bytes[0], MAGIC);
        assert_eq!(bytes[1], crate::WIRE_VERSION);
        assert_eq!(&bytes[3..11], &crate::SCHEMA_FINGERPRINT);
        assert_eq!(&bytes[11..15], &[0xDE, 0xAD, 0xBE, 0xEF]);
        // seq 300 = varint AC 02, timestamp 1 = 01
        assert_eq!(&bytes[FIXED_PREFIX..], &[0xAC, 0x02, 0x01]);
        assert!(bytes.len() <= FrameHeader::MAX_SIZE);
    }

    #[test]
    fn unknown_incompatible_flag_is_refused_compatible_is_not() {
        let mut h = FrameHeader::new([0; 4], 0, 0);
        h.flags = FLAG_REPLAYED | 0x20;
        assert!(h.is_compatible());
        h.flags = crate::sign::FLAG_SIGNED;
        assert!(h.is_compatible(), "signed frames are understood");
        h.flags = 0x02;
        assert!(!h.is_compatible());
        h.flags = 0;
        h.version = crate::WIRE_VERSION + 1;
        assert!(!h.is_compatible());
    }
}
