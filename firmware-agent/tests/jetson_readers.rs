//! The Jetson reader on the Orin Nano (JetPack 6), AGX Orin (JetPack 5) and Nano (JetPack 4)
//! trees: exact values, sources found by scanning, missing and unreadable files → `None`.

mod common;

use common::{copy_fixture, fixture};
use msao::message::{CoreReading, FaultCode, HardwareSummary, Sample};
use msao_agent::system::{
    JetsonReader, ReaderKind, SysRoot, SystemReader, detect, hottest_cdeg, hottest_zone,
    open_reader,
};
use std::{fs, os::unix::fs::PermissionsExt, path::Path};

fn zones(hw: &HardwareSummary) -> Vec<&str> {
    hw.thermal_zones.iter().map(|s| s.as_str()).collect()
}

fn rails(hw: &HardwareSummary) -> Vec<&str> {
    hw.rails.iter().map(|s| s.as_str()).collect()
}

fn freqs(s: &Sample) -> Vec<Option<u16>> {
    s.cores.iter().map(|c| c.freq_mhz).collect()
}

fn reason(r: &dyn SystemReader, field: &str) -> String {
    r.unavailable()
        .into_iter()
        .find(|u| u.field == field)
        .map(|u| u.reason)
        .unwrap_or_else(|| panic!("{field} is not reported unavailable"))
}

#[test]
fn orin_nano_jetpack6_exact_values() {
    let mut r = JetsonReader::new(fixture("jetson-orin-nano-jp6"));
    assert_eq!(r.name(), "jetson");
    let hw = r.hardware();
    // The model string is 63 bytes; the wire field holds 48.
    assert_eq!(
        hw.board.as_str(),
        "NVIDIA Jetson Orin Nano Engineering Reference De"
    );
    assert_eq!(hw.cpu_model.as_str(), "ARM Cortex-A78AE");
    assert_eq!(hw.cpu_cores, 6);
    assert_eq!(hw.mem_total_kib, Some(7_802_532));
    assert_eq!(hw.gpu.as_deref(), Some("ga10b"));
    assert_eq!(
        zones(&hw),
        [
            "cpu-thermal",
            "gpu-thermal",
            "soc0-thermal",
            "soc1-thermal",
            "soc2-thermal",
            "tj-thermal"
        ]
    );
    assert_eq!(rails(&hw), ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]);

    let s = r.sample();
    assert_eq!(s.gpu_load_pm, Some(274));
    assert_eq!(s.gpu_freq_mhz, Some(612));
    assert_eq!(s.emc_load_pm, None, "no debugfs in this tree");
    assert_eq!(
        s.temps_cdeg.as_slice(),
        [
            Some(4750),
            Some(4603),
            Some(4534),
            Some(4559),
            Some(4475),
            Some(4806)
        ]
    );
    assert_eq!(s.rails_mw.as_slice(), [Some(5186), Some(900), Some(1497)]);
    assert_eq!(s.total_power_mw, Some(5186), "VDD_IN is the total");
    assert_eq!(s.power_mode, Some(1));
    assert_eq!(
        freqs(&s),
        [
            Some(1728),
            Some(730),
            Some(1114),
            Some(1728),
            Some(1728),
            Some(1498)
        ]
    );
    assert_eq!(s.mem_used_kib, Some(7_802_532 - 5_426_188));
    assert_eq!(s.cpu_load_pm, None, "no tick since the baseline");
    assert_eq!(hottest_zone(&s, &hw), Some(("tj-thermal", 4806)));

    let c = r.capability();
    assert_eq!(c.l4t.as_deref(), Some("R36.4.3"));
    assert_eq!(c.power_mode, Some(1));
    assert_eq!(c.power_mode_name.as_deref(), Some("25W"));
    assert!(c.providers.is_empty());
    assert_eq!(r.total_power_rule(), "VDD_IN (the module's input rail)");

    let emc = reason(&r, "emc_load_pm");
    assert!(emc.contains("readable by root only"), "{emc}");
    assert!(r.take_faults().is_empty());
}

