//! Frame signatures: a MAVLink-2-style trailer that authenticates a frame with a shared key
//! (`spec/wire-format.md` §3.6), and the replay guard a receiver keeps.
//!
//! A signed frame has header flag [`FLAG_SIGNED`] set and its body is
//! `header ‖ postcard(message) ‖ key_id ‖ tag ‖ CRC-32C`, where
//! `tag = HMAC-SHA256(key, header ‖ postcard(message) ‖ key_id)[..8]`. The header is covered,
//! so its boot id, sequence number and timestamp cannot be changed without the key; the
//! receiver refuses a timestamp that is not newer than the last one it accepted from the
//! same sender run ([`ReplayGuard`]).
//!
//! ```
//! use msao::{frame, header::FrameHeader, message::{Fault, Message}, sign::{Auth, ControlKey}};
//! use msao::decoder::{Decoder, Event};
//! let key = ControlKey::new(&[7u8; 32]).unwrap();
//! let msg = Message::Fault(Fault::new(7, "hi"));
//! let mut buf = [0u8; frame::MAX_FRAME];
//! let wire = frame::encode_signed(&FrameHeader::new([1, 2, 3, 4], 0, 5), &msg, &key, &mut buf).unwrap();
//! let mut dec = Decoder::with_key(key);
//! let mut input = wire;
//! match dec.push(&mut input) {
//!     Some(Event::Frame(f)) => assert_eq!(f.auth, Auth::Verified { key_id: 0 }),
//!     other => panic!("{other:?}"),
//! }
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Incompatible header flag: the body carries a signature trailer before the CRC.
pub const FLAG_SIGNED: u8 = 0x01;

/// Bytes of the truncated HMAC-SHA256 tag. 64 bits: an online forger needs about 2^63
/// tries per accepted frame, and every failed try is counted by the receiver.
pub const TAG_LEN: usize = 8;

/// Bytes of the trailer: key id and tag.
pub const SIGNATURE_LEN: usize = 1 + TAG_LEN;

/// Shortest key accepted, bytes (128 bits).
pub const MIN_KEY_LEN: usize = 16;

/// Longest key accepted, bytes (one SHA-256 block; longer keys are hashed by HMAC anyway).
pub const MAX_KEY_LEN: usize = 64;

/// A key is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Fewer than [`MIN_KEY_LEN`] or more than [`MAX_KEY_LEN`] bytes.
    Length {
        /// Bytes given.
        len: usize,
    },
    /// Not an even number of hex digits.
    Hex {
        /// Offset of the first bad character.
        at: usize,
    },
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Length { len } => write!(
                f,
                "a control key has {MIN_KEY_LEN}–{MAX_KEY_LEN} bytes ({}–{} hex digits), got {len} bytes",
                MIN_KEY_LEN * 2,
                MAX_KEY_LEN * 2
            ),
            Self::Hex { at } => write!(
                f,
                "a control key is written as hex digits; character {at} is not one (or the count is odd)"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for KeyError {}

/// A shared key and the id it is announced with (trailer byte `key_id`).
#[derive(Clone)]
pub struct ControlKey {
    mac: Hmac<Sha256>,
    key_id: u8,
}

impl core::fmt::Debug for ControlKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the key bytes.
        write!(f, "ControlKey {{ key_id: {} }}", self.key_id)
    }
}

impl ControlKey {
    /// A key of [`MIN_KEY_LEN`]..=[`MAX_KEY_LEN`] bytes, key id 0.
    pub fn new(bytes: &[u8]) -> Result<Self, KeyError> {
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&bytes.len()) {
            return Err(KeyError::Length { len: bytes.len() });
        }
        let mac = Hmac::<Sha256>::new_from_slice(bytes)
            .map_err(|_| KeyError::Length { len: bytes.len() })?;
        Ok(Self { mac, key_id: 0 })
    }

    /// A key written as hex digits (surrounding whitespace ignored), key id 0.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let digits = text.as_bytes();
        if !digits.len().is_multiple_of(2) {
            return Err(KeyError::Hex { at: digits.len() });
        }
        let mut bytes = [0u8; MAX_KEY_LEN];
        let n = digits.len() / 2;
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&n) {
            return Err(KeyError::Length { len: n });
        }
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]).ok_or(KeyError::Hex { at: 2 * i })?;
            let lo = hex_digit(pair[1]).ok_or(KeyError::Hex { at: 2 * i + 1 })?;
            bytes[i] = hi << 4 | lo;
        }
        Self::new(&bytes[..n])
    }

    /// The same key announced under another id (for a rotation: both sides agree on it).
    pub fn with_key_id(mut self, key_id: u8) -> Self {
        self.key_id = key_id;
        self
    }

    /// The id written into trailers.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// The tag of `signed` (header and message bytes) under `key_id`.
    pub fn tag(&self, signed: &[u8], key_id: u8) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.update(&[key_id]);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// True when `tag` is the tag of `signed` under `key_id` (constant-time comparison).
    pub fn verify(&self, signed: &[u8], key_id: u8, tag: &[u8; TAG_LEN]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.update(&[key_id]);
        mac.verify_truncated_left(tag).is_ok()
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// What the decoder knows about a frame's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No signature trailer.
    Unsigned,
    /// Signed, and the tag matched this decoder's key.
    Verified {
        /// The trailer's key id.
        key_id: u8,
    },
    /// Signed, but this decoder has no key to check it with.
    Unchecked {
        /// The trailer's key id.
        key_id: u8,
    },
}

