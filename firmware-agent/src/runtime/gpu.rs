//! GPU facts from the CUDA driver, for the capability document: name, compute capability,
//! memory, SM count (`cudarc` feature; the driver is loaded at run time).
//!
//! cudarc's constructors panic when `libcuda` cannot be loaded, and its own presence check
//! (`is_culib_present`) is an `unsafe fn`, which this crate forbids. So the driver library
//! is first looked for on disk under the names cudarc tries, in the loader's search path
//! (`LD_LIBRARY_PATH`, `ldconfig -p`) and the usual directories (including Jetson's
//! `/usr/lib/aarch64-linux-gnu/tegra`); only then is the driver called, and a panic that
//! still escapes is caught and reported as [`GpuError::Driver`].

use msao::message::GpuFacts;
use std::path::PathBuf;

/// What the CUDA driver says about one GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuInfo {
    /// Device name (`Orin`, `NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Compute capability, SM count and memory (`max_freq_mhz` is left to sysfs readers).
    pub facts: GpuFacts,
}

/// Why no GPU facts are available.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// Built without the `cudarc` feature.
    #[error("GPU query not built in (enable the `cudarc` feature)")]
    NotBuilt,
    /// No CUDA driver library on this machine.
    #[error("no CUDA driver library (libcuda.so) found; searched {}", list(.searched))]
    DriverMissing {
        /// Directories searched.
        searched: Vec<PathBuf>,
    },
    /// The driver is there but refused (no device, driver too old, …).
    #[error("CUDA driver: {0}")]
    Driver(String),
}

fn list(dirs: &[PathBuf]) -> String {
    let v: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    v.join(", ")
}

/// Facts about GPU `ordinal` (0 on a Jetson).
#[cfg(not(feature = "cudarc"))]
pub fn query_gpu(_ordinal: usize) -> Result<GpuInfo, GpuError> {
    Err(GpuError::NotBuilt)
}

/// Facts about GPU `ordinal` (0 on a Jetson).
#[cfg(feature = "cudarc")]
pub fn query_gpu(ordinal: usize) -> Result<GpuInfo, GpuError> {
    use cudarc::driver::{CudaContext, sys::CUdevice_attribute};
    let names = cudarc::get_lib_name_candidates("cuda");
    let (found, searched) = driver_present(&names);
    if !found {
        return Err(GpuError::DriverMissing { searched });
    }
    let query = move || -> Result<GpuInfo, String> {
        let ctx = CudaContext::new(ordinal).map_err(|e| e.to_string())?;
        let name = ctx.name().map_err(|e| e.to_string())?;
        let cc = ctx.compute_capability().ok();
        let sm = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .ok();
        let mem = ctx.total_mem().ok();
        Ok(GpuInfo {
            name,
            facts: GpuFacts {
                compute_capability: cc
                    .and_then(|(a, b)| Some([u8::try_from(a).ok()?, u8::try_from(b).ok()?])),
                sm_count: sm.and_then(|n| u16::try_from(n).ok()),
                mem_kib: mem.and_then(|b| u32::try_from(b / 1024).ok()),
                max_freq_mhz: None,
            },
        })
    };
    match std::panic::catch_unwind(query) {
        Ok(r) => r.map_err(GpuError::Driver),
        Err(_) => Err(GpuError::Driver(
            "the CUDA driver library could not be loaded".into(),
        )),
    }
}

/// True when one of `names` exists in a directory the loader searches.
#[cfg_attr(not(feature = "cudarc"), allow(dead_code))]
fn driver_present(names: &[String]) -> (bool, Vec<PathBuf>) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os("LD_LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
    }
    for d in [
        "/usr/lib/aarch64-linux-gnu/tegra",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib64",
        "/lib",
        "/usr/local/cuda/compat",
        "/usr/lib/wsl/lib",
    ] {
        dirs.push(PathBuf::from(d));
    }
    // `ldconfig -p` lists what the loader's cache knows: "libcuda.so.1 (libc6,x86-64) => /path".
    let cached = std::process::Command::new("ldconfig")
        .arg("-p")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let in_cache = cached.lines().any(|l| {
        let l = l.trim_start();
        names.iter().any(|n| l.starts_with(&format!("{n} "))) && !l.contains("/stubs/")
    });
    let on_disk = dirs
        .iter()
        .any(|d| !d.ends_with("stubs") && names.iter().any(|n| d.join(n).exists()));
    dirs.push(PathBuf::from("ldconfig -p"));
    (in_cache || on_disk, dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_gpu_is_an_error_not_a_panic() {
        // On machines without a CUDA driver (CI) this is DriverMissing or NotBuilt; on a GPU
        // machine it is Ok. Either way it returns.
        match query_gpu(0) {
            Ok(info) => assert!(!info.name.is_empty()),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn absent_library_is_not_found() {
        let names = vec!["libmsao-test-nonexistent.so.1".to_string()];
        let (found, searched) = driver_present(&names);
        assert!(!found);
        assert!(searched.iter().any(|d| d.ends_with("tegra")));
    }
}
