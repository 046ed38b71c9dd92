//! INA3221 power monitors on Jetson modules: finding the connected channels and reading
//! each one's power in mW.
//!
//! Two driver layouts, both found by scanning the driver's bound devices (`1-0040`, …):
//! - `ina3221` + hwmon (JetPack 5 and 6, mainline driver):
//!   `/sys/bus/i2c/drivers/ina3221/<dev>/hwmon/hwmon<N>/in<C>_label`, `in<C>_input` (bus
//!   voltage, mV), `curr<C>_input` (mA); power = mV · mA / 1000.
//! - `ina3221x` + IIO (JetPack 4, NVIDIA's driver on Nano, TX2, Xavier):
//!   `/sys/bus/i2c/drivers/ina3221x/<dev>/iio:device<N>/rail_name_<C>`,
//!   `in_power<C>_input` (mW), else `in_voltage<C>_input` (mV) · `in_current<C>_input` (mA).
//!
//! Channels labelled `NC` (not connected) are skipped: they read zero or noise.

use super::{ReadError, SysRoot};

const HWMON_DRIVER: &str = "sys/bus/i2c/drivers/ina3221";
const IIO_DRIVER: &str = "sys/bus/i2c/drivers/ina3221x";
/// Label of an unconnected channel.
pub const NOT_CONNECTED: &str = "NC";

/// Where one rail's reading comes from (paths relative to the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailSource {
    /// mV and mA files, multiplied.
    VoltageCurrent {
        /// Bus voltage, mV.
        voltage: String,
        /// Current, mA.
        current: String,
    },
    /// A power file in mW (IIO driver).
    Power {
        /// Power, mW.
        power: String,
    },
}

/// One connected INA3221 channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rail {
    /// Label as the board names it (`VDD_IN`, `POM_5V_GPU`).
    pub name: String,
    /// Where the reading comes from.
    pub source: RailSource,
}

impl Rail {
    /// Current power in mW, rounded. A slightly negative current (shunt offset on an idle
    /// rail) reads as 0 mW: the rail is connected and idle, not unsupported.
    pub fn read_mw(&self, root: &SysRoot) -> Result<u32, ReadError> {
        match &self.source {
            RailSource::Power { power } => {
                let mw: i64 = root.read_num(power, "mW")?;
                Ok(clamp_mw(mw))
            }
            RailSource::VoltageCurrent { voltage, current } => {
                let mv: i64 = root.read_num(voltage, "mV")?;
                let ma: i64 = root.read_num(current, "mA")?;
                Ok(clamp_mw(mv_ma_to_mw(mv, ma)))
            }
        }
    }
}

/// mV · mA / 1000, rounded half away from zero.
pub fn mv_ma_to_mw(mv: i64, ma: i64) -> i64 {
    let uw = i128::from(mv) * i128::from(ma);
    let mw = if uw >= 0 {
        (uw + 500) / 1000
    } else {
        (uw - 500) / 1000
    };
    i64::try_from(mw).unwrap_or(i64::MAX)
}

fn clamp_mw(mw: i64) -> u32 {
    u32::try_from(mw.max(0)).unwrap_or(u32::MAX)
}

/// Every connected channel of both layouts: devices in name order, channels in number order.
/// An error only when neither driver directory exists.
pub fn discover(root: &SysRoot) -> Result<Vec<Rail>, ReadError> {
    let hwmon = root.list_dir(HWMON_DRIVER);
    let iio = root.list_dir(IIO_DRIVER);
    if let (Err(_), Err(_)) = (&hwmon, &iio) {
        return Err(root.no_source(&[HWMON_DRIVER, IIO_DRIVER]));
    }
    let mut rails = Vec::new();
    for dev in hwmon
        .unwrap_or_default()
        .iter()
        .filter(|d| is_i2c_device(d))
    {
        let base = format!("{HWMON_DRIVER}/{dev}/hwmon");
        for (_, hw) in root.numbered_entries(&base, "hwmon").unwrap_or_default() {
            rails.extend(hwmon_channels(root, &format!("{base}/{hw}")));
        }
    }
    for dev in iio.unwrap_or_default().iter().filter(|d| is_i2c_device(d)) {
        let base = format!("{IIO_DRIVER}/{dev}");
        for (_, node) in root
            .numbered_entries(&base, "iio:device")
            .unwrap_or_default()
        {
            rails.extend(iio_channels(root, &format!("{base}/{node}")));
        }
    }
    Ok(rails)
}

/// `1-0040`: bus number, dash, address. The driver directory also holds `bind`, `module`…
fn is_i2c_device(name: &str) -> bool {
    name.split_once('-').is_some_and(|(bus, addr)| {
        !bus.is_empty()
            && bus.bytes().all(|b| b.is_ascii_digit())
            && !addr.is_empty()
            && addr.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn hwmon_channels(root: &SysRoot, dir: &str) -> Vec<Rail> {
    channels(root, dir, "in", "_label")
        .into_iter()
        .filter_map(|c| {
            let name = label(root, &format!("{dir}/in{c}_label"))?;
            Some(Rail {
                name,
                source: RailSource::VoltageCurrent {
                    voltage: format!("{dir}/in{c}_input"),
                    current: format!("{dir}/curr{c}_input"),
                },
            })
        })
        .collect()
}

fn iio_channels(root: &SysRoot, dir: &str) -> Vec<Rail> {
    channels(root, dir, "rail_name_", "")
        .into_iter()
        .filter_map(|c| {
            let name = label(root, &format!("{dir}/rail_name_{c}"))?;
            let power = format!("{dir}/in_power{c}_input");
            let source = if root.exists(&power) {
                RailSource::Power { power }
            } else {
                RailSource::VoltageCurrent {
                    voltage: format!("{dir}/in_voltage{c}_input"),
                    current: format!("{dir}/in_current{c}_input"),
                }
            };
            Some(Rail { name, source })
        })
        .collect()
}

/// A channel's label; `None` when unreadable, empty or `NC`.
fn label(root: &SysRoot, rel: &str) -> Option<String> {
    let text = root.read_text(rel).ok()?;
    let name = text.trim();
    (!name.is_empty() && name != NOT_CONNECTED).then(|| name.to_string())
}

/// The numbers C of files `<prefix>C<suffix>` in `dir`, ascending.
fn channels(root: &SysRoot, dir: &str, prefix: &str, suffix: &str) -> Vec<u32> {
    let mut found: Vec<u32> = root
        .list_dir(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok())
        .collect();
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_rounds_and_device_names_are_recognised() {
        assert_eq!(mv_ma_to_mw(5080, 1004), 5100);
        assert_eq!(mv_ma_to_mw(5000, 1), 5);
        assert_eq!(mv_ma_to_mw(4999, 1), 5);
        assert_eq!(mv_ma_to_mw(5000, -1), -5);
        assert!(is_i2c_device("1-0040") && is_i2c_device("7-0040"));
        for n in ["bind", "module", "uevent", "-0040", "1-", "x-0040"] {
            assert!(!is_i2c_device(n), "{n}");
        }
    }
}
