//! The typical Jetson `Sample` used by benchmarks, the no-heap test and diagnostics:
//! Orin Nano, 6 cores, GPU and EMC, 3 thermal zones, 3 power rails.
//! Shared by `#[path]` from `benches/` and `examples/`, so every figure uses one message.

use msao::message::{CoreReading, Message, Sample, TelemetryDrops};

pub fn typical_sample() -> Message {
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