#[test]
fn agx_orin_jetpack5_exact_values() {
    let mut r = JetsonReader::new(fixture("jetson-agx-orin-jp5"));
    let hw = r.hardware();
    assert_eq!(hw.board.as_str(), "Jetson AGX Orin Developer Kit");
    assert_eq!(hw.cpu_cores, 12);
    assert_eq!(hw.gpu.as_deref(), Some("ga10b"));
    assert_eq!(
        rails(&hw),
        [
            "VDD_GPU_SOC",
            "VDD_CPU_CV",
            "VIN_SYS_5V0",
            "VDDQ_VDD2_1V8AO"
        ],
        "NC channels are skipped"
    );
    assert_eq!(zones(&hw)[2], "CV0-therm");

    let s = r.sample();
    assert_eq!(
        s.gpu_load_pm,
        Some(513),
        "found by scanning platform devices"
    );
    assert_eq!(
        s.gpu_freq_mhz,
        Some(1301),
        "1300.5 MHz rounds up; VIC skipped"
    );
    assert_eq!(s.emc_load_pm, Some(267));
    assert_eq!(
        s.temps_cdeg.as_slice(),
        [
            Some(5172),
            Some(4906),
            None,
            None,
            None,
            Some(4859),
            Some(4744),
            Some(4778),
            Some(5172)
        ],
        "-256 °C is a switched-off sensor"
    );
    assert_eq!(
        s.rails_mw.as_slice(),
        [Some(6270), Some(2386), Some(3926), Some(604)]
    );
    assert_eq!(s.total_power_mw, Some(13_186), "no VDD_IN: sum of rails");
    assert_eq!(s.power_mode, Some(2));
    let mut expect = vec![Some(730); 8];
    expect.extend([None; 4]);
    assert_eq!(freqs(&s), expect, "cores 8-11 offline in 30W mode");
    assert_eq!(
        s.cores[11],
        CoreReading {
            load_pm: None,
            freq_mhz: None
        }
    );
    let c = r.capability();
    assert_eq!(
        (c.l4t.as_deref(), c.power_mode, c.power_mode_name.as_deref()),
        (Some("R35.4.1"), Some(2), Some("30W"))
    );
    assert_eq!(
        r.total_power_rule(),
        "sum of connected rails (VDD_GPU_SOC + VDD_CPU_CV + VIN_SYS_5V0 + VDDQ_VDD2_1V8AO)"
    );
    // A switched-off sensor is normal: no log entry, no fault.
    assert!(r.unavailable().iter().all(|u| u.field != "temps_cdeg[2]"));
    assert!(r.take_faults().is_empty());
}

