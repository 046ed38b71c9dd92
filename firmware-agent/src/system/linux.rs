//! The generic Linux reader: `/proc/stat`, cpufreq, `/proc/meminfo`, thermal zones, hwmon.
//!
//! Works on any Linux (x86 laptop, VM, Jetson without its extras). GPU, EMC, power rails
//! and power mode have no generic source, so they are always `None` here; the Jetson
//! readers provide them.

use super::{
    FieldLog, MAX_CORES, MAX_TEMPS, ReadError, StatSnapshot, SysRoot, SystemReader, TempSensor,
    Unavailable, cpufreq::read_freq_mhz, cpulist::parse_cpu_list, hwmon, load_pm,
    meminfo::read_meminfo, parse_stat, read_board, read_cpu_model, root::parse_error, thermal,
};
use msao::message::{CoreReading, Fault, HardwareSummary, Sample, TelemetryDrops, truncated};
use std::path::PathBuf;

const STAT: &str = "proc/stat";
const PRESENT: &str = "sys/devices/system/cpu/present";
const NO_SOURCE: &str = "the generic Linux reader has no source for it";
const UNSUPPORTED: [&str; 6] = [
    "gpu_load_pm",
    "gpu_freq_mhz",
    "emc_load_pm",
    "rails_mw",
    "total_power_mw",
    "power_mode",
];

/// Reads a Linux system under a root directory.
#[derive(Debug)]
pub struct LinuxReader {
    root: SysRoot,
    /// Present CPUs, ascending; `Sample::cores[i]` is the i-th of them.
    cpus: Vec<u32>,
    /// At most [`MAX_TEMPS`]; `Sample::temps_cdeg[i]` is sensor i.
    sensors: Vec<TempSensor>,
    hardware: HardwareSummary,
    /// The previous `/proc/stat`, the baseline of the next load figures.
    prev: Option<StatSnapshot>,
    fields: FieldLog,
}

impl LinuxReader {
    /// Discovers CPUs and sensors under `root` and takes the first `/proc/stat` baseline.
    /// Never fails: whatever is missing is reported through the log and read as `None`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let mut reader = Self::base(SysRoot::new(root));
        for field in UNSUPPORTED {
            reader.fields.unsupported(field, NO_SOURCE);
        }
        reader
    }

    /// The CPU, memory and temperature part alone, for the readers that add the fields
    /// this one lacks (Jetson, x86): those fields are theirs to explain, so they are not
    /// marked unsupported here.
    pub(super) fn base(root: SysRoot) -> Self {
        let mut fields = FieldLog::new();
        let stat = root.read_text(STAT).map(|t| parse_stat(&t));
        let cpus = present_cpus(&root, stat.as_ref().ok(), &mut fields);
        let sensors = discover_sensors(&root, &mut fields);
        if cpus.len() > MAX_CORES {
            let field = format!("cores[{MAX_CORES}..{}]", cpus.len());
            fields.unsupported(&field, "a Sample carries 16 cores");
        }
        let board = fields.check("hardware.board", read_board(&root));
        let cpu_model = fields.check("hardware.cpu_model", read_cpu_model(&root));
        let hardware = HardwareSummary {
            board: truncated(board.as_deref().unwrap_or("unknown")),
            cpu_model: truncated(cpu_model.as_deref().unwrap_or("unknown")),
            cpu_cores: u16::try_from(cpus.len()).unwrap_or(u16::MAX),
            mem_total_kib: fields.check("mem_total_kib", read_meminfo(&root).total_kib),
            gpu: None,
            thermal_zones: bounded(sensors.iter().map(|s| s.name.clone())),
            rails: heapless::Vec::new(),
        };
        Self {
            root,
            cpus,
            sensors,
            hardware,
            prev: stat.ok(),
            fields,
        }
    }

    fn core(&mut self, i: usize, cpu: u32, stat: &Result<StatSnapshot, ReadError>) -> CoreReading {
        let load = match stat {
            Err(e) => Err(e.clone()),
            Ok(now) => match now.cores.get(&cpu) {
                None => Err(ReadError::Offline {
                    cpu,
                    path: self.root.path(STAT),
                }),
                // A core that just came online has no baseline yet: `None` this once,
                // without a log line, since nothing is wrong.
                Some(t) => Ok(self
                    .prev
                    .as_ref()
                    .and_then(|p| p.cores.get(&cpu))
                    .and_then(|p| load_pm(*p, *t))),
            },
        };
        let load_pm = self
            .fields
            .check(&format!("cores[{i}].load_pm"), load)
            .flatten();
        let freq = read_freq_mhz(&self.root, cpu);
        let freq_mhz = self.fields.check(&format!("cores[{i}].freq_mhz"), freq);
        CoreReading { load_pm, freq_mhz }
    }
}

