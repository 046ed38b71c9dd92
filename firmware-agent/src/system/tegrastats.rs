//! Parsing one `tegrastats` output line into the fields a [`Sample`] carries: the fallback
//! source where sysfs is out of reach (a container, a recorded log, a support bundle).
//!
//! A line is a sequence of `KEY value` pairs and `name@temperature` words whose set and
//! spelling change between releases (recorded examples: `tests/fixtures/tegrastats/`):
//!
//! | item | variants handled |
//! |------|------------------|
//! | timestamp | JetPack 5+ prefixes `MM-DD-YYYY HH:MM:SS`; skipped |
//! | `RAM u/tMB (lfb …)` | MB → KiB |
//! | `CPU [12%@1510,off,3%@1510]` | `off` cores are `None`; `12%` without `@MHz`; before JetPack 4 (L4T 28, TX1) `cpu [17%,0%,off]@1734`, one clock for all |
//! | `EMC_FREQ 0%@2133` | `0%` without `@MHz`; `EMC 5%@1600` before JetPack 4 |
//! | `GR3D_FREQ 0%@[305,305]` | per-GPC clocks (Orin, highest taken), `0%@305`, `0%`, `@[0,0,0]` (Thor, JetPack 7: no load); `GR3D2_FREQ` is the second GPU; `GR3D 39%@76` before JetPack 4 |
//! | `cpu@47.5C`, `CPU@47.5C`, `tj@48.1C`, `cpu@50C/50C` | lower case from JetPack 6; JetPack 7 (L4T R39) appends `/…` (the first value is taken); `-256C` is a switched-off sensor → `None` |
//! | `VDD_IN 4321mW/4321mW`, `VDD_IN 9761mW/9761mW/9761mW` | current/average (JetPack 7 adds a third value, not kept); older `POM_5V_IN 1234/1234` (no `mW`); `NC` channels skipped |
//!
//! Unknown words (`SWAP`, `VIC_FREQ`, `APE`, `NVENC`, `MTS`, future keys) are ignored, so a
//! new release's additions do not break parsing. A known key whose value does not parse is
//! left `None` and listed in [`TegraStats::skipped`]. A word that looks like a reading this
//! parser should take — a temperature (`name@…C…`) or a rail (`NAME …mW…`) — but does not
//! parse is listed in [`TegraStats::unrecognised`]: the reader logs and counts it instead of
//! reporting empty readings in silence.

use super::{TotalRule, milli_to_centi, temps::SENSOR_OFF_MILLI};
use msao::message::{CoreReading, Sample, TelemetryDrops, truncated};

/// One rail as tegrastats prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TegraRail {
    /// `VDD_IN`, `POM_5V_GPU`, `CPU` (AGX Xavier).
    pub name: String,
    /// Current power, mW.
    pub mw: u32,
    /// tegrastats' running average since it started, mW.
    pub avg_mw: u32,
}

/// The fields of one line. `None`/empty: not in this line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TegraStats {
    /// `RAM` used, KiB.
    pub ram_used_kib: Option<u32>,
    /// `RAM` total, KiB.
    pub ram_total_kib: Option<u32>,
    /// `CPU [...]`, one per core; an `off` core has both halves `None`.
    pub cores: Vec<CoreReading>,
    /// `EMC_FREQ` load.
    pub emc_load_pm: Option<u16>,
    /// `EMC_FREQ` clock.
    pub emc_freq_mhz: Option<u16>,
    /// `GR3D_FREQ` load.
    pub gpu_load_pm: Option<u16>,
    /// `GR3D_FREQ` clock (the highest GPC's).
    pub gpu_freq_mhz: Option<u16>,
    /// `GR3D2_FREQ` load (second GPU).
    pub gpu2_load_pm: Option<u16>,
    /// `GR3D2_FREQ` clock.
    pub gpu2_freq_mhz: Option<u16>,
    /// `name@tempC` words in line order; `None` for a switched-off sensor.
    pub temps: Vec<(String, Option<i16>)>,
    /// Connected rails in line order.
    pub rails: Vec<TegraRail>,
    /// `KEY value` pairs with a known key and an unparseable value.
    pub skipped: Vec<String>,
    /// Words shaped like a temperature or a rail reading that did not parse (a format this
    /// parser does not know yet).
    pub unrecognised: Vec<String>,
}

/// A line that is not tegrastats output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TegrastatsError {
    /// No known field in the line.
    #[error("no tegrastats field in `{start}` ({len} bytes)")]
    NoFields {
        /// The first 40 characters.
        start: String,
        /// Line length.
        len: usize,
    },
}

