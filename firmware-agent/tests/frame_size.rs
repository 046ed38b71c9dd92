//! A typical `Sample` frame stays small: the x86 fixture (4 cores, 9 temperatures) with
//! real load figures, under a header one hour into a 10 Hz stream.

use msao::{frame, header::FrameHeader, message::Message};
use msao_agent::system::{LinuxReader, SystemReader};

mod common;

#[test]
fn fixture_sample_frame_size_is_pinned() {
    let root = common::copy_fixture("linux-x86");
    let mut reader = LinuxReader::new(root.path());
    std::fs::write(
        root.path().join("proc/stat"),
        "cpu  1300 0 600 8550 550 0 0 0 0 0\ncpu0 550 0 250 2850 100 0 0 0 0 0\n\
         cpu1 310 0 150 2840 200 0 0 0 0 0\ncpu2 300 0 150 2850 200 0 0 0 0 0\n",
    )
    .unwrap();
    let sample = reader.sample();
    assert_eq!(sample.cpu_load_pm, Some(400));
    let header = FrameHeader::new([0xA1, 0xB2, 0xC3, 0xD4], 36_000, 3_600_000_000);
    let mut buf = [0u8; frame::MAX_FRAME];
    let len = frame::encode(&header, &Message::Sample(sample), &mut buf)
        .unwrap()
        .len();
    // header 15 + seq 3 + time 5 = 23; message 68 (variant 1, cpu load 3, cores 19,
    // memory 10, gpu/emc 3, temps 26, rails 1, power 2, drops 3); CRC 4; COBS 1; 0x00 1
    assert_eq!(len, 97);
    assert!(len < 160);
}
