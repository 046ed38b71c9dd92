//! CRC-32C (Castagnoli, the iSCSI polynomial) over header and message bytes: the CPU's
//! CRC instruction where there is one, a table elsewhere.
//!
//! On x86-64 and AArch64 under an operating system (Linux for the Jetson agent and the
//! host, also macOS and Windows) the [`crc32c`](https://docs.rs/crc32c) crate checks the CPU
//! once and uses SSE 4.2's `crc32` or ARMv8's `crc32c*` instructions, eight bytes a step.
//! Those targets always have `std`, which that crate needs; the protocol crate itself stays
//! `no_std`. Everywhere else (Cortex-M, bare metal) the slice-by-16 table
//! ([`SOFTWARE`], 16 KiB of flash) is used. Both give the same value: tests compare them.
//!
//! ```
//! use msao::crc::CRC32C;
//! assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
//! ```

use ::crc::{CRC_32_ISCSI, Crc, Table};

/// The table-driven CRC-32C: slice-by-16, about 7× faster than the byte-wise table on a
/// 100-byte frame. What targets without a CRC instruction use.
pub const SOFTWARE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// CRC-32C of a frame body, computed the fastest way this target allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crc32c;

/// The frame CRC.
pub const CRC32C: Crc32c = Crc32c;

impl Crc32c {
    /// CRC-32C of `data` (init and xorout `0xFFFFFFFF`, reflected).
    #[inline]
    pub fn checksum(&self, data: &[u8]) -> u32 {
        // Keep this condition equal to the `crc32c` dependency's in Cargo.toml.
        #[cfg(all(
            any(target_arch = "x86_64", target_arch = "aarch64"),
            any(unix, windows)
        ))]
        {
            crc32c::crc32c(data)
        }
        #[cfg(not(all(
            any(target_arch = "x86_64", target_arch = "aarch64"),
            any(unix, windows)
        )))]
        {
            SOFTWARE.checksum(data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_and_agreement_with_the_table() {
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
        assert_eq!(SOFTWARE.checksum(b"123456789"), 0xE306_9283);
        let mut data = [0u8; 1100];
        let mut x = 0x1234_5678u32;
        for b in data.iter_mut() {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *b = (x >> 24) as u8;
        }
        // Every length and alignment the hardware path splits differently.
        for start in 0..9 {
            for end in (start..data.len()).step_by(7) {
                let d = &data[start..end];
                assert_eq!(CRC32C.checksum(d), SOFTWARE.checksum(d), "{start}..{end}");
            }
        }
    }
}
