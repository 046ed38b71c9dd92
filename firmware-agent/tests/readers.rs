//! The generic Linux reader on fixture trees: exact values, offline cores, missing and
//! unreadable files, sensor order and limits, log-once bookkeeping.

mod common;

use common::{copy_fixture, fixture};
use msao::message::{CoreReading, FaultCode, HardwareSummary};
use msao_agent::system::{
    JetsonReader, LinuxReader, MAX_TEMPS, SystemReader, X86Reader, open_reader,
};
use std::{fs, os::unix::fs::PermissionsExt};

const STAT_AFTER: &str = "\
cpu  1300 0 600 8550 550 0 0 0 0 0
cpu0 550 0 250 2850 100 0 0 0 0 0
cpu1 310 0 150 2840 200 0 0 0 0 0
cpu2 300 0 150 2850 200 0 0 0 0 0
intr 1462999
";

fn names(hw: &HardwareSummary) -> Vec<&str> {
    hw.thermal_zones.iter().map(|s| s.as_str()).collect()
}

/// Invariants every reader must keep (the conformance check of the SystemReader seam).
fn conforms(reader: &mut dyn SystemReader) {
    let hw = reader.hardware();
    for _ in 0..2 {
        let s = reader.sample();
        assert_eq!(
            s.temps_cdeg.len(),
            hw.thermal_zones.len(),
            "temps index = zone index"
        );
        assert_eq!(s.rails_mw.len(), hw.rails.len(), "rails index = rail index");
        assert_eq!(s.cores.len(), usize::from(hw.cpu_cores).min(16));
        let loads = s
            .cores
            .iter()
            .filter_map(|c| c.load_pm)
            .chain(s.cpu_load_pm);
        assert!(loads.into_iter().all(|l| l <= 1000));
        if let (Some(u), Some(t)) = (s.mem_used_kib, s.mem_total_kib) {
            assert!(u <= t);
        }
    }
}

#[test]
fn hardware_summary_of_the_x86_fixture() {
    let r = LinuxReader::new(fixture("linux-x86"));
    let hw = r.hardware();
    assert_eq!(hw.board.as_str(), "ThinkPad X1 Carbon Gen 9");
    assert_eq!(
        hw.cpu_model.as_str(),
        "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz"
    );
    assert_eq!(hw.cpu_cores, 4);
    assert_eq!(hw.mem_total_kib, Some(16_303_412));
    assert_eq!(hw.gpu, None);
    assert!(hw.rails.is_empty());
    assert_eq!(
        names(&hw),
        [
            "acpitz",
            "x86_pkg_temp",
            "iwlwifi_1",
            "INT3400 Thermal",
            "acpitz/temp1",
            "coretemp/Package id ",
            "coretemp/Core 0",
            "coretemp/Core 1",
            "nvme/Composite",
        ]
    );
}

#[test]
fn first_sample_reads_exact_values() {
    let mut r = LinuxReader::new(fixture("linux-x86"));
    let s = r.sample();
    // Same /proc/stat as the baseline: no tick elapsed, so no load figure yet.
    assert_eq!(s.cpu_load_pm, None);
    let freqs: Vec<Option<u16>> = s.cores.iter().map(|c| c.freq_mhz).collect();
    assert_eq!(freqs, [Some(2400), Some(800), Some(2000), None]);
    assert_eq!(s.mem_total_kib, Some(16_303_412));
    assert_eq!(s.mem_used_kib, Some(16_303_412 - 9_876_543));
    assert_eq!(
        s.temps_cdeg.as_slice(),
        [
            Some(2780),
            Some(4568),
            None,
            Some(2000),
            Some(2780),
            Some(4600),
            Some(4400),
            Some(4350),
            Some(3885)
        ]
    );
    assert_eq!(
        (s.gpu_load_pm, s.gpu_freq_mhz, s.emc_load_pm),
        (None, None, None)
    );
    assert_eq!((s.total_power_mw, s.power_mode), (None, None));
    assert!(s.rails_mw.is_empty());
}

