//! The L4T (Jetson Linux) release from `/etc/nv_tegra_release`.
//!
//! The file's first line is `# R36 (release), REVISION: 4.3, GCID: …, BOARD: …, EABI: …,
//! DATE: …` on every release since L4T R24; the release is written `R36.4.3`.

use super::{ReadError, SysRoot, root::parse_error};

const RELEASE: &str = "etc/nv_tegra_release";

/// `R<major>.<revision>` from the release line; `None` when it is not of that form.
pub fn parse_release(text: &str) -> Option<String> {
    let line = text.lines().next()?.trim().trim_start_matches('#').trim();
    let major = line.strip_prefix('R')?.split_ascii_whitespace().next()?;
    let revision = line
        .split(',')
        .find_map(|part| part.trim().strip_prefix("REVISION:"))?
        .trim();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    (numeric(major) && numeric(revision)).then(|| format!("R{major}.{revision}"))
}

/// The release of the board under `root`.
pub fn read_l4t(root: &SysRoot) -> Result<String, ReadError> {
    let text = root.read_text(RELEASE)?;
    parse_release(&text).ok_or_else(|| {
        parse_error(
            root.path(RELEASE),
            text.lines().next().unwrap_or_default(),
            "`# R<n> (release), REVISION: <x.y>, …`",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases() {
        let r36 = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n# KERNEL_VARIANT: oot\n";
        assert_eq!(parse_release(r36).as_deref(), Some("R36.4.3"));
        let r32 = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022";
        assert_eq!(parse_release(r32).as_deref(), Some("R32.7.1"));
        assert_eq!(parse_release("R35 (release)"), None);
        assert_eq!(parse_release("# Rx (release), REVISION: 1.0"), None);
        assert_eq!(parse_release(""), None);
    }
}
