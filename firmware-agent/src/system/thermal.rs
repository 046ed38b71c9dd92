//! Discovering thermal zones: `/sys/class/thermal/thermal_zoneN/{type,temp}`.

use super::{ReadError, SysRoot, TempSensor};

const THERMAL: &str = "sys/class/thermal";

/// Every `thermal_zoneN`, in N order, named by its `type` (or `thermal_zoneN` when the
/// type cannot be read). A zone whose `temp` is unreadable is still listed: its readings
/// are `None`, and the log says why.
pub fn discover(root: &SysRoot) -> Result<Vec<TempSensor>, ReadError> {
    let zones = root.numbered_entries(THERMAL, "thermal_zone")?;
    Ok(zones
        .into_iter()
        .map(|(_, dir)| {
            let name = root
                .read_text(format!("{THERMAL}/{dir}/type"))
                .ok()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| dir.clone());
            TempSensor::new(name.trim(), format!("{THERMAL}/{dir}/temp"))
        })
        .collect())
}