#[test]
fn loads_are_deltas_and_offline_core_is_none() {
    let root = copy_fixture("linux-x86");
    let mut r = LinuxReader::new(root.path());
    fs::write(root.path().join("proc/stat"), STAT_AFTER).unwrap();
    let s = r.sample();
    // all: busy +400 of +1000 ticks; cpu0 +200/+250; cpu1 +10/+250; cpu2 +0/+250
    assert_eq!(s.cpu_load_pm, Some(400));
    assert_eq!(
        s.cores.as_slice(),
        [
            CoreReading {
                load_pm: Some(800),
                freq_mhz: Some(2400)
            },
            CoreReading {
                load_pm: Some(40),
                freq_mhz: Some(800)
            },
            CoreReading {
                load_pm: Some(0),
                freq_mhz: Some(2000)
            },
            CoreReading {
                load_pm: None,
                freq_mhz: None
            },
        ]
    );
    let why: Vec<(String, String)> = r
        .unavailable()
        .into_iter()
        .map(|u| (u.field, u.reason))
        .collect();
    let offline = why.iter().find(|(f, _)| f == "cores[3].load_pm").unwrap();
    assert!(
        offline.1.starts_with("cpu3 is present but offline"),
        "{offline:?}"
    );
    let freq = why.iter().find(|(f, _)| f == "cores[3].freq_mhz").unwrap();
    assert!(
        freq.1.ends_with("cpu3/cpufreq/scaling_cur_freq: missing"),
        "{freq:?}"
    );
    let zone = why.iter().find(|(f, _)| f == "temps_cdeg[2]").unwrap();
    assert!(zone.1.ends_with("thermal_zone2/temp: missing"), "{zone:?}");
    for f in [
        "gpu_load_pm",
        "gpu_freq_mhz",
        "emc_load_pm",
        "rails_mw",
        "total_power_mw",
        "power_mode",
    ] {
        assert!(
            why.iter().any(|(g, _)| g == f),
            "{f} not reported unavailable"
        );
    }
}

#[test]
fn unreadable_file_reads_as_none_with_the_reason() {
    let root = copy_fixture("linux-x86");
    let file = root
        .path()
        .join("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
    let mut r = LinuxReader::new(root.path());
    let s = r.sample();
    if fs::read(&file).is_ok() {
        // Running as root: permission bits do not stop root, so the value is read.
        assert_eq!(s.cores[0].freq_mhz, Some(2400));
    } else {
        assert_eq!(s.cores[0].freq_mhz, None);
        let u = r
            .unavailable()
            .into_iter()
            .find(|u| u.field == "cores[0].freq_mhz")
            .unwrap();
        assert!(
            u.reason.ends_with("scaling_cur_freq: permission denied"),
            "{u:?}"
        );
    }
}

#[test]
fn unparseable_and_out_of_range_values_are_none() {
    let root = copy_fixture("linux-x86");
    let t = root.path().join("sys/class/thermal");
    fs::write(t.join("thermal_zone0/temp"), "N/A\n").unwrap();
    fs::write(t.join("thermal_zone1/temp"), "400000\n").unwrap();
    let mut r = LinuxReader::new(root.path());
    let s = r.sample();
    assert_eq!(&s.temps_cdeg[..2], [None, None]);
    let why = r.unavailable();
    let reason = |f: &str| {
        why.iter()
            .find(|u| u.field == f)
            .map(|u| u.reason.clone())
            .unwrap()
    };
    assert!(reason("temps_cdeg[0]").ends_with("cannot parse `N/A` as milli-°C"));
    assert!(
        reason("temps_cdeg[1]").ends_with("400000 is out of range for temps_cdeg (i16 centi-°C)")
    );
}

#[test]
fn sensor_that_disappears_raises_one_fault_and_one_entry() {
    let root = copy_fixture("linux-x86");
    let mut r = LinuxReader::new(root.path());
    assert_eq!(r.sample().temps_cdeg[1], Some(4568));
    assert!(
        r.take_faults().is_empty(),
        "absent-from-start sensors are not faults"
    );
    fs::remove_file(root.path().join("sys/class/thermal/thermal_zone1/temp")).unwrap();
    for _ in 0..3 {
        assert_eq!(r.sample().temps_cdeg[1], None);
    }
    let faults = r.take_faults();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].code, FaultCode::SensorRead as u16);
    assert!(
        faults[0].message.starts_with("temps_cdeg[1]: "),
        "{}",
        faults[0].message
    );
    let entries = r
        .unavailable()
        .into_iter()
        .filter(|u| u.field == "temps_cdeg[1]")
        .count();
    assert_eq!(entries, 1);
}

