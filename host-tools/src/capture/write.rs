//! Writing a capture: the header once, then one record per frame.
use super::{
    CaptureError, CaptureHeader, FLAG_END_OF_STREAM, HEADER_FIXED, MAGIC, MAX_RECORD, RECORD_FIXED,
    Record, to_unix_us,
};
use std::io::Write;

/// Writes records to `W` (wrap files in a `BufWriter`).
pub struct CaptureWriter<W: Write> {
    inner: W,
    records: u64,
    bytes: u64,
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the header.
    pub fn new(mut inner: W, header: &CaptureHeader) -> Result<Self, CaptureError> {
        let tool = header.tool.as_bytes();
        let tool_len = u8::try_from(tool.len()).map_err(|_| CaptureError::TooLong {
            what: "tool name",
            len: tool.len(),
            max: 255,
        })?;
        let header_len = HEADER_FIXED + tool.len();
        let mut h = Vec::with_capacity(header_len);
        h.extend_from_slice(&MAGIC);
        h.extend_from_slice(&header.major.to_le_bytes());
        h.extend_from_slice(&header.minor.to_le_bytes());
        h.extend_from_slice(&(header_len as u32).to_le_bytes());
        h.extend_from_slice(&to_unix_us(header.created).to_le_bytes());
        h.extend_from_slice(&header.schema);
        h.push(header.wire_version);
        h.push(tool_len);
        h.extend_from_slice(tool);
        inner.write_all(&h)?;
        Ok(Self {
            inner,
            records: 0,
            bytes: h.len() as u64,
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> Result<(), CaptureError> {
        let source = record.source.as_bytes();
        let source_len = u16::try_from(source.len()).map_err(|_| CaptureError::TooLong {
            what: "source",
            len: source.len(),
            max: u16::MAX as usize,
        })?;
        let body_len = RECORD_FIXED - 4 + source.len() + 4 + record.bytes.len();
        let body_len = u32::try_from(body_len)
            .ok()
            .filter(|n| *n <= MAX_RECORD)
            .ok_or(CaptureError::TooLong {
                what: "record",
                len: body_len,
                max: MAX_RECORD as usize,
            })?;
        let mut r = Vec::with_capacity(4 + body_len as usize);
        r.extend_from_slice(&body_len.to_le_bytes());
        r.extend_from_slice(&to_unix_us(record.at).to_le_bytes());
        r.push(if record.end_of_stream {
            FLAG_END_OF_STREAM
        } else {
            0
        });
        r.extend_from_slice(&source_len.to_le_bytes());
        r.extend_from_slice(source);
        r.extend_from_slice(&(record.bytes.len() as u32).to_le_bytes());
        r.extend_from_slice(&record.bytes);
        self.inner.write_all(&r)?;
        self.records += 1;
        self.bytes += r.len() as u64;
        Ok(())
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// File bytes written, header included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes buffered bytes to the inner writer (call periodically while recording).
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        Ok(self.inner.flush()?)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}
