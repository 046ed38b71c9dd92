//! Discovering hwmon temperature inputs: `/sys/class/hwmon/hwmonN/{name,tempM_input,tempM_label}`
//! (Documentation/hwmon/sysfs-interface.rst).

use super::{ReadError, SysRoot, TempSensor};

const HWMON: &str = "sys/class/hwmon";

/// Every `tempM_input` of every `hwmonN`, in (N, M) order, named `name/label`
/// (`coretemp/Package id 0`) or `name/tempM` when there is no label.
pub fn discover(root: &SysRoot) -> Result<Vec<TempSensor>, ReadError> {
    let mut sensors = Vec::new();
    for (_, dir) in root.numbered_entries(HWMON, "hwmon")? {
        let base = format!("{HWMON}/{dir}");
        let chip = root
            .read_text(format!("{base}/name"))
            .ok()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| dir.clone());
        // A chip directory that vanished between listing and reading has no inputs.
        let Ok(numbers) = temp_input_numbers(root, &base) else {
            continue;
        };
        for n in numbers {
            let label = root
                .read_text(format!("{base}/temp{n}_label"))
                .ok()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| format!("temp{n}"));
            sensors.push(TempSensor::new(
                &format!("{}/{}", chip.trim(), label.trim()),
                format!("{base}/temp{n}_input"),
            ));
        }
    }
    Ok(sensors)
}

/// The M of every `tempM_input` in `dir`, ascending.
fn temp_input_numbers(root: &SysRoot, dir: &str) -> Result<Vec<u32>, ReadError> {
    let path = root.path(dir);
    let entries = std::fs::read_dir(&path).map_err(|e| ReadError::io(path.clone(), &e))?;
    let mut numbers: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("temp")?
                .strip_suffix("_input")?
                .parse()
                .ok()
        })
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}
