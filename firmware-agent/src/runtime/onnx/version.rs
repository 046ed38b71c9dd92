//! Which ONNX Runtime library is actually mapped into this process, and its version.
//!
//! `ort` reads the version string through the C API but does not expose it, and asking
//! the library ourselves would need `unsafe`. The process's own memory map is the ground
//! truth instead: the mapped `libonnxruntime.so*` file is the library in use, and its
//! version is in its file name (`libonnxruntime.so.1.31.1`) or, for a renamed copy, in
//! its ELF symbol version (`VERS_1.31.1`, set by ONNX Runtime's linker script).

use std::path::{Path, PathBuf};

/// The library in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedLibrary {
    /// The mapped file (symlinks resolved by the kernel).
    pub path: PathBuf,
    /// Its version, when the name or the ELF symbol version says.
    pub version: Option<String>,
}

/// Finds the mapped ONNX Runtime library of this process (Linux `/proc/self/maps`).
pub fn loaded_library() -> Option<LoadedLibrary> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let path = find_in_maps(&maps)?;
    let version = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(version_from_file_name)
        .or_else(|| version_from_elf(&path));
    Some(LoadedLibrary { path, version })
}

/// The first mapped file whose name starts with `libonnxruntime.so` (not the
/// `libonnxruntime_providers_*` helpers).
pub fn find_in_maps(maps: &str) -> Option<PathBuf> {
    maps.lines().find_map(|line| {
        let start = line.find('/')?;
        let path = line[start..].trim_end().trim_end_matches(" (deleted)");
        let name = Path::new(path).file_name()?.to_str()?;
        name.starts_with("libonnxruntime.so")
            .then(|| PathBuf::from(path))
    })
}

/// `libonnxruntime.so.1.31.1` → `1.31.1`; `None` without a full x.y.z suffix.
pub fn version_from_file_name(name: &str) -> Option<String> {
    let v = name.strip_prefix("libonnxruntime.so.")?;
    is_version(v).then(|| v.to_string())
}

/// The first `VERS_x.y.z` in the file.
fn version_from_elf(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    version_from_bytes(&bytes)
}

/// The first `VERS_x.y.z` in `bytes`.
pub fn version_from_bytes(bytes: &[u8]) -> Option<String> {
    const TAG: &[u8] = b"VERS_";
    let mut rest = bytes;
    while let Some(at) = rest.windows(TAG.len()).position(|w| w == TAG) {
        let tail = &rest[at + TAG.len()..];
        let len = tail
            .iter()
            .take(24)
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .count();
        if let Ok(v) = std::str::from_utf8(&tail[..len])
            && is_version(v)
        {
            return Some(v.to_string());
        }
        rest = tail;
    }
    None
}

fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_library_not_its_helpers() {
        let maps = "\
7f10 r--p 00000000 08:01 11 /opt/ort/libonnxruntime_providers_shared.so
7f20 r--p 00000000 08:01 12 /work/.cache/onnxruntime/libonnxruntime.so.1.31.1
7f30 r-xp 00001000 08:01 12 /work/.cache/onnxruntime/libonnxruntime.so.1.31.1
7f40 rw-p 00000000 00:00 0 [heap]";
        assert_eq!(
            find_in_maps(maps),
            Some(PathBuf::from(
                "/work/.cache/onnxruntime/libonnxruntime.so.1.31.1"
            ))
        );
        assert_eq!(find_in_maps("7f40 rw-p 00000000 00:00 0 [heap]"), None);
    }

    #[test]
    fn versions_from_names_and_symbols() {
        assert_eq!(
            version_from_file_name("libonnxruntime.so.1.31.1").as_deref(),
            Some("1.31.1")
        );
        assert_eq!(version_from_file_name("libonnxruntime.so.1"), None);
        assert_eq!(version_from_file_name("libonnxruntime.so"), None);
        let elf = b"\0\0GLIBC_2.2.5\0VERS_x\0VERS_1.19.2\0more";
        assert_eq!(version_from_bytes(elf).as_deref(), Some("1.19.2"));
        assert_eq!(version_from_bytes(b"VERS_1.2"), None);
    }
}
