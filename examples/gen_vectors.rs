//! Writes `spec/vectors/*.json`: one file per case, value ↔ frame bytes.
//!
//! The test `tests/vectors.rs` reads these files and checks both directions, so a change to
//! any wire type fails it until the vectors are regenerated on purpose:
//! `cargo run --example gen_vectors` (then review the diff and the spec).
use heapless::{String as S, Vec as V};
use msao::{frame, header::FrameHeader, message::*, sign::ControlKey};
use serde_json::json;
use std::{fs, path::Path};

fn s<const N: usize>(v: &str) -> S<N> {
    truncated(v)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/vectors");
    fs::create_dir_all(&dir)?;
    let boot = [0x12, 0x34, 0x56, 0x78];
    let mut zones = V::new();
    for z in ["cpu-thermal", "gpu-thermal", "tj-thermal"] {
        zones.push(s(z)).map_err(|_| "zones")?;
    }
    let mut rails = V::new();
    for r in ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"] {
        rails.push(s(r)).map_err(|_| "rails")?;
    }
    let hello = Message::Hello(Hello {
        device_id: s("orin-nano-07"),
        build: WireBuild {
            version: s("0.1.0"),
            git_rev: s("c4d9b5e"),
            target: s("aarch64-unknown-linux-gnu"),
            profile: s("release"),
        },
        wire_version: msao::WIRE_VERSION,
        schema: msao::SCHEMA_FINGERPRINT,
        hardware: HardwareSummary {
            board: s("NVIDIA Jetson Orin Nano Developer Kit"),
            cpu_model: s("ARMv8 Processor rev 1 (v8l)"),
            cpu_cores: 6,
            mem_total_kib: Some(7_802_004),
            gpu: Some(s("Orin (nvgpu)")),
            thermal_zones: zones,
            rails,
        },
        sample_interval_ms: 100,
        capability: CapabilitySummary {
            providers: V::from_slice(&[
                ExecProvider::Cpu,
                ExecProvider::Cuda,
                ExecProvider::TensorRt,
            ])
            .map_err(|_| "providers")?,
            l4t: Some(s("R36.4.3")),
            power_mode: Some(0),
            power_mode_name: Some(s("15W")),
        },
    });
    let mut cores = V::new();
    for (load, mhz) in [
        (Some(312), Some(1510)),
        (Some(95), Some(1510)),
        (None, None),
        (Some(1000), Some(729)),
    ] {
        cores
            .push(CoreReading {
                load_pm: load,
                freq_mhz: mhz,
            })
            .map_err(|_| "cores")?;
    }
    let sample = Message::Sample(Sample {
        cpu_load_pm: Some(352),
        cores,
        mem_used_kib: Some(3_120_400),
        mem_total_kib: Some(7_802_004),
        gpu_load_pm: Some(640),
        gpu_freq_mhz: Some(624),
        emc_load_pm: None,
        temps_cdeg: V::from_slice(&[Some(4_856), Some(4_712), None]).map_err(|_| "temps")?,
        rails_mw: V::from_slice(&[Some(7_344), Some(2_109), Some(1_502)]).map_err(|_| "rails")?,
        total_power_mw: Some(7_344),
        power_mode: Some(0),
        drops: TelemetryDrops {
            samples: 3,
            events: 0,
            send_failed: 1,
        },
    });
    let unsupported_sample = Message::Sample(Sample {
        cpu_load_pm: Some(0),
        cores: V::new(),
        mem_used_kib: None,
        mem_total_kib: None,
        gpu_load_pm: None,
        gpu_freq_mhz: None,
        emc_load_pm: None,
        temps_cdeg: V::new(),
        rails_mw: V::new(),
        total_power_mw: None,
        power_mode: None,
        drops: TelemetryDrops {
            samples: 0,
            events: 0,
            send_failed: 0,
        },
    });
    let mut mas = V::new();
    mas.push(MasScore {
        modality: Modality::Image,
        spatial_pm: Some(180),
        temporal_pm: Some(920),
        modal_pm: Some(1000),
        combined_pm: 540,
        kept: 37,
        total: 192,
    })
    .map_err(|_| "mas")?;
    mas.push(MasScore {
        modality: Modality::Text,
        spatial_pm: None,
        temporal_pm: None,
        modal_pm: Some(1000),
        combined_pm: 1000,
        kept: 1,
        total: 1,
    })
    .map_err(|_| "mas")?;
    let trace = Message::RequestTrace(RequestTrace {
        request_id: 4_711,
        modalities: ModalitySet::default()
            .with(Modality::Image)
            .with(Modality::Text),
        mas,
        decision: Decision::Speculate,
        local_confidence_pm: Some(962),
        answer: Some(TraceAnswer::Class(7)),
        bytes_up: 4_812,
        bytes_down: 0,
        bytes_wasted: 4_812,
        timings: StageTimings {
            encode_us: Some(2_310),
            mas_us: Some(41),
            policy_us: Some(3),
            local_us: Some(880),
            upload_us: None,
            cloud_us: None,
            total_us: Some(3_402),
        },
        outcome: Outcome::LocalCommitted,
        provider: ExecProvider::Cpu,
    });
    let fault = Message::Fault(Fault::new(
        FaultCode::Transport as u16,
        "tcp://10.0.0.2:7878 unreachable: connection refused",
    ));
    let profile = Message::ProfileResult(ProfileResult {
        request_id: Some(41),
        index: 2,
        total: 3,
        model: s("vqa-edge-int8"),
        provider: ExecProvider::TensorRt,
        precision: Precision::Int8,
        batch: 1,
        warmup: 50,
        iterations: 1_000,
        latency: LatencyStats {
            mean_us: 1_210,
            p50_us: 1_180,
            p90_us: 1_290,
            p95_us: 1_350,
            p99_us: 1_720,
            min_us: 1_101,
            max_us: 2_980,
        },
        throughput_milli: 826_446,
        peak_mem_kib: Some(41_220),
        energy_uj: Some(6_100),
        power_mode: Some(0),
        temp_start_cdeg: Some(4_712),
        temp_end_cdeg: Some(5_031),
        background: true,
    });
    let Message::Hello(ref hello_msg) = hello else {
        return Err("hello".into());
    };
    let capability = Message::Capability(Capability {
        device_id: s("orin-nano-07"),
        hardware: hello_msg.hardware.clone(),
        cpu_max_mhz: Some(1_510),
        gpu: GpuFacts {
            compute_capability: Some([8, 7]),
            sm_count: Some(8),
            mem_kib: Some(7_802_004),
            max_freq_mhz: Some(625),
        },
        power_modes: V::from_slice(&[s("15W"), s("7W"), s("MAXN_SUPER")]).map_err(|_| "modes")?,
        power_mode: Some(0),
        software: SoftwareVersions {
            l4t: Some(s("R36.4.3")),
            cuda: Some(s("12.6")),
            tensorrt: Some(s("10.3.0")),
            onnxruntime: Some(s("1.31.1")),
            kernel: Some(s("5.15.148-tegra")),
        },
        providers: V::from_slice(&[
            ExecProvider::Cpu,
            ExecProvider::Cuda,
            ExecProvider::TensorRt,
        ])
        .map_err(|_| "providers")?,
        pipeline: Some(PipelineSummary {
            name: s("easy-vqa"),
            fingerprint: [0x5e, 0x1f, 0x0b, 0x9a, 0x33, 0xc4, 0x70, 0x2d],
            labels: 13,
        }),
    });
    let profile_request = Message::ProfileRequest(ProfileRequest {
        request_id: 41,
        target_boot_id: boot,
        model: None,
        provider: Some(ExecProvider::TensorRt),
        precision: None,
        batch: 1,
        warmup: 50,
        iterations: 1_000,
    });

    // The published test key of the signed vectors: bytes 0x00..=0x1f (never use it).
    let key_bytes: Vec<u8> = (0u8..32).collect();
    let key = ControlKey::new(&key_bytes).map_err(|e| e.to_string())?;
    let host_boot = [0xca, 0xfe, 0x00, 0x01];
    let cases: [(&str, &str, FrameHeader, Message); 10] = [
        (
            "hello",
            "Hello from a Jetson Orin Nano with three zones and three rails",
            FrameHeader::new(boot, 0, 1_250),
            hello,
        ),
        (
            "sample",
            "Typical Sample: four cores (one offline), GPU, rails, drop counters",
            FrameHeader::new(boot, 1, 100_250),
            sample,
        ),
        (
            "sample_unsupported",
            "Sample where every optional reading is unsupported (None), CPU idle (Some(0))",
            FrameHeader::new(boot, 2, 200_250),
            unsupported_sample,
        ),
        (
            "request_trace",
            "Speculative request answered locally, the in-flight upload wasted",
            FrameHeader::new(boot, 300, 30_000_000),
            trace,
        ),
        (
            "fault",
            "Transport fault",
            FrameHeader::new(boot, 301, 30_000_100),
            fault,
        ),
        (
            "profile_result",
            "TensorRT INT8 profile of the edge VQA model",
            FrameHeader::new(boot, 302, 31_000_000),
            profile,
        ),
        (
            "capability",
            "Capability of a Jetson Orin Nano (JetPack 6.2)",
            FrameHeader::new(boot, 303, 31_000_100),
            capability,
        ),
        (
            "profile_request",
            "Host asks agent run 12345678 for a TensorRT profile of every model, signed with the test key",
            FrameHeader::new(host_boot, 0, 5_000_000),
            profile_request.clone(),
        ),
        (
            "camera_stats",
            "Counters of an RTSP camera asked about every third frame, one reconnect",
            FrameHeader::new(boot, 304, 32_000_000),
            Message::CameraStats(CameraStats {
                camera: s("front"),
                captured: 9000,
                dropped_stale: 5990,
                used: 3000,
                errors: 1,
                reconnects: 1,
                frame_age_ms: Some(21),
            }),
        ),
        (
            "profile_cancel",
            "The same host run stops request 41 on agent run 12345678, signed with the test key",
            FrameHeader::new(host_boot, 1, 9_000_000),
            Message::ProfileCancel(ProfileCancel {
                request_id: 41,
                target_boot_id: boot,
            }),
        ),
    ];
    for (name, description, header, message) in cases {
        // Control requests are signed (spec §3.6); telemetry vectors are not.
        let signing = matches!(
            message,
            Message::ProfileRequest(_) | Message::ProfileCancel(_)
        )
        .then_some(&key);
        let mut buf = [0u8; frame::MAX_FRAME];
        let mut body = [0u8; frame::MAX_BODY];
        let body_len = frame::encode_body_with(&header, &message, signing, &mut body)?;
        let wire = frame::stuff(&body[..body_len], &mut buf)?;
        let header = FrameHeader {
            flags: header.flags | signing.map_or(0, |_| msao::sign::FLAG_SIGNED),
            ..header
        };
        let mut doc = json!({
            "name": name,
            "description": description,
            "kind": message.kind(),
            "header": {
                "version": header.version, "flags": header.flags,
                "schema": hex::encode(header.schema), "boot_id": hex::encode(header.boot_id),
                "seq": header.seq, "timestamp_us": header.timestamp_us,
            },
            "message": message,
            "body_hex": hex::encode(&body[..body_len]),
            "frame_hex": hex::encode(wire),
            "frame_len": wire.len(),
        });
        if signing.is_some() {
            doc["key_hex"] = hex::encode(&key_bytes).into();
        }
        fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_string_pretty(&doc)? + "\n",
        )?;
        println!("{name:>16}: {:>4} bytes on the wire", wire.len());
    }
    // Corrupt cases: what a decoder must report for each.
    let good = {
        let mut buf = [0u8; frame::MAX_FRAME];
        let header = FrameHeader::new(boot, 9, 9);
        frame::encode(&header, &Message::Fault(Fault::new(1, "x")), &mut buf)?.to_vec()
    };
    let mut flipped = good.clone();
    flipped[6] ^= 0x01;
    let mut bad_version = [0u8; frame::MAX_BODY];
    let mut h = FrameHeader::new(boot, 9, 9);
    h.version = msao::WIRE_VERSION + 1;
    let n = frame::encode_body(&h, &Message::Fault(Fault::new(1, "x")), &mut bad_version)?;
    let mut out = [0u8; frame::MAX_FRAME];
    let bad_version = frame::stuff(&bad_version[..n], &mut out)?.to_vec();
    let mut other_schema = [0u8; frame::MAX_BODY];
    let mut h = FrameHeader::new(boot, 9, 9);
    h.schema = [0xAA; 8];
    let n = frame::encode_body(&h, &Message::Fault(Fault::new(1, "x")), &mut other_schema)?;
    let mut out = [0u8; frame::MAX_FRAME];
    let other_schema = frame::stuff(&other_schema[..n], &mut out)?.to_vec();
    // A signed request whose tag was changed (CRC recomputed, so only the tag is wrong).
    let forged = {
        let mut body = [0u8; frame::MAX_BODY];
        let n = frame::encode_body_with(
            &FrameHeader::new(host_boot, 1, 5_000_001),
            &profile_request,
            Some(&key),
            &mut body,
        )?;
        body[n - 5] ^= 0x01;
        let crc = frame::CRC32C.checksum(&body[..n - 4]).to_le_bytes();
        body[n - 4..n].copy_from_slice(&crc);
        let mut out = [0u8; frame::MAX_FRAME];
        frame::stuff(&body[..n], &mut out)?.to_vec()
    };
    let corrupt = json!([
        {"name": "forged_signature", "description": "a signed ProfileRequest whose tag's last byte was flipped, CRC recomputed; checked with the test key", "bytes_hex": hex::encode(&forged), "key_hex": hex::encode(&key_bytes), "expect_drop": "signature"},
        {"name": "crc_flip", "description": "one bit flipped inside a Fault frame", "bytes_hex": hex::encode(&flipped), "expect_drop": "crc"},
        {"name": "bad_cobs", "description": "COBS code byte points past the frame end", "bytes_hex": "05aabb00", "expect_drop": "cobs"},
        {"name": "short", "description": "fewer than 4 bytes: no room for the CRC", "bytes_hex": "03010200", "expect_drop": "crc"},
        {"name": "wire_version_next", "description": "valid CRC, the next wire version", "bytes_hex": hex::encode(&bad_version), "expect_drop": "incompatible_version"},
        {"name": "other_schema", "description": "valid CRC, another schema fingerprint", "bytes_hex": hex::encode(&other_schema), "expect_drop": "unknown_schema"},
        {"name": "oversize", "description": "1100 non-zero bytes before the terminator", "bytes_hex": "01".repeat(1100) + "00", "expect_drop": "oversize"},
        {"name": "empty_frames_then_good", "description": "lone terminators are skipped silently, then a good frame", "bytes_hex": format!("0000{}", hex::encode(&good)), "expect_drop": null},
    ]);
    fs::write(
        dir.join("corrupt.json"),
        serde_json::to_string_pretty(&corrupt)? + "\n",
    )?;
    Ok(())
}
