//! proptest strategies for every wire message (shared by the property tests).

use heapless::{String as HString, Vec as HVec};
use msao::message::*;
use proptest::{collection::vec, option, prelude::*};

pub fn hstring<const N: usize>() -> impl Strategy<Value = HString<N>> {
    // Any unicode, cut to fit at a char boundary.
    any::<String>().prop_map(|s| truncated::<N>(&s))
}

pub fn hvec<T: std::fmt::Debug, const N: usize>(
    item: impl Strategy<Value = T>,
) -> impl Strategy<Value = HVec<T, N>> {
    vec(item, 0..=N).prop_map(|v| {
        let mut out = HVec::new();
        for x in v {
            let _ = out.push(x);
        }
        out
    })
}

fn modality() -> impl Strategy<Value = Modality> {
    prop::sample::select(Modality::ALL)
}

pub fn hello() -> impl Strategy<Value = Hello> {
    (
        hstring::<32>(),
        (
            hstring::<16>(),
            hstring::<16>(),
            hstring::<40>(),
            hstring::<8>(),
        ),
        any::<u8>(),
        any::<[u8; 8]>(),
        (
            hstring::<48>(),
            hstring::<48>(),
            any::<u16>(),
            option::of(any::<u32>()),
            option::of(hstring::<32>()),
            hvec::<_, 12>(hstring::<20>()),
            hvec::<_, 8>(hstring::<16>()),
        ),
        any::<u32>(),
        capability_summary(),
    )
        .prop_map(
            |(device_id, b, wire_version, schema, h, sample_interval_ms, capability)| Hello {
                device_id,
                build: WireBuild {
                    version: b.0,
                    git_rev: b.1,
                    target: b.2,
                    profile: b.3,
                },
                wire_version,
                schema,
                hardware: HardwareSummary {
                    board: h.0,
                    cpu_model: h.1,
                    cpu_cores: h.2,
                    mem_total_kib: h.3,
                    gpu: h.4,
                    thermal_zones: h.5,
                    rails: h.6,
                },
                sample_interval_ms,
                capability,
            },
        )
}

fn provider() -> impl Strategy<Value = ExecProvider> {
    prop::sample::select(ExecProvider::ALL)
}

fn capability_summary() -> impl Strategy<Value = CapabilitySummary> {
    (
        hvec::<_, 3>(provider()),
        option::of(hstring::<16>()),
        option::of(any::<u8>()),
        option::of(hstring::<16>()),
    )
        .prop_map(
            |(providers, l4t, power_mode, power_mode_name)| CapabilitySummary {
                providers,
                l4t,
                power_mode,
                power_mode_name,
            },
        )
}

pub fn capability() -> impl Strategy<Value = Capability> {
    (
        hello(),
        option::of(any::<u16>()),
        (
            option::of(any::<[u8; 2]>()),
            option::of(any::<u16>()),
            option::of(any::<u32>()),
            option::of(any::<u16>()),
        ),
        hvec::<_, 8>(hstring::<16>()),
        option::of(any::<u8>()),
        (
            option::of(hstring::<16>()),
            option::of(hstring::<16>()),
            option::of(hstring::<16>()),
            option::of(hstring::<16>()),
            option::of(hstring::<40>()),
        ),
        hvec::<_, 3>(provider()),
        option::of((hstring::<32>(), any::<[u8; 8]>(), any::<u16>()).prop_map(
            |(name, fingerprint, labels)| PipelineSummary {
                name,
                fingerprint,
                labels,
            },
        )),
    )
        .prop_map(
            |(h, cpu_max_mhz, g, power_modes, power_mode, sw, providers, pipeline)| Capability {
                device_id: h.device_id,
                hardware: h.hardware,
                cpu_max_mhz,
                gpu: GpuFacts {
                    compute_capability: g.0,
                    sm_count: g.1,
                    mem_kib: g.2,
                    max_freq_mhz: g.3,
                },
                power_modes,
                power_mode,
                software: SoftwareVersions {
                    l4t: sw.0,
                    cuda: sw.1,
                    tensorrt: sw.2,
                    onnxruntime: sw.3,
                    kernel: sw.4,
                },
                providers,
                pipeline,
            },
        )
}

pub fn profile_request() -> impl Strategy<Value = ProfileRequest> {
    (
        any::<u32>(),
        option::of(hstring::<32>()),
        option::of(provider()),
        option::of(prop::sample::select(Precision::ALL)),
        (any::<(u16, u32, u32)>(), any::<[u8; 4]>()),
    )
        .prop_map(
            |(request_id, model, provider, precision, ((batch, warmup, iterations), target))| {
                ProfileRequest {
                    request_id,
                    target_boot_id: target,
                    model,
                    provider,
                    precision,
                    batch,
                    warmup,
                    iterations,
                }
            },
        )
}

