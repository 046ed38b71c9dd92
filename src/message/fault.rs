//! `Fault`: a code and a short human message.

use crate::wire_struct;

wire_struct! {
    /// Something went wrong on the device. Codes are listed in spec §4.6.
    pub struct Fault {
        /// A [`FaultCode`] value (unknown codes must be shown as numbers, not rejected).
        pub code: u16,
        /// Short human-readable detail, cut at 96 bytes.
        pub message: heapless::String<96>,
    }
}

impl Fault {
    /// A fault with `message` cut to fit.
    pub fn new(code: u16, message: &str) -> Self {
        Self {
            code,
            message: super::truncated(message),
        }
    }
}

/// Known fault codes. The wire carries the number; new codes may appear at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum FaultCode {
    /// A system reading failed unexpectedly (it was readable before).
    SensorRead = 1,
    /// A telemetry transport failed (connect, write).
    Transport = 2,
    /// The configuration was changed or rejected at run time.
    Config = 3,
    /// A model failed to load or run.
    Model = 10,
    /// The cloud endpoint was unreachable, slow, or answered wrongly.
    Cloud = 20,
    /// An input (frame, audio, question) was malformed.
    Input = 30,
    /// A camera could not be opened, failed, stalled or ended.
    Camera = 40,
}

impl FaultCode {
    /// Name of a known code.
    pub fn name(code: u16) -> Option<&'static str> {
        Some(match code {
            1 => "sensor_read",
            2 => "transport",
            3 => "config",
            10 => "model",
            20 => "cloud",
            30 => "input",
            40 => "camera",
            _ => return None,
        })
    }
}
