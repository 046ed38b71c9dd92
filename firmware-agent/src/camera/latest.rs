//! [`LatestFrame`]: one camera's newest frame and its counters — latest-frame semantics.
//!
//! The capture thread replaces the frame as each arrives; a frame replaced before any
//! request took it is counted *dropped as stale*. A request takes the frame when the
//! pipeline starts it (not when it was queued), so what is answered about is at most one
//! frame interval old whenever capture keeps up. Taking does not consume: two requests
//! starting within one frame interval answer about the same frame (counted *used* once).

use image::RgbImage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// One captured frame.
#[derive(Debug)]
pub struct Captured {
    /// The camera's frame number since it started (1, 2, …; restarts do not reset it).
    pub seq: u64,
    /// The pixels.
    pub image: RgbImage,
    /// When it was captured (monotonic, for ages and latencies).
    pub at: Instant,
    /// When it was captured (wall clock, for reports).
    pub wall: SystemTime,
}

/// Counters of one camera, cumulative since the agent started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CameraCounts {
    /// Frames delivered by the source.
    pub captured: u64,
    /// Frames replaced before any request took them.
    pub dropped_stale: u64,
    /// Frames at least one request answered about.
    pub used: u64,
    /// Times the source was (re)opened after a failure.
    pub reconnects: u64,
    /// Failures (open, read, end of a live stream).
    pub errors: u64,
}

#[derive(Default)]
struct Counters {
    captured: AtomicU64,
    dropped_stale: AtomicU64,
    used: AtomicU64,
    reconnects: AtomicU64,
    errors: AtomicU64,
}

struct Slot {
    frame: Option<Arc<Captured>>,
    /// True once some request took `frame`.
    taken: bool,
}

/// A camera's newest frame, shared by its capture thread and the requests about it.
pub struct LatestFrame {
    name: String,
    slot: Mutex<Slot>,
    counters: Counters,
}

impl std::fmt::Debug for LatestFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatestFrame")
            .field("name", &self.name)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl LatestFrame {
    /// An empty slot for camera `name`.
    pub fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_string(),
            slot: Mutex::new(Slot {
                frame: None,
                taken: false,
            }),
            counters: Counters::default(),
        })
    }

    /// The camera's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stores a new frame (the capture thread); the previous one, if never taken, is
    /// counted stale.
    pub fn put(&self, frame: Captured) {
        self.counters.captured.fetch_add(1, Ordering::Relaxed);
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.frame.is_some() && !slot.taken {
            self.counters.dropped_stale.fetch_add(1, Ordering::Relaxed);
        }
        slot.frame = Some(Arc::new(frame));
        slot.taken = false;
    }

    /// The newest frame for a request starting now, or `None` before the first frame.
    pub fn take(&self) -> Option<Arc<Captured>> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let frame = slot.frame.clone()?;
        if !slot.taken {
            slot.taken = true;
            self.counters.used.fetch_add(1, Ordering::Relaxed);
        }
        Some(frame)
    }

    /// The newest frame without taking it (readiness checks, reports).
    pub fn peek(&self) -> Option<Arc<Captured>> {
        self.slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .frame
            .clone()
    }

    /// Forgets the frame (the source failed: an old frame must not be answered about).
    pub fn clear(&self) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.frame = None;
        slot.taken = false;
    }

    /// Counts a failure of the source.
    pub fn count_error(&self) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reopening of the source.
    pub fn count_reconnect(&self) {
        self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters and the newest frame's age, as the wire's `CameraStats`.
    pub fn stats(&self) -> msao::message::CameraStats {
        let c = self.counts();
        msao::message::CameraStats {
            camera: msao::message::truncated(&self.name),
            captured: c.captured,
            dropped_stale: c.dropped_stale,
            used: c.used,
            errors: u32::try_from(c.errors).unwrap_or(u32::MAX),
            reconnects: u32::try_from(c.reconnects).unwrap_or(u32::MAX),
            frame_age_ms: self
                .peek()
                .map(|f| u32::try_from(f.at.elapsed().as_millis()).unwrap_or(u32::MAX)),
        }
    }

    /// The counters now.
    pub fn counts(&self) -> CameraCounts {
        let c = &self.counters;
        CameraCounts {
            captured: c.captured.load(Ordering::Relaxed),
            dropped_stale: c.dropped_stale.load(Ordering::Relaxed),
            used: c.used.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Captured {
        Captured {
            seq,
            image: RgbImage::new(2, 2),
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    #[test]
    fn the_newest_frame_wins_and_untaken_ones_count_as_stale() {
        let l = LatestFrame::new("front");
        assert!(l.take().is_none(), "nothing before the first frame");
        l.put(frame(1));
        l.put(frame(2)); // 1 was never taken
        assert_eq!(l.take().unwrap().seq, 2);
        assert_eq!(l.take().unwrap().seq, 2, "taking does not consume");
        l.put(frame(3)); // 2 was taken: not stale
        l.put(frame(4)); // 3 was not
        assert_eq!(l.take().unwrap().seq, 4);
        assert_eq!(
            l.counts(),
            CameraCounts {
                captured: 4,
                dropped_stale: 2,
                used: 2,
                reconnects: 0,
                errors: 0,
            }
        );
        l.clear();
        assert!(l.take().is_none() && l.peek().is_none());
    }
}