#[test]
fn nano_jetpack4_exact_values() {
    let mut r = JetsonReader::new(fixture("jetson-nano-jp4"));
    let hw = r.hardware();
    assert_eq!(hw.board.as_str(), "NVIDIA Jetson Nano Developer Kit");
    assert_eq!(hw.cpu_model.as_str(), "ARM Cortex-A57");
    assert_eq!(hw.cpu_cores, 4);
    assert_eq!(
        hw.gpu.as_deref(),
        Some("gm20b"),
        "from the tegra210 compatible"
    );
    assert_eq!(rails(&hw), ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"]);

    let s = r.sample();
    assert_eq!(s.gpu_load_pm, Some(87));
    assert_eq!(s.gpu_freq_mhz, Some(77));
    assert_eq!(s.emc_load_pm, Some(128));
    assert_eq!(s.rails_mw.as_slice(), [Some(2446), Some(0), Some(571)]);
    assert_eq!(
        s.total_power_mw,
        Some(2446),
        "POM_5V_IN is the input; the sum (3017) would count GPU and CPU twice"
    );
    assert_eq!(s.power_mode, Some(1));
    assert_eq!(freqs(&s), [Some(918), Some(918), None, None]);
    assert_eq!(
        s.temps_cdeg.as_slice(),
        [
            Some(4050),
            Some(3350),
            Some(3300),
            Some(3100),
            Some(10000),
            Some(3320)
        ]
    );
    assert_eq!(
        hottest_cdeg(&s, &hw),
        Some(4050),
        "PMIC-Die's fixed 100 °C is not a measurement"
    );
    let c = r.capability();
    assert_eq!(
        (c.l4t.as_deref(), c.power_mode, c.power_mode_name.as_deref()),
        (Some("R32.7.4"), Some(1), Some("5W"))
    );
    assert_eq!(r.total_power_rule(), "POM_5V_IN (the module's input rail)");
}

#[test]
fn cpu_loads_are_deltas_on_a_jetson_too() {
    let root = copy_fixture("jetson-nano-jp4");
    let mut r = JetsonReader::new(root.path());
    fs::write(
        root.path().join("proc/stat"),
        "cpu  2300 0 1100 16500 1100 0 0 0 0 0\n\
         cpu0 1200 0 550 8150 600 0 0 0 0 0\n\
         cpu1 1100 0 550 8350 500 0 0 0 0 0\n",
    )
    .unwrap();
    let s = r.sample();
    // all: busy +400 of +1000; cpu0 +250 of +500; cpu1 +150 of +500
    assert_eq!(s.cpu_load_pm, Some(400));
    let loads: Vec<Option<u16>> = s.cores.iter().map(|c| c.load_pm).collect();
    assert_eq!(loads, [Some(500), Some(300), None, None]);
}

#[test]
fn values_follow_the_files_between_samples() {
    let root = copy_fixture("jetson-orin-nano-jp6");
    let mut r = JetsonReader::new(root.path());
    r.sample();
    let p = root.path();
    fs::write(p.join("sys/devices/platform/gpu.0/load"), "999\n").unwrap();
    fs::write(
        p.join("sys/class/devfreq/17000000.gpu/cur_freq"),
        "1020000000\n",
    )
    .unwrap();
    fs::write(
        p.join("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr1_input"),
        "2000\n",
    )
    .unwrap();
    fs::write(
        p.join("var/lib/nvpmodel/status"),
        "pmode:0002 fmode:quiet\n",
    )
    .unwrap();
    let s = r.sample();
    assert_eq!((s.gpu_load_pm, s.gpu_freq_mhz), (Some(999), Some(1020)));
    assert_eq!(s.rails_mw[0], Some(10_128));
    assert_eq!(s.total_power_mw, Some(10_128));
    assert_eq!(s.power_mode, Some(2));
    assert_eq!(
        r.capability().power_mode_name.as_deref(),
        Some("MAXN_SUPER")
    );
}

#[test]
fn files_that_vanish_read_as_none_with_one_fault_each() {
    let root = copy_fixture("jetson-orin-nano-jp6");
    let mut r = JetsonReader::new(root.path());
    assert_eq!(r.sample().gpu_load_pm, Some(274));
    let p = root.path();
    fs::remove_file(p.join("sys/devices/platform/gpu.0/load")).unwrap();
    fs::remove_file(p.join("sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/in2_input")).unwrap();
    fs::remove_file(p.join("var/lib/nvpmodel/status")).unwrap();
    for _ in 0..3 {
        let s = r.sample();
        assert_eq!(s.gpu_load_pm, None);
        assert_eq!(s.rails_mw.as_slice(), [Some(5186), None, Some(1497)]);
        assert_eq!(
            s.total_power_mw,
            Some(5186),
            "VDD_IN does not need the others"
        );
        assert_eq!(s.power_mode, None);
    }
    let faults = r.take_faults();
    let mut msgs: Vec<&str> = faults.iter().map(|f| f.message.as_str()).collect();
    msgs.sort_unstable();
    assert_eq!(faults.len(), 3, "{msgs:?}");
    assert!(
        faults
            .iter()
            .all(|f| f.code == FaultCode::SensorRead as u16)
    );
    assert!(msgs[0].starts_with("gpu_load_pm: "), "{msgs:?}");
    assert!(msgs[1].starts_with("power_mode: "), "{msgs:?}");
    assert!(msgs[2].starts_with("rails_mw[1]: "), "{msgs:?}");
    assert!(reason(&r, "rails_mw[1]").ends_with("in2_input: missing"));
}

#[test]
fn a_missing_rail_of_a_sum_makes_the_total_none_not_smaller() {
    let root = copy_fixture("jetson-agx-orin-jp5");
    let mut r = JetsonReader::new(root.path());
    fs::remove_file(
        root.path()
            .join("sys/bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon4/curr2_input"),
    )
    .unwrap();
    let s = r.sample();
    assert_eq!(s.rails_mw[3], None);
    assert_eq!(s.total_power_mw, None);
}

/// Replaces a file by a directory: unreadable even for root, which ignores permission bits.
fn make_unreadable(path: &Path) {
    fs::remove_file(path).unwrap();
    fs::create_dir(path).unwrap();
}

#[test]
fn unreadable_files_are_none_not_zero_and_say_why() {
    let root = copy_fixture("jetson-agx-orin-jp5");
    let p = root.path();
    for rel in [
        "sys/devices/platform/17000000.ga10b/load",
        "sys/class/devfreq/17000000.ga10b/cur_freq",
        "sys/kernel/debug/bpmp/debug/clk/emc/rate",
        "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/in1_input",
        "var/lib/nvpmodel/status",
    ] {
        make_unreadable(&p.join(rel));
    }
    let mut r = JetsonReader::new(p);
    let s = r.sample();
    assert_eq!(
        (s.gpu_load_pm, s.gpu_freq_mhz, s.emc_load_pm, s.power_mode),
        (None, None, None, None)
    );
    assert_eq!(
        s.rails_mw.as_slice(),
        [None, Some(2386), Some(3926), Some(604)]
    );
    assert_eq!(s.total_power_mw, None);
    for field in [
        "gpu_load_pm",
        "gpu_freq_mhz",
        "emc_load_pm",
        "rails_mw[0]",
        "power_mode",
    ] {
        let why = reason(&r, field);
        assert!(why.contains("Is a directory"), "{field}: {why}");
    }
    assert_eq!(r.capability().power_mode, None);
    assert!(
        r.take_faults().is_empty(),
        "unreadable from the start: no fault"
    );
}

#[test]
fn permission_denied_reads_as_none_when_not_root() {
    let root = copy_fixture("jetson-orin-nano-jp6");
    let file = root.path().join("sys/devices/platform/gpu.0/load");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
    let mut r = JetsonReader::new(root.path());
    let s = r.sample();
    if fs::read(&file).is_ok() {
        // Running as root: permission bits do not stop root, so the value is read. The
        // directory-instead-of-file test covers the unreadable case for root.
        assert_eq!(s.gpu_load_pm, Some(274));
    } else {
        assert_eq!(s.gpu_load_pm, None);
        assert!(reason(&r, "gpu_load_pm").ends_with("load: permission denied"));
    }
}

#[test]
fn garbage_and_out_of_range_values_are_none() {
    let root = copy_fixture("jetson-orin-nano-jp6");
    let p = root.path();
    fs::write(p.join("sys/devices/platform/gpu.0/load"), "1200\n").unwrap();
    fs::write(p.join("sys/class/devfreq/17000000.gpu/cur_freq"), "fast\n").unwrap();
    fs::write(p.join("var/lib/nvpmodel/status"), "fmode:quiet\n").unwrap();
    let mut r = JetsonReader::new(p);
    let s = r.sample();
    assert_eq!(
        (s.gpu_load_pm, s.gpu_freq_mhz, s.power_mode),
        (None, None, None)
    );
    assert!(reason(&r, "gpu_load_pm").ends_with("1200 is out of range for gpu_load_pm (0..=1000)"));
    assert!(reason(&r, "gpu_freq_mhz").ends_with("cannot parse `fast` as Hz"));
    assert!(reason(&r, "power_mode").contains("`pmode:NNNN`"));
}

#[test]
fn an_empty_root_gives_nones_and_reasons() {
    let root = tempfile::tempdir().unwrap();
    let mut r = JetsonReader::new(root.path());
    let hw = r.hardware();
    assert_eq!((hw.gpu.clone(), hw.rails.len()), (None, 0));
    let s = r.sample();
    assert_eq!(
        (
            s.gpu_load_pm,
            s.gpu_freq_mhz,
            s.emc_load_pm,
            s.total_power_mw,
            s.power_mode
        ),
        (None, None, None, None, None)
    );
    let c = r.capability();
    assert_eq!((c.l4t, c.power_mode, c.power_mode_name), (None, None, None));
    for field in [
        "gpu_load_pm",
        "gpu_freq_mhz",
        "emc_load_pm",
        "rails_mw",
        "total_power_mw",
        "power_mode",
        "power_modes",
        "l4t",
    ] {
        reason(&r, field);
    }
    assert!(reason(&r, "gpu_load_pm").starts_with("none of "));
    assert!(reason(&r, "l4t").ends_with("etc/nv_tegra_release: missing"));
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn gpu_found_under_bus_at_0_and_devfreq_found_by_device_link() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    // Orin on JetPack 6 with a kernel that puts the GPU under bus@0 and no gpu.0 alias.
    write(p, "sys/devices/platform/bus@0/17000000.gpu/load", "42\n");
    // A devfreq node whose name says nothing; its `device` link points at the GPU.
    write(p, "sys/class/devfreq/dev0/cur_freq", "918000000\n");
    std::os::unix::fs::symlink(
        "../../../devices/platform/bus@0/17000000.gpu",
        p.join("sys/class/devfreq/dev0/device"),
    )
    .unwrap();
    let mut r = JetsonReader::new(p);
    let s = r.sample();
    assert_eq!((s.gpu_load_pm, s.gpu_freq_mhz), (Some(42), Some(918)));
}

#[test]
fn gpu_load_next_to_the_devfreq_node() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    write(p, "sys/class/devfreq/gpu-gpc-0/cur_freq", "306000000\n");
    write(p, "sys/class/devfreq/gpu-gpc-0/device/load", "5\n");
    let mut r = JetsonReader::new(p);
    let s = r.sample();
    assert_eq!((s.gpu_load_pm, s.gpu_freq_mhz), (Some(5), Some(306)));
    assert_eq!(r.hardware().gpu.as_deref(), Some("gpu-gpc-0"));
}

