//! Test helpers: one message of every kind, frame builders (good and deliberately broken),
//! and running a command in-process with captured stdout and stderr.
#![allow(dead_code)]

use clap::Parser;
use msao::{
    frame::{self, CRC32C, MAX_FRAME},
    header::FrameHeader,
    message::*,
};
use msao_host::{cmd::Cli, env::Env};

pub const BOOT: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];

fn s<const N: usize>(v: &str) -> heapless::String<N> {
    truncated(v)
}

pub fn hello(device: &str) -> Message {
    let mut zones = heapless::Vec::new();
    zones.push(s("cpu-thermal")).unwrap();
    zones.push(s("gpu-thermal")).unwrap();
    let mut rails = heapless::Vec::new();
    rails.push(s("VDD_IN")).unwrap();
    Message::Hello(Hello {
        device_id: s(device),
        build: WireBuild::current(),
        wire_version: msao::WIRE_VERSION,
        schema: msao::SCHEMA_FINGERPRINT,
        hardware: HardwareSummary {
            board: s("Jetson Orin Nano test board"),
            cpu_model: s("ARMv8 Processor rev 1"),
            cpu_cores: 2,
            mem_total_kib: Some(8_000_000),
            gpu: None,
            thermal_zones: zones,
            rails,
        },
        sample_interval_ms: 100,
        capability: CapabilitySummary {
            providers: heapless::Vec::from_slice(&[ExecProvider::Cpu]).unwrap(),
            l4t: Some(s("R36.4.3")),
            power_mode: Some(0),
            power_mode_name: Some(s("15W")),
        },
    })
}

pub fn sample() -> Message {
    let mut cores = heapless::Vec::new();
    cores
        .push(CoreReading {
            load_pm: Some(100),
            freq_mhz: Some(1500),
        })
        .unwrap();
    cores
        .push(CoreReading {
            load_pm: None,
            freq_mhz: None,
        })
        .unwrap();
    let mut temps = heapless::Vec::new();
    temps.push(Some(4550)).unwrap();
    temps.push(None).unwrap();
    let mut rails_mw = heapless::Vec::new();
    rails_mw.push(Some(5100)).unwrap();
    Message::Sample(Sample {
        cpu_load_pm: Some(123),
        cores,
        mem_used_kib: Some(1_048_576),
        mem_total_kib: Some(8_388_608),
        gpu_load_pm: None,
        gpu_freq_mhz: None,
        emc_load_pm: None,
        temps_cdeg: temps,
        rails_mw,
        total_power_mw: Some(5100),
        power_mode: None,
        drops: TelemetryDrops {
            samples: 0,
            events: 0,
            send_failed: 0,
        },
    })
}

pub fn request() -> Message {
    let mut mas = heapless::Vec::new();
    mas.push(MasScore {
        modality: Modality::Image,
        spatial_pm: Some(500),
        temporal_pm: None,
        modal_pm: None,
        combined_pm: 500,
        kept: 10,
        total: 196,
    })
    .unwrap();
    Message::RequestTrace(RequestTrace {
        request_id: 7,
        modalities: ModalitySet::default().with(Modality::Image),
        mas,
        decision: Decision::Local,
        local_confidence_pm: Some(900),
        answer: Some(TraceAnswer::Class(3)),
        bytes_up: 0,
        bytes_down: 0,
        bytes_wasted: 0,
        timings: StageTimings {
            encode_us: Some(4000),
            mas_us: Some(300),
            policy_us: Some(20),
            local_us: Some(7000),
            upload_us: None,
            cloud_us: None,
            total_us: Some(12_000),
        },
        outcome: Outcome::LocalCommitted,
        provider: ExecProvider::Cpu,
    })
}

pub fn fault() -> Message {
    Message::Fault(Fault::new(2, "udp send failed"))
}

pub fn profile() -> Message {
    Message::ProfileResult(ProfileResult {
        request_id: Some(7),
        index: 0,
        total: 1,
        model: s("mobilevit-xs"),
        provider: ExecProvider::Cuda,
        precision: Precision::Fp16,
        batch: 1,
        warmup: 10,
        iterations: 100,
        latency: LatencyStats {
            mean_us: 4100,
            p50_us: 4000,
            p90_us: 4500,
            p95_us: 4700,
            p99_us: 5200,
            min_us: 3900,
            max_us: 6000,
        },
        throughput_milli: 243_000,
        peak_mem_kib: None,
        energy_uj: None,
        power_mode: Some(0),
        temp_start_cdeg: Some(4_500),
        temp_end_cdeg: Some(5_100),
        background: false,
    })
}