impl SystemReader for LinuxReader {
    fn name(&self) -> &'static str {
        "linux"
    }

    fn hardware(&self) -> HardwareSummary {
        self.hardware.clone()
    }

    fn sample(&mut self) -> Sample {
        let stat = self.root.read_text(STAT).map(|t| parse_stat(&t));
        let overall = match &stat {
            Err(e) => Err(e.clone()),
            Ok(now) => now
                .all
                .ok_or_else(|| ReadError::MissingKey {
                    path: self.root.path(STAT),
                    key: "cpu",
                })
                .map(|t| {
                    self.prev
                        .as_ref()
                        .and_then(|p| p.all)
                        .and_then(|p| load_pm(p, t))
                }),
        };
        let cpu_load_pm = self.fields.check("cpu_load_pm", overall).flatten();
        let mut cores = heapless::Vec::new();
        for (i, cpu) in self.cpus.clone().into_iter().take(MAX_CORES).enumerate() {
            let reading = self.core(i, cpu, &stat);
            // Cannot overflow: at most MAX_CORES iterations, the Vec's capacity.
            let _ = cores.push(reading);
        }
        // A failed read keeps the old baseline: the next load then covers the longer window.
        if let Ok(now) = stat {
            self.prev = Some(now);
        }
        let mem = read_meminfo(&self.root);
        let mem_total_kib = self.fields.check("mem_total_kib", mem.total_kib);
        let mem_used_kib = self.fields.check("mem_used_kib", mem.used_kib);
        let mut temps_cdeg = heapless::Vec::new();
        for (i, sensor) in self.sensors.iter().enumerate() {
            let t = sensor.read_cdeg(&self.root);
            let t = self.fields.check(&format!("temps_cdeg[{i}]"), t).flatten();
            let _ = temps_cdeg.push(t);
        }
        Sample {
            cpu_load_pm,
            cores,
            mem_used_kib,
            mem_total_kib,
            gpu_load_pm: None,
            gpu_freq_mhz: None,
            emc_load_pm: None,
            temps_cdeg,
            rails_mw: heapless::Vec::new(),
            total_power_mw: None,
            power_mode: None,
            drops: TelemetryDrops {
                samples: 0,
                events: 0,
                send_failed: 0,
            },
        }
    }

    fn take_faults(&mut self) -> Vec<Fault> {
        self.fields.take_faults()
    }

    fn unavailable(&self) -> Vec<Unavailable> {
        self.fields.unavailable()
    }
}

/// Present CPUs from sysfs; without it, the CPUs `/proc/stat` lists (online ones only).
fn present_cpus(root: &SysRoot, stat: Option<&StatSnapshot>, fields: &mut FieldLog) -> Vec<u32> {
    let present = root.read_text(PRESENT).and_then(|t| {
        parse_cpu_list(&t)
            .map_err(|_| parse_error(root.path(PRESENT), &t, "a CPU list of CPUs below 8192"))
    });
    match fields.check("hardware.cpu_cores", present) {
        Some(cpus) => cpus,
        None => stat
            .map(|s| s.cores.keys().copied().collect())
            .unwrap_or_default(),
    }
}

/// Thermal zones, then hwmon inputs, at most [`MAX_TEMPS`].
fn discover_sensors(root: &SysRoot, fields: &mut FieldLog) -> Vec<TempSensor> {
    let mut sensors = Vec::new();
    for (field, found) in [
        ("thermal_zones", thermal::discover(root)),
        ("hwmon", hwmon::discover(root)),
    ] {
        match found {
            Ok(mut s) => sensors.append(&mut s),
            Err(e) => fields.unsupported(field, &e.to_string()),
        }
    }
    if sensors.len() > MAX_TEMPS {
        let left: Vec<&str> = sensors
            .iter()
            .skip(MAX_TEMPS)
            .map(|s| s.name.as_str())
            .collect();
        let field = format!("temps_cdeg[{MAX_TEMPS}..{}]", sensors.len());
        let why = format!(
            "a Sample carries {MAX_TEMPS} temperatures; left out: {}",
            left.join(", ")
        );
        fields.unsupported(&field, &why);
        sensors.truncate(MAX_TEMPS);
    }
    sensors
}

/// Collects into a heapless Vec, keeping the first N items (no panic on overflow).
pub(super) fn bounded<T, const N: usize>(items: impl Iterator<Item = T>) -> heapless::Vec<T, N> {
    let mut v = heapless::Vec::new();
    for item in items {
        if v.push(item).is_err() {
            break;
        }
    }
    v
}
