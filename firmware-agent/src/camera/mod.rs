//! Live camera sources: each `[[camera]]` (or `--camera NAME=URI`) is a capture thread
//! keeping its newest frame ([`LatestFrame`]); requests — the API's `camera://NAME`, the
//! standing questions of `[[watch]]` — take that frame when the pipeline starts them.
//!
//! | file      | owns |
//! |-----------|------|
//! | `uri`     | [`CameraUri`]: `csi://`, `v4l2://`, `rtsp://`, `file://`, `test://` (jetson-utils' names) |
//! | `latest`  | [`LatestFrame`]: the newest frame, captured / dropped-as-stale / used counters |
//! | `capture` | the [`FrameSource`] seam; the capture thread: faults, reopening with backoff |
//! | `gst`     | `GstSource`: GStreamer pipelines (cargo feature `camera`) |
//! | `images`  | [`Images`]: still images cycled at a rate (every build) |
//! | `watch`   | [`Watches`]: standing questions asked every interval, answers broadcast |
//!
//! Frames from GStreamer need the `camera` feature (`cargo build --features camera`, with
//! the GStreamer development packages installed); the default build opens still-image
//! cameras only and refuses the others at start, saying so.

mod capture;
#[cfg(feature = "camera")]
mod gst;
mod images;
mod latest;
mod uri;
mod watch;

pub use capture::{CameraError, FaultFn, FrameSource};
#[cfg(feature = "camera")]
pub use gst::{Format, GstSource, launch_line};
pub use images::Images;
pub use latest::{CameraCounts, Captured, LatestFrame};
pub use uri::{CameraUri, UriError};
pub use watch::{WatchEvent, WatchSpec, Watches};

use crate::encoders::InputLimits;
use crate::shutdown::Shutdown;
use msao::message::CameraStats;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A live source with no frame for this long is reopened.
pub const STALL: Duration = Duration::from_secs(5);
/// Frames per second of a still-image camera when none is configured.
pub const DEFAULT_IMAGE_FPS: u32 = 1;
/// Frame format of a `test://` camera when none is configured.
pub const DEFAULT_TEST_FORMAT: (u32, u32, u32) = (640, 480, 30);

/// One configured camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraSpec {
    /// Its name (`camera://NAME`, `[[watch]] camera`).
    pub name: String,
    /// Where its frames come from.
    pub uri: CameraUri,
    /// Frame size asked of the source (`None`: the source's own).
    pub size: Option<(u32, u32)>,
    /// Frame rate asked of the source (still images: the rate they are cycled at).
    pub fps: Option<u32>,
}

/// Whether this build can open cameras through GStreamer.
pub const GSTREAMER: bool = cfg!(feature = "camera");

impl CameraSpec {
    /// The source for this camera, or why this build cannot open it.
    pub fn source(&self, limits: InputLimits) -> Result<Box<dyn FrameSource>, CameraError> {
        if let CameraUri::Images(pattern) = &self.uri {
            let fps = self.fps.unwrap_or(DEFAULT_IMAGE_FPS);
            return Ok(Box::new(Images::new(pattern, f64::from(fps), limits)));
        }
        self.gst_source(limits)
    }

    #[cfg(feature = "camera")]
    fn gst_source(&self, limits: InputLimits) -> Result<Box<dyn FrameSource>, CameraError> {
        let (w, h, f) = DEFAULT_TEST_FORMAT;
        let format = match self.uri {
            CameraUri::Test(_) => Format {
                size: Some(self.size.unwrap_or((w, h))),
                fps: Some(self.fps.unwrap_or(f)),
            },
            _ => Format {
                size: self.size,
                fps: self.fps,
            },
        };
        gst::init()?;
        Ok(Box::new(GstSource::new(self.uri.clone(), format, limits)))
    }

    #[cfg(not(feature = "camera"))]
    fn gst_source(&self, _: InputLimits) -> Result<Box<dyn FrameSource>, CameraError> {
        Err(CameraError::Unsupported(format!(
            "camera `{}` ({}) needs GStreamer: this msao-agent was built without the `camera` \
             feature (cargo build --features camera; only file:// still images work without it)",
            self.name, self.uri
        )))
    }
}

/// The running cameras.
#[derive(Default)]
pub struct CameraSet {
    frames: BTreeMap<String, Arc<LatestFrame>>,
    threads: Vec<JoinHandle<()>>,
}

/// The cameras' newest frames by name: what requests about a camera hold. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Cameras(Arc<BTreeMap<String, Arc<LatestFrame>>>);

impl Cameras {
    /// The camera called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<LatestFrame>> {
        self.0.get(name)
    }

    /// Every camera's name, in order.
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }

    /// True when there is no camera.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every camera, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LatestFrame>> {
        self.0.values()
    }
}

