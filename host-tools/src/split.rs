//! Cutting received byte chunks into frames at `0x00`, per source, for `record`.
//!
//! A TCP or serial chunk may hold several frames or part of one; a capture stores one
//! frame per record, so a partial frame waits here for the rest of its bytes. Lone
//! terminators (`0x00` with nothing before it) are skipped: a decoder ignores them too,
//! so replay stays exact. A run longer than [`MAX_RECORD_DATA`] without `0x00` is cut
//! into several records (bounded memory; the decoder drops it as oversize either way).
use crate::capture::MAX_RECORD_DATA;
use std::collections::HashMap;

/// Per-source partial frames.
#[derive(Debug, Default)]
pub struct Splitter {
    partial: HashMap<String, Vec<u8>>,
}

impl Splitter {
    /// An empty splitter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits `bytes` from `source`; calls `emit` with each complete frame (`0x00`
    /// included) or each over-long piece.
    pub fn push(&mut self, source: &str, mut bytes: &[u8], mut emit: impl FnMut(Vec<u8>)) {
        let buf = match self.partial.get_mut(source) {
            Some(buf) => buf,
            None => self.partial.entry(source.to_string()).or_default(),
        };
        while !bytes.is_empty() {
            let room = MAX_RECORD_DATA - buf.len();
            match bytes.iter().take(room).position(|&b| b == 0) {
                Some(i) => {
                    let frame = &bytes[..=i];
                    bytes = &bytes[i + 1..];
                    if buf.is_empty() && frame.len() == 1 {
                        continue;
                    }
                    buf.extend_from_slice(frame);
                    emit(std::mem::take(buf));
                }
                None if bytes.len() >= room => {
                    buf.extend_from_slice(&bytes[..room]);
                    bytes = &bytes[room..];
                    emit(std::mem::take(buf));
                }
                None => {
                    buf.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
        }
    }

    /// The source closed: returns its unterminated bytes (possibly empty) and forgets it.
    pub fn close(&mut self, source: &str) -> Vec<u8> {
        self.partial.remove(source).unwrap_or_default()
    }

    /// Every source's unterminated bytes (non-empty only), at the end of a recording.
    pub fn drain(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = self
            .partial
            .drain()
            .filter(|(_, b)| !b.is_empty())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut s = Splitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push("tcp://a", c, |f| out.push(f));
        }
        (out, s.close("tcp://a"))
    }

    #[test]
    fn joins_and_splits_frames_across_chunks() {
        let (frames, tail) = split(&[&[1, 2], &[3, 0, 4, 0, 0, 5], &[6]]);
        assert_eq!(frames, vec![vec![1, 2, 3, 0], vec![4, 0]]);
        assert_eq!(tail, vec![5, 6]);
    }

    #[test]
    fn cuts_runs_without_terminator() {
        let long = vec![7u8; MAX_RECORD_DATA + 10];
        let (frames, tail) = split(&[&long, &[0]]);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), MAX_RECORD_DATA);
        assert_eq!(frames[1], [vec![7u8; 10], vec![0]].concat());
        assert!(tail.is_empty());
    }

    #[test]
    fn sources_are_independent() {
        let mut s = Splitter::new();
        let mut out = Vec::new();
        s.push("a", &[1], |f| out.push(f));
        s.push("b", &[2, 0], |f| out.push(f));
        s.push("a", &[0], |f| out.push(f));
        assert_eq!(out, vec![vec![2, 0], vec![1, 0]]);
        assert!(s.drain().is_empty());
    }
}
