//! Wire throughput: encode and decode of a typical `Sample` frame (criterion).
//! `cargo bench -p msao --bench wire`; targets: ≥ 2 M frames/s encode, ≥ 1 M frames/s decode
//! per core, Sample frame ≤ 160 bytes.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use msao::{Decoder, Event, FrameHeader, Message, frame, message::*};
use std::hint::black_box;

/// A typical Jetson Orin Nano sample: 6 cores, GPU, 3 zones, 3 rails.
fn typical_sample() -> Message {
    let mut cores = heapless::Vec::new();
    for c in 0..6u16 {
        let _ = cores.push(CoreReading {
            load_pm: Some(120 + 37 * c),
            freq_mhz: Some(1_510),
        });
    }
    Message::Sample(Sample {
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
    })
}

fn wire(c: &mut Criterion) {
    let msg = typical_sample();
    let header = FrameHeader::new([0x12, 0x34, 0x56, 0x78], 1_000, 3_600_000_000);
    let mut buf = [0u8; frame::MAX_FRAME];
    let encoded = frame::encode(&header, &msg, &mut buf)
        .expect("encodes")
        .to_vec();
    eprintln!("typical Sample frame: {} bytes on the wire", encoded.len());

    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_sample_frame", |b| {
        let mut out = [0u8; frame::MAX_FRAME];
        b.iter(|| {
            let n = frame::encode(black_box(&header), black_box(&msg), &mut out).map(<[u8]>::len);
            black_box(n)
        })
    });
    g.bench_function("decode_sample_frame", |b| {
        let mut dec = Decoder::new();
        b.iter(|| {
            let mut input = black_box(encoded.as_slice());
            let ok = matches!(dec.push(&mut input), Some(Event::Frame(_)));
            black_box(ok)
        })
    });
    g.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
