//! What this build is: crate version, git revision, target, profile, wire identity.
//! The first four come from `build.rs`; the fingerprint from [`crate::schema`].

/// Facts about the build, embedded at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    /// Crate version (`CARGO_PKG_VERSION`).
    pub version: &'static str,
    /// Short git revision of HEAD, `unknown` outside a git checkout.
    pub git_rev: &'static str,
    /// Target triple.
    pub target: &'static str,
    /// Cargo profile (`debug` or `release`).
    pub profile: &'static str,
    /// Wire version.
    pub wire_version: u8,
    /// Schema fingerprint.
    pub schema: [u8; 8],
}

/// This build.
pub const BUILD: BuildInfo = BuildInfo {
    version: env!("CARGO_PKG_VERSION"),
    git_rev: env!("MSAO_GIT_REV"),
    target: env!("MSAO_TARGET"),
    profile: env!("MSAO_PROFILE"),
    wire_version: crate::WIRE_VERSION,
    schema: crate::schema::SCHEMA_FINGERPRINT,
};

/// `0.1.0 (git 1a2b3c4d5e, aarch64-unknown-linux-gnu, release; wire v1, schema a61eeaba03f3c2c6)`:
/// what `msao-agent --version` and `msao-host --version` print after their name. The
/// fingerprint is the u64 read little-endian, as everywhere it is shown (spec §3.5).
impl core::fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} (git {}, {}, {}; wire v{}, schema {:016x})",
            self.version,
            self.git_rev,
            self.target,
            self.profile,
            self.wire_version,
            crate::schema::fingerprint_u64(self.schema),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn display_shows_the_fingerprint_as_the_little_endian_u64() {
        let info = BuildInfo {
            version: "0.1.0",
            git_rev: "1a2b3c4d5e",
            target: "aarch64-unknown-linux-gnu",
            profile: "release",
            wire_version: 1,
            schema: [0xc6, 0xc2, 0xf3, 0x03, 0xba, 0xea, 0x1e, 0xa6],
        };
        let mut text = heapless::String::<128>::new();
        write!(text, "{info}").unwrap();
        assert_eq!(
            text,
            "0.1.0 (git 1a2b3c4d5e, aarch64-unknown-linux-gnu, release; wire v1, schema a61eeaba03f3c2c6)"
        );
    }
}
