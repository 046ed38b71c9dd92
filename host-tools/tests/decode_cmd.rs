//! `decode` on a generated stream with one injected fault of every kind: exact counts per
//! drop cause, the truncated tail, and resynchronisation (every good frame still decodes).
mod common;

use common::*;
use msao::{DropCause, message::Message};
use serde_json::Value;
use std::io::Write;

/// Every drop cause a byte stream can show; `unterminated` belongs to datagrams only.
const STREAM_CAUSES: [DropCause; 7] = [
    DropCause::Cobs,
    DropCause::Crc,
    DropCause::Oversize,
    DropCause::Header,
    DropCause::IncompatibleVersion,
    DropCause::UnknownSchema,
    DropCause::Malformed,
];

/// A stream of good frames with exactly one frame of every drop cause between them, ending
/// in a frame cut off before its terminator. Returns (bytes, good frames, tail length).
fn corrupted_stream() -> (Vec<u8>, u64, u64) {
    let mut out = Vec::new();
    let mut good = 0u64;
    let mut seq = 0;
    let mut push_good = |out: &mut Vec<u8>| {
        for m in every_kind("bench-01") {
            out.extend(encode(&header(BOOT, seq), &m));
            seq += 1;
            good += 1;
        }
    };
    push_good(&mut out);
    // Cobs: the code byte promises 4 more bytes, the terminator comes after 1.
    out.extend([0x05, 0x11, 0x00]);
    push_good(&mut out);
    // Crc: a valid COBS body with one bit flipped after the CRC was computed.
    let mut b = body(&header(BOOT, 100), &sample());
    b.extend(msao::frame::CRC32C.checksum(&b).to_le_bytes());
    b[20] ^= 0x01;
    let mut buf = vec![0u8; 2048];
    out.extend(msao::frame::stuff(&b, &mut buf).unwrap());
    // Oversize: 2000 bytes without a terminator.
    out.extend(std::iter::repeat_n(0x01, 2000));
    out.push(0);
    // Header: good CRC, wrong magic.
    out.extend(stuff_with_crc(&[0x42, 1, 2, 3, 4, 5]));
    push_good(&mut out);
    // IncompatibleVersion: a wire version from the future.
    let mut h = header(BOOT, 101);
    h.version = msao::WIRE_VERSION + 1;
    out.extend(encode(&h, &fault()));
    // UnknownSchema: another build's fingerprint.
    out.extend(foreign_schema_frame(BOOT, 102));
    // Malformed: good header and CRC, message variant 9 does not exist. seq and timestamp
    // below 128 are one varint byte each, so the header is the fixed prefix plus 2.
    let h = msao::header::FrameHeader::new(BOOT, 103, 5);
    let mut b = body(&h, &fault());
    b.truncate(msao::header::FIXED_PREFIX + 2);
    b.push(9);
    out.extend(stuff_with_crc(&b));
    push_good(&mut out);
    // Truncated tail: half a frame, no terminator.
    let last = encode(&header(BOOT, 200), &sample());
    let tail = &last[..last.len() / 2];
    out.extend(tail);
    (out, good, tail.len() as u64)
}

fn write_tmp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

#[test]
fn exact_drop_counts_per_cause() {
    let (bytes, good, tail) = corrupted_stream();
    let f = write_tmp(&bytes);
    let (r, out, err) = run(&["decode", f.path().to_str().unwrap(), "--json"]);
    r.unwrap();
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["frames"], good, "{summary}");
    for cause in STREAM_CAUSES {
        assert_eq!(
            summary["drops"][cause.name()],
            1,
            "cause {}: {summary}",
            cause.name()
        );
    }
    assert_eq!(summary["dropped"], STREAM_CAUSES.len());
    assert_eq!(summary["truncated_bytes"], tail);
    assert_eq!(summary["truncated_tails"], 1);
    assert_eq!(summary["input"], "raw");
    for kind in Message::KINDS {
        assert_eq!(
            summary["by_kind"][kind],
            good / Message::KINDS.len() as u64,
            "{kind}"
        );
    }
    // One line per terminated frame, then the summary.
    assert_eq!(lines.len() as u64, good + STREAM_CAUSES.len() as u64 + 1);
    let drops: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "drop")
        .map(|l| l["data"]["cause"].as_str().unwrap())
        .collect();
    assert_eq!(drops, STREAM_CAUSES.map(DropCause::name));
    // The foreign frames' senders are named, the others have no readable header.
    let foreign = lines
        .iter()
        .find(|l| l["data"]["cause"] == "unknown_schema")
        .unwrap();
    assert_eq!(foreign["boot_id"], "1a2b3c4d");
    assert_eq!(foreign["seq"], 102);
    assert_eq!(foreign["data"]["schema"], "0123456789abcdef");
    assert_eq!(foreign["device"], "bench-01");
    let crc = lines.iter().find(|l| l["data"]["cause"] == "crc").unwrap();
    assert_eq!(crc["boot_id"], Value::Null);
    assert_eq!(
        crc["rx_time"],
        Value::Null,
        "raw streams have no receive time"
    );
    // Unknown schema and version each warn once for this device.
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
}

