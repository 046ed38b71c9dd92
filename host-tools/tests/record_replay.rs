//! `record` → capture → `decode` / `replay`: the capture holds exactly the received frames
//! (bad ones too), replay re-emits the same bytes and the same JSON lines.
mod common;

use common::*;
use msao::transport::{Endpoint, FrameSink, Receiver, UdpReceiver, UdpSink};
use msao_host::{
    capture::{CaptureHeader, CaptureReader, CaptureWriter, Record, from_unix_us},
    env::Env,
};
use serde_json::Value;
use std::{io::Write, net::TcpStream, time::Duration};

/// Good frames in `good_and_bad_frames`: one of every message kind.
fn good() -> u64 {
    every_kind("rec-dev").len() as u64
}

fn good_and_bad_frames() -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = every_kind("rec-dev")
        .iter()
        .enumerate()
        .map(|(i, m)| encode(&header(BOOT, i as u32), m))
        .collect();
    frames.insert(2, vec![0x03, 0xAA, 0xBB, 0x00]); // CRC drop: kept, it is data
    frames
}

fn record_udp(frames: Vec<Vec<u8>>, path: &str) -> Value {
    let (mut env, _) = Env::captured();
    let n = frames.len().to_string();
    env.on_listening = Some(Box::new(move |eps: &[Endpoint]| {
        let mut sink = UdpSink::open(eps[0].clone()).unwrap();
        for f in &frames {
            sink.send_frame(f).unwrap();
        }
    }));
    let (r, out) = run_with(
        &[
            "record",
            "udp://127.0.0.1:0",
            "--out",
            path,
            "--count",
            &n,
            "--json",
        ],
        &mut env,
    );
    r.unwrap();
    serde_json::from_str(out.trim()).unwrap()
}

fn read_capture(path: &std::path::Path) -> Vec<Record> {
    let mut r = CaptureReader::open(std::fs::File::open(path).unwrap()).unwrap();
    let mut v = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        v.push(rec);
    }
    assert!(r.truncated().is_none());
    v
}

/// JSON lines without the summary's run-dependent fields.
fn frame_lines(out: &str) -> Vec<Value> {
    json_lines(out)
        .into_iter()
        .filter(|l| l["type"] != "summary")
        .collect()
}

#[test]
fn record_keeps_every_frame_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cap.msaocap");
    let frames = good_and_bad_frames();
    let summary = record_udp(frames.clone(), path.to_str().unwrap());
    assert_eq!(summary["records"], frames.len());
    assert_eq!(summary["frames"], good());
    assert_eq!(summary["drops"]["crc"], 1);
    let recs = read_capture(&path);
    assert_eq!(
        recs.iter().map(|r| r.bytes.clone()).collect::<Vec<_>>(),
        frames
    );
    assert!(
        recs.iter()
            .all(|r| r.source.starts_with("udp://127.0.0.1:") && !r.end_of_stream)
    );

    // decode of the capture sees the same frames and drops.
    let (r, out, _) = run(&["decode", path.to_str().unwrap(), "--json"]);
    r.unwrap();
    let lines = json_lines(&out);
    let s = lines.last().unwrap();
    assert_eq!(
        (s["frames"].as_u64(), s["drops"]["crc"].as_u64()),
        (Some(good()), Some(1))
    );
    assert_eq!(s["input"], "capture");
    assert_eq!(s["capture"]["format"], "1.0");
}

#[test]
fn record_tcp_splits_chunks_and_marks_the_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcp.msaocap");
    let bytes = stream(BOOT, &[hello("tcp-rec"), sample()]);
    let cut = encode(&header(BOOT, 9), &sample());
    let partial = cut[..10].to_vec();
    let (mut env, _) = Env::captured();
    let stop = env.shutdown.clone();
    let watched = path.clone();
    env.on_listening = Some(Box::new(move |eps: &[Endpoint]| {
        let Endpoint::Tcp(addr) = &eps[0] else {
            panic!("{eps:?}")
        };
        let mut s = TcpStream::connect(addr).unwrap();
        // One write holding two frames and the start of a third, then the peer closes.
        s.write_all(&[bytes.clone(), partial.clone()].concat())
            .unwrap();
        drop(s);
        let (stop, watched) = (stop.clone(), watched.clone());
        std::thread::spawn(move || {
            // Stop once the (periodically flushed) capture holds the close record; the
            // bound only keeps a broken build from hanging, it is not asserted.
            for _ in 0..600 {
                std::thread::sleep(Duration::from_millis(50));
                if closed_record_written(&watched) {
                    break;
                }
            }
            stop.request();
        });
    }));
    let (r, _) = run_with(
        &[
            "record",
            "tcp://127.0.0.1:0",
            "--out",
            path.to_str().unwrap(),
        ],
        &mut env,
    );
    r.unwrap();
    let recs = read_capture(&path);
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert_eq!(
        [recs[0].bytes.clone(), recs[1].bytes.clone()].concat(),
        stream(BOOT, &[hello("tcp-rec"), sample()])
    );
    assert_eq!(recs[2].bytes, cut[..10]);
    assert!(recs[2].end_of_stream);
    let (r, out, _) = run(&["decode", path.to_str().unwrap(), "--json"]);
    r.unwrap();
    let s = json_lines(&out).pop().unwrap();
    assert_eq!(s["frames"], 2);
    assert_eq!(s["truncated_bytes"], 10);
}

