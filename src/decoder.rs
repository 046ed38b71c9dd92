//! The streaming frame decoder.
//!
//! Feed it bytes in any chunking; it yields one [`Event`] per `0x00`-terminated frame:
//! the decoded frame, or the reason it was dropped. After any corruption it resynchronises
//! at the next `0x00`, so one damaged frame costs exactly that frame. It never panics and
//! never allocates.
//!
//! ```
//! use msao::decoder::{Decoder, DropCause, Event};
//! let mut dec = Decoder::new();
//! let mut input: &[u8] = &[0x03, 0xAA, 0xBB, 0x00]; // valid COBS, but not a frame
//! assert!(matches!(dec.push(&mut input), Some(Event::Dropped { cause: DropCause::Crc, .. })));
//! assert_eq!(dec.stats().dropped(DropCause::Crc), 1);
//! ```

use crate::{
    cobs,
    crc::CRC32C,
    frame::MAX_FRAME,
    header::{FrameHeader, MAGIC},
    message::Message,
    sign::{Auth, ControlKey, FLAG_SIGNED, SIGNATURE_LEN, TAG_LEN},
};

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// The bytes are not valid COBS.
    Cobs,
    /// The CRC-32C does not match.
    Crc,
    /// More than [`MAX_FRAME`] bytes arrived before a `0x00`.
    Oversize,
    /// CRC matched but the header is short or has the wrong magic.
    Header,
    /// The wire version differs or an unknown incompatible flag is set.
    IncompatibleVersion,
    /// The sender's schema fingerprint differs from ours.
    UnknownSchema,
    /// Header and CRC fine, but the message bytes do not decode (or bytes trail it).
    Malformed,
    /// A datagram ended without a `0x00` (see [`Decoder::end_datagram`]): its bytes are
    /// discarded so they cannot spoil the next datagram's frame.
    Unterminated,
    /// Signed, but the tag does not match this decoder's key (forged, or another key).
    Signature,
}

impl DropCause {
    /// Every cause, in counter order.
    pub const ALL: [DropCause; 9] = [
        Self::Cobs,
        Self::Crc,
        Self::Oversize,
        Self::Header,
        Self::IncompatibleVersion,
        Self::UnknownSchema,
        Self::Malformed,
        Self::Unterminated,
        Self::Signature,
    ];

    /// snake_case name (used in JSON summaries).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Cobs => "cobs",
            Self::Crc => "crc",
            Self::Oversize => "oversize",
            Self::Header => "header",
            Self::IncompatibleVersion => "incompatible_version",
            Self::UnknownSchema => "unknown_schema",
            Self::Malformed => "malformed",
            Self::Unterminated => "unterminated",
            Self::Signature => "signature",
        }
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Its header.
    pub header: FrameHeader,
    /// Its message.
    pub message: Message,
    /// Whether it was signed, and whether the signature was checked.
    pub auth: Auth,
}

/// What one terminated frame turned out to be.
// A decoded frame is large and a drop is small; no heap to box into (no_std).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A good frame.
    Frame(Frame),
    /// A dropped frame.
    Dropped {
        /// Why.
        cause: DropCause,
        /// Bytes discarded (terminator excluded).
        len: usize,
        /// The header, when it could be read (incompatible version, unknown schema,
        /// malformed message): tells *who* sent it.
        header: Option<FrameHeader>,
    },
}

/// Counters kept by a [`Decoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames decoded.
    pub frames: u64,
    /// Bytes fed.
    pub bytes: u64,
    /// Drops, indexed like [`DropCause::ALL`].
    pub drops: [u64; DropCause::ALL.len()],
}