#[test]
fn human_output_ends_with_summary_of_every_cause() {
    let (bytes, good, tail) = corrupted_stream();
    let f = write_tmp(&bytes);
    let (r, out, _) = run(&["decode", f.path().to_str().unwrap()]);
    r.unwrap();
    assert!(
        out.contains(&format!("summary: {good} frames decoded")),
        "{out}"
    );
    for cause in STREAM_CAUSES {
        assert!(
            out.contains(&format!("{} 1", cause.name())),
            "{}: {out}",
            cause.name()
        );
    }
    assert!(
        out.contains(&format!("truncated tail: {tail} byte(s)")),
        "{out}"
    );
    assert!(out.contains("DROP crc"), "{out}");
    assert!(
        out.contains(
            "sample cpu 12.3% mem 1.0/8.0 GiB temp 45.5°C (cpu-thermal) gpu n/a power 5.10 W"
        ),
        "{out}"
    );
    assert!(out.contains("bench-01"), "{out}");
}

#[test]
fn any_chunking_gives_the_same_counts() {
    // The same bytes via a capture whose records cut the stream at arbitrary points.
    let (bytes, good, tail) = corrupted_stream();
    let mut w = msao_host::capture::CaptureWriter::new(
        Vec::new(),
        &msao_host::capture::CaptureHeader::now(),
    )
    .unwrap();
    for (i, chunk) in bytes.chunks(37).enumerate() {
        let at = msao_host::capture::from_unix_us(1_700_000_000_000_000 + i as u64);
        w.write(&msao_host::capture::Record::frame(
            at,
            "serial:///dev/ttyUSB0",
            chunk.to_vec(),
        ))
        .unwrap();
    }
    let f = write_tmp(&w.finish().unwrap());
    let (r, out, _) = run(&["decode", f.path().to_str().unwrap(), "--json"]);
    r.unwrap();
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!(summary["input"], "capture");
    assert_eq!(summary["frames"], good);
    assert_eq!(summary["dropped"], STREAM_CAUSES.len());
    assert_eq!(summary["truncated_bytes"], tail);
    assert!(
        lines[0]["rx_time"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-14T22:13:20"),
        "{}",
        lines[0]
    );
}

#[test]
fn empty_input_is_a_clean_empty_summary() {
    let f = write_tmp(&[]);
    let (r, out, _) = run(&["decode", f.path().to_str().unwrap(), "--json"]);
    r.unwrap();
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["frames"], 0);
    assert_eq!(lines[0]["truncated_bytes"], 0);
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let (r, _, _) = run(&["decode", "/nonexistent/dump.bin"]);
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("cannot open /nonexistent/dump.bin"), "{e}");
}

#[test]
fn a_corrupt_record_length_is_reported_with_its_offset_after_the_summary() {
    use msao_host::capture::{CaptureHeader, CaptureWriter, Record};
    let mut w = CaptureWriter::new(Vec::new(), &CaptureHeader::now()).unwrap();
    let at = msao_host::capture::from_unix_us(1_700_000_000_000_000);
    for seq in 0..3 {
        let f = encode(&header(BOOT, seq), &fault());
        w.write(&Record::frame(at, "udp://10.0.0.2:5000", f))
            .unwrap();
    }
    let bad_at = w.bytes();
    for seq in 3..6 {
        let f = encode(&header(BOOT, seq), &fault());
        w.write(&Record::frame(at, "udp://10.0.0.2:5000", f))
            .unwrap();
    }
    let mut bytes = w.finish().unwrap();
    // The fourth record's length field claims 4 GiB.
    let i = bad_at as usize;
    bytes[i..i + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let f = write_tmp(&bytes);
    let (r, out, _) = run(&["decode", f.path().to_str().unwrap(), "--json"]);
    let e = format!("{:#}", r.expect_err("corrupt data fails the command"));
    assert!(e.contains(&format!("corrupt at byte {bad_at}")), "{e}");
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["frames"], 3, "{summary}");
    assert_eq!(summary["capture_error"]["offset"], bad_at, "{summary}");
    // Human output too.
    let (r, out, _) = run(&["decode", f.path().to_str().unwrap()]);
    assert!(r.is_err());
    assert!(out.contains("summary: 3 frames decoded"), "{out}");
    assert!(out.contains(&format!("corrupt at byte {bad_at}")), "{out}");
}
