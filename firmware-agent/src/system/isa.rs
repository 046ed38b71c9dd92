//! The CPU's instruction-set facts that decide which integer kernels ONNX Runtime runs.
//!
//! INT8 results depend on them: without VNNI, x86 multiplies u8 × s8 pairs into a
//! saturating int16 (VPMADDUBSW); with AVX-512 VNNI / AVX-VNNI, and on ARM (SDOT/UDOT, or
//! widening NEON multiplies), products accumulate in int32. The shipped models are quantised
//! so that every family computes the same integers (`calibration/REPORT.md`); the figures
//! still name the family they were measured on.
//!
//! Flags come from the CPU itself (CPUID on x86, the kernel's HWCAP on aarch64), so under
//! `qemu-x86_64 -cpu Haswell` they are Haswell's; the model name comes from `/proc/cpuinfo`,
//! which user-mode emulation does not rewrite: there it names the host.

use serde::Serialize;

/// What the figures were measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuIsa {
    /// `x86_64`, `aarch64`, …
    pub arch: &'static str,
    /// `/proc/cpuinfo` model (see the module docs about emulation); `None` if unreadable.
    pub model: Option<String>,
    /// The integer-kernel family: `avx512-vnni`, `avx-vnni`, `avx512bw`, `avx2`, `sse4.1`,
    /// `neon-i8mm`, `neon-dotprod`, `neon`, or `other`.
    pub int8_kernels: &'static str,
    /// The flags that matter for INT8 and FP32 kernels, as the CPU reports them.
    pub flags: Vec<&'static str>,
}

impl CpuIsa {
    /// Reads the running CPU (never fails: unknown facts stay out).
    pub fn detect() -> Self {
        let flags = flags();
        CpuIsa {
            arch: std::env::consts::ARCH,
            model: super::read_cpu_model(&super::SysRoot::new("/")).ok(),
            int8_kernels: family(&flags),
            flags,
        }
    }

    /// One line for tables: `AMD EPYC (x86_64, avx512-vnni kernels)`.
    pub fn summary(&self) -> String {
        format!(
            "{} ({}, {} INT8 kernels)",
            self.model.as_deref().unwrap_or("unknown CPU"),
            self.arch,
            self.int8_kernels
        )
    }
}

/// The best integer-kernel family the flags allow, in ONNX Runtime's order of preference.
fn family(flags: &[&'static str]) -> &'static str {
    const ORDER: [(&str, &str); 8] = [
        ("avx512vnni", "avx512-vnni"),
        ("avxvnni", "avx-vnni"),
        ("avx512bw", "avx512bw"),
        ("avx2", "avx2"),
        ("sse4.1", "sse4.1"),
        ("i8mm", "neon-i8mm"),
        ("dotprod", "neon-dotprod"),
        ("neon", "neon"),
    ];
    ORDER
        .iter()
        .find(|(flag, _)| flags.contains(flag))
        .map_or("other", |(_, name)| name)
}

#[cfg(target_arch = "x86_64")]
fn flags() -> Vec<&'static str> {
    let mut out = Vec::new();
    macro_rules! probe {
        ($($f:tt),*) => {$(
            if std::arch::is_x86_feature_detected!($f) {
                out.push($f);
            }
        )*};
    }
    probe!(
        "sse4.1",
        "sse4.2",
        "fma",
        "f16c",
        "avx",
        "avx2",
        "avx512f",
        "avx512bw",
        "avx512vnni",
        "avxvnni",
        "avx512bf16",
        "avx512fp16"
    );
    out
}

#[cfg(target_arch = "aarch64")]
fn flags() -> Vec<&'static str> {
    let mut out = Vec::new();
    macro_rules! probe {
        ($($f:tt),*) => {$(
            if std::arch::is_aarch64_feature_detected!($f) {
                out.push($f);
            }
        )*};
    }
    probe!("neon", "fp16", "dotprod", "i8mm", "bf16", "sve", "sve2");
    out
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn flags() -> Vec<&'static str> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_follows_the_best_flag() {
        assert_eq!(
            family(&["sse4.1", "avx2", "avx512bw", "avx512vnni"]),
            "avx512-vnni"
        );
        assert_eq!(family(&["sse4.1", "avx2", "avxvnni"]), "avx-vnni");
        assert_eq!(family(&["sse4.1", "avx2"]), "avx2");
        assert_eq!(family(&["neon", "dotprod"]), "neon-dotprod");
        assert_eq!(family(&["neon"]), "neon");
        assert_eq!(family(&[]), "other");
    }

    #[test]
    fn detect_names_this_machine() {
        let isa = CpuIsa::detect();
        assert_eq!(isa.arch, std::env::consts::ARCH);
        #[cfg(target_arch = "x86_64")]
        assert!(
            isa.flags.contains(&"sse4.1"),
            "x86-64 CI machines have SSE4.1: {isa:?}"
        );
        #[cfg(target_arch = "aarch64")]
        assert!(isa.flags.contains(&"neon"), "{isa:?}");
    }
}
