//! The schema fingerprint: a hash of the message types' postcard schema.
//!
//! Computed at compile time with postcard-schema's FNV-1a walk over [`Message`]'s type tree
//! (names, field names, variant names and data-model kinds). Any change to a wire type
//! changes the fingerprint, so a host refuses frames from a peer built from other types
//! instead of mis-decoding them.

use crate::message::Message;
use postcard_schema::key::hash::fnv1a64::hash_ty_path;

/// Domain string hashed in front of the schema.
pub const SCHEMA_DOMAIN: &str = "msao/telemetry";

/// Fingerprint of this build's wire schema, as carried in every frame header (little-endian).
pub const SCHEMA_FINGERPRINT: [u8; 8] = hash_ty_path::<Message>(SCHEMA_DOMAIN);

/// The fingerprint as a number (for display: `{:016x}`).
pub const fn fingerprint_u64(fp: [u8; 8]) -> u64 {
    u64::from_le_bytes(fp)
}
