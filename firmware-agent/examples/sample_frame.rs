//! Prints the on-the-wire size of a real `Sample` (and `Hello`) frame from this machine.
//!
//! `cargo run -p msao-agent --example sample_frame [ROOT]` — ROOT defaults to `/`. The
//! header is that of a stream one hour in at 10 Hz (seq 36 000, t = 3 600 s), so varints
//! have their typical width.

use msao::{frame, header::FrameHeader, message::Message};
use msao_agent::{
    config::DeviceId,
    hello::build_hello,
    system::{LinuxReader, SystemReader},
};
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let root = std::env::args().nth(1).unwrap_or_else(|| "/".into());
    let mut reader = LinuxReader::new(&root);
    // Two readings a sample interval apart, so loads are real figures, not None.
    std::thread::sleep(Duration::from_millis(100));
    let sample = reader.sample();
    let header = FrameHeader::new([0xA1, 0xB2, 0xC3, 0xD4], 36_000, 3_600_000_000);
    let mut buf = [0u8; frame::MAX_FRAME];
    let sample_len = frame::encode(&header, &Message::Sample(sample.clone()), &mut buf)?.len();
    let id: DeviceId = "jetson-01".parse()?;
    let hello = build_hello(
        &id,
        reader.hardware(),
        reader.capability(),
        Duration::from_millis(100),
    );
    let hello_len = frame::encode(&header, &Message::Hello(hello), &mut buf)?.len();
    println!(
        "root {root}: {} cores, {} temperatures",
        sample.cores.len(),
        sample.temps_cdeg.len()
    );
    println!("Sample frame: {sample_len} bytes (terminator included)");
    println!("Hello frame: {hello_len} bytes");
    println!("{sample:?}");
    Ok(())
}
