//! Encoding (and decoding) a frame allocates nothing: proven with a counting allocator that
//! counts this thread's allocations only, so other test threads cannot disturb it.

use msao::{Decoder, Event, FrameHeader, frame};
use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

mod common {
    pub mod typical;
}
use common::typical::typical_sample;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

#[test]
fn counting_allocator_sees_allocations() {
    // The instrument works: a Vec allocation is counted.
    let (_v, n) = allocations(|| vec![1u8; 16]);
    assert!(n >= 1);
}

#[test]
fn encoding_a_sample_frame_allocates_nothing() {
    let msg = typical_sample();
    let header = FrameHeader::new([1, 2, 3, 4], 42, 123_456);
    let mut buf = [0u8; frame::MAX_FRAME];
    let (len, n) = allocations(|| frame::encode(&header, &msg, &mut buf).map(<[u8]>::len));
    assert_eq!(n, 0, "encode allocated {n} times");
    assert!(
        len.unwrap() <= 160,
        "typical Sample frame exceeds 160 bytes"
    );
}

#[test]
fn decoding_a_sample_frame_allocates_nothing() {
    let msg = typical_sample();
    let mut buf = [0u8; frame::MAX_FRAME];
    let wire = frame::encode(&FrameHeader::new([1, 2, 3, 4], 42, 1), &msg, &mut buf)
        .unwrap()
        .to_vec();
    let mut dec = Decoder::new();
    let (ok, n) = allocations(|| {
        let mut input = wire.as_slice();
        matches!(dec.push(&mut input), Some(Event::Frame(f)) if f.message == msg)
    });
    assert!(ok);
    assert_eq!(n, 0, "decode allocated {n} times");
}
