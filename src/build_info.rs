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
