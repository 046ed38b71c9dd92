//! The capture file format: write → read round trip, byte layout, truncation, bad magic,
//! newer major version.
use msao_host::capture::{
    CaptureError, CaptureHeader, CaptureReader, CaptureWriter, MAGIC, Record, VERSION_MAJOR,
    from_unix_us,
};
use std::time::SystemTime;

fn header() -> CaptureHeader {
    CaptureHeader {
        created: from_unix_us(1_700_000_000_123_456),
        tool: "msao-host test".into(),
        ..CaptureHeader::now()
    }
}

fn records() -> Vec<Record> {
    vec![
        Record::frame(
            from_unix_us(1_700_000_001_000_000),
            "udp://10.0.0.7:40001",
            vec![0x03, 0xAA, 0xBB, 0x00],
        ),
        Record::frame(
            from_unix_us(1_700_000_001_100_000),
            "tcp://[::1]:5000",
            vec![0x02, 0x01, 0x00],
        ),
        Record {
            at: from_unix_us(1_700_000_001_200_000),
            source: "tcp://[::1]:5000".into(),
            bytes: vec![0x05, 0x11],
            end_of_stream: true,
        },
        Record::frame(
            from_unix_us(1_700_000_001_300_000),
            "serial:///dev/ttyTHS1",
            vec![],
        ),
    ]
}

fn write(recs: &[Record]) -> Vec<u8> {
    let mut w = CaptureWriter::new(Vec::new(), &header()).unwrap();
    for r in recs {
        w.write(r).unwrap();
    }
    assert_eq!(w.records(), recs.len() as u64);
    w.finish().unwrap()
}

fn read_all(
    bytes: &[u8],
) -> (
    CaptureHeader,
    Vec<Record>,
    Option<msao_host::capture::Truncated>,
) {
    let mut r = CaptureReader::open(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec);
    }
    (r.header().clone(), out, r.truncated())
}

#[test]
fn round_trip_keeps_every_field() {
    let bytes = write(&records());
    let (h, recs, truncated) = read_all(&bytes);
    assert_eq!(h, header());
    assert_eq!(recs, records());
    assert_eq!(truncated, None);
}

#[test]
fn byte_layout_matches_the_spec() {
    let bytes = write(&records()[..1]);
    assert_eq!(&bytes[..8], b"\x89MSAOCAP");
    assert_eq!(&bytes[8..12], &[1, 0, 0, 0]); // major 1, minor 0
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    assert_eq!(header_len, 34 + "msao-host test".len());
    assert_eq!(
        u64::from_le_bytes(bytes[16..24].try_into().unwrap()),
        1_700_000_000_123_456
    );
    assert_eq!(&bytes[24..32], &msao::SCHEMA_FINGERPRINT);
    assert_eq!(bytes[32], msao::WIRE_VERSION);
    assert_eq!(bytes[33] as usize, "msao-host test".len());
    let r = &bytes[header_len..];
    let source = b"udp://10.0.0.7:40001";
    assert_eq!(
        u32::from_le_bytes(r[0..4].try_into().unwrap()) as usize,
        11 + source.len() + 4 + 4
    );
    assert_eq!(
        u64::from_le_bytes(r[4..12].try_into().unwrap()),
        1_700_000_001_000_000
    );
    assert_eq!(r[12], 0); // flags
    assert_eq!(
        u16::from_le_bytes(r[13..15].try_into().unwrap()) as usize,
        source.len()
    );
    assert_eq!(&r[15..15 + source.len()], source);
    let f = &r[15 + source.len()..];
    assert_eq!(u32::from_le_bytes(f[0..4].try_into().unwrap()), 4);
    assert_eq!(&f[4..], &[0x03, 0xAA, 0xBB, 0x00]);
}

#[test]
fn truncated_last_record_is_reported_not_fatal() {
    let full = write(&records());
    let last_start = write(&records()[..3]).len();
    // Every cut inside the last record: the first three still read, the cut is reported.
    for cut in last_start + 1..full.len() {
        let (_, recs, truncated) = read_all(&full[..cut]);
        assert_eq!(recs, records()[..3], "cut at {cut}");
        let t = truncated.unwrap_or_else(|| panic!("cut at {cut} not reported"));
        assert_eq!(t.offset, last_start as u64);
        assert_eq!(t.have, (cut - last_start) as u64);
        if cut - last_start >= 4 {
            assert_eq!(t.need, Some((full.len() - last_start) as u64));
        } else {
            assert_eq!(t.need, None);
        }
    }
    // A cut exactly between records is a clean end.
    let (_, recs, truncated) = read_all(&full[..last_start]);
    assert_eq!(recs.len(), 3);
    assert_eq!(truncated, None);
}

