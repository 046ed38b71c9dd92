//! System readers: what the device is ([`HardwareSummary`]) and how it is doing ([`Sample`]).
//!
//! One trait, [`SystemReader`]; one file per implementation. Each reader takes a root
//! directory so tests run it on fixture trees (`tests/fixtures/`).
//!
//! | file        | owns |
//! |-------------|------|
//! | `root`      | reading small files under the root; [`ReadError`] |
//! | `fields`    | [`FieldLog`]: `None` plus one log line per unavailable field, sensor faults |
//! | `procstat`  | `/proc/stat` CPU times and busy share between two readings |
//! | `cpulist`   | kernel CPU lists (`0-3,5`) |
//! | `cpufreq`   | per-core frequency from cpufreq |
//! | `meminfo`   | `/proc/meminfo` total and used |
//! | `temps`     | [`TempSensor`], milli-°C → centi-°C |
//! | `thermal`   | discovering `/sys/class/thermal` zones |
//! | `hwmon`     | discovering `/sys/class/hwmon` temperature inputs |
//! | `identity`  | board and CPU model names |
//! | `linux`     | [`LinuxReader`], the generic Linux reader built from the above |
//!
//! Conventions: `None` in a reading means unsupported or unreadable, never zero; index `i`
//! of `Sample::temps_cdeg` is the sensor named at index `i` of
//! `HardwareSummary::thermal_zones`, fixed when the reader is created.

mod cpufreq;
mod cpulist;
mod fields;
mod hwmon;
mod identity;
mod linux;
mod meminfo;
mod procstat;
mod root;
mod temps;
mod thermal;

pub use cpufreq::read_freq_mhz;
pub use cpulist::{CpuListError, MAX_CPUS, parse_cpu_list};
pub use fields::{FieldLog, Unavailable};
pub use hwmon::discover as discover_hwmon;
pub use identity::{read_board, read_cpu_model};
pub use linux::LinuxReader;
pub use meminfo::{MemReading, read_meminfo};
pub use procstat::{CpuTimes, StatSnapshot, load_pm, parse_stat};
pub use root::{ReadError, SysRoot};
pub use temps::{TempSensor, milli_to_centi};
pub use thermal::discover as discover_thermal;

use msao::message::{CapabilitySummary, Fault, HardwareSummary, Sample};

/// Most temperature sensors a `Sample` carries (`Sample::temps_cdeg` capacity).
pub const MAX_TEMPS: usize = 12;
/// Most cores a `Sample` carries (`Sample::cores` capacity).
pub const MAX_CORES: usize = 16;

/// Reads one kind of system. Implementations never fail as a whole: a field they cannot
/// read is `None`, explained once through [`FieldLog`].
pub trait SystemReader: Send {
    /// Short name for logs (`linux`, later `jetson-orin`).
    fn name(&self) -> &'static str;

    /// Static facts, discovered when the reader was created. Its name lists give meaning
    /// to the index-based arrays of every [`Sample`] this reader returns.
    fn hardware(&self) -> HardwareSummary;

    /// L4T release and power mode for `Hello`'s capability summary (`providers` is filled by
    /// the caller from the loaded runtime). Readers without those facts return all `None`.
    fn capability(&self) -> CapabilitySummary {
        CapabilitySummary {
            providers: heapless::Vec::new(),
            l4t: None,
            power_mode: None,
            power_mode_name: None,
        }
    }

    /// One reading. Loads are busy shares since the previous call (the first call measures
    /// from the reader's creation). `drops` is left zero for the caller to fill.
    fn sample(&mut self) -> Sample;

    /// Faults raised since the last call (a field that was readable stopped being so).
    fn take_faults(&mut self) -> Vec<Fault>;

    /// Fields that are unavailable now, with the reason (for logs and diagnostics).
    fn unavailable(&self) -> Vec<Unavailable>;
}
