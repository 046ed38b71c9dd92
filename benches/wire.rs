//! Wire throughput: encode and decode of a typical `Sample` frame (criterion).
//! `cargo bench -p msao --bench wire`; targets: ≥ 2 M frames/s encode, ≥ 1.5 M frames/s
//! decode per core, Sample frame ≤ 160 bytes. Figures and where the time goes: README.md here.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use msao::{Decoder, Event, FrameHeader, frame};
use std::hint::black_box;

#[path = "../tests/common/typical.rs"]
mod typical;
use typical::typical_sample;

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