#[test]
fn bad_magic_is_a_clear_error() {
    let mut bytes = write(&records());
    bytes[1] = b'X';
    let err = CaptureReader::open(&bytes[..]).err().unwrap();
    assert!(matches!(err, CaptureError::BadMagic { .. }), "{err:?}");
    assert!(err.to_string().contains("not an msao capture"), "{err}");
    // Too short to hold a magic at all, or empty.
    assert!(matches!(
        CaptureReader::open(&MAGIC[..5]).err().unwrap(),
        CaptureError::BadMagic { .. }
    ));
    assert!(matches!(
        CaptureReader::open(&[][..]).err().unwrap(),
        CaptureError::BadMagic { .. }
    ));
}

#[test]
fn newer_major_version_is_refused_newer_minor_is_read() {
    let mut bytes = write(&records());
    bytes[8..10].copy_from_slice(&(VERSION_MAJOR + 1).to_le_bytes());
    let err = CaptureReader::open(&bytes[..]).err().unwrap();
    assert!(
        matches!(err, CaptureError::NewerVersion { major: 2, minor: 0 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer"), "{err}");

    let mut bytes = write(&records());
    bytes[10..12].copy_from_slice(&7u16.to_le_bytes());
    let (h, recs, _) = read_all(&bytes);
    assert_eq!(h.minor, 7);
    assert_eq!(recs, records());
}

#[test]
fn later_minor_additions_are_skipped() {
    // A 1.x writer may lengthen the header and append bytes after a record's frame.
    let bytes = write(&records()[..1]);
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut longer = bytes[..header_len].to_vec();
    longer.extend_from_slice(&[0xEE; 6]);
    longer[12..16].copy_from_slice(&((header_len + 6) as u32).to_le_bytes());
    let mut rec = bytes[header_len..].to_vec();
    let rec_len = u32::from_le_bytes(rec[0..4].try_into().unwrap());
    rec[0..4].copy_from_slice(&(rec_len + 3).to_le_bytes());
    rec.extend_from_slice(&[1, 2, 3]);
    longer.extend_from_slice(&rec);
    let (h, recs, truncated) = read_all(&longer);
    assert_eq!(h.tool, "msao-host test");
    assert_eq!(recs, records()[..1]);
    assert_eq!(truncated, None);
}

#[test]
fn corrupt_record_lengths_are_errors() {
    let bytes = write(&records()[..1]);
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut bad = bytes.clone();
    bad[header_len..header_len + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut r = CaptureReader::open(&bad[..]).unwrap();
    assert!(matches!(
        r.next_record(),
        Err(CaptureError::RecordTooLong { .. })
    ));

    let mut bad = bytes;
    let frame_len_at = header_len + 15 + "udp://10.0.0.7:40001".len();
    bad[frame_len_at..frame_len_at + 4].copy_from_slice(&100u32.to_le_bytes());
    let mut r = CaptureReader::open(&bad[..]).unwrap();
    let err = r.next_record().unwrap_err();
    assert!(
        err.to_string().contains("frame runs past the record"),
        "{err}"
    );
}

#[test]
fn now_header_describes_this_build() {
    let h = CaptureHeader::now();
    assert_eq!(h.schema, msao::SCHEMA_FINGERPRINT);
    assert!(h.tool.starts_with("msao-host "));
    assert!(h.created <= SystemTime::now());
}

/// The hex bytes of the code blocks in `spec/capture-format.md` §5 (comments stripped).
fn spec_example() -> Vec<Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/capture-format.md");
    let spec = std::fs::read_to_string(path).unwrap();
    let example = &spec[spec.find("## 5. Example").unwrap()..];
    let example = &example[..example.find("## 6.").unwrap()];
    example
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|block| {
            block
                .lines()
                .flat_map(|l| {
                    l.split_whitespace()
                        .take_while(|t| t.len() == 2 && t.chars().all(|c| c.is_ascii_hexdigit()))
                        .map(|t| u8::from_str_radix(t, 16).unwrap())
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .collect()
}

#[test]
fn spec_example_bytes_match_the_writer() {
    let blocks = spec_example();
    assert_eq!(blocks.len(), 2, "header and record blocks");
    let header = CaptureHeader {
        major: 1,
        minor: 0,
        created: from_unix_us(1_700_000_000_123_456),
        schema: 0xef01_83f2_d671_dc69u64.to_le_bytes(),
        wire_version: 1,
        tool: "msao-host 0.1.0".into(),
    };
    let mut w = CaptureWriter::new(Vec::new(), &header).unwrap();
    assert_eq!(w.bytes() as usize, blocks[0].len());
    w.write(&Record::frame(
        from_unix_us(1_700_000_001_000_000),
        "udp://10.0.0.7:40001",
        vec![0x03, 0xAA, 0xBB, 0x00],
    ))
    .unwrap();
    let bytes = w.finish().unwrap();
    assert_eq!(bytes[..blocks[0].len()], blocks[0][..], "header");
    assert_eq!(bytes[blocks[0].len()..], blocks[1][..], "record");
    let (h, recs, _) = read_all(&bytes);
    assert_eq!(h, header);
    assert_eq!(recs.len(), 1);
}
