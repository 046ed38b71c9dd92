//! The tegrastats parser on lines in the formats of JetPack 4, 5 and 6 (provenance in
//! `tests/fixtures/README.md`, section `tegrastats/`): exact values per variant.

mod common;

use common::fixture;
use msao::message::CoreReading;
use msao_agent::system::{TegraRail, TegraStats, TegrastatsError, parse_tegrastats};

fn line(file: &str, n: usize) -> TegraStats {
    let text = std::fs::read_to_string(fixture("tegrastats").join(file)).unwrap();
    let l = text.lines().nth(n).unwrap();
    let parsed = parse_tegrastats(l).unwrap();
    assert!(parsed.skipped.is_empty(), "{file}: {:?}", parsed.skipped);
    assert!(
        parsed.unrecognised.is_empty(),
        "{file}: {:?}",
        parsed.unrecognised
    );
    parsed
}

fn core(load_pm: u16, mhz: Option<u16>) -> CoreReading {
    CoreReading {
        load_pm: Some(load_pm),
        freq_mhz: mhz,
    }
}

const OFF: CoreReading = CoreReading {
    load_pm: None,
    freq_mhz: None,
};

fn rail(name: &str, mw: u32, avg_mw: u32) -> TegraRail {
    TegraRail {
        name: name.into(),
        mw,
        avg_mw,
    }
}

fn temps(t: &TegraStats) -> Vec<(&str, Option<i16>)> {
    t.temps.iter().map(|(n, c)| (n.as_str(), *c)).collect()
}

#[test]
fn jetpack4_nano_rails_without_mw() {
    let t = line("jp4-nano.log", 0);
    assert_eq!(
        (t.ram_used_kib, t.ram_total_kib),
        (Some(1581 * 1024), Some(3956 * 1024))
    );
    assert_eq!(
        t.cores,
        [core(120, Some(918)), core(30, Some(918)), OFF, OFF]
    );
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(80), Some(1600)));
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(0), Some(76)));
    assert_eq!((t.gpu2_load_pm, t.gpu2_freq_mhz), (None, None));
    assert_eq!(
        temps(&t),
        [
            ("PLL", Some(3100)),
            ("CPU", Some(3350)),
            ("PMIC", Some(10000)),
            ("GPU", Some(3300)),
            ("AO", Some(4050)),
            ("thermal", Some(3325))
        ]
    );
    assert_eq!(
        t.rails,
        [
            rail("POM_5V_IN", 2446, 2446),
            rail("POM_5V_GPU", 0, 0),
            rail("POM_5V_CPU", 571, 571)
        ]
    );
    assert_eq!(t.total_power_mw(), Some(2446), "POM_5V_IN is the total");
}

#[test]
fn jetpack4_xavier_nx_without_clocks() {
    let t = line("jp4-xavier-nx.log", 0);
    assert_eq!(t.cores.len(), 6);
    assert_eq!(t.cores[0], core(80, Some(1190)));
    assert_eq!(&t.cores[4..], [OFF, OFF]);
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(0), None));
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(0), None));
    assert_eq!(temps(&t)[3], ("AUX", Some(3650)));
    assert_eq!(temps(&t)[5], ("thermal", Some(3720)));
    assert_eq!(
        t.rails,
        [
            rail("VDD_IN", 3893, 3893),
            rail("VDD_CPU_GPU_CV", 491, 491),
            rail("VDD_SOC", 1227, 1227)
        ]
    );
    assert_eq!(t.total_power_mw(), Some(3893));
}

#[test]
fn jetpack4_agx_xavier_rails_named_like_keys() {
    let t = line("jp4-agx-xavier.log", 0);
    assert_eq!(t.cores.len(), 8);
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(0), Some(2133)));
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(0), Some(318)));
    let names: Vec<&str> = t.temps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AO", "GPU", "Tdiode", "PMIC", "AUX", "CPU", "thermal", "Tboard"
        ]
    );
    assert_eq!(temps(&t)[6], ("thermal", Some(3580)));
    assert_eq!(
        t.rails,
        [
            rail("GPU", 0, 0),
            rail("CPU", 311, 311),
            rail("SOC", 1244, 1244),
            rail("CV", 0, 0),
            rail("VDDRQ", 155, 155),
            rail("SYS5V", 1620, 1620)
        ]
    );
    assert_eq!(t.total_power_mw(), Some(3330), "no input rail: the sum");
}

