//! [`JetsonReader`]: the generic Linux reader plus what only a Jetson has — GPU load and
//! clock, EMC load, INA3221 power rails and their total, the nvpmodel mode, the L4T release.
//!
//! Every source is found by scanning when the reader is created (see `gpu`, `devfreq`,
//! `emc`, `ina3221`), so one reader serves Nano and Xavier on JetPack 4 as well as Orin on
//! JetPack 5 and 6. What is not found is `None` in every sample, said once in the log.
//! CPU, memory and temperatures are the [`LinuxReader`]'s, not copied.

use super::{
    Devfreq, FieldLog, LinuxReader, SysRoot, SystemReader, TotalRule, Unavailable, devfreq,
    emc::{self, EmcSource},
    fields::merge,
    gpu,
    ina3221::{self, Rail},
    l4t::read_l4t,
    linux::bounded,
    nvpmodel::{self, PowerMode},
};
use msao::message::{CapabilitySummary, Fault, HardwareSummary, Sample, truncated};
use std::path::PathBuf;

/// Most rails a `Sample` carries (`Sample::rails_mw` capacity).
pub const MAX_RAILS: usize = 8;
const NVPMODEL_STATUS: &str = "var/lib/nvpmodel/status";

/// Reads a Jetson under a root directory.
#[derive(Debug)]
pub struct JetsonReader {
    base: LinuxReader,
    root: SysRoot,
    gpu_load: Option<String>,
    gpu_devfreq: Option<Devfreq>,
    emc: Option<EmcSource>,
    /// Every connected rail; the first [`MAX_RAILS`] go on the wire, all count for the total.
    rails: Vec<Rail>,
    rule: TotalRule,
    has_status: bool,
    l4t: Option<String>,
    modes: Vec<PowerMode>,
    hardware: HardwareSummary,
    fields: FieldLog,
}

/// `Some` when found; otherwise the field is marked unsupported with the reason.
fn found<T, E: ToString>(fields: &mut FieldLog, field: &str, r: Result<T, E>) -> Option<T> {
    r.map_err(|e| fields.unsupported(field, &e.to_string()))
        .ok()
}

impl JetsonReader {
    /// Discovers every source under `root`. Never fails: whatever is missing is logged once
    /// and read as `None`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = SysRoot::new(root);
        let base = LinuxReader::base(root.clone());
        let mut fields = FieldLog::new();

        let gpu_devfreq = found(&mut fields, "gpu_freq_mhz", devfreq::find_gpu(&root));
        let gpu_load = found(
            &mut fields,
            "gpu_load_pm",
            gpu::find_load(&root, gpu_devfreq.as_ref()),
        );
        let emc = found(&mut fields, "emc_load_pm", emc::find(&root));

        let rails = match ina3221::discover(&root) {
            Ok(rails) if rails.is_empty() => {
                let why = "the INA3221 driver lists no connected channel";
                fields.unsupported("rails_mw", why);
                Vec::new()
            }
            Ok(rails) => rails,
            Err(e) => {
                fields.unsupported("rails_mw", &e.to_string());
                Vec::new()
            }
        };
        if rails.len() > MAX_RAILS {
            let left: Vec<&str> = rails[MAX_RAILS..].iter().map(|r| r.name.as_str()).collect();
            let why = format!(
                "a Sample carries {MAX_RAILS} rails; left out (still in the total): {}",
                left.join(", ")
            );
            fields.unsupported(&format!("rails_mw[{MAX_RAILS}..{}]", rails.len()), &why);
        }
        let names: Vec<&str> = rails.iter().map(|r| r.name.as_str()).collect();
        let rule = TotalRule::for_rails(&names);
        if rule == TotalRule::NoRails {
            fields.unsupported("total_power_mw", "no power rails");
        }

        let has_status = root.exists(NVPMODEL_STATUS);
        if !has_status {
            let why = format!(
                "{} is missing (nvpmodel not installed or never run)",
                root.path(NVPMODEL_STATUS).display()
            );
            fields.unsupported("power_mode", &why);
        }
        let modes =
            found(&mut fields, "power_modes", nvpmodel::read_modes(&root)).unwrap_or_default();
        let l4t = found(&mut fields, "l4t", read_l4t(&root));

        let mut hardware = base.hardware();
        if gpu_devfreq.is_some() || gpu_load.is_some() {
            hardware.gpu = Some(truncated(&gpu::name(&root, gpu_devfreq.as_ref())));
        }
        hardware.rails = bounded(names.iter().map(|n| truncated(n)));
        Self {
            base,
            root,
            gpu_load,
            gpu_devfreq,
            emc,
            rails,
            rule,
            has_status,
            l4t,
            modes,
            hardware,
            fields,
        }
    }

    /// How `total_power_mw` is formed on this board, in words (for capability documents).
    pub fn total_power_rule(&self) -> String {
        let names: Vec<&str> = self.rails.iter().map(|r| r.name.as_str()).collect();
        self.rule.describe(&names)
    }

    /// Power modes defined in `nvpmodel.conf`, in file order.
    pub fn power_modes(&self) -> &[PowerMode] {
        &self.modes
    }
}

impl SystemReader for JetsonReader {
    fn name(&self) -> &'static str {
        "jetson"
    }

    fn hardware(&self) -> HardwareSummary {
        self.hardware.clone()
    }

    fn capability(&self) -> CapabilitySummary {
        let mode = nvpmodel::read_mode(&self.root).ok();
        CapabilitySummary {
            providers: heapless::Vec::new(),
            l4t: self.l4t.as_deref().map(truncated),
            power_mode: mode,
            power_mode_name: mode
                .and_then(|m| nvpmodel::name_of(&self.modes, m))
                .map(truncated),
        }
    }

    fn sample(&mut self) -> Sample {
        let mut s = self.base.sample();
        let (root, fields) = (&self.root, &mut self.fields);
        if let Some(rel) = &self.gpu_load {
            s.gpu_load_pm = fields.check("gpu_load_pm", gpu::read_load_pm(root, rel));
        }
        if let Some(node) = &self.gpu_devfreq {
            s.gpu_freq_mhz = fields.check("gpu_freq_mhz", node.cur_mhz(root));
        }
        if let Some(emc) = &self.emc {
            s.emc_load_pm = fields.check("emc_load_pm", emc.read_load_pm(root));
        }
        let values: Vec<Option<u32>> = self
            .rails
            .iter()
            .enumerate()
            .map(|(i, r)| fields.check(&format!("rails_mw[{i}]"), r.read_mw(root)))
            .collect();
        s.rails_mw = bounded(values.iter().copied());
        s.total_power_mw = self.rule.total(&values);
        if self.has_status {
            s.power_mode = fields.check("power_mode", nvpmodel::read_mode(root));
        }
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
