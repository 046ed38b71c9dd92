//! A temperature sensor (thermal zone or hwmon input) and the milli-°C → centi-°C step.

use super::{ReadError, SysRoot};
use std::path::PathBuf;

/// Bytes of a sensor name on the wire (`HardwareSummary::thermal_zones` element).
pub const NAME_LEN: usize = 20;

/// One temperature input, found when the reader was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempSensor {
    /// Wire name: the zone `type`, or `hwmon-name/label`, cut to `NAME_LEN` (20) bytes.
    pub name: heapless::String<NAME_LEN>,
    /// File holding milli-°C, relative to the root.
    pub input: PathBuf,
}

impl TempSensor {
    /// A sensor named `name` (cut to fit) reading `input`.
    pub fn new(name: &str, input: impl Into<PathBuf>) -> Self {
        Self {
            name: msao::message::truncated(name),
            input: input.into(),
        }
    }

    /// Current temperature in centi-°C; `Ok(None)` while the sensor is switched off (see
    /// [`SENSOR_OFF_MILLI`]): normal on Tegra, so neither a log line nor a fault.
    pub fn read_cdeg(&self, root: &SysRoot) -> Result<Option<i16>, ReadError> {
        let milli: i64 = root.read_num(&self.input, "milli-°C")?;
        if milli == SENSOR_OFF_MILLI {
            return Ok(None);
        }
        milli_to_centi(milli)
            .map(Some)
            .ok_or_else(|| ReadError::OutOfRange {
                path: root.path(&self.input),
                value: milli,
                what: "temps_cdeg (i16 centi-°C)",
            })
    }
}

/// What Tegra's BPMP thermal driver reports for a zone whose sensor is powered off
/// (`CV1-therm` while the vision accelerators are gated, `GPU-therm` on some JetPack 5
/// releases): −256 °C. tegrastats prints it as `CV1@-256C`. It is not a temperature, so it
/// reads as `None`.
pub const SENSOR_OFF_MILLI: i64 = -256_000;

/// Milli-°C to centi-°C, rounded half away from zero; `None` outside the i16 range
/// (±327.67 °C), which no working sensor reports.
pub fn milli_to_centi(milli: i64) -> Option<i16> {
    let centi = if milli >= 0 {
        milli.checked_add(5)? / 10
    } else {
        milli.checked_sub(5)? / 10
    };
    i16::try_from(centi).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_rounds() {
        assert_eq!(milli_to_centi(45_500), Some(4550));
        assert_eq!(milli_to_centi(45_678), Some(4568));
        assert_eq!(milli_to_centi(45_674), Some(4567));
        assert_eq!(milli_to_centi(-1_005), Some(-101));
        assert_eq!(milli_to_centi(0), Some(0));
        assert_eq!(milli_to_centi(327_670), Some(32_767));
        assert_eq!(milli_to_centi(327_680), None);
        assert_eq!(milli_to_centi(i64::MIN), None);
    }

    #[test]
    fn names_are_cut_to_the_wire_field() {
        let s = TempSensor::new("coretemp/Package id 0", "x");
        assert_eq!(s.name.as_str(), "coretemp/Package id ");
    }
}