pub fn sample() -> impl Strategy<Value = Sample> {
    (
        option::of(any::<u16>()),
        hvec::<_, 16>(
            (option::of(any::<u16>()), option::of(any::<u16>()))
                .prop_map(|(load_pm, freq_mhz)| CoreReading { load_pm, freq_mhz }),
        ),
        (option::of(any::<u32>()), option::of(any::<u32>())),
        (
            option::of(any::<u16>()),
            option::of(any::<u16>()),
            option::of(any::<u16>()),
        ),
        hvec::<_, 12>(option::of(any::<i16>())),
        hvec::<_, 8>(option::of(any::<u32>())),
        (option::of(any::<u32>()), option::of(any::<u8>())),
        any::<(u32, u32, u32)>(),
    )
        .prop_map(|(cpu, cores, mem, gpu, temps, rails, pw, d)| Sample {
            cpu_load_pm: cpu,
            cores,
            mem_used_kib: mem.0,
            mem_total_kib: mem.1,
            gpu_load_pm: gpu.0,
            gpu_freq_mhz: gpu.1,
            emc_load_pm: gpu.2,
            temps_cdeg: temps,
            rails_mw: rails,
            total_power_mw: pw.0,
            power_mode: pw.1,
            drops: TelemetryDrops {
                samples: d.0,
                events: d.1,
                send_failed: d.2,
            },
        })
}

pub fn trace() -> impl Strategy<Value = RequestTrace> {
    let mas = (
        modality(),
        option::of(any::<u16>()),
        option::of(any::<u16>()),
        option::of(any::<u16>()),
        any::<(u16, u16, u16)>(),
    )
        .prop_map(|(modality, s, t, m, (c, k, n))| MasScore {
            modality,
            spatial_pm: s,
            temporal_pm: t,
            modal_pm: m,
            combined_pm: c,
            kept: k,
            total: n,
        });
    let timings = vec(option::of(any::<u32>()), 7).prop_map(|t| StageTimings {
        encode_us: t[0],
        mas_us: t[1],
        policy_us: t[2],
        local_us: t[3],
        upload_us: t[4],
        cloud_us: t[5],
        total_us: t[6],
    });
    (
        any::<u32>(),
        any::<u8>(),
        hvec::<_, 3>(mas),
        prop::sample::select(Decision::ALL),
        (
            option::of(any::<u16>()),
            option::of(prop_oneof![
                any::<u16>().prop_map(TraceAnswer::Class),
                hstring::<TEXT_ANSWER_MAX>().prop_map(TraceAnswer::Text),
            ]),
        ),
        any::<(u32, u32, u32)>(),
        timings,
        prop::sample::select(Outcome::ALL),
        prop::sample::select(ExecProvider::ALL),
    )
        .prop_map(
            |(id, mods, mas, decision, (conf, answer), bytes, timings, outcome, provider)| {
                RequestTrace {
                    request_id: id,
                    modalities: ModalitySet(mods),
                    mas,
                    decision,
                    local_confidence_pm: conf,
                    answer,
                    bytes_up: bytes.0,
                    bytes_down: bytes.1,
                    bytes_wasted: bytes.2,
                    timings,
                    outcome,
                    provider,
                }
            },
        )
}

pub fn profile() -> impl Strategy<Value = ProfileResult> {
    (
        hstring::<32>(),
        prop::sample::select(ExecProvider::ALL),
        prop::sample::select(Precision::ALL),
        any::<(u16, u32, u32)>(),
        vec(any::<u32>(), 7),
        any::<u32>(),
        (option::of(any::<u32>()), option::of(any::<u32>())),
        (option::of(any::<u32>()), any::<(u16, u16)>()),
        (
            option::of(any::<u8>()),
            option::of(any::<i16>()),
            option::of(any::<i16>()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                model,
                provider,
                precision,
                (batch, warmup, iterations),
                l,
                thr,
                (mem, e),
                (rid, (index, total)),
                (pm, t0, t1, background),
            )| {
                ProfileResult {
                    request_id: rid,
                    index,
                    total,
                    power_mode: pm,
                    temp_start_cdeg: t0,
                    temp_end_cdeg: t1,
                    model,
                    provider,
                    precision,
                    batch,
                    warmup,
                    iterations,
                    latency: LatencyStats {
                        mean_us: l[0],
                        p50_us: l[1],
                        p90_us: l[2],
                        p95_us: l[3],
                        p99_us: l[4],
                        min_us: l[5],
                        max_us: l[6],
                    },
                    throughput_milli: thr,
                    peak_mem_kib: mem,
                    energy_uj: e,
                    background,
                }
            },
        )
}

pub fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        hello().prop_map(Message::Hello),
        sample().prop_map(Message::Sample),
        trace().prop_map(Message::RequestTrace),
        (any::<u16>(), hstring::<96>())
            .prop_map(|(code, message)| Message::Fault(Fault { code, message })),
        profile().prop_map(Message::ProfileResult),
        capability().prop_map(Message::Capability),
        profile_request().prop_map(Message::ProfileRequest),
        (any::<u32>(), any::<[u8; 4]>()).prop_map(|(request_id, target_boot_id)| {
            Message::ProfileCancel(ProfileCancel {
                request_id,
                target_boot_id,
            })
        }),
    ]
}

pub fn header() -> impl Strategy<Value = msao::FrameHeader> {
    (any::<[u8; 4]>(), any::<u32>(), any::<u64>())
        .prop_map(|(b, s, t)| msao::FrameHeader::new(b, s, t))
}
