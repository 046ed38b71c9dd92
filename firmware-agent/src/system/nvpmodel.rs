//! nvpmodel power modes: the current mode id from `/var/lib/nvpmodel/status` and the
//! mode names from `/etc/nvpmodel.conf`.
//!
//! `status` is written by `nvpmodel` whenever the mode is set: `pmode:0002` (JetPack 4) or
//! `pmode:0002 fmode:quiet` (JetPack 5 and 6, with the fan mode). The configuration
//! defines each mode on a line `< POWER_MODEL ID=2 NAME=30W >`; ids are the numbers
//! `nvpmodel -m` takes.

use super::{ReadError, SysRoot, root::parse_error};

const STATUS: &str = "var/lib/nvpmodel/status";
const CONF: &str = "etc/nvpmodel.conf";

/// One mode defined in `nvpmodel.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerMode {
    /// `ID=`.
    pub id: u8,
    /// `NAME=` (`MAXN`, `15W`, `MODE_10W_DESKTOP`).
    pub name: String,
}

/// The mode id in a status text; `None` when there is no `pmode:` number.
pub fn parse_status(text: &str) -> Option<u8> {
    text.split_ascii_whitespace()
        .find_map(|w| w.strip_prefix("pmode:"))
        .and_then(|n| n.parse().ok())
}

/// Every `POWER_MODEL` line with an `ID` and a `NAME`, in file order. Other lines
/// (`PM_CONFIG`, clock settings, comments) are skipped.
pub fn parse_conf(text: &str) -> Vec<PowerMode> {
    text.lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix('<')?.strip_suffix('>')?;
            let mut words = inner.split_ascii_whitespace();
            if words.next()? != "POWER_MODEL" {
                return None;
            }
            let (mut id, mut name) = (None, None);
            for w in words {
                match w.split_once('=') {
                    Some(("ID", v)) => id = v.parse().ok(),
                    Some(("NAME", v)) => name = Some(v.to_string()),
                    _ => {}
                }
            }
            Some(PowerMode {
                id: id?,
                name: name?,
            })
        })
        .collect()
}

/// The current mode id.
pub fn read_mode(root: &SysRoot) -> Result<u8, ReadError> {
    let text = root.read_text(STATUS)?;
    parse_status(&text).ok_or_else(|| parse_error(root.path(STATUS), &text, "`pmode:NNNN`"))
}

/// The modes the board defines; an error when the file is unreadable or defines none.
pub fn read_modes(root: &SysRoot) -> Result<Vec<PowerMode>, ReadError> {
    let text = root.read_text(CONF)?;
    let modes = parse_conf(&text);
    if modes.is_empty() {
        return Err(ReadError::MissingKey {
            path: root.path(CONF),
            key: "POWER_MODEL",
        });
    }
    Ok(modes)
}

/// The name of mode `id`.
pub fn name_of(modes: &[PowerMode], id: u8) -> Option<&str> {
    modes.iter().find(|m| m.id == id).map(|m| m.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_variants() {
        assert_eq!(parse_status("pmode:0002 fmode:quiet\n"), Some(2));
        assert_eq!(parse_status("pmode:0000"), Some(0));
        assert_eq!(parse_status("fmode:cool"), None);
        assert_eq!(parse_status("pmode:abc"), None);
        assert_eq!(parse_status(""), None);
    }

    #[test]
    fn conf_lines() {
        let conf = "\
< PARAM TYPE=FILE NAME=CPU_ONLINE >
CORE_0 /sys/devices/system/cpu/cpu0/online
< POWER_MODEL ID=0 NAME=MAXN >
CPU_ONLINE CORE_0 1
<POWER_MODEL ID=1 NAME=15W>
< POWER_MODEL NAME=NOID >
< PM_CONFIG DEFAULT=2 >
";
        let modes = parse_conf(conf);
        assert_eq!(
            modes,
            [
                PowerMode {
                    id: 0,
                    name: "MAXN".into()
                },
                PowerMode {
                    id: 1,
                    name: "15W".into()
                }
            ]
        );
        assert_eq!(name_of(&modes, 1), Some("15W"));
        assert_eq!(name_of(&modes, 7), None);
    }
}
