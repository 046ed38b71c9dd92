//! Unavailable readings: `None` in the sample, one log line per field, a fault when a field
//! that used to work stops working.
//!
//! A sensor that is absent on this board is normal and must not flood the log at 10 Hz;
//! a sensor that disappears mid-run is news and becomes a `Fault` (`SensorRead`). Both are
//! reported once per field, so a flapping sensor costs one line and one fault in all.

use log::{debug, info, warn};
use msao::message::{Fault, FaultCode};
use std::{collections::BTreeMap, fmt};

/// A field that is unavailable now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// Wire field (`cores[3].freq_mhz`, `temps_cdeg[2]`).
    pub field: String,
    /// Why, with the path when a file is involved.
    pub reason: String,
}

#[derive(Debug, Default)]
struct FieldState {
    /// It was read successfully at least once.
    worked: bool,
    /// The last attempt failed; `reason` says why.
    failing: bool,
    /// The one log line for this field was written.
    logged: bool,
    /// The one fault for this field was raised.
    faulted: bool,
    reason: String,
}

/// Remembers, per field, whether it worked and whether its absence was reported.
#[derive(Debug, Default)]
pub struct FieldLog {
    fields: BTreeMap<String, FieldState>,
    faults: Vec<Fault>,
}

impl FieldLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns a reading into the sample value, noting success or the reason for `None`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, reading: Result<T, E>) -> Option<T> {
        match reading {
            Ok(v) => {
                let st = self.state(field);
                if st.failing {
                    debug!("{field}: readable again");
                }
                st.worked = true;
                st.failing = false;
                Some(v)
            }
            Err(e) => {
                self.fail(field, e.to_string());
                None
            }
        }
    }

    /// Marks a field this reader never provides (logged once at info level, no fault).
    pub fn unsupported(&mut self, field: &str, why: &str) {
        let st = self.state(field);
        st.failing = true;
        st.reason = why.to_string();
        if !st.logged {
            st.logged = true;
            info!("{field}: not available ({why})");
        }
    }

    fn fail(&mut self, field: &str, reason: String) {
        let st = self.state(field);
        let newly = !st.failing;
        st.failing = true;
        st.reason = reason;
        if !st.logged {
            st.logged = true;
            warn!("{field}: unavailable ({})", st.reason);
        }
        if newly && st.worked && !st.faulted {
            st.faulted = true;
            let msg = format!("{field}: {}", st.reason);
            warn!("{msg} (was readable before)");
            self.faults
                .push(Fault::new(FaultCode::SensorRead as u16, &msg));
        }
    }

    fn state(&mut self, field: &str) -> &mut FieldState {
        self.fields.entry(field.to_owned()).or_default()
    }

    /// Faults raised since the last call.
    pub fn take_faults(&mut self) -> Vec<Fault> {
        std::mem::take(&mut self.faults)
    }

    /// Fields failing now, in field order.
    pub fn unavailable(&self) -> Vec<Unavailable> {
        self.fields
            .iter()
            .filter(|(_, s)| s.failing)
            .map(|(f, s)| Unavailable {
                field: f.clone(),
                reason: s.reason.clone(),
            })
            .collect()
    }
}

/// Two readers' lists as one, in field order (a reader built on another reports both).
pub(super) fn merge(mut a: Vec<Unavailable>, mut b: Vec<Unavailable>) -> Vec<Unavailable> {
    a.append(&mut b);
    a.sort_by(|x, y| x.field.cmp(&y.field));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_from_the_start_is_no_fault_disappearing_is_one() {
        let mut log = FieldLog::new();
        assert_eq!(log.check::<u16, _>("a", Err("missing")), None);
        assert_eq!(log.check::<u16, _>("a", Err("missing")), None);
        assert!(log.take_faults().is_empty());

        assert_eq!(log.check::<u16, &str>("b", Ok(5)), Some(5));
        assert_eq!(log.check::<u16, _>("b", Err("gone")), None);
        assert_eq!(log.check::<u16, &str>("b", Ok(6)), Some(6));
        assert_eq!(log.check::<u16, _>("b", Err("gone again")), None);
        let faults = log.take_faults();
        assert_eq!(faults.len(), 1, "one fault per field, even when it flaps");
        assert_eq!(faults[0].code, FaultCode::SensorRead as u16);
        assert_eq!(faults[0].message.as_str(), "b: gone");
        assert_eq!(
            log.unavailable(),
            vec![
                Unavailable {
                    field: "a".into(),
                    reason: "missing".into()
                },
                Unavailable {
                    field: "b".into(),
                    reason: "gone again".into()
                },
            ]
        );
    }
}