fn closed_record_written(path: &std::path::Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut r) = CaptureReader::open(file) else {
        return false;
    };
    while let Ok(Some(rec)) = r.next_record() {
        if rec.end_of_stream {
            return true;
        }
    }
    false
}

fn capture_file(frames: &[Vec<u8>]) -> tempfile::NamedTempFile {
    let mut w = CaptureWriter::new(Vec::new(), &CaptureHeader::now()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        // 1 ms apart: `--speed recorded` would take a few ms, `max` none.
        let at = from_unix_us(1_700_000_000_000_000 + i as u64 * 1000);
        w.write(&Record::frame(at, "udp://10.1.2.3:4000", f.clone()))
            .unwrap();
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&w.finish().unwrap()).unwrap();
    file
}

#[test]
fn replay_to_stdout_matches_decode() {
    let f = capture_file(&good_and_bad_frames());
    let p = f.path().to_str().unwrap();
    let (r, decoded, _) = run(&["decode", p, "--json"]);
    r.unwrap();
    for speed in ["max", "recorded", "8x", "0.5"] {
        let (r, replayed, _) = run(&["replay", p, "--speed", speed, "--json"]);
        r.unwrap();
        assert_eq!(
            frame_lines(&replayed),
            frame_lines(&decoded),
            "speed {speed}"
        );
        let s = json_lines(&replayed).pop().unwrap();
        assert_eq!(s["type"], "summary");
        assert_eq!(s["frames"], good());
        assert_eq!(s["interrupted"], false);
    }
    let lines = frame_lines(&decoded);
    assert_eq!(lines[0]["source"], "udp://10.1.2.3:4000");
    assert_eq!(lines[0]["rx_time"], "2023-11-14T22:13:20.000000Z");
}

#[test]
fn replay_human_prints_table_and_summary() {
    let f = capture_file(&good_and_bad_frames());
    let (r, out, _) = run(&["replay", f.path().to_str().unwrap(), "--speed", "max"]);
    r.unwrap();
    assert!(
        out.contains("rec-dev") && out.contains("udp://10.1.2.3:4000"),
        "{out}"
    );
    assert!(
        out.contains(&format!("summary: {} frames decoded", good())),
        "{out}"
    );
    assert!(out.contains("speed: max"), "{out}");
}

#[test]
fn replay_to_a_transport_sends_the_raw_bytes() {
    let frames = good_and_bad_frames();
    let f = capture_file(&frames);
    let mut rx = UdpReceiver::bind("udp://127.0.0.1:0".parse().unwrap()).unwrap();
    let to = rx.endpoint().to_string();
    let (r, out, _) = run(&[
        "replay",
        f.path().to_str().unwrap(),
        "--speed",
        "max",
        "--to",
        &to,
        "--json",
    ]);
    r.unwrap();
    let s: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(s["sent"], frames.len());
    assert_eq!(s["send_failed"], 0);
    assert_eq!(s["to"], to);
    let mut got = Vec::new();
    while got.len() < frames.len() {
        match rx.recv(Duration::from_secs(5)).unwrap() {
            Some(d) => got.push(d.bytes),
            None => break,
        }
    }
    assert_eq!(
        got, frames,
        "one datagram per recorded frame, byte for byte"
    );
}

#[test]
fn replay_of_a_truncated_capture_warns_and_succeeds() {
    let f = capture_file(&good_and_bad_frames());
    let bytes = std::fs::read(f.path()).unwrap();
    let mut cut = tempfile::NamedTempFile::new().unwrap();
    cut.write_all(&bytes[..bytes.len() - 3]).unwrap();
    let (r, out, err) = run(&[
        "replay",
        cut.path().to_str().unwrap(),
        "--speed",
        "max",
        "--json",
    ]);
    r.unwrap();
    assert!(err.contains("ends inside its last record"), "{err}");
    let s = json_lines(&out).pop().unwrap();
    assert_eq!(s["frames"], good() - 1, "the last frame was cut: {s}");
    assert!(s["capture_truncated"]["offset"].is_u64(), "{s}");
}

#[test]
fn replay_refuses_a_file_that_is_not_a_capture() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&stream(BOOT, &[hello("raw")])).unwrap();
    let (r, _, _) = run(&["replay", f.path().to_str().unwrap()]);
    let e = format!("{:#}", r.unwrap_err());
    assert!(
        e.contains("cannot read capture") && e.contains("not an msao capture"),
        "{e}"
    );
}