#[test]
fn xavier_nx_iio_rails_without_power_files_use_volts_times_amps() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    let d = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0";
    for (c, (name, mv, ma)) in [
        ("VDD_IN", 5000, 779),
        ("VDD_CPU_GPU_CV", 5000, 98),
        ("VDD_SOC", 5000, 245),
    ]
    .into_iter()
    .enumerate()
    {
        write(p, &format!("{d}/rail_name_{c}"), &format!("{name}\n"));
        write(p, &format!("{d}/in_voltage{c}_input"), &format!("{mv}\n"));
        write(p, &format!("{d}/in_current{c}_input"), &format!("{ma}\n"));
    }
    let mut r = JetsonReader::new(p);
    let s = r.sample();
    assert_eq!(s.rails_mw.as_slice(), [Some(3895), Some(490), Some(1225)]);
    assert_eq!(s.total_power_mw, Some(3895));
}

#[test]
fn more_rails_than_the_wire_carries_still_count_in_the_total() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    for dev in 0..4 {
        let h = format!("sys/bus/i2c/drivers/ina3221/1-004{dev}/hwmon/hwmon{dev}");
        for c in 1..=3 {
            write(p, &format!("{h}/in{c}_label"), &format!("R{dev}_{c}\n"));
            write(p, &format!("{h}/in{c}_input"), "1000\n");
            write(p, &format!("{h}/curr{c}_input"), "100\n");
        }
    }
    let mut r = JetsonReader::new(p);
    assert_eq!(r.hardware().rails.len(), 8);
    let s = r.sample();
    assert_eq!(s.rails_mw.len(), 8);
    assert_eq!(s.total_power_mw, Some(1200), "12 rails × 100 mW");
    assert!(reason(&r, "rails_mw[8..12]").contains("R2_3, R3_1, R3_2, R3_3"));
}

