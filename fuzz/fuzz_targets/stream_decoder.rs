//! Fuzzes the streaming decoder: arbitrary bytes in arbitrary chunks never panic, counters
//! stay consistent, and every decoded frame re-encodes and decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msao::{Decoder, Event, frame};

fuzz_target!(|data: &[u8]| {
    // First byte picks the chunk size, so the fuzzer explores split points too.
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut dec = Decoder::new();
    let mut events = 0u64;
    for piece in stream.chunks(chunk) {
        let mut input = piece;
        while let Some(event) = dec.push(&mut input) {
            events += 1;
            if let Event::Frame(f) = event {
                let mut buf = [0u8; frame::MAX_FRAME];
                let wire = frame::encode(&f.header, &f.message, &mut buf).expect("re-encode");
                let mut again = Decoder::new();
                let mut w = wire;
                match again.push(&mut w) {
                    Some(Event::Frame(g)) => assert_eq!(g, f),
                    other => panic!("re-encoded frame did not decode: {other:?}"),
                }
            }
        }
    }
    let s = dec.stats();
    assert_eq!(s.frames + s.dropped_total(), events);
    assert_eq!(s.bytes, stream.len() as u64);
    assert!(events <= stream.iter().filter(|b| **b == 0).count() as u64);
});