impl CameraSet {
    /// Opens a source for every camera (refusing, before any thread starts, a camera this
    /// build cannot open) and starts their capture threads. A camera that fails later, or
    /// gives no frame for `stall` ([`STALL`] in the agent), is reported through `on_fault`
    /// and reopened; it never stops the others.
    pub fn start(
        specs: &[CameraSpec],
        limits: InputLimits,
        stall: Duration,
        on_fault: impl Fn(&str, &CameraError) + Clone + Send + 'static,
        stop: &Arc<Shutdown>,
    ) -> Result<Self, CameraError> {
        let sources = specs
            .iter()
            .map(|s| s.source(limits).map(|src| (s, src)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut set = Self::default();
        for (spec, source) in sources {
            let slot = LatestFrame::new(&spec.name);
            log::info!("camera {}: {}", spec.name, spec.uri);
            let thread = capture::spawn(
                source,
                Arc::clone(&slot),
                stall,
                Box::new(on_fault.clone()),
                Arc::clone(stop),
            )
            .map_err(|e| CameraError::Open(format!("cannot start a capture thread: {e}")))?;
            set.threads.push(thread);
            set.frames.insert(spec.name.clone(), slot);
        }
        Ok(set)
    }

    /// The frames, for requests.
    pub fn cameras(&self) -> Cameras {
        Cameras(Arc::new(self.frames.clone()))
    }

    /// Sends every camera's [`CameraStats`] every `every` until `stop` (a thread of the
    /// set, joined with it); nothing when there is no camera.
    pub fn report_every(
        &mut self,
        every: Duration,
        send: impl Fn(CameraStats) + Send + 'static,
        stop: &Arc<Shutdown>,
    ) -> std::io::Result<()> {
        if self.frames.is_empty() {
            return Ok(());
        }
        let cameras = self.cameras();
        let stop = Arc::clone(stop);
        let thread = std::thread::Builder::new()
            .name("camera-stats".into())
            .spawn(move || {
                while !stop.wait_until(std::time::Instant::now() + every) {
                    for c in cameras.iter() {
                        send(c.stats());
                    }
                }
            })?;
        self.threads.push(thread);
        Ok(())
    }

    /// Each camera's counters, in name order.
    pub fn counts(&self) -> Vec<(String, CameraCounts)> {
        self.frames
            .iter()
            .map(|(n, f)| (n.clone(), f.counts()))
            .collect()
    }

    /// Waits for the capture threads (after the stop was requested).
    pub fn join(self) {
        for t in self.threads {
            if t.join().is_err() {
                log::warn!("a camera thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_still_image_camera_reports_its_counters_periodically() {
        let dir = tempfile::tempdir().unwrap();
        image::RgbImage::new(8, 6)
            .save(dir.path().join("a.png"))
            .unwrap();
        let spec = CameraSpec {
            name: "stills".into(),
            uri: CameraUri::parse(&format!("file://{}/", dir.path().display())).unwrap(),
            size: None,
            fps: Some(50),
        };
        let stop = Arc::new(Shutdown::new());
        let mut set = CameraSet::start(
            &[spec],
            InputLimits::default(),
            STALL,
            |_: &str, _: &CameraError| {},
            &stop,
        )
        .unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sent);
        set.report_every(
            Duration::from_millis(50),
            move |s| seen.lock().unwrap().push(s),
            &stop,
        )
        .unwrap();
        let started = std::time::Instant::now();
        while sent
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.frame_age_ms.is_some())
            .count()
            < 2
        {
            assert!(started.elapsed() < Duration::from_secs(20), "no stats");
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.request();
        set.join();
        let sent = sent.lock().unwrap();
        let last = sent.last().unwrap();
        assert_eq!(last.camera.as_str(), "stills");
        assert!(
            last.captured >= 1 && last.dropped_stale < last.captured,
            "{last:?}"
        );
        assert!(
            sent.windows(2).all(|w| w[0].captured <= w[1].captured),
            "cumulative"
        );
    }

    #[test]
    fn a_build_without_gstreamer_names_the_feature_it_lacks() {
        let spec = CameraSpec {
            name: "door".into(),
            uri: CameraUri::parse("rtsp://10.0.0.5/door").unwrap(),
            size: None,
            fps: None,
        };
        let opened = spec.source(InputLimits::default());
        assert_eq!(
            opened.is_ok(),
            cfg!(feature = "camera"),
            "only a camera build opens rtsp://"
        );
        if let Err(e) = opened {
            let e = e.to_string();
            assert!(e.contains("door") && e.contains("`camera` feature"), "{e}");
        }
    }
}