/// Parses one line (see the module table for the variants).
pub fn parse_line(line: &str) -> Result<TegraStats, TegrastatsError> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let mut out = TegraStats::default();
    let mut known = 0usize;
    let mut i = 0;
    while i < words.len() {
        let (key, next) = (words[i], words.get(i + 1).copied());
        let mut consumed = 1;
        let skip = |out: &mut TegraStats| out.skipped.push(format!("{key} {}", next.unwrap_or("")));
        match (key, next) {
            ("RAM", Some(v)) => {
                consumed = 2;
                known += 1;
                match ram(v) {
                    Some((u, t)) => (out.ram_used_kib, out.ram_total_kib) = (Some(u), Some(t)),
                    None => skip(&mut out),
                }
            }
            (k, Some(v)) if k.eq_ignore_ascii_case("CPU") && v.starts_with('[') => {
                consumed = 2;
                known += 1;
                match cores(v) {
                    Some(c) => out.cores = c,
                    None => skip(&mut out),
                }
            }
            ("EMC_FREQ" | "EMC" | "GR3D_FREQ" | "GR3D" | "GR3D2_FREQ", Some(v)) => {
                consumed = 2;
                known += 1;
                let Some((load, freq)) = engine(v) else {
                    skip(&mut out);
                    i += consumed;
                    continue;
                };
                let slot = match key {
                    "EMC_FREQ" | "EMC" => (&mut out.emc_load_pm, &mut out.emc_freq_mhz),
                    "GR3D_FREQ" | "GR3D" => (&mut out.gpu_load_pm, &mut out.gpu_freq_mhz),
                    _ => (&mut out.gpu2_load_pm, &mut out.gpu2_freq_mhz),
                };
                (*slot.0, *slot.1) = (load, freq);
            }
            (k, Some(v)) if is_rail_name(k) && v.contains("mW") && !is_rail_value(v) => {
                consumed = 2;
                out.unrecognised.push(format!("{k} {v}"));
            }
            (k, Some(v)) if is_rail_name(k) && is_rail_value(v) => {
                consumed = 2;
                known += 1;
                match rail_value(v) {
                    Some(_) if k == super::ina3221::NOT_CONNECTED => {}
                    Some((mw, avg_mw)) => out.rails.push(TegraRail {
                        name: k.to_string(),
                        mw,
                        avg_mw,
                    }),
                    None => skip(&mut out),
                }
            }
            (w, _) => match temperature(w) {
                Some((name, t)) => {
                    known += 1;
                    out.temps.push((name.to_string(), t));
                }
                None if looks_like_temperature(w) => out.unrecognised.push(w.to_string()),
                None => {}
            },
        }
        i += consumed;
    }
    if known == 0 {
        return Err(TegrastatsError::NoFields {
            start: line.chars().take(40).collect(),
            len: line.len(),
        });
    }
    Ok(out)
}

/// `2370/7620MB` → KiB.
fn ram(v: &str) -> Option<(u32, u32)> {
    let (used, total) = v.strip_suffix("MB")?.split_once('/')?;
    let kib = |mb: &str| mb.parse::<u32>().ok()?.checked_mul(1024);
    Some((kib(used)?, kib(total)?))
}

/// `[12%@1510,off,3%]`, or before JetPack 4 `[17%,0%,off]@1734` (one clock for every core).
fn cores(v: &str) -> Option<Vec<CoreReading>> {
    let (list, shared) = match v.rsplit_once("]@") {
        Some((list, mhz)) => (list, Some(mhz.parse::<u16>().ok()?)),
        None => (v.strip_suffix(']')?, None),
    };
    let inner = list.strip_prefix('[')?;
    inner
        .split(',')
        .map(|c| {
            if c == "off" {
                return Some(CoreReading {
                    load_pm: None,
                    freq_mhz: None,
                });
            }
            let (load, freq) = load_at(c)?;
            Some(CoreReading {
                load_pm: Some(load),
                freq_mhz: freq.or(shared),
            })
        })
        .collect()
}

/// An engine's `load@clock`: as [`load_at`], or `@[0,0,0]` / `@305` with no load (Thor).
fn engine(v: &str) -> Option<(Option<u16>, Option<u16>)> {
    match v.strip_prefix('@') {
        Some(clock) => Some((None, Some(clock_mhz(clock)?))),
        None => load_at(v).map(|(load, freq)| (Some(load), freq)),
    }
}

/// `1510` or `[305,305]` (the highest clock).
fn clock_mhz(f: &str) -> Option<u16> {
    let list = f.strip_prefix('[').and_then(|f| f.strip_suffix(']'));
    let parts = list.unwrap_or(f).split(',').map(|p| p.parse::<u16>().ok());
    parts.collect::<Option<Vec<u16>>>()?.into_iter().max()
}

