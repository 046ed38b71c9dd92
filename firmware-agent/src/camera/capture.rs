//! The frame-source seam ([`FrameSource`]) and the capture thread that keeps one camera's
//! [`LatestFrame`] fresh: open, read, and on any failure report a `Fault`, forget the old
//! frame and reopen with backoff (0.5 s doubling to 30 s, reset by the next frame). A
//! camera that vanishes is a fault, never a crash; the thread ends only at shutdown.

use super::latest::{Captured, LatestFrame};
use crate::shutdown::Shutdown;
use image::RgbImage;
use log::{info, warn};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How long one read waits before the loop checks for shutdown.
const READ_WAIT: Duration = Duration::from_millis(100);
/// First and largest wait before reopening a failed source.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Why a source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    /// It could not be opened (no device, bad pipeline, unreachable server).
    #[error("cannot open: {0}")]
    Open(String),
    /// Reading failed, or the stream errored.
    #[error("read failed: {0}")]
    Read(String),
    /// A live stream ended.
    #[error("the stream ended")]
    Ended,
    /// No frame came for this long although the source is open.
    #[error("no frame for {0:?}")]
    Stalled(Duration),
    /// This build cannot open this kind of source.
    #[error("{0}")]
    Unsupported(String),
}

/// A source of frames: one camera, one video, a set of images.
pub trait FrameSource: Send {
    /// Opens, or reopens after a failure.
    fn open(&mut self) -> Result<(), CameraError>;
    /// The next frame, waiting at most `wait`; `Ok(None)` when none came in that time.
    fn next(&mut self, wait: Duration) -> Result<Option<RgbImage>, CameraError>;
    /// Releases the device or stream.
    fn close(&mut self);
}

/// Called with each failure of a camera (the agent publishes a `Fault`).
pub type FaultFn = Box<dyn Fn(&str, &CameraError) + Send>;

/// Starts the capture thread of `source` into `slot`; a source that gives no frame for
/// `stall` while open is treated as failed.
pub fn spawn(
    mut source: Box<dyn FrameSource>,
    slot: Arc<LatestFrame>,
    stall: Duration,
    on_fault: FaultFn,
    stop: Arc<Shutdown>,
) -> std::io::Result<JoinHandle<()>> {
    let name = format!("camera-{}", slot.name());
    std::thread::Builder::new().name(name).spawn(move || {
        let mut backoff = BACKOFF_FIRST;
        let mut seq = 0u64;
        let mut opened_before = false;
        while !stop.is_requested() {
            if opened_before {
                slot.count_reconnect();
            }
            opened_before = true;
            let error = match source.open() {
                Err(e) => e,
                Ok(()) => {
                    info!("camera {}: open", slot.name());
                    let e = read_until_failure(&mut *source, &slot, &mut seq, stall, &stop);
                    source.close();
                    match e {
                        None => break, // shutdown
                        Some((e, got_frames)) => {
                            if got_frames {
                                backoff = BACKOFF_FIRST;
                            }
                            e
                        }
                    }
                }
            };
            slot.count_error();
            slot.clear();
            warn!(
                "camera {}: {error}; reopening in {:.1} s",
                slot.name(),
                backoff.as_secs_f64()
            );
            on_fault(slot.name(), &error);
            if stop.wait_until(Instant::now() + backoff) {
                break;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        slot.clear();
    })
}

/// Reads frames into `slot` until the source fails (the error, and whether any frame came)
/// or shutdown (`None`).
fn read_until_failure(
    source: &mut dyn FrameSource,
    slot: &LatestFrame,
    seq: &mut u64,
    stall: Duration,
    stop: &Shutdown,
) -> Option<(CameraError, bool)> {
    let mut last = Instant::now();
    let mut got = false;
    loop {
        if stop.is_requested() {
            return None;
        }
        match source.next(READ_WAIT) {
            Ok(Some(image)) => {
                *seq += 1;
                last = Instant::now();
                got = true;
                slot.put(Captured {
                    seq: *seq,
                    image,
                    at: last,
                    wall: SystemTime::now(),
                });
            }
            Ok(None) if last.elapsed() > stall => {
                return Some((CameraError::Stalled(stall), got));
            }
            Ok(None) => {}
            Err(e) => return Some((e, got)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Fails to open once, then gives 3 frames and fails, then gives frames forever.
    struct Flaky {
        opens: usize,
        given: usize,
    }

    impl FrameSource for Flaky {
        fn open(&mut self) -> Result<(), CameraError> {
            self.opens += 1;
            if self.opens == 1 {
                return Err(CameraError::Open("no device".into()));
            }
            Ok(())
        }
        fn next(&mut self, _: Duration) -> Result<Option<RgbImage>, CameraError> {
            std::thread::sleep(Duration::from_millis(5));
            self.given += 1;
            if self.opens == 2 && self.given > 3 {
                return Err(CameraError::Ended);
            }
            Ok(Some(RgbImage::new(4, 4)))
        }
        fn close(&mut self) {}
    }

    #[test]
    fn a_failing_source_is_reported_and_reopened_until_shutdown() {
        let slot = LatestFrame::new("flaky");
        let faults = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&faults);
        let stop = Arc::new(Shutdown::new());
        let h = spawn(
            Box::new(Flaky { opens: 0, given: 0 }),
            Arc::clone(&slot),
            Duration::from_secs(5),
            Box::new(move |name, e| seen.lock().unwrap().push(format!("{name}: {e}"))),
            Arc::clone(&stop),
        )
        .unwrap();
        let start = Instant::now();
        while slot.counts().captured < 10 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.request();
        h.join().unwrap();
        let c = slot.counts();
        assert!(c.captured >= 10, "{c:?}");
        assert_eq!((c.errors, c.reconnects), (2, 2), "{c:?}");
        let f = faults.lock().unwrap();
        assert_eq!(
            f.as_slice(),
            ["flaky: cannot open: no device", "flaky: the stream ended"]
        );
        assert!(slot.peek().is_none(), "no frame is kept after shutdown");
    }
}