#[test]
fn jetpack5_agx_orin_per_gpc_clocks_and_switched_off_sensors() {
    let t = line("jp5-agx-orin.log", 0);
    assert_eq!(
        (t.ram_used_kib, t.ram_total_kib),
        (Some(5219 * 1024), Some(62841 * 1024))
    );
    assert_eq!(t.cores.len(), 12);
    assert_eq!(t.cores[0], core(20, Some(729)));
    assert_eq!(t.cores[1], core(10, Some(729)));
    assert_eq!(&t.cores[8..], [OFF; 4]);
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(0), Some(3199)));
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(450), Some(1300)));
    assert_eq!(
        temps(&t),
        [
            ("CV0", None),
            ("CPU", Some(5172)),
            ("SOC2", Some(4778)),
            ("SOC0", Some(4859)),
            ("CV1", None),
            ("GPU", Some(4906)),
            ("tj", Some(5172)),
            ("SOC1", Some(4744)),
            ("CV2", None)
        ]
    );
    assert_eq!(
        t.rails,
        [
            rail("VDD_GPU_SOC", 6270, 6270),
            rail("VDD_CPU_CV", 2386, 2386),
            rail("VIN_SYS_5V0", 3926, 3926),
            rail("VDDQ_VDD2_1V8AO", 604, 604)
        ],
        "NC channels are skipped"
    );
    assert_eq!(t.total_power_mw(), Some(13_186));
}

#[test]
fn jetpack6_orin_nano_lower_case_temperatures() {
    let t = line("jp6-orin-nano.log", 0);
    assert_eq!(
        (t.ram_used_kib, t.ram_total_kib),
        (Some(2370 * 1024), Some(7620 * 1024))
    );
    assert_eq!(
        t.cores,
        [
            core(120, Some(1510)),
            OFF,
            core(30, Some(1510)),
            core(50, Some(1510)),
            OFF,
            OFF
        ]
    );
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(0), Some(2133)));
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(0), Some(305)));
    assert_eq!(
        temps(&t),
        [
            ("cpu", Some(4750)),
            ("soc2", Some(4559)),
            ("soc0", Some(4634)),
            ("gpu", Some(4603)),
            ("tj", Some(4810)),
            ("soc1", Some(4591))
        ]
    );
    assert_eq!(
        t.rails,
        [
            rail("VDD_IN", 4321, 4321),
            rail("VDD_CPU_GPU_CV", 590, 590),
            rail("VDD_SOC", 1181, 1181)
        ]
    );
    assert_eq!(t.total_power_mw(), Some(4321));

    let s = t.to_sample();
    assert_eq!(
        s.cpu_load_pm,
        Some(67),
        "mean of 120, 30, 50 over online cores"
    );
    assert_eq!(s.cores.as_slice(), t.cores.as_slice());
    assert_eq!(
        (s.mem_used_kib, s.mem_total_kib),
        (t.ram_used_kib, t.ram_total_kib)
    );
    assert_eq!(
        (s.gpu_load_pm, s.gpu_freq_mhz, s.emc_load_pm),
        (Some(0), Some(305), Some(0))
    );
    assert_eq!(s.temps_cdeg.len(), 6);
    assert_eq!(s.rails_mw.as_slice(), [Some(4321), Some(590), Some(1181)]);
    assert_eq!(s.total_power_mw, Some(4321));
    assert_eq!(s.power_mode, None, "tegrastats does not print the mode");
    let rail_names = t.rail_names();
    let names: Vec<&str> = rail_names.iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]);
    assert_eq!(t.temp_names().len(), 6);
}

#[test]
fn jetpack7_r39_temperatures_with_a_slash_and_rails_with_three_values() {
    let t = line("jp7-r39-orin-nano.log", 0);
    assert_eq!(
        (t.ram_used_kib, t.ram_total_kib),
        (Some(3120 * 1024), Some(7546 * 1024))
    );
    let c = |pm| core(pm, Some(1510));
    assert_eq!(t.cores, [c(200), c(150), OFF, c(80), c(30), c(10)]);
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(410), None));
    assert_eq!(
        temps(&t),
        [
            ("cpu", Some(4850)),
            ("soc2", Some(4625)),
            ("soc0", Some(4700)),
            ("gpu", Some(4775)),
            ("tj", Some(4850)),
            ("soc1", Some(4650))
        ]
    );
    assert_eq!(
        t.rails,
        [
            rail("VDD_IN", 7425, 7310),
            rail("VDD_CPU_GPU_CV", 2811, 2750),
            rail("VDD_SOC", 1620, 1602)
        ]
    );
    assert_eq!(t.total_power_mw(), Some(7425), "VDD_IN is the total");
    let s = t.to_sample();
    assert_eq!(s.temps_cdeg.len(), 6);
    assert_eq!(s.total_power_mw, Some(7425));
}

