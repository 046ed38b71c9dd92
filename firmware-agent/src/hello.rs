//! Building the `Hello` message: who this device is, what it runs, what it is made of.

use crate::config::DeviceId;
use msao::message::{CapabilitySummary, HardwareSummary, Hello, WireBuild};
use std::time::Duration;

/// `Hello` for this build. `sample_interval_ms` is rounded up so a sub-millisecond
/// interval never reads as 0.
pub fn build_hello(
    device_id: &DeviceId,
    hardware: HardwareSummary,
    capability: CapabilitySummary,
    sample_interval: Duration,
) -> Hello {
    let ms = sample_interval.as_micros().div_ceil(1000);
    Hello {
        device_id: device_id.to_wire(),
        build: WireBuild::current(),
        wire_version: msao::WIRE_VERSION,
        schema: msao::SCHEMA_FINGERPRINT,
        hardware,
        sample_interval_ms: u32::try_from(ms).unwrap_or(u32::MAX),
        capability,
    }
}
