//! Encoding one frame: `COBS(header ‖ postcard(message) ‖ CRC-32C) ‖ 0x00`, or with a
//! signature trailer before the CRC ([`encode_signed`], [`crate::sign`]).
//!
//! Uses a stack scratch buffer and the caller's output buffer only: no heap, no panics.

use crate::{
    bounded::MaxSize,
    cobs,
    error::EncodeError,
    header::FrameHeader,
    message::Message,
    sign::{ControlKey, FLAG_SIGNED, SIGNATURE_LEN},
};

/// Largest frame on the wire, terminating `0x00` included. One frame per UDP datagram.
pub const MAX_FRAME: usize = 1024;

/// CRC-32C (Castagnoli, the iSCSI polynomial), over header and message bytes: the CPU's
/// CRC instruction where there is one ([`crate::crc`]).
pub use crate::crc::CRC32C;

/// Largest un-stuffed body: header, message, signature trailer, CRC.
pub const MAX_BODY: usize = FrameHeader::MAX_SIZE + Message::MAX_SIZE + SIGNATURE_LEN + 4;

/// Largest encoded frame any message can produce, terminator included.
pub const MAX_ENCODED: usize = cobs::max_encoding_length(MAX_BODY) + 1;

// Every message fits a frame, whatever its contents: checked when the crate compiles.
const _: () = assert!(
    MAX_ENCODED <= MAX_FRAME,
    "largest message exceeds the frame limit"
);

/// Encodes `message` under `header` into `out` and returns the frame, terminator included.
///
/// `out` of [`MAX_FRAME`] bytes always suffices.
pub fn encode<'a>(
    header: &FrameHeader,
    message: &Message,
    out: &'a mut [u8],
) -> Result<&'a [u8], EncodeError> {
    let mut body = [0u8; MAX_BODY];
    let n = encode_body(header, message, &mut body)?;
    stuff(&body[..n], out)
}

/// Encodes `message` signed with `key`: the header's [`FLAG_SIGNED`] is set and the
/// trailer `key_id ‖ tag` goes before the CRC. `out` of [`MAX_FRAME`] bytes always suffices.
pub fn encode_signed<'a>(
    header: &FrameHeader,
    message: &Message,
    key: &ControlKey,
    out: &'a mut [u8],
) -> Result<&'a [u8], EncodeError> {
    let mut body = [0u8; MAX_BODY];
    let n = encode_body_with(header, message, Some(key), &mut body)?;
    stuff(&body[..n], out)
}

/// Writes `header ‖ postcard(message) ‖ CRC-32C (LE)` into `body`; returns its length.
pub fn encode_body(
    header: &FrameHeader,
    message: &Message,
    body: &mut [u8],
) -> Result<usize, EncodeError> {
    encode_body_with(header, message, None, body)
}

/// [`encode_body`], signed when `key` is given.
pub fn encode_body_with(
    header: &FrameHeader,
    message: &Message,
    key: Option<&ControlKey>,
    body: &mut [u8],
) -> Result<usize, EncodeError> {
    // The flag says whether a trailer follows, whatever the caller's header said.
    let header = FrameHeader {
        flags: match key {
            Some(_) => header.flags | FLAG_SIGNED,
            None => header.flags & !FLAG_SIGNED,
        },
        ..*header
    };
    let header = &header;
    let have = body.len();
    let too_small = |_| EncodeError::BufferTooSmall {
        need: MAX_BODY,
        have,
    };
    let h = postcard::to_slice(header, body).map_err(too_small)?.len();
    let m = postcard::to_slice(message, body.get_mut(h..).unwrap_or_default())
        .map_err(too_small)?
        .len();
    let mut n = h + m;
    if let Some(key) = key {
        let id = key.key_id();
        let tag = key.tag(&body[..n], id);
        let trailer = body
            .get_mut(n..n + SIGNATURE_LEN)
            .ok_or(EncodeError::BufferTooSmall {
                need: n + SIGNATURE_LEN + 4,
                have,
            })?;
        trailer[0] = id;
        trailer[1..].copy_from_slice(&tag);
        n += SIGNATURE_LEN;
    }
    let crc = CRC32C.checksum(&body[..n]).to_le_bytes();
    body.get_mut(n..n + 4)
        .ok_or(EncodeError::BufferTooSmall { need: n + 4, have })?
        .copy_from_slice(&crc);
    Ok(n + 4)
}

/// COBS-encodes a body and appends the `0x00` terminator.
pub fn stuff<'a>(body: &[u8], out: &'a mut [u8]) -> Result<&'a [u8], EncodeError> {
    let need = cobs::max_encoding_length(body.len()) + 1;
    let have = out.len();
    let err = EncodeError::BufferTooSmall { need, have };
    let len = cobs::encode(body, out).map_err(|_| err)?;
    *out.get_mut(len).ok_or(err)? = 0;
    Ok(&out[..=len])
}
