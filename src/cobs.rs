//! COBS (Consistent Overhead Byte Stuffing): removes every `0x00` from a frame body.
//!
//! The body is cut at each `0x00` and after every 254 non-zero bytes; each block goes out
//! as a code byte (its length + 1) and its non-zero bytes, and the decoder puts a `0x00`
//! back after every block but one of code `0xFF` or the last. A body that ends on a full
//! 254-byte block gets no empty block after it (spec §1).
//!
//! The output is byte-identical to the `cobs` crate's (0.4, the property tests compare the
//! two on random bodies), but this works a block at a time: it finds each `0x00` eight
//! bytes per step and moves the run before it with one copy, where a byte-at-a-time state
//! machine spent most of a frame's encode and a fifth of its decode time.
//!
//! ```
//! use msao::cobs;
//! let mut out = [0u8; 8];
//! let n = cobs::encode(&[0x11, 0x00, 0x22], &mut out).unwrap();
//! assert_eq!(&out[..n], &[0x02, 0x11, 0x02, 0x22]);
//! assert_eq!(cobs::decode_in_place(&mut out[..n]), Ok(3));
//! assert_eq!(&out[..3], &[0x11, 0x00, 0x22]);
//! ```

/// Longest run of non-zero bytes one block carries.
const MAX_RUN: usize = 254;

/// Bytes the encoding of `len` body bytes takes at most (terminator excluded).
pub const fn max_encoding_length(len: usize) -> usize {
    len + if len == 0 { 1 } else { len.div_ceil(MAX_RUN) }
}

/// The output buffer cannot hold the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes the encoding needs at most ([`max_encoding_length`]).
    pub need: usize,
    /// Bytes the caller provided.
    pub have: usize,
}

/// Why bytes are not valid COBS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Nothing to decode.
    Empty,
    /// The code byte at `at` announces a block running past the end (`end`).
    CodePastEnd {
        /// Offset of the code byte.
        at: usize,
        /// Offset where the encoded bytes end.
        end: usize,
    },
}

/// Offset of the first `0x00` in `bytes`, eight bytes per step.
pub fn find_zero(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let (words, tail) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let v = u64::from_le_bytes(*word);
        // High bit set in each zero byte (and maybe in bytes above the first zero, through
        // the borrow); the lowest one is exact.
        let zeros = v.wrapping_sub(ONES) & !v & HIGHS;
        if zeros != 0 {
            return Some(i * 8 + (zeros.trailing_zeros() / 8) as usize);
        }
    }
    let base = words.len() * 8;
    tail.iter().position(|&b| b == 0).map(|i| base + i)
}

/// COBS-encodes `body` into `out` (no terminator) and returns the encoded length.
pub fn encode(body: &[u8], out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let too_small = BufferTooSmall {
        need: max_encoding_length(body.len()),
        have: out.len(),
    };
    let n = body.len() + 1;
    let fast = out
        .get_mut(..n)
        .and_then(|dst| encode_short_runs(body, dst))
        .map(|()| n);
    match fast {
        Some(n) => Ok(n),
        None => encode_blocks(body, out).ok_or(too_small),
    }
}

/// The common case, no run of 254 non-zero bytes: the encoding is the body shifted by one
/// with each `0x00` replaced by the next block's code. One copy, then a patch per zero.
/// `None` (with `out` scribbled on) when a run is too long for that.
fn encode_short_runs(body: &[u8], out: &mut [u8]) -> Option<()> {
    let (code, data) = out.split_first_mut()?;
    data.copy_from_slice(body);
    let mut code = code;
    let mut start = 0;
    while let Some(i) = find_zero(&body[start..]) {
        if i >= MAX_RUN {
            return None;
        }
        *code = i as u8 + 1;
        start += i + 1;
        code = data.get_mut(start - 1)?;
    }
    let run = body.len() - start;
    if run > MAX_RUN {
        return None;
    }
    *code = run as u8 + 1;
    Some(())
}

/// Any body: block by block, cutting after every 254 non-zero bytes.
fn encode_blocks(body: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut rest = body;
    let mut n = 0;
    loop {
        let window = &rest[..rest.len().min(MAX_RUN)];
        let (run, zero) = match find_zero(window) {
            Some(i) => (i, true),
            None => (window.len(), false),
        };
        let (code, data) = out.get_mut(n..n + 1 + run)?.split_first_mut()?;
        *code = run as u8 + 1;
        data.copy_from_slice(&rest[..run]);
        n += 1 + run;
        if zero {
            // A zero ends the block; after the last byte an empty block (`01`) follows.
            rest = &rest[run + 1..];
        } else {
            rest = &rest[run..];
            if rest.is_empty() {
                return Some(n);
            }
        }
    }
}

/// Decodes COBS bytes in place, up to the first `0x00` if there is one, and returns the
/// decoded length; the decoded bytes are `buf[..len]`.
pub fn decode_in_place(buf: &mut [u8]) -> Result<usize, DecodeError> {
    if buf.is_empty() {
        return Err(DecodeError::Empty);
    }
    let end = find_zero(buf).unwrap_or(buf.len());
    if end == 0 {
        return Ok(0);
    }
    // Walk the code chain first: refuse a code pointing past the end, and see whether any
    // block is a full one (`0xFF`, no zero after it).
    let mut full_block = false;
    let mut at = 0;
    while at < end {
        // Non-zero: every byte before `end` is.
        let code = usize::from(buf[at]).max(1);
        if at + code > end {
            return Err(DecodeError::CodePastEnd { at, end });
        }
        full_block |= code == MAX_RUN + 1;
        at += code;
    }
    if full_block {
        return Ok(decode_blocks(&mut buf[..end]));
    }
    // No full block: every code but the first stands where its zero goes once the bytes
    // move down by one.
    let mut next = usize::from(buf[0]);
    buf.copy_within(1..end, 0);
    while next < end {
        let zero = &mut buf[next - 1];
        next += usize::from(*zero);
        *zero = 0;
    }
    Ok(end - 1)
}

/// Decodes a valid code chain (checked by the caller) block by block.
fn decode_blocks(buf: &mut [u8]) -> usize {
    let end = buf.len();
    let (mut src, mut dst) = (0, 0);
    while src < end {
        let code = usize::from(buf[src]).max(1);
        buf.copy_within(src + 1..src + code, dst);
        src += code;
        dst += code - 1;
        if code != MAX_RUN + 1 && src < end {
            // dst < src <= end: in bounds.
            buf[dst] = 0;
            dst += 1;
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_an_error_not_a_panic() {
        let mut out = [0u8; 3];
        assert_eq!(
            encode(&[1, 2, 3], &mut out),
            Err(BufferTooSmall { need: 4, have: 3 })
        );
        assert_eq!(decode_in_place(&mut []), Err(DecodeError::Empty));
        assert_eq!(
            decode_in_place(&mut [0x05, 0xAA, 0xBB]),
            Err(DecodeError::CodePastEnd { at: 0, end: 3 })
        );
    }

    #[test]
    fn find_zero_finds_the_first() {
        let mut bytes = [0xFFu8; 40];
        assert_eq!(find_zero(&bytes), None);
        for i in (0..40).rev() {
            bytes[i] = 0;
            assert_eq!(find_zero(&bytes), Some(i));
        }
        assert_eq!(find_zero(&[0x80, 0x01, 0x00, 0x00]), Some(2));
        assert_eq!(find_zero(&[1, 1, 1, 1, 1, 1, 1, 0x01, 0]), Some(8));
    }
}