/// `12%@1510`, `0%@[305,305]` (highest clock), `0%` → (per-mille, MHz).
fn load_at(v: &str) -> Option<(u16, Option<u16>)> {
    let (pct, freq) = match v.split_once('@') {
        Some((p, f)) => (p, Some(f)),
        None => (v, None),
    };
    let pct: u16 = pct.strip_suffix('%')?.parse().ok()?;
    let load = pct.checked_mul(10).filter(|pm| *pm <= 1000)?;
    let freq = match freq {
        None => None,
        Some(f) => Some(clock_mhz(f)?),
    };
    Some((load, freq))
}

/// Rail names are upper-case identifiers (`VDD_IN`, `POM_5V_IN`, `CPU`).
fn is_rail_name(k: &str) -> bool {
    k.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && k.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `4321mW/4321mW`, `9761mW/9761mW/9761mW` (JetPack 7) or `1234/1234`: two or three
/// slash-separated numbers, each with an optional `mW`.
fn is_rail_value(v: &str) -> bool {
    let parts: Vec<&str> = v.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|s| {
            let s = s.strip_suffix("mW").unwrap_or(s);
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Current and average, mW (a third value, JetPack 7, is not kept).
fn rail_value(v: &str) -> Option<(u32, u32)> {
    let mut values = v
        .split('/')
        .map(|s| s.strip_suffix("mW").unwrap_or(s).parse::<u32>().ok());
    Some((values.next()??, values.next()??))
}

/// `name@<digit or ->…C…`: a temperature in some spelling.
fn looks_like_temperature(w: &str) -> bool {
    w.split_once('@').is_some_and(|(name, t)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && t.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'-')
            && t.contains('C')
    })
}

/// `cpu@47.5C` → (`cpu`, 4750); `CV1@-256C` → (`CV1`, `None`).
fn temperature(w: &str) -> Option<(&str, Option<i16>)> {
    let (name, t) = w.split_once('@')?;
    let valid_name =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_name {
        return None;
    }
    // JetPack 7 prints `50C/50C`: the first value is the current one.
    let t = t.split_once('/').map_or(t, |(current, _)| current);
    let celsius: f64 = t.strip_suffix('C')?.parse().ok()?;
    if !celsius.is_finite() {
        return None;
    }
    // Within i64 after the finite check and the i16 bound below; rounding to milli-°C.
    let milli = (celsius * 1000.0).round();
    if milli.abs() > 1.0e9 {
        return None;
    }
    let milli = milli as i64;
    if milli == SENSOR_OFF_MILLI {
        return Some((name, None));
    }
    Some((name, Some(milli_to_centi(milli)?)))
}

impl TegraStats {
    /// Total power by the board rule (`VDD_IN`, `POM_5V_IN`, else the sum).
    pub fn total_power_mw(&self) -> Option<u32> {
        let names: Vec<&str> = self.rails.iter().map(|r| r.name.as_str()).collect();
        let values: Vec<Option<u32>> = self.rails.iter().map(|r| Some(r.mw)).collect();
        TotalRule::for_rails(&names).total(&values)
    }

    /// Names for `HardwareSummary::thermal_zones` (at most 12, cut to 20 bytes).
    pub fn temp_names(&self) -> heapless::Vec<heapless::String<20>, 12> {
        super::linux::bounded(self.temps.iter().map(|(n, _)| truncated(n)))
    }

    /// Names for `HardwareSummary::rails` (at most 8, cut to 16 bytes).
    pub fn rail_names(&self) -> heapless::Vec<heapless::String<16>, 8> {
        super::linux::bounded(self.rails.iter().map(|r| truncated(&r.name)))
    }

    /// The same fields as a [`Sample`]. `cpu_load_pm` is the mean over online cores
    /// (tegrastats prints no aggregate); `power_mode` is not in tegrastats output.
    pub fn to_sample(&self) -> Sample {
        let online: Vec<u32> = self
            .cores
            .iter()
            .filter_map(|c| c.load_pm.map(u32::from))
            .collect();
        let cpu_load_pm = u32::try_from(online.len())
            .ok()
            .filter(|n| *n > 0)
            .and_then(|n| u16::try_from((online.iter().sum::<u32>() + n / 2) / n).ok());
        Sample {
            cpu_load_pm,
            cores: super::linux::bounded(self.cores.iter().cloned()),
            mem_used_kib: self.ram_used_kib,
            mem_total_kib: self.ram_total_kib,
            gpu_load_pm: self.gpu_load_pm,
            gpu_freq_mhz: self.gpu_freq_mhz,
            emc_load_pm: self.emc_load_pm,
            temps_cdeg: super::linux::bounded(self.temps.iter().map(|(_, t)| *t)),
            rails_mw: super::linux::bounded(self.rails.iter().map(|r| Some(r.mw))),
            total_power_mw: self.total_power_mw(),
            power_mode: None,
            drops: TelemetryDrops {
                samples: 0,
                events: 0,
                send_failed: 0,
            },
        }
    }
}