#[test]
fn jetpack7_thor_engine_clocks_without_a_load() {
    let t = line("jp7-r38-agx-thor.log", 0);
    assert_eq!(t.cores.len(), 14);
    assert_eq!(t.cores[13], core(40, Some(972)));
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(0), Some(665)));
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (None, Some(0)));
    assert_eq!(
        temps(&t),
        [
            ("cpu", Some(3447)),
            ("tj", Some(3450)),
            ("soc012", Some(3378)),
            ("soc345", Some(3450))
        ]
    );
    assert_eq!(
        t.rails,
        [
            rail("VDD_GPU", 0, 0),
            rail("VDD_CPU_SOC_MSS", 4165, 4165),
            rail("VIN_SYS_5V0", 4126, 4126)
        ]
    );
    assert_eq!(t.total_power_mw(), Some(8291), "no input rail: the sum");
}

#[test]
fn before_jetpack4_one_clock_for_all_cores() {
    let t = line("l4t28-tx1.log", 0);
    assert_eq!(
        t.cores,
        [core(170, Some(1734)), core(50, Some(1734)), OFF, OFF]
    );
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(80), Some(1600)));
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(390), Some(76)));
}

#[test]
fn readings_in_an_unknown_format_are_listed_not_dropped_in_silence() {
    let t = parse_tegrastats(
        "RAM 100/200MB cpu@50C~49C VDD_IN 5.5mW/5mW GPU@41C NVENC0_FREQ @0 APE 300",
    )
    .unwrap();
    assert_eq!(t.unrecognised, ["cpu@50C~49C", "VDD_IN 5.5mW/5mW"]);
    assert_eq!(temps(&t), [("GPU", Some(4100))]);
    assert!(t.rails.is_empty());
}

#[test]
fn constructed_variants_second_gpu_and_bare_percentages() {
    let t = line("variants.log", 0);
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(230), Some(1377)));
    assert_eq!((t.gpu2_load_pm, t.gpu2_freq_mhz), (Some(170), Some(1377)));
    assert_eq!((t.emc_load_pm, t.emc_freq_mhz), (Some(120), Some(1866)));
    assert_eq!(t.rails, [rail("VDD_IN", 9120, 8877)]);
    let t = line("variants.log", 1);
    assert_eq!(t.cores, [core(340, None), core(400, None)]);
    assert_eq!((t.gpu_load_pm, t.gpu_freq_mhz), (Some(230), None));
    assert_eq!(temps(&t), [("cpu", Some(4150))]);
    assert!(t.rails.is_empty());
    assert_eq!(t.total_power_mw(), None, "no rails: no total, not zero");
    assert_eq!(t.to_sample().total_power_mw, None);
}

#[test]
fn malformed_values_are_none_and_listed_unknown_words_ignored() {
    let t = parse_tegrastats(
        "RAM lots/7620MB CPU [12%@1510,bad] EMC_FREQ 140%@2133 GR3D_FREQ 5%@[x] FUTURE_KEY 7 VDD_IN 10/20 gpu@hotC",
    )
    .unwrap();
    assert_eq!((t.ram_used_kib, t.ram_total_kib), (None, None));
    assert!(t.cores.is_empty());
    assert_eq!((t.emc_load_pm, t.gpu_load_pm), (None, None));
    assert_eq!(t.rails, [rail("VDD_IN", 10, 20)]);
    assert!(t.temps.is_empty());
    assert_eq!(
        t.skipped,
        [
            "RAM lots/7620MB",
            "CPU [12%@1510,bad]",
            "EMC_FREQ 140%@2133",
            "GR3D_FREQ 5%@[x]"
        ]
    );
}

#[test]
fn lines_that_are_not_tegrastats_are_errors() {
    assert_eq!(
        parse_tegrastats(""),
        Err(TegrastatsError::NoFields {
            start: String::new(),
            len: 0
        })
    );
    let e = parse_tegrastats("hello world, this is a log line").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no tegrastats field in `hello world, this is a log line` (31 bytes)"
    );
}
