//! [`TegrastatsReader`]: the fallback source on Jetsons whose sysfs nodes are not readable
//! (no root, a JetPack that moved them): runs `tegrastats --interval N` and turns its
//! latest line into a `Sample` with [`super::parse_tegrastats`].
//!
//! The names of zones and rails come from the first line and stay fixed for the run, as
//! `Hello` requires. A line older than three intervals is stale: every reading is then
//! `None` (unsupported now, not zero) and one `SensorRead` fault says tegrastats stopped.
//! Board, CPU model and the nvpmodel power mode, which tegrastats does not print, are read
//! from the root as the sysfs readers do.

use super::{
    FieldLog, SysRoot, SystemReader, TegraStats, Unavailable, nvpmodel, parse_tegrastats,
    read_board, read_cpu_model,
};
use log::{info, warn};
use msao::message::{CapabilitySummary, Fault, HardwareSummary, Sample, truncated};
use std::{
    io::{self, BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, PoisonError},
    thread,
    time::{Duration, Instant},
};

/// Latest parsed line and when it arrived; `None` before the first.
type Latest = Arc<Mutex<Option<(TegraStats, Instant)>>>;

/// Reads a running `tegrastats`.
pub struct TegrastatsReader {
    child: Child,
    latest: Latest,
    interval: Duration,
    root: SysRoot,
    hardware: HardwareSummary,
    fields: FieldLog,
}

/// `tegrastats` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TegrastatsSourceError {
    /// The program would not start.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// It started but printed no parseable line in time.
    #[error("{program} printed no tegrastats line within {waited:?}")]
    Silent {
        /// The program.
        program: String,
        /// How long we waited.
        waited: Duration,
    },
}

impl TegrastatsReader {
    /// Starts `program --interval <ms>` and waits (up to five intervals, at least 2 s)
    /// for its first line.
    pub fn spawn(
        program: &Path,
        interval: Duration,
        root: impl Into<PathBuf>,
    ) -> Result<Self, TegrastatsSourceError> {
        let shown = program.display().to_string();
        let ms = interval
            .as_millis()
            .clamp(1, u128::from(u32::MAX))
            .to_string();
        let mut child = Command::new(program)
            .args(["--interval", &ms])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| TegrastatsSourceError::Spawn {
                program: shown.clone(),
                source,
            })?;
        let latest = Latest::default();
        if let Some(stdout) = child.stdout.take() {
            let sink = Arc::clone(&latest);
            let name = shown.clone();
            let spawned = thread::Builder::new()
                .name("tegrastats".into())
                .spawn(move || read_lines(stdout, &sink, &name));
            if let Err(source) = spawned {
                let _ = child.kill();
                return Err(TegrastatsSourceError::Spawn {
                    program: shown,
                    source,
                });
            }
        }
        let waited = (interval * 5).max(Duration::from_secs(2));
        let deadline = Instant::now() + waited;
        let first = loop {
            if let Some((stats, _)) = lock(&latest).clone() {
                break stats;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TegrastatsSourceError::Silent {
                    program: shown,
                    waited,
                });
            }
            thread::sleep(Duration::from_millis(10));
        };
        let root = SysRoot::new(root.into());
        let hardware = HardwareSummary {
            board: truncated(&read_board(&root).unwrap_or_else(|_| "unknown".into())),
            cpu_model: truncated(&read_cpu_model(&root).unwrap_or_else(|_| "unknown".into())),
            cpu_cores: u16::try_from(first.cores.len()).unwrap_or(u16::MAX),
            mem_total_kib: first.ram_total_kib,
            gpu: first
                .gpu_load_pm
                .map(|_| truncated("Tegra GPU (tegrastats)")),
            thermal_zones: first.temp_names(),
            rails: first.rail_names(),
        };
        info!(
            "system source: {shown} every {ms} ms ({} zones, {} rails)",
            hardware.thermal_zones.len(),
            hardware.rails.len()
        );
        Ok(Self {
            child,
            latest,
            interval,
            root,
            hardware,
            fields: FieldLog::new(),
        })
    }
}