pub fn capability(device: &str) -> Message {
    let Message::Hello(h) = hello(device) else {
        unreachable!()
    };
    Message::Capability(Capability {
        device_id: s(device),
        hardware: h.hardware,
        cpu_max_mhz: Some(1_510),
        gpu: GpuFacts {
            compute_capability: Some([8, 7]),
            sm_count: Some(8),
            mem_kib: None,
            max_freq_mhz: Some(625),
        },
        power_modes: heapless::Vec::from_slice(&[s("15W"), s("7W")]).unwrap(),
        power_mode: Some(0),
        software: SoftwareVersions {
            l4t: Some(s("R36.4.3")),
            cuda: None,
            tensorrt: None,
            onnxruntime: Some(s("1.31.1")),
            kernel: None,
        },
        providers: heapless::Vec::from_slice(&[ExecProvider::Cpu]).unwrap(),
        pipeline: None,
    })
}

pub fn profile_request() -> Message {
    Message::ProfileRequest(ProfileRequest {
        request_id: 7,
        target_boot_id: [1, 2, 3, 4],
        model: None,
        provider: None,
        precision: None,
        batch: 1,
        warmup: 10,
        iterations: 100,
    })
}

/// One message of every kind, in wire order.
pub fn every_kind(device: &str) -> Vec<Message> {
    vec![
        hello(device),
        sample(),
        request(),
        fault(),
        profile(),
        capability(device),
        profile_request(),
        Message::ProfileCancel(ProfileCancel {
            request_id: 7,
            target_boot_id: [1, 2, 3, 4],
        }),
        Message::CameraStats(CameraStats {
            camera: truncated("front"),
            captured: 300,
            dropped_stale: 200,
            used: 100,
            errors: 0,
            reconnects: 0,
            frame_age_ms: Some(12),
        }),
    ]
}

pub fn header(boot: [u8; 4], seq: u32) -> FrameHeader {
    FrameHeader::new(boot, seq, u64::from(seq) * 100_000)
}

/// A good frame, terminator included.
pub fn encode(h: &FrameHeader, m: &Message) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    frame::encode(h, m, &mut buf).unwrap().to_vec()
}

/// Frames of `msgs` from one boot, seq from 0.
pub fn stream(boot: [u8; 4], msgs: &[Message]) -> Vec<u8> {
    msgs.iter()
        .enumerate()
        .flat_map(|(i, m)| encode(&header(boot, i as u32), m))
        .collect()
}

/// COBS-stuffs a body whose CRC is recomputed (so only the intended fault remains).
pub fn stuff_with_crc(data: &[u8]) -> Vec<u8> {
    let mut body = data.to_vec();
    body.extend_from_slice(&CRC32C.checksum(data).to_le_bytes());
    let mut out = vec![0u8; MAX_FRAME * 2];
    frame::stuff(&body, &mut out).unwrap().to_vec()
}

/// Body (header ‖ message, CRC excluded) of a good frame.
pub fn body(h: &FrameHeader, m: &Message) -> Vec<u8> {
    let mut b = [0u8; frame::MAX_BODY];
    let n = frame::encode_body(h, m, &mut b).unwrap();
    b[..n - 4].to_vec()
}

/// A frame from a peer built with another schema (its header says so).
pub fn foreign_schema_frame(boot: [u8; 4], seq: u32) -> Vec<u8> {
    let mut h = header(boot, seq);
    h.schema = [0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01]; // 0123456789abcdef LE
    encode(&h, &fault())
}

/// Runs `msao-host ARGS` in-process with `env`; returns the result and stdout.
pub fn run_with(args: &[&str], env: &mut Env) -> (anyhow::Result<()>, String) {
    let cli =
        Cli::try_parse_from(std::iter::once("msao-host").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    let r = cli.command.run(&mut out, env);
    (r, String::from_utf8(out).unwrap())
}

/// Runs `msao-host ARGS` in-process; returns the result, stdout and stderr.
pub fn run(args: &[&str]) -> (anyhow::Result<()>, String, String) {
    let (mut env, err) = Env::captured();
    let (r, out) = run_with(args, &mut env);
    (r, out, err.contents())
}

/// stdout's JSON lines.
pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}
