//! Encoding one frame: `COBS(header ‖ postcard(message) ‖ CRC-32C) ‖ 0x00`.
//!
//! Uses a stack scratch buffer and the caller's output buffer only: no heap, no panics.

use crate::{bounded::MaxSize, cobs, error::EncodeError, header::FrameHeader, message::Message};

/// Largest frame on the wire, terminating `0x00` included. One frame per UDP datagram.
pub const MAX_FRAME: usize = 1024;

/// CRC-32C (Castagnoli, the iSCSI polynomial), over header and message bytes: the CPU's
/// CRC instruction where there is one ([`crate::crc`]).
pub use crate::crc::CRC32C;

/// Largest un-stuffed body: header, message, CRC.
pub const MAX_BODY: usize = FrameHeader::MAX_SIZE + Message::MAX_SIZE + 4;

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

/// Writes `header ‖ postcard(message) ‖ CRC-32C (LE)` into `body`; returns its length.
pub fn encode_body(
    header: &FrameHeader,
    message: &Message,
    body: &mut [u8],
) -> Result<usize, EncodeError> {
    let have = body.len();
    let too_small = |_| EncodeError::BufferTooSmall {
        need: MAX_BODY,
        have,
    };
    let h = postcard::to_slice(header, body).map_err(too_small)?.len();
    let m = postcard::to_slice(message, body.get_mut(h..).unwrap_or_default())
        .map_err(too_small)?
        .len();
    let n = h + m;
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
