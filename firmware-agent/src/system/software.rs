//! Versions of the software stack found on disk: CUDA, TensorRT, the kernel.
//!
//! - CUDA: `/usr/local/cuda/version.json` (CUDA 11.1 and later:
//!   `"cuda" : { "name" : "CUDA SDK", "version" : "12.6.68" }`), else `version.txt`
//!   (CUDA 10.2 on JetPack 4: `CUDA Version 10.2.300`); reported as `major.minor`, the
//!   number `nvcc --version` leads with. Without `/usr/local/cuda`, the highest
//!   `/usr/local/cuda-X.Y` directory.
//! - TensorRT: the full version in the `libnvinfer.so.X.Y.Z` file name under
//!   `/usr/lib/aarch64-linux-gnu/` (Jetson) or `/usr/lib/x86_64-linux-gnu/` (x86 `.deb`).
//! - Kernel: `/proc/sys/kernel/osrelease` (what `uname -r` prints).

use super::{ReadError, SysRoot, root::parse_error};

const CUDA_DIRS: &str = "usr/local";
const LIB_DIRS: [&str; 2] = ["usr/lib/aarch64-linux-gnu", "usr/lib/x86_64-linux-gnu"];
const NVINFER: &str = "libnvinfer.so.";
const OSRELEASE: &str = "proc/sys/kernel/osrelease";

/// CUDA `major.minor`.
pub fn read_cuda(root: &SysRoot) -> Result<String, ReadError> {
    let mut dirs = vec!["cuda".to_string()];
    // Versioned installs, highest first, for machines without the `cuda` link.
    let mut versioned: Vec<(Vec<u32>, String)> = root
        .list_dir(CUDA_DIRS)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| Some((version_key(n.strip_prefix("cuda-")?)?, n)))
        .collect();
    versioned.sort();
    dirs.extend(versioned.into_iter().rev().map(|(_, n)| n));
    let mut tried = Vec::new();
    for dir in dirs {
        for (file, parse) in [
            (
                "version.json",
                parse_version_json as fn(&str) -> Option<String>,
            ),
            ("version.txt", parse_version_txt),
        ] {
            let rel = format!("{CUDA_DIRS}/{dir}/{file}");
            match root.read_text(&rel) {
                Ok(text) => {
                    return parse(&text)
                        .ok_or_else(|| parse_error(root.path(&rel), &text, "a CUDA version"));
                }
                Err(_) => tried.push(rel),
            }
        }
    }
    Err(root.no_source(&tried))
}

/// `major.minor` of the `"version"` inside the `"cuda"` object of `version.json`. A small
/// scan, not a JSON parser: the file is NVIDIA's and has this one shape.
pub fn parse_version_json(text: &str) -> Option<String> {
    let after = &text[text.find("\"cuda\"")?..];
    let after = &after[after.find("\"version\"")? + "\"version\"".len()..];
    let start = after.find('"')? + 1;
    let len = after[start..].find('"')?;
    major_minor(&after[start..start + len])
}

/// `major.minor` from `CUDA Version 10.2.300`.
pub fn parse_version_txt(text: &str) -> Option<String> {
    major_minor(text.trim().strip_prefix("CUDA Version")?.trim())
}

fn major_minor(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(major) && numeric(minor)).then(|| format!("{major}.{minor}"))
}

/// TensorRT `X.Y.Z`: the longest, then highest, version among `libnvinfer.so.*` files.
pub fn read_tensorrt(root: &SysRoot) -> Result<String, ReadError> {
    let mut best: Option<(usize, Vec<u32>, String)> = None;
    for dir in LIB_DIRS {
        for name in root.list_dir(dir).unwrap_or_default() {
            let Some(v) = name.strip_prefix(NVINFER) else {
                continue;
            };
            let Some(key) = version_key(v) else { continue };
            let cand = (key.len(), key, v.to_string());
            if best.as_ref().is_none_or(|b| cand > *b) {
                best = Some(cand);
            }
        }
    }
    best.map(|(_, _, v)| v).ok_or_else(|| ReadError::NoSource {
        tried: LIB_DIRS
            .iter()
            .map(|d| format!("{}/{NVINFER}*", root.path(d).display()))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Numeric parts of `10.3.0`; `None` unless every part is a number.
fn version_key(v: &str) -> Option<Vec<u32>> {
    v.split('.').map(|p| p.parse().ok()).collect()
}

/// Kernel release.
pub fn read_kernel(root: &SysRoot) -> Result<String, ReadError> {
    let text = root.read_text(OSRELEASE)?;
    let release = text.trim();
    if release.is_empty() {
        return Err(parse_error(root.path(OSRELEASE), "", "a kernel release"));
    }
    Ok(release.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_files() {
        let json = r#"{
   "cuda" : {
      "name" : "CUDA SDK",
      "version" : "12.6.68"
   },
   "cuda_cudart" : { "name" : "CUDA Runtime (cudart)", "version" : "12.6.68" }
}"#;
        assert_eq!(parse_version_json(json).as_deref(), Some("12.6"));
        assert_eq!(parse_version_json("{}"), None);
        assert_eq!(
            parse_version_txt("CUDA Version 10.2.300\n").as_deref(),
            Some("10.2")
        );
        assert_eq!(parse_version_txt("CUDA Version x"), None);
        assert_eq!(version_key("10.3.0"), Some(vec![10, 3, 0]));
        assert_eq!(version_key("10.3.0.bak"), None);
    }
}
