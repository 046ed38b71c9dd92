//! The capture file format (normative text: `spec/capture-format.md`).
//!
//! A capture is a header followed by records; each record is one received frame (raw
//! bytes, `0x00` included) with its receive time and source, so replay and decode see
//! exactly the bytes `listen` saw, undecodable frames included.
//!
//! ```
//! use msao_host::capture::{CaptureHeader, CaptureReader, CaptureWriter, Record};
//! let mut w = CaptureWriter::new(Vec::new(), &CaptureHeader::now()).unwrap();
//! w.write(&Record::frame(std::time::SystemTime::now(), "udp://10.0.0.2:5000", vec![1, 0])).unwrap();
//! let bytes = w.finish().unwrap();
//! let mut r = CaptureReader::open(&bytes[..]).unwrap();
//! assert_eq!(r.next_record().unwrap().unwrap().bytes, [1, 0]);
//! assert!(r.next_record().unwrap().is_none());
//! assert!(r.truncated().is_none());
//! ```

mod read;
mod write;

pub use read::{CaptureReader, Truncated};
pub use write::CaptureWriter;

use std::{
    io,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// First 8 bytes of every capture: `0x89` (not ASCII, so not text) then `MSAOCAP`.
pub const MAGIC: [u8; 8] = *b"\x89MSAOCAP";
/// Format major version: a reader refuses files with a larger one.
pub const VERSION_MAJOR: u16 = 1;
/// Format minor version: additions a 1.0 reader can skip (longer header, record tails).
pub const VERSION_MINOR: u16 = 0;
/// Header bytes before the tool string.
pub const HEADER_FIXED: usize = 34;
/// Largest header accepted.
pub const MAX_HEADER: u32 = 64 * 1024;
/// Record bytes before the source string (length field included).
pub const RECORD_FIXED: usize = 15;
/// Largest record body accepted (everything after the length field).
pub const MAX_RECORD: u32 = 1024 * 1024;
/// Largest frame payload a writer stores in one record; longer runs without `0x00` are
/// cut into several records (see [`crate::split`]).
pub const MAX_RECORD_DATA: usize = 64 * 1024;
/// Record flag: the source closed its stream after these bytes (a TCP peer went away).
pub const FLAG_END_OF_STREAM: u8 = 0x01;

/// The file header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureHeader {
    /// Format major version.
    pub major: u16,
    /// Format minor version.
    pub minor: u16,
    /// When the capture was started.
    pub created: SystemTime,
    /// Schema fingerprint of the recording tool's build (frame-header byte order).
    pub schema: [u8; 8],
    /// Wire version of the recording tool.
    pub wire_version: u8,
    /// The recording tool, e.g. `msao-host 0.1.0 (git 1a2b3c4d5e)`.
    pub tool: String,
}

impl CaptureHeader {
    /// A header for a capture starting now, written by this build.
    pub fn now() -> Self {
        Self {
            major: VERSION_MAJOR,
            minor: VERSION_MINOR,
            created: SystemTime::now(),
            schema: msao::SCHEMA_FINGERPRINT,
            wire_version: msao::WIRE_VERSION,
            tool: crate::version::tool(),
        }
    }
}

/// One received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Receive time (wall clock of the recording host).
    pub at: SystemTime,
    /// The peer: `udp://ADDR`, `tcp://ADDR`, `serial://PATH`.
    pub source: String,
    /// Raw bytes: normally one frame ending in `0x00`; without the `0x00` when the stream
    /// ended mid-frame or a run without terminator hit [`MAX_RECORD_DATA`].
    pub bytes: Vec<u8>,
    /// The source closed after these bytes ([`FLAG_END_OF_STREAM`]).
    pub end_of_stream: bool,
}

impl Record {
    /// A record of one frame from a source that stays open.
    pub fn frame(at: SystemTime, source: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            at,
            source: source.into(),
            bytes,
            end_of_stream: false,
        }
    }
}

/// Reading or writing a capture failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file does not start with the capture magic.
    #[error(
        "not an msao capture: the first bytes are {found:02x?}, a capture starts with {MAGIC:02x?} (\\x89MSAOCAP)"
    )]
    BadMagic {
        /// The bytes found (up to 8).
        found: Vec<u8>,
    },
    /// The file was written by a newer, incompatible version of the format.
    #[error(
        "capture format {major}.{minor} is newer than this msao-host reads ({VERSION_MAJOR}.x); use a newer msao-host"
    )]
    NewerVersion {
        /// Its major version.
        major: u16,
        /// Its minor version.
        minor: u16,
    },
    /// The header length field is impossible.
    #[error("capture header claims {len} bytes; valid is {HEADER_FIXED}..={MAX_HEADER}")]
    HeaderLength {
        /// The claimed length.
        len: u32,
    },
    /// The file ends inside the header.
    #[error("capture header is cut off after {have} of {need} bytes")]
    HeaderTruncated {
        /// Bytes present.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A header field is inconsistent.
    #[error("capture header is corrupt: {reason}")]
    BadHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// A record's length field exceeds the limit (corruption, or not a capture).
    #[error("record at byte {offset} claims {len} bytes, more than the {MAX_RECORD}-byte limit")]
    RecordTooLong {
        /// File offset of the record.
        offset: u64,
        /// The claimed length.
        len: u32,
    },
    /// A record's fields do not add up.
    #[error("record at byte {offset} is corrupt: {reason}")]
    BadRecord {
        /// File offset of the record.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A value does not fit its field when writing.
    #[error("cannot write {what} of {len} bytes, the limit is {max}")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The underlying file failed.
    #[error("capture I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// Microseconds since the Unix epoch (0 before it).
pub fn to_unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The inverse of [`to_unix_us`].
pub fn from_unix_us(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
}

/// True when `prefix` starts with the capture magic (how `decode` tells captures from raw
/// byte streams: a raw stream starts with a COBS code byte then frame bytes, and the
/// chance of those being `\x89MSAOCAP` is negligible).
pub fn is_capture(prefix: &[u8]) -> bool {
    prefix.starts_with(&MAGIC)
}
