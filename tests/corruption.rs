//! Corruption of a long stream: random bit flips, byte drops and insertions in chosen frames.
//! Every untouched frame must be recovered in order, every damaged one counted, no panic.

use msao::{Decoder, Event, FrameHeader, Message, frame, message::*};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn sample(i: u32) -> Message {
    let mut cores = heapless::Vec::new();
    for c in 0..6u16 {
        let _ = cores.push(CoreReading {
            load_pm: Some((i as u16 * 7 + c * 31) % 1001),
            freq_mhz: Some(1510),
        });
    }
    Message::Sample(Sample {
        cpu_load_pm: Some((i % 1001) as u16),
        cores,
        mem_used_kib: Some(3_000_000 + i),
        mem_total_kib: Some(7_802_004),
        gpu_load_pm: Some((i * 3 % 1001) as u16),
        gpu_freq_mhz: Some(624),
        emc_load_pm: None,
        temps_cdeg: heapless::Vec::from_slice(&[Some(4_500), Some(4_600)]).unwrap_or_default(),
        rails_mw: heapless::Vec::from_slice(&[Some(7_000 + i)]).unwrap_or_default(),
        total_power_mw: Some(7_000 + i),
        power_mode: Some(0),
        drops: TelemetryDrops {
            samples: 0,
            events: 0,
            send_failed: 0,
        },
    })
}

fn message(i: u32) -> Message {
    match i % 5 {
        0 => Message::Fault(Fault::new(i as u16, "disk nearly full on /var/log")),
        _ => sample(i),
    }
}

#[test]
fn untouched_frames_survive_any_damage_to_their_neighbours() {
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = 2_000u32;
        let mut stream = Vec::new();
        let mut kept = Vec::new();
        let mut damaged = 0u64;
        for i in 0..n {
            let header = FrameHeader::new([7, 7, 7, 7], i, u64::from(i) * 100_000);
            let msg = message(i);
            let mut buf = [0u8; frame::MAX_FRAME];
            let mut bytes = frame::encode(&header, &msg, &mut buf).unwrap().to_vec();
            let body = bytes.len() - 1; // index of the terminator
            if rng.random_bool(0.1) {
                damaged += 1;
                match rng.random_range(0..3) {
                    0 => {
                        let at = rng.random_range(0..body);
                        bytes[at] ^= 1 << rng.random_range(0..8);
                    }
                    1 => {
                        bytes.remove(rng.random_range(0..body));
                    }
                    _ => {
                        // Strictly inside, so an inserted 0x00 cannot leave the frame whole.
                        let at = rng.random_range(1..body);
                        bytes.insert(at, rng.random());
                    }
                }
            } else {
                kept.push((header, msg));
            }
            stream.extend_from_slice(&bytes);
        }
        let mut dec = Decoder::new();
        let mut got = Vec::new();
        let mut rest = stream.as_slice();
        // Feed in uneven chunks, as a UART would deliver them.
        while !rest.is_empty() {
            let take = rng.random_range(1..200).min(rest.len());
            let mut chunk = &rest[..take];
            rest = &rest[take..];
            while let Some(e) = dec.push(&mut chunk) {
                if let Event::Frame(f) = e {
                    got.push((f.header, f.message));
                }
            }
        }
        assert_eq!(got.len(), kept.len(), "seed {seed}");
        assert!(
            got == kept,
            "seed {seed}: recovered frames differ from the untouched ones"
        );
        let stats = dec.stats();
        assert!(
            stats.dropped_total() >= damaged,
            "seed {seed}: {damaged} frames damaged, only {} drops counted",
            stats.dropped_total()
        );
        assert_eq!(dec.pending(), 0, "seed {seed}");
    }
}

#[test]
fn garbage_between_frames_costs_only_the_garbage() {
    let mut rng = StdRng::seed_from_u64(99);
    let mut stream = Vec::new();
    for i in 0..500u32 {
        // Line noise ended by a 0x00 (a resync point, as the serial sink sends on open),
        // then a clean frame: the noise costs at most one drop, the frame survives.
        let noise: Vec<u8> = (0..rng.random_range(0..40))
            .map(|_| rng.random_range(1..=255))
            .collect();
        stream.extend_from_slice(&noise);
        stream.push(0);
        let mut buf = [0u8; frame::MAX_FRAME];
        stream.extend_from_slice(
            frame::encode(&FrameHeader::new([1; 4], i, 0), &sample(i), &mut buf).unwrap(),
        );
    }
    let mut dec = Decoder::new();
    let mut input = stream.as_slice();
    let mut frames = 0;
    while let Some(e) = dec.push(&mut input) {
        if matches!(e, Event::Frame(_)) {
            frames += 1;
        }
    }
    assert_eq!(frames, 500);
}

#[test]
fn oversize_run_is_one_drop_and_the_next_frame_decodes() {
    let mut stream = vec![0x55u8; 5_000];
    stream.push(0);
    let mut buf = [0u8; frame::MAX_FRAME];
    stream.extend_from_slice(
        frame::encode(&FrameHeader::new([1; 4], 0, 0), &sample(1), &mut buf).unwrap(),
    );
    let mut dec = Decoder::new();
    let mut input = stream.as_slice();
    let first = dec.push(&mut input);
    assert!(
        matches!(
            first,
            Some(Event::Dropped {
                cause: msao::DropCause::Oversize,
                len: 5_000,
                ..
            })
        ),
        "{first:?}"
    );
    assert!(matches!(dec.push(&mut input), Some(Event::Frame(_))));
}

#[test]
fn truncated_tail_is_pending_not_lost_silently() {
    let mut buf = [0u8; frame::MAX_FRAME];
    let wire = frame::encode(&FrameHeader::new([1; 4], 0, 0), &sample(1), &mut buf).unwrap();
    let cut = &wire[..wire.len() - 10];
    let mut dec = Decoder::new();
    let mut input = cut;
    assert!(dec.push(&mut input).is_none());
    assert_eq!(dec.pending(), cut.len());
}