fn lock(latest: &Latest) -> std::sync::MutexGuard<'_, Option<(TegraStats, Instant)>> {
    latest.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Distinct unrecognised words logged (each once); the rest are only counted.
const UNRECOGNISED_LOGGED: usize = 16;

fn read_lines(stdout: impl io::Read, latest: &Latest, program: &str) {
    let mut warned = false;
    let mut unrecognised = Unrecognised::default();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        match parse_tegrastats(&line) {
            Ok(stats) => {
                unrecognised.note(program, &stats.unrecognised);
                *lock(latest) = Some((stats, Instant::now()));
            }
            Err(e) if !warned => {
                warned = true;
                warn!("{program}: skipping a line it printed that is not tegrastats output ({e})");
            }
            Err(_) => {}
        }
    }
    info!(
        "{program}: output ended{}",
        if unrecognised.count > 0 {
            format!(
                " ({} readings in a format this agent does not know)",
                unrecognised.count
            )
        } else {
            String::new()
        }
    );
}

/// Readings tegrastats printed in a format the parser does not know: counted, each distinct
/// word logged once (up to [`UNRECOGNISED_LOGGED`]), so new formats never go silent.
#[derive(Default)]
struct Unrecognised {
    count: u64,
    logged: std::collections::HashSet<String>,
}

impl Unrecognised {
    fn note(&mut self, program: &str, words: &[String]) {
        for w in words {
            self.count += 1;
            if self.logged.len() < UNRECOGNISED_LOGGED && self.logged.insert(w.clone()) {
                warn!(
                    "{program}: unrecognised reading `{w}` (a format this agent does not parse; \
                     its value is missing from Sample frames); {} so far",
                    self.count
                );
            }
        }
    }
}

impl Drop for TegrastatsReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SystemReader for TegrastatsReader {
    fn name(&self) -> &'static str {
        "tegrastats"
    }

    fn hardware(&self) -> HardwareSummary {
        self.hardware.clone()
    }

    fn capability(&self) -> CapabilitySummary {
        let mode = nvpmodel::read_mode(&self.root).ok();
        let name = mode.and_then(|id| {
            nvpmodel::read_modes(&self.root)
                .ok()?
                .into_iter()
                .find(|m| m.id == id)
                .map(|m| truncated(&m.name))
        });
        CapabilitySummary {
            providers: heapless::Vec::new(),
            l4t: super::read_l4t(&self.root).ok().map(|r| truncated(&r)),
            power_mode: mode,
            power_mode_name: name,
        }
    }

    fn sample(&mut self) -> Sample {
        let latest = lock(&self.latest).clone();
        let fresh = latest.filter(|(_, at)| at.elapsed() <= self.interval * 3);
        // FieldLog logs the first failure once and raises one SensorRead fault when a
        // source that worked stops.
        let reading =
            fresh.ok_or_else(|| format!("no tegrastats line for {:?}", self.interval * 3));
        let mut sample = match self.fields.check("tegrastats", reading) {
            Some((stats, _)) => stats.to_sample(),
            None => TegraStats::default().to_sample(),
        };
        // Keep the arrays the length `Hello` announced.
        sample
            .temps_cdeg
            .truncate(self.hardware.thermal_zones.len());
        while sample.temps_cdeg.len() < self.hardware.thermal_zones.len()
            && sample.temps_cdeg.push(None).is_ok()
        {}
        sample.rails_mw.truncate(self.hardware.rails.len());
        while sample.rails_mw.len() < self.hardware.rails.len()
            && sample.rails_mw.push(None).is_ok()
        {}
        sample.power_mode = self
            .fields
            .check("power_mode", nvpmodel::read_mode(&self.root));
        sample
    }

    fn take_faults(&mut self) -> Vec<Fault> {
        self.fields.take_faults()
    }

    fn unavailable(&self) -> Vec<Unavailable> {
        self.fields.unavailable()
    }
}