#[test]
fn device_tree_board_and_arm_core_names() {
    let mut r = LinuxReader::new(fixture("jetson-orin-dt"));
    let hw = r.hardware();
    assert_eq!(hw.board.as_str(), "NVIDIA Jetson AGX Orin Developer Kit");
    assert_eq!(hw.cpu_model.as_str(), "ARM Cortex-A78AE");
    assert_eq!(hw.cpu_cores, 2);
    assert_eq!(names(&hw), ["CPU-therm", "GPU-therm"]);
    assert_eq!(r.sample().temps_cdeg.as_slice(), [Some(4125), Some(3997)]);
}

#[test]
fn more_sensors_than_the_wire_carries_keeps_the_first_twelve() {
    let root = tempfile::tempdir().unwrap();
    for n in 0..14 {
        let zone = root
            .path()
            .join(format!("sys/class/thermal/thermal_zone{n}"));
        fs::create_dir_all(&zone).unwrap();
        fs::write(zone.join("type"), format!("zone-{n}\n")).unwrap();
        fs::write(zone.join("temp"), format!("{}\n", 30_000 + n * 1000)).unwrap();
    }
    let mut r = LinuxReader::new(root.path());
    let hw = r.hardware();
    assert_eq!(hw.thermal_zones.len(), MAX_TEMPS);
    assert_eq!(hw.thermal_zones.last().map(|s| s.as_str()), Some("zone-11"));
    assert_eq!(r.sample().temps_cdeg.last(), Some(&Some(4100)));
    let left = r
        .unavailable()
        .into_iter()
        .find(|u| u.field == "temps_cdeg[12..14]")
        .unwrap();
    assert!(
        left.reason.ends_with("left out: zone-12, zone-13"),
        "{left:?}"
    );
}

#[test]
fn empty_root_gives_nones_not_errors() {
    let root = tempfile::tempdir().unwrap();
    let mut r = LinuxReader::new(root.path());
    let hw = r.hardware();
    assert_eq!(
        (hw.board.as_str(), hw.cpu_model.as_str(), hw.cpu_cores),
        ("unknown", "unknown", 0)
    );
    let s = r.sample();
    assert_eq!(
        (s.cpu_load_pm, s.mem_total_kib, s.mem_used_kib),
        (None, None, None)
    );
    assert!(s.cores.is_empty() && s.temps_cdeg.is_empty());
    let why = r.unavailable();
    let stat = why.iter().find(|u| u.field == "cpu_load_pm").unwrap();
    assert!(stat.reason.ends_with("proc/stat: missing"), "{stat:?}");
}

#[test]
fn readers_conform() {
    conforms(&mut LinuxReader::new(fixture("linux-x86")));
    conforms(&mut LinuxReader::new(fixture("jetson-orin-dt")));
    conforms(&mut LinuxReader::new("/"));
    for tree in [
        "jetson-orin-nano-jp6",
        "jetson-agx-orin-jp5",
        "jetson-nano-jp4",
    ] {
        conforms(&mut JetsonReader::new(fixture(tree)));
    }
    conforms(&mut X86Reader::new(fixture("x86-rapl")));
    conforms(&mut X86Reader::new(fixture("linux-x86")));
    conforms(&mut JetsonReader::new("/"));
    conforms(&mut X86Reader::new("/"));
    conforms(open_reader("/").0.as_mut());
}

#[test]
fn board_without_any_source_says_what_was_tried() {
    let root = tempfile::tempdir().unwrap();
    let r = LinuxReader::new(root.path());
    let u = r
        .unavailable()
        .into_iter()
        .find(|u| u.field == "hardware.board")
        .unwrap();
    assert!(
        u.reason.starts_with("none of ") && u.reason.contains("proc/device-tree/model, "),
        "{u:?}"
    );
    assert!(
        u.reason
            .ends_with("sys/class/dmi/id/product_name is readable"),
        "{u:?}"
    );
}
