//! `describe()` on every fixture: the reader's side of the `Capability` message, exact.

mod common;

use common::{copy_fixture, fixture};
use msao::message::Capability;
use msao_agent::system::{
    JetsonReader, LinuxReader, SysRoot, SystemReader, X86Reader, describe, total_power_rule,
};
use std::fs;

fn describe_tree(reader: &dyn SystemReader, name: &str) -> Capability {
    describe(reader, &SysRoot::new(fixture(name)), "edge-07")
}

fn modes(c: &Capability) -> Vec<&str> {
    c.power_modes.iter().map(|m| m.as_str()).collect()
}

#[test]
fn orin_nano_jetpack6() {
    let r = JetsonReader::new(fixture("jetson-orin-nano-jp6"));
    let c = describe_tree(&r, "jetson-orin-nano-jp6");
    assert_eq!(c.device_id.as_str(), "edge-07");
    assert_eq!(c.hardware, r.hardware());
    assert_eq!(c.cpu_max_mhz, Some(1728));
    assert_eq!(c.gpu.max_freq_mhz, Some(1020));
    assert_eq!(
        c.gpu.mem_kib,
        Some(7_802_532),
        "the GPU shares system memory"
    );
    assert_eq!((c.gpu.compute_capability, c.gpu.sm_count), (None, None));
    assert_eq!(modes(&c), ["15W", "25W", "MAXN_SUPER"]);
    assert_eq!(c.power_mode, Some(1));
    let sw = &c.software;
    assert_eq!(sw.l4t.as_deref(), Some("R36.4.3"));
    assert_eq!(sw.cuda.as_deref(), Some("12.6"));
    assert_eq!(sw.tensorrt.as_deref(), Some("10.3.0"));
    assert_eq!(sw.kernel.as_deref(), Some("5.15.148-tegra"));
    assert_eq!(sw.onnxruntime, None, "the runtime fills it");
    assert!(c.providers.is_empty());
    assert_eq!(
        total_power_rule(&c.hardware),
        "VDD_IN (the module's input rail)"
    );
}

#[test]
fn agx_orin_jetpack5() {
    let r = JetsonReader::new(fixture("jetson-agx-orin-jp5"));
    let c = describe_tree(&r, "jetson-agx-orin-jp5");
    assert_eq!(c.cpu_max_mhz, Some(2202), "2201.6 MHz, online cores only");
    assert_eq!(c.gpu.max_freq_mhz, Some(1301));
    assert_eq!(c.gpu.mem_kib, Some(64_335_836));
    assert_eq!(modes(&c), ["MAXN", "15W", "30W", "50W"]);
    assert_eq!(c.power_mode, Some(2));
    let sw = &c.software;
    assert_eq!(
        (
            sw.l4t.as_deref(),
            sw.cuda.as_deref(),
            sw.tensorrt.as_deref(),
            sw.kernel.as_deref()
        ),
        (
            Some("R35.4.1"),
            Some("11.4"),
            Some("8.5.2"),
            Some("5.10.120-tegra")
        )
    );
    assert_eq!(
        total_power_rule(&c.hardware),
        "sum of connected rails (VDD_GPU_SOC + VDD_CPU_CV + VIN_SYS_5V0 + VDDQ_VDD2_1V8AO)"
    );
}

#[test]
fn nano_jetpack4() {
    let r = JetsonReader::new(fixture("jetson-nano-jp4"));
    let c = describe_tree(&r, "jetson-nano-jp4");
    assert_eq!(c.hardware.gpu.as_deref(), Some("gm20b"));
    assert_eq!(c.cpu_max_mhz, Some(1479));
    assert_eq!(
        c.gpu.max_freq_mhz,
        Some(640),
        "devfreq max_freq: the 5W cap"
    );
    assert_eq!(modes(&c), ["MAXN", "5W"]);
    assert_eq!(c.power_mode, Some(1));
    let sw = &c.software;
    assert_eq!(
        (
            sw.l4t.as_deref(),
            sw.cuda.as_deref(),
            sw.tensorrt.as_deref(),
            sw.kernel.as_deref()
        ),
        (
            Some("R32.7.4"),
            Some("10.2"),
            Some("8.2.1"),
            Some("4.9.337-tegra")
        )
    );
    assert_eq!(
        total_power_rule(&c.hardware),
        "POM_5V_IN (the module's input rail)"
    );
}

#[test]
fn x86_host_has_no_gpu_and_no_l4t() {
    let r = X86Reader::new(fixture("x86-rapl"));
    let c = describe_tree(&r, "x86-rapl");
    assert_eq!(c.hardware.gpu, None);
    assert_eq!(c.cpu_max_mhz, Some(4700));
    assert_eq!((c.gpu.max_freq_mhz, c.gpu.mem_kib), (None, None));
    assert!(c.power_modes.is_empty());
    assert_eq!(c.power_mode, None);
    let sw = &c.software;
    assert_eq!(
        (sw.l4t.clone(), sw.cuda.clone(), sw.tensorrt.clone()),
        (None, None, None)
    );
    assert_eq!(sw.kernel.as_deref(), Some("6.8.0-45-generic"));
    assert_eq!(
        total_power_rule(&c.hardware),
        "psys (the module's input rail)"
    );

    let l = LinuxReader::new(fixture("linux-x86"));
    let c = describe_tree(&l, "linux-x86");
    assert_eq!(total_power_rule(&c.hardware), "none (no power rails)");
    assert_eq!(c.cpu_max_mhz, None, "the tree has no cpuinfo_max_freq");
}

#[test]
fn mode_ids_index_the_list_and_gaps_stay_empty() {
    let root = copy_fixture("jetson-nano-jp4");
    fs::write(
        root.path().join("etc/nvpmodel.conf"),
        "< POWER_MODEL ID=0 NAME=MAXN >\n< POWER_MODEL ID=3 NAME=10W_DESKTOP_MODE_LONG >\n< POWER_MODEL ID=9 NAME=TOO_HIGH >\n",
    )
    .unwrap();
    let r = JetsonReader::new(root.path());
    let c = describe(
        &r,
        &SysRoot::new(root.path()),
        "a-device-id-longer-than-thirty-two-bytes",
    );
    assert_eq!(modes(&c), ["MAXN", "", "", "10W_DESKTOP_MODE"]);
    assert_eq!(c.device_id.as_str(), "a-device-id-longer-than-thirty-t");
    assert_eq!(
        c.power_mode,
        Some(1),
        "status says 1 even if the conf lacks it"
    );
    assert_eq!(r.capability().power_mode_name, None);
}