impl Stats {
    /// Drops for one cause.
    pub fn dropped(&self, cause: DropCause) -> u64 {
        self.drops[cause as usize]
    }
    /// Drops, all causes.
    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// Streaming decoder with a fixed [`MAX_FRAME`] buffer.
pub struct Decoder {
    buf: [u8; MAX_FRAME],
    len: usize,
    /// Bytes discarded since the buffer overflowed; `Some` until the next `0x00`.
    overflow: Option<usize>,
    stats: Stats,
    /// Checks signed frames when set; without it they decode as [`Auth::Unchecked`].
    key: Option<ControlKey>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// An empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_FRAME],
            len: 0,
            overflow: None,
            stats: Stats {
                frames: 0,
                bytes: 0,
                drops: [0; DropCause::ALL.len()],
            },
            key: None,
        }
    }

    /// A decoder that checks signed frames with `key`: a bad tag drops the frame
    /// ([`DropCause::Signature`]); good ones decode as [`Auth::Verified`].
    pub fn with_key(key: ControlKey) -> Self {
        Self {
            key: Some(key),
            ..Self::new()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Bytes buffered after the last `0x00`: a truncated tail if the stream has ended.
    pub fn pending(&self) -> usize {
        self.overflow.map_or(self.len, |n| n)
    }

    /// Consumes bytes from `input` up to and including the next `0x00` and returns what
    /// that frame was. Returns `None` once `input` is exhausted without a terminator (the
    /// partial frame stays buffered). Empty frames (`0x00 0x00`) are skipped silently:
    /// senders may use a lone `0x00` to flush a receiver.
    pub fn push(&mut self, input: &mut &[u8]) -> Option<Event> {
        loop {
            let (chunk, rest, terminated) = match cobs::find_zero(input) {
                Some(i) => (&input[..i], &input[i + 1..], true),
                None => (*input, &input[input.len()..], false),
            };
            self.stats.bytes += (chunk.len() + usize::from(terminated)) as u64;
            *input = rest;
            self.absorb(chunk);
            if !terminated {
                return None;
            }
            if let Some(event) = self.finish_frame() {
                return Some(event);
            }
            if input.is_empty() {
                return None;
            }
        }
    }

    /// Ends a datagram (UDP: one frame per datagram). Bytes left after its last `0x00`
    /// are discarded and reported as one drop — [`DropCause::Oversize`] when they ran past
    /// [`MAX_FRAME`], else [`DropCause::Unterminated`] — so the next datagram starts on a
    /// clean decoder: a lost or cut datagram costs exactly its own frame. `None` when the
    /// datagram ended on a terminator.
    ///
    /// ```
    /// use msao::decoder::{Decoder, DropCause, Event};
    /// let mut dec = Decoder::new();
    /// let mut dgram: &[u8] = &[0x05, 0x11, 0x22]; // no 0x00
    /// assert!(dec.push(&mut dgram).is_none());
    /// let ended = dec.end_datagram();
    /// assert!(matches!(ended, Some(Event::Dropped { cause: DropCause::Unterminated, len: 3, .. })));
    /// assert_eq!(dec.pending(), 0);
    /// ```
    pub fn end_datagram(&mut self) -> Option<Event> {
        let pending = self.pending();
        let cause = if self.overflow.is_some() {
            DropCause::Oversize
        } else {
            DropCause::Unterminated
        };
        self.reset();
        (pending > 0).then(|| self.drop(cause, pending, None))
    }

    /// Forgets any partial frame without counting it (the caller discarded the rest of
    /// its input on purpose, e.g. a frame budget was reached).
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflow = None;
    }

    fn absorb(&mut self, chunk: &[u8]) {
        if let Some(n) = self.overflow.as_mut() {
            *n += chunk.len();
            return;
        }
        match self.buf.get_mut(self.len..self.len + chunk.len()) {
            Some(dst) => {
                dst.copy_from_slice(chunk);
                self.len += chunk.len();
            }
            None => {
                self.overflow = Some(self.len + chunk.len());
                self.len = 0;
            }
        }
    }

    /// Handles a terminator: decodes the buffered frame or reports why not.
    fn finish_frame(&mut self) -> Option<Event> {
        if let Some(len) = self.overflow.take() {
            // The terminator itself counts towards the frame limit.
            return Some(self.drop(DropCause::Oversize, len, None));
        }
        let len = core::mem::take(&mut self.len);
        if len == 0 {
            return None;
        }
        if len + 1 > MAX_FRAME {
            return Some(self.drop(DropCause::Oversize, len, None));
        }
        let event = match decode_frame_with(&mut self.buf[..len], self.key.as_ref()) {
            Ok(frame) => {
                self.stats.frames += 1;
                Event::Frame(frame)
            }
            Err((cause, header)) => self.drop(cause, len, header),
        };
        Some(event)
    }

    fn drop(&mut self, cause: DropCause, len: usize, header: Option<FrameHeader>) -> Event {
        self.stats.drops[cause as usize] += 1;
        Event::Dropped { cause, len, header }
    }
}

/// Decodes one frame's COBS bytes (terminator excluded), in place; signed frames decode
/// as [`Auth::Unchecked`].
pub fn decode_frame(stuffed: &mut [u8]) -> Result<Frame, (DropCause, Option<FrameHeader>)> {
    decode_frame_with(stuffed, None)
}

/// [`decode_frame`], checking signed frames with `key` when given.
pub fn decode_frame_with(
    stuffed: &mut [u8],
    key: Option<&ControlKey>,
) -> Result<Frame, (DropCause, Option<FrameHeader>)> {
    let n = cobs::decode_in_place(stuffed).map_err(|_| (DropCause::Cobs, None))?;
    let body = &stuffed[..n];
    let Some(split) = n.checked_sub(4) else {
        return Err((DropCause::Crc, None));
    };
    let (data, crc) = body.split_at(split);
    let expected = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if CRC32C.checksum(data) != expected {
        return Err((DropCause::Crc, None));
    }
    if data.first() != Some(&MAGIC) {
        return Err((DropCause::Header, None));
    }
    let (header, rest) =
        postcard::take_from_bytes::<FrameHeader>(data).map_err(|_| (DropCause::Header, None))?;
    if !header.is_compatible() {
        return Err((DropCause::IncompatibleVersion, Some(header)));
    }
    if header.schema != crate::SCHEMA_FINGERPRINT {
        return Err((DropCause::UnknownSchema, Some(header)));
    }
    let (rest, auth) = match header.flags & FLAG_SIGNED {
        0 => (rest, Auth::Unsigned),
        _ => {
            let Some(split) = rest.len().checked_sub(SIGNATURE_LEN) else {
                return Err((DropCause::Malformed, Some(header)));
            };
            let (message, trailer) = rest.split_at(split);
            let key_id = trailer[0];
            let mut tag = [0u8; TAG_LEN];
            tag.copy_from_slice(&trailer[1..]);
            let auth = match key {
                None => Auth::Unchecked { key_id },
                Some(k) => {
                    let signed = &data[..data.len() - SIGNATURE_LEN];
                    if key_id != k.key_id() || !k.verify(signed, key_id, &tag) {
                        return Err((DropCause::Signature, Some(header)));
                    }
                    Auth::Verified { key_id }
                }
            };
            (message, auth)
        }
    };
    match postcard::take_from_bytes::<Message>(rest) {
        Ok((message, [])) => Ok(Frame {
            header,
            message,
            auth,
        }),
        _ => Err((DropCause::Malformed, Some(header))),
    }
}
