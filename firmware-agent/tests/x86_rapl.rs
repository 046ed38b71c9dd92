//! The x86 reader: RAPL zones as rails, power from energy deltas (with wrap-around), `psys`
//! as the total, and root-only counters degrading to `None`.

mod common;

use common::{copy_fixture, fixture};
use msao_agent::system::{RaplMeter, SysRoot, SystemReader, X86Reader, discover_rapl};
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    time::{Duration, Instant},
};

const PKG: &str = "sys/class/powercap/intel-rapl:0/energy_uj";
const PSYS: &str = "sys/class/powercap/intel-rapl:1/energy_uj";

#[test]
fn top_level_zones_are_the_rails() {
    let zones = discover_rapl(&SysRoot::new(fixture("x86-rapl"))).unwrap();
    let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
    assert_eq!(
        names,
        ["package-0", "psys"],
        "sub-zones and the control dir are not rails"
    );
    assert_eq!(zones[0].max_range_uj, Some(262_143_328_850));

    let r = X86Reader::new(fixture("x86-rapl"));
    assert_eq!(r.name(), "x86");
    let hw = r.hardware();
    let rails: Vec<&str> = hw.rails.iter().map(|s| s.as_str()).collect();
    assert_eq!(rails, ["package-0", "psys"]);
    assert_eq!(hw.gpu, None);
    assert_eq!(r.total_power_rule(), "psys (the module's input rail)");
}

#[test]
fn meter_turns_energy_deltas_into_exact_milliwatts() {
    let root = copy_fixture("x86-rapl");
    let sys = SysRoot::new(root.path());
    let zones = discover_rapl(&sys).unwrap();
    let t0 = Instant::now();
    let mut m = RaplMeter::new(&sys, zones, t0);
    // package: 1 000 000 → 3 500 000 µJ in 0.5 s = 5 W; psys 5 000 000 → 9 000 000 = 8 W
    fs::write(root.path().join(PKG), "3500000\n").unwrap();
    fs::write(root.path().join(PSYS), "9000000\n").unwrap();
    let got = m.read(&sys, t0 + Duration::from_millis(500));
    assert_eq!(got, [Ok(Some(5000)), Ok(Some(8000))]);
    // The package counter wraps at max_energy_range_uj: 1 000 000 µJ to the top, then
    // 2 000 000 µJ past zero, in 1 s = 3 W.
    fs::write(root.path().join(PKG), "262142328850\n").unwrap();
    m.read(&sys, t0 + Duration::from_millis(1500));
    fs::write(root.path().join(PKG), "2000000\n").unwrap();
    let got = m.read(&sys, t0 + Duration::from_millis(2500));
    assert_eq!(
        got,
        [Ok(Some(3000)), Ok(Some(0))],
        "an idle zone reads a real 0 mW"
    );
}

#[test]
fn sample_has_rails_and_psys_as_total() {
    let root = copy_fixture("x86-rapl");
    let mut r = X86Reader::new(root.path());
    std::thread::sleep(Duration::from_millis(20));
    fs::write(root.path().join(PKG), "1200000\n").unwrap();
    fs::write(root.path().join(PSYS), "5500000\n").unwrap();
    let s = r.sample();
    // Values depend on the elapsed wall time; that they exist, and which is the total, do not.
    assert_eq!(s.rails_mw.len(), 2);
    assert!(s.rails_mw.iter().all(Option::is_some), "{:?}", s.rails_mw);
    assert_eq!(s.total_power_mw, s.rails_mw[1]);
    assert_eq!(
        (s.gpu_load_pm, s.gpu_freq_mhz, s.emc_load_pm, s.power_mode),
        (None, None, None, None)
    );
    assert_eq!(s.temps_cdeg.as_slice(), [Some(4600)]);
    let why = r.unavailable();
    let gpu = why.iter().find(|u| u.field == "gpu_load_pm").unwrap();
    assert!(
        gpu.reason == "discrete GPUs are not read on x86 hosts",
        "{gpu:?}"
    );
}

#[test]
fn unreadable_counter_is_none_and_the_total_too() {
    let root = copy_fixture("x86-rapl");
    let psys = root.path().join(PSYS);
    fs::remove_file(&psys).unwrap();
    fs::create_dir(&psys).unwrap();
    let mut r = X86Reader::new(root.path());
    let s = r.sample();
    assert_eq!(s.rails_mw[1], None);
    assert_eq!(
        s.total_power_mw, None,
        "psys is the total and it is unreadable"
    );
    let u = r
        .unavailable()
        .into_iter()
        .find(|u| u.field == "rails_mw[1]")
        .unwrap();
    assert!(u.reason.contains("Is a directory"), "{u:?}");
}

#[test]
fn root_only_counter_says_why_when_not_root() {
    let root = copy_fixture("x86-rapl");
    let pkg = root.path().join(PKG);
    fs::set_permissions(&pkg, fs::Permissions::from_mode(0o000)).unwrap();
    let mut r = X86Reader::new(root.path());
    let s = r.sample();
    if fs::read(&pkg).is_ok() {
        // Running as root: permission bits do not stop root. The first sample after the
        // baseline has a figure (the counter did not move: 0 mW).
        assert_eq!(s.rails_mw[0], Some(0));
    } else {
        assert_eq!(s.rails_mw[0], None);
        let u = r
            .unavailable()
            .into_iter()
            .find(|u| u.field == "rails_mw[0]")
            .unwrap();
        assert!(u.reason.contains("CVE-2020-8694"), "{u:?}");
    }
}

#[test]
fn no_powercap_means_no_rails_and_no_total() {
    let mut r = X86Reader::new(fixture("linux-x86"));
    assert!(r.hardware().rails.is_empty());
    let s = r.sample();
    assert!(s.rails_mw.is_empty());
    assert_eq!(s.total_power_mw, None);
    let u = r
        .unavailable()
        .into_iter()
        .find(|u| u.field == "rails_mw")
        .unwrap();
    assert!(u.reason.starts_with("no RAPL: "), "{u:?}");
}
