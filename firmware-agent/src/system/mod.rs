//! System readers: what the device is ([`HardwareSummary`]) and how it is doing ([`Sample`]).
//!
//! One trait, [`SystemReader`]; one file per implementation. Each reader takes a root
//! directory so tests run it on fixture trees (`tests/fixtures/`). [`open_reader`] picks
//! the implementation at start by looking at what is under the root (Jetson, x86, else
//! generic Linux); each reader in turn finds its sources by scanning, not by board tables.
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
//! | `isa`       | [`CpuIsa`]: the instruction-set facts INT8 results depend on |
//! | `linux`     | [`LinuxReader`], the generic Linux reader built from the above |
//! | `devfreq`   | devfreq nodes (Hz → MHz) and finding the GPU's by scanning |
//! | `gpu`       | finding nvgpu's `load` file by scanning; the GPU's name |
//! | `emc`       | EMC load from the activity monitor and the EMC clock (debugfs) |
//! | `ina3221`   | INA3221 power rails, hwmon (JetPack 5/6) and IIO (JetPack 4) layouts |
//! | `total_power` | [`TotalRule`]: which rail or sum is `total_power_mw` |
//! | `nvpmodel`  | power mode id and names |
//! | `l4t`       | L4T release (`R36.4.3`) |
//! | `jetson`    | [`JetsonReader`]: Linux reader + GPU, EMC, rails, power mode, L4T |
//! | `rapl`      | RAPL energy counters → power per zone |
//! | `x86`       | [`X86Reader`]: Linux reader + RAPL rails |
//! | `detect`    | [`detect`]/[`open_reader`]: picking the reader by what is under the root |
//! | `tegrastats`| parsing a `tegrastats` line into the same fields (fallback source) |
//! | `software`  | CUDA, TensorRT and kernel versions |
//! | `capability`| [`describe`]: the reader's side of the `Capability` message |
//! | `conditions`| hottest temperature, total power, energy over a run |
//!
//! Conventions: `None` in a reading means unsupported or unreadable, never zero; index `i`
//! of `Sample::temps_cdeg` is the sensor named at index `i` of
//! `HardwareSummary::thermal_zones`, fixed when the reader is created, and likewise
//! `Sample::rails_mw` and `HardwareSummary::rails`. `total_power_mw` follows
//! [`TotalRule`] (spec §4.3 plus the Nano's `POM_5V_IN` and x86's `psys`).

mod capability;
mod conditions;
mod cpufreq;
mod cpulist;
mod detect;
mod devfreq;
mod emc;
mod fields;
mod gpu;
mod hwmon;
mod identity;
mod ina3221;
mod isa;
mod jetson;
mod l4t;
mod linux;
mod meminfo;
mod nvpmodel;
mod procstat;
mod rapl;
mod root;
mod software;
mod tegrastats;
mod tegrastats_source;
mod temps;
mod thermal;
mod total_power;
mod x86;

pub use capability::{MAX_POWER_MODES, cpu_max_mhz, describe, total_power_rule};
pub use conditions::{EnergyMeter, energy_uj, hottest_cdeg, hottest_zone, total_power_mw};
pub use cpufreq::read_freq_mhz;
pub use cpulist::{CpuListError, MAX_CPUS, parse_cpu_list};
pub use detect::{Detection, ReaderKind, detect, open_reader};
pub use devfreq::{Devfreq, find_gpu as find_gpu_devfreq, hz_to_mhz, is_gpu_name};
pub use emc::{EmcSource, find as find_emc, load_pm as emc_load_pm};
pub use fields::{FieldLog, Unavailable};
pub use gpu::{find_load as find_gpu_load, read_load_pm as read_gpu_load_pm};
pub use hwmon::discover as discover_hwmon;
pub use identity::{read_board, read_cpu_model};
pub use ina3221::{Rail, RailSource, discover as discover_rails, mv_ma_to_mw};
pub use isa::CpuIsa;
pub use jetson::{JetsonReader, MAX_RAILS};
pub use l4t::{parse_release, read_l4t};
pub use linux::LinuxReader;
pub use meminfo::{MemReading, read_meminfo};
pub use nvpmodel::{PowerMode, parse_conf, parse_status, read_mode, read_modes};
pub use procstat::{CpuTimes, StatSnapshot, load_pm, parse_stat};
pub use rapl::{RaplMeter, RaplZone, discover as discover_rapl, power_mw};
pub use root::{ReadError, SysRoot};
pub use software::{read_cuda, read_kernel, read_tensorrt};
pub use tegrastats::{TegraRail, TegraStats, TegrastatsError, parse_line as parse_tegrastats};
pub use tegrastats_source::{TegrastatsReader, TegrastatsSourceError};
pub use temps::{SENSOR_OFF_MILLI, TempSensor, milli_to_centi};
pub use thermal::discover as discover_thermal;
pub use total_power::{INPUT_RAILS, TotalRule};
pub use x86::X86Reader;

use msao::message::{CapabilitySummary, Fault, HardwareSummary, Sample};

/// Most temperature sensors a `Sample` carries (`Sample::temps_cdeg` capacity).
pub const MAX_TEMPS: usize = 12;
/// Most cores a `Sample` carries (`Sample::cores` capacity).
pub const MAX_CORES: usize = 16;

/// Reads one kind of system. Implementations never fail as a whole: a field they cannot
/// read is `None`, explained once through [`FieldLog`].
pub trait SystemReader: Send {
    /// Short name for logs (`linux`, `jetson`, `x86`).
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
