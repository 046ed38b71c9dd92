//! Prints the compile-time size bounds and the schema fingerprint.
use msao::{MaxSize, frame, header::FrameHeader, message::*};
fn main() {
    println!(
        "schema fingerprint {:016x}",
        u64::from_le_bytes(msao::SCHEMA_FINGERPRINT)
    );
    for (name, n) in [
        ("FrameHeader", FrameHeader::MAX_SIZE),
        ("Hello", Hello::MAX_SIZE),
        ("Sample", Sample::MAX_SIZE),
        ("RequestTrace", RequestTrace::MAX_SIZE),
        ("Fault", Fault::MAX_SIZE),
        ("ProfileResult", ProfileResult::MAX_SIZE),
        ("Capability", Capability::MAX_SIZE),
        ("ProfileRequest", ProfileRequest::MAX_SIZE),
        ("Message", Message::MAX_SIZE),
        ("max body", frame::MAX_BODY),
        ("max encoded frame", frame::MAX_ENCODED),
    ] {
        println!("{name:>18}: {n:>4} bytes");
    }
}
