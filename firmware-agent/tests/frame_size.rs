//! A typical `Sample` frame stays small: the x86 fixture (4 cores, 9 temperatures) with
//! real load figures, under a header one hour into a 10 Hz stream.

use msao::{
    MaxSize, frame,
    header::FrameHeader,
    message::{Message, Sample},
};
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
    // The pin is this fixture's size; the bound is any Sample's. The encoder must never
    // produce more than the compile-time worst case for a Sample under this header, nor
    // more than the crate's bound for any frame, and that must fit one datagram.
    let sample_bound = frame_bound(FrameHeader::MAX_SIZE + Sample::MAX_SIZE + 1);
    assert!(len <= sample_bound, "{len} > {sample_bound}");
    assert!(sample_bound <= frame::MAX_ENCODED, "{sample_bound}");
}

// The crate's frame bound fits one datagram: checked when this test compiles.
const _: () = assert!(frame::MAX_ENCODED <= frame::MAX_FRAME);

/// Bytes on the wire for a message body of `header_and_message` bytes: CRC, COBS, 0x00.
fn frame_bound(header_and_message: usize) -> usize {
    msao::cobs::max_encoding_length(header_and_message + 4) + 1
}