/// Why the replay guard refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The timestamp is not newer than the last one accepted from that sender run.
    Stale {
        /// Last accepted, µs.
        last_us: u64,
        /// This frame's, µs.
        got_us: u64,
    },
    /// A sender run not remembered, with a timestamp not above the forgotten ones.
    Forgotten {
        /// Highest forgotten timestamp, µs.
        floor_us: u64,
        /// This frame's, µs.
        got_us: u64,
    },
}

/// Senders remembered by a [`ReplayGuard`]; the least recently accepted is forgotten
/// first. Only signed frames reach the guard, so only key holders can fill it.
pub const REPLAY_SENDERS: usize = 8;

/// Accepts a signed frame only when its timestamp is newer than the last accepted one
/// from the same sender run (header boot id), MAVLink's rule. A sender run it does not
/// remember is accepted only with a timestamp above every timestamp it has forgotten, so
/// a request replayed after its sender was evicted is still refused: request senders use
/// Unix-epoch microseconds, which grow from one run to the next.
#[derive(Debug, Clone, Default)]
pub struct ReplayGuard {
    // (boot id, last accepted timestamp, acceptance counter for eviction)
    senders: [Option<([u8; 4], u64, u64)>; REPLAY_SENDERS],
    accepted: u64,
    /// The highest timestamp of an evicted sender run.
    floor: u64,
}

impl ReplayGuard {
    /// An empty guard.
    pub const fn new() -> Self {
        Self {
            senders: [None; REPLAY_SENDERS],
            accepted: 0,
            floor: 0,
        }
    }

    /// Checks and records one frame's (sender boot id, timestamp).
    pub fn check(&mut self, boot_id: [u8; 4], timestamp_us: u64) -> Result<(), Replay> {
        self.accepted += 1;
        let stamp = self.accepted;
        if let Some(entry) = self.senders.iter_mut().flatten().find(|e| e.0 == boot_id) {
            if timestamp_us <= entry.1 {
                return Err(Replay::Stale {
                    last_us: entry.1,
                    got_us: timestamp_us,
                });
            }
            entry.1 = timestamp_us;
            entry.2 = stamp;
            return Ok(());
        }
        if timestamp_us <= self.floor {
            return Err(Replay::Forgotten {
                floor_us: self.floor,
                got_us: timestamp_us,
            });
        }
        let slot = match self.senders.iter().position(Option::is_none) {
            Some(i) => i,
            None => self
                .senders
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.map_or(0, |e| e.2))
                .map_or(0, |(i, _)| i),
        };
        if let Some((_, evicted, _)) = self.senders[slot] {
            self.floor = self.floor.max(evicted);
        }
        self.senders[slot] = Some((boot_id, timestamp_us, stamp));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_refuse_bad_text() {
        let k = ControlKey::from_hex("  000102030405060708090a0b0c0d0e0F\n").unwrap();
        assert_eq!(k.key_id(), 0);
        assert_eq!(
            ControlKey::from_hex("00ff").unwrap_err(),
            KeyError::Length { len: 2 }
        );
        assert_eq!(
            ControlKey::from_hex(&"zz".repeat(16)).unwrap_err(),
            KeyError::Hex { at: 0 }
        );
        assert_eq!(
            ControlKey::from_hex(&"a".repeat(33)).unwrap_err(),
            KeyError::Hex { at: 33 }
        );
        assert!(ControlKey::new(&[0u8; 65]).is_err());
    }

    /// The tag is the first 8 bytes of HMAC-SHA256 over the data and the key id byte:
    /// the expected bytes were computed independently with Python's `hmac` module
    /// (`hmac.new(b"JefeJefeJefeJefe", b"what do ya want for nothing?\x00", "sha256")`).
    #[test]
    fn the_tag_is_truncated_hmac_sha256() {
        let key = ControlKey::new(b"JefeJefeJefeJefe").unwrap();
        let tag = key.tag(b"what do ya want for nothing?", 0);
        assert_eq!(tag, [0xfa, 0x21, 0x80, 0x0d, 0x19, 0x6e, 0xd7, 0x31]);
        assert!(key.verify(b"what do ya want for nothing?", 0, &tag));
        assert!(!key.verify(b"what do ya want for nothing!", 0, &tag));
        assert!(!key.verify(b"what do ya want for nothing?", 1, &tag));
    }

    #[test]
    fn the_guard_refuses_old_timestamps_per_sender() {
        let mut g = ReplayGuard::new();
        assert!(g.check([1; 4], 10).is_ok());
        assert_eq!(
            g.check([1; 4], 10),
            Err(Replay::Stale {
                last_us: 10,
                got_us: 10
            })
        );
        assert!(
            g.check([2; 4], 5).is_ok(),
            "another sender run has its own clock"
        );
        assert!(g.check([1; 4], 11).is_ok());
        // Filling the table forgets the least recently accepted sender, not the newest.
        for b in 3..(3 + REPLAY_SENDERS as u8 - 1) {
            assert!(g.check([b; 4], 1).is_ok());
        }
        assert!(g.check([1; 4], 11).is_err(), "sender 1 is still remembered");
    }

    /// A request replayed after its sender run was forgotten is refused too.
    #[test]
    fn a_forgotten_sender_cannot_replay() {
        let mut g = ReplayGuard::new();
        assert!(g.check([0; 4], 100).is_ok());
        for b in 1..=REPLAY_SENDERS as u8 {
            assert!(g.check([b; 4], 100 + u64::from(b)).is_ok());
        }
        // Sender 0 was evicted; its captured frame comes back.
        assert_eq!(
            g.check([0; 4], 100),
            Err(Replay::Forgotten {
                floor_us: 100,
                got_us: 100
            })
        );
        assert!(g.check([0xee; 4], 1_000).is_ok(), "a later run is accepted");
    }
}
