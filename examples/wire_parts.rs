//! Times the parts of frame encoding (postcard, CRC, COBS) to see where a frame's time goes.
use msao::{FrameHeader, Message, frame, message::*};
use std::{hint::black_box, time::Instant};

fn main() {
    let mut cores = heapless::Vec::new();
    for c in 0..6u16 {
        let _ = cores.push(CoreReading {
            load_pm: Some(120 + 37 * c),
            freq_mhz: Some(1_510),
        });
    }
    let msg = Message::Sample(Sample {
        cpu_load_pm: Some(352),
        cores,
        mem_used_kib: Some(3_120_400),
        mem_total_kib: Some(7_802_004),
        gpu_load_pm: Some(640),
        gpu_freq_mhz: Some(624),
        emc_load_pm: Some(120),
        temps_cdeg: heapless::Vec::from_slice(&[Some(4_856), Some(4_712), Some(4_900)])
            .unwrap_or_default(),
        rails_mw: heapless::Vec::from_slice(&[Some(7_344), Some(2_109), Some(1_502)])
            .unwrap_or_default(),
        total_power_mw: Some(7_344),
        power_mode: Some(0),
        drops: TelemetryDrops {
            samples: 0,
            events: 0,
            send_failed: 0,
        },
    });
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
