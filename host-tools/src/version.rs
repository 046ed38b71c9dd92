//! The `--version` text: this tool's version plus the msao build it was compiled against.
use msao::build_info::BUILD;
use std::sync::LazyLock;

/// The same text `msao-agent --version` prints ([`msao::build_info::BuildInfo`]'s `Display`).
static LONG: LazyLock<String> = LazyLock::new(|| BUILD.to_string());

/// `0.1.0 (git 1a2b3c4d5e, x86_64-unknown-linux-gnu, release; wire v1, schema 0123456789abcdef)`.
pub fn long() -> &'static str {
    LONG.as_str()
}

/// What a capture file records as its writer: `msao-host 0.1.0 (git 1a2b3c4d5e)`.
pub fn tool() -> String {
    format!("msao-host {} (git {})", BUILD.version, BUILD.git_rev)
}

/// Our schema fingerprint as a number (displayed `{:016x}`).
pub fn our_schema() -> u64 {
    msao::schema::fingerprint_u64(msao::SCHEMA_FINGERPRINT)
}