#[test]
fn detection_by_what_is_there() {
    let kind = |name: &str| detect(&SysRoot::new(fixture(name))).kind;
    assert_eq!(kind("jetson-orin-nano-jp6"), ReaderKind::Jetson);
    assert_eq!(kind("jetson-agx-orin-jp5"), ReaderKind::Jetson);
    assert_eq!(kind("jetson-nano-jp4"), ReaderKind::Jetson);
    assert_eq!(kind("x86-rapl"), ReaderKind::X86);
    assert_eq!(
        kind("linux-x86"),
        ReaderKind::X86,
        "vendor_id in /proc/cpuinfo"
    );
    assert_eq!(
        kind("jetson-orin-dt"),
        ReaderKind::Linux,
        "a model string alone is no proof"
    );

    // No release file (a container): the device tree, the GPU or a rail is enough.
    let root = copy_fixture("jetson-nano-jp4");
    fs::remove_file(root.path().join("etc/nv_tegra_release")).unwrap();
    let d = detect(&SysRoot::new(root.path()));
    assert_eq!(d.kind, ReaderKind::Jetson);
    assert_eq!(d.evidence, "device tree is compatible with nvidia,tegra210");
    fs::remove_file(root.path().join("proc/device-tree/compatible")).unwrap();
    let d = detect(&SysRoot::new(root.path()));
    assert!(d.evidence.starts_with("GPU load file "), "{d}");
    fs::remove_file(root.path().join("sys/devices/gpu.0/load")).unwrap();
    let d = detect(&SysRoot::new(root.path()));
    assert_eq!(d.evidence, "INA3221 rail POM_5V_IN");

    let empty = tempfile::tempdir().unwrap();
    assert_eq!(detect(&SysRoot::new(empty.path())).kind, ReaderKind::Linux);
    let (reader, _) = open_reader(fixture("jetson-nano-jp4"));
    assert_eq!(reader.name(), "jetson");
    let (reader, _) = open_reader(fixture("x86-rapl"));
    assert_eq!(reader.name(), "x86");
    let (reader, _) = open_reader(empty.path());
    assert_eq!(reader.name(), "linux");
}
