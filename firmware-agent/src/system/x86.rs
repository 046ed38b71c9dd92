//! [`X86Reader`]: the generic Linux reader plus RAPL power per package (and `psys`) as
//! rails with their total. x86 hosts have no integrated-GPU load, EMC or nvpmodel source:
//! those fields are unsupported, said once.

use super::{
    FieldLog, LinuxReader, SysRoot, SystemReader, TotalRule, Unavailable,
    fields::merge,
    linux::bounded,
    rapl::{self, RaplMeter},
};
use msao::message::{Fault, HardwareSummary, Sample, truncated};
use std::{path::PathBuf, time::Instant};

/// Fields an x86 host has no source for, and why.
const UNSUPPORTED: [(&str, &str); 4] = [
    ("gpu_load_pm", "discrete GPUs are not read on x86 hosts"),
    ("gpu_freq_mhz", "discrete GPUs are not read on x86 hosts"),
    ("emc_load_pm", "x86 hosts expose no memory-controller load"),
    ("power_mode", "nvpmodel power modes exist on Jetson only"),
];
const MAX_RAILS: usize = 8;

/// Reads an x86 Linux host under a root directory.
#[derive(Debug)]
pub struct X86Reader {
    base: LinuxReader,
    root: SysRoot,
    meter: RaplMeter,
    rule: TotalRule,
    hardware: HardwareSummary,
    fields: FieldLog,
}

impl X86Reader {
    /// Discovers RAPL zones and takes their first energy baseline.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = SysRoot::new(root);
        let base = LinuxReader::base(root.clone());
        let mut fields = FieldLog::new();
        for (field, why) in UNSUPPORTED {
            fields.unsupported(field, why);
        }
        let mut zones = match rapl::discover(&root) {
            Ok(z) => z,
            Err(e) => {
                fields.unsupported("rails_mw", &format!("no RAPL: {e}"));
                Vec::new()
            }
        };
        if zones.len() > MAX_RAILS {
            fields.unsupported(
                &format!("rails_mw[{MAX_RAILS}..{}]", zones.len()),
                "a Sample carries 8 rails",
            );
            zones.truncate(MAX_RAILS);
        }
        let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
        let rule = TotalRule::for_rails(&names);
        if rule == TotalRule::NoRails {
            fields.unsupported("total_power_mw", "no RAPL zones");
        }
        let mut hardware = base.hardware();
        hardware.rails = bounded(names.iter().map(|n| truncated(n)));
        let meter = RaplMeter::new(&root, zones, Instant::now());
        Self {
            base,
            root,
            meter,
            rule,
            hardware,
            fields,
        }
    }

    /// How `total_power_mw` is formed on this host, in words.
    pub fn total_power_rule(&self) -> String {
        let names: Vec<&str> = self.meter.zones().iter().map(|z| z.name.as_str()).collect();
        self.rule.describe(&names)
    }
}

impl SystemReader for X86Reader {
    fn name(&self) -> &'static str {
        "x86"
    }

    fn hardware(&self) -> HardwareSummary {
        self.hardware.clone()
    }

    fn sample(&mut self) -> Sample {
        let mut s = self.base.sample();
        let readings = self.meter.read(&self.root, Instant::now());
        let values: Vec<Option<u32>> = readings
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.fields.check(&format!("rails_mw[{i}]"), r).flatten())
            .collect();
        s.rails_mw = bounded(values.iter().copied());
        s.total_power_mw = self.rule.total(&values);
        s
    }

    fn take_faults(&mut self) -> Vec<Fault> {
        let mut faults = self.base.take_faults();
        faults.append(&mut self.fields.take_faults());
        faults
    }

    fn unavailable(&self) -> Vec<Unavailable> {
        merge(self.base.unavailable(), self.fields.unavailable())
    }
}
