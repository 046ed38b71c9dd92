//! Reading a capture: header checks (magic, major version), then records until the end;
//! a record cut off by the end of the file is reported through [`CaptureReader::truncated`],
//! not as an error, because a recorder killed mid-write leaves exactly that.
use super::{
    CaptureError, CaptureHeader, FLAG_END_OF_STREAM, HEADER_FIXED, MAGIC, MAX_HEADER, MAX_RECORD,
    RECORD_FIXED, Record, VERSION_MAJOR, from_unix_us,
};
use std::io::{self, Read};

/// A record cut off by the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// File offset where the record starts.
    pub offset: u64,
    /// Bytes of it present.
    pub have: u64,
    /// Bytes it needed (`None` when even its length field is incomplete).
    pub need: Option<u64>,
}

/// Reads a capture from `R` (wrap files in a `BufReader`).
pub struct CaptureReader<R: Read> {
    inner: R,
    header: CaptureHeader,
    offset: u64,
    truncated: Option<Truncated>,
    done: bool,
}

impl<R: Read> CaptureReader<R> {
    /// Reads and checks the header.
    pub fn open(mut inner: R) -> Result<Self, CaptureError> {
        let mut fixed = [0u8; HEADER_FIXED];
        let have = read_full(&mut inner, &mut fixed[..16])?;
        if fixed[..have.min(8)] != MAGIC[..have.min(8)] || have < 8 {
            return Err(CaptureError::BadMagic {
                found: fixed[..have.min(8)].to_vec(),
            });
        }
        if have < 16 {
            return Err(CaptureError::HeaderTruncated {
                have,
                need: HEADER_FIXED,
            });
        }
        let major = u16::from_le_bytes([fixed[8], fixed[9]]);
        let minor = u16::from_le_bytes([fixed[10], fixed[11]]);
        if major > VERSION_MAJOR || major == 0 {
            return Err(CaptureError::NewerVersion { major, minor });
        }
        let len = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]);
        if !(HEADER_FIXED as u32..=MAX_HEADER).contains(&len) {
            return Err(CaptureError::HeaderLength { len });
        }
        let mut rest = vec![0u8; len as usize - 16];
        let got = read_full(&mut inner, &mut rest)?;
        if got < rest.len() {
            return Err(CaptureError::HeaderTruncated {
                have: 16 + got,
                need: len as usize,
            });
        }
        let created = from_unix_us(u64::from_le_bytes(array(&rest[0..8])));
        let schema = array(&rest[8..16]);
        let wire_version = rest[16];
        let tool_len = rest[17] as usize;
        let tool = rest.get(18..18 + tool_len).ok_or(CaptureError::BadHeader {
            reason: "tool name runs past the header length",
        })?;
        let tool = std::str::from_utf8(tool)
            .map_err(|_| CaptureError::BadHeader {
                reason: "tool name is not UTF-8",
            })?
            .to_string();
        let header = CaptureHeader {
            major,
            minor,
            created,
            schema,
            wire_version,
            tool,
        };
        Ok(Self {
            inner,
            header,
            offset: u64::from(len),
            truncated: None,
            done: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// File offset of the next record.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The cut-off last record, once [`Self::next_record`] has returned `None`.
    pub fn truncated(&self) -> Option<Truncated> {
        self.truncated
    }

    /// The next record; `None` at the end of the file (check [`Self::truncated`]).
    pub fn next_record(&mut self) -> Result<Option<Record>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let offset = self.offset;
        let mut len = [0u8; 4];
        let have = read_full(&mut self.inner, &mut len)?;
        if have < 4 {
            self.done = true;
            if have > 0 {
                self.truncated = Some(Truncated {
                    offset,
                    have: have as u64,
                    need: None,
                });
            }
            return Ok(None);
        }
        let body_len = u32::from_le_bytes(len);
        if body_len > MAX_RECORD {
            return Err(CaptureError::RecordTooLong {
                offset,
                len: body_len,
            });
        }
        let mut body = vec![0u8; body_len as usize];
        let got = read_full(&mut self.inner, &mut body)?;
        if got < body.len() {
            self.done = true;
            let need = Some(4 + u64::from(body_len));
            self.truncated = Some(Truncated {
                offset,
                have: 4 + got as u64,
                need,
            });
            return Ok(None);
        }
        self.offset += 4 + u64::from(body_len);
        parse_record(&body, offset).map(Some)
    }
}

/// Parses a record body (everything after the length field).
fn parse_record(body: &[u8], offset: u64) -> Result<Record, CaptureError> {
    let bad = |reason| CaptureError::BadRecord { offset, reason };
    let fixed = body
        .get(..RECORD_FIXED - 4)
        .ok_or(bad("shorter than its fixed fields"))?;
    let at = from_unix_us(u64::from_le_bytes(array(&fixed[0..8])));
    let flags = fixed[8];
    let source_len = u16::from_le_bytes([fixed[9], fixed[10]]) as usize;
    let rest = &body[RECORD_FIXED - 4..];
    let source = rest
        .get(..source_len)
        .ok_or(bad("source runs past the record"))?;
    let source = std::str::from_utf8(source)
        .map_err(|_| bad("source is not UTF-8"))?
        .to_string();
    let rest = &rest[source_len..];
    let data_len = rest.get(..4).ok_or(bad("no frame length field"))?;
    let data_len = u32::from_le_bytes(array(data_len)) as usize;
    // Bytes after the frame are a later minor version's additions: skipped.
    let bytes = rest
        .get(4..4 + data_len)
        .ok_or(bad("frame runs past the record"))?
        .to_vec();
    Ok(Record {
        at,
        source,
        bytes,
        end_of_stream: flags & FLAG_END_OF_STREAM != 0,
    })
}

fn array<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&s[..N]);
    a
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
