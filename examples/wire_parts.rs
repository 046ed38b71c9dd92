//! Times the parts of frame encoding (postcard, CRC, COBS) to see where a frame's time goes.
use msao::{FrameHeader, Message, frame};

#[path = "../tests/common/typical.rs"]
mod typical;
use std::{hint::black_box, time::Instant};
use typical::typical_sample;

fn main() {
    let msg = typical_sample();
    let header = FrameHeader::new([0x12, 0x34, 0x56, 0x78], 1_000, 3_600_000_000);
    let n = 2_000_000;
    let mut body = [0u8; frame::MAX_BODY];
    let len = frame::encode_body(&header, &msg, &mut body).unwrap();
    let mut out = [0u8; frame::MAX_FRAME];
    let t = Instant::now();
    let mut scratch_body = [0u8; frame::MAX_BODY];
    for _ in 0..n {
        black_box(
            postcard::to_slice(black_box(&msg), &mut scratch_body)
                .map(|s| s.len())
                .ok(),
        );
    }
    println!(
        "postcard message: {:>6.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        black_box(frame::CRC32C.checksum(black_box(&body[..len])));
    }
    println!(
        "crc32c {len} B:   {:>6.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        black_box(
            frame::stuff(black_box(&body[..len]), &mut out)
                .map(|s| s.len())
                .ok(),
        );
    }
    println!(
        "cobs stuff:       {:>6.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        black_box(
            frame::encode(black_box(&header), black_box(&msg), &mut out)
                .map(|s| s.len())
                .ok(),
        );
    }
    println!(
        "encode total:     {:>6.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let wire = frame::encode(&header, &msg, &mut out).unwrap().to_vec();
    let t = Instant::now();
    let mut scratch = [0u8; frame::MAX_FRAME];
    for _ in 0..n {
        scratch[..wire.len() - 1].copy_from_slice(&wire[..wire.len() - 1]);
        black_box(cobs::decode_in_place(black_box(&mut scratch[..wire.len() - 1])).ok());
    }
    println!(
        "cobs unstuff:     {:>6.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    let (_, rest) = postcard::take_from_bytes::<FrameHeader>(&body[..len - 4]).unwrap();
    assert!(
        postcard::from_bytes::<Message>(rest).is_ok(),
        "message bytes decode"
    );
    for _ in 0..n {
        black_box(
            postcard::from_bytes::<Message>(black_box(rest))
                .map(|m| m.kind())
                .ok(),
        );
    }
    println!(
        "postcard decode:  {:>6.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
