//! [`GstSource`]: a camera through GStreamer (cargo feature `camera`), one pipeline per
//! camera ending in an `appsink` with latest-frame semantics (`max-buffers=1 drop=true`),
//! converted to packed RGB on GStreamer's threads.
//!
//! | URI | pipeline head |
//! |-----|---------------|
//! | `csi://N` | `nvarguscamerasrc sensor-id=N ! video/x-raw(memory:NVMM) ! nvvidconv` (Jetson ISP, NVMM) |
//! | `v4l2:///dev/videoN` | `v4l2src device=… ! decodebin` (raw or MJPEG) |
//! | `rtsp://…` | `rtspsrc location=… latency=… ! decodebin` (on Jetson, `nvv4l2decoder` outranks software decoders) |
//! | `file:///….mp4` | `filesrc location=… ! decodebin`, played at its own rate (`sync=true`), looped |
//! | `test://PATTERN` | `videotestsrc is-live=true pattern=PATTERN` |
//!
//! Live sources run with `sync=false`: a frame is handed over as soon as it is decoded and
//! replaced by the next. Errors from the pipeline's bus are read with each frame and end
//! the pipeline (the capture thread reopens it).

use super::capture::{CameraError, FrameSource};
use super::uri::CameraUri;
use crate::encoders::InputLimits;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use image::RgbImage;
use std::time::Duration;

/// Latency of the RTSP jitter buffer, ms: small, a camera answer wants the newest frame.
const RTSP_LATENCY_MS: u32 = 100;

/// Initialises GStreamer once; the error says what is missing.
pub fn init() -> Result<(), CameraError> {
    static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|e| format!("GStreamer: {e}"))?;
        log::info!("cameras: {}", gst::version_string());
        Ok(())
    })
    .clone()
    .map_err(CameraError::Open)
}

/// The camera's requested frame format (`None`: the source's own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Format {
    /// Width and height.
    pub size: Option<(u32, u32)>,
    /// Frames per second.
    pub fps: Option<u32>,
}

/// A GStreamer launch line for `uri`, ending in `appsink name=sink`.
pub fn launch_line(uri: &CameraUri, format: Format) -> String {
    let size = format
        .size
        .map(|(w, h)| format!(",width={w},height={h}"))
        .unwrap_or_default();
    let rate = format
        .fps
        .map(|f| format!(",framerate={f}/1"))
        .unwrap_or_default();
    let (head, sync) = match uri {
        CameraUri::Csi(n) => (
            format!(
                "nvarguscamerasrc sensor-id={n} ! video/x-raw(memory:NVMM){size}{rate} ! nvvidconv ! video/x-raw,format=BGRx"
            ),
            false,
        ),
        CameraUri::V4l2(dev) => (
            format!(
                "v4l2src device={} ! decodebin",
                quoted(&dev.display().to_string())
            ),
            false,
        ),
        CameraUri::Rtsp(url) => (
            format!(
                "rtspsrc location={} latency={RTSP_LATENCY_MS} ! decodebin",
                quoted(url)
            ),
            false,
        ),
        CameraUri::Video(path) => (
            format!(
                "filesrc location={} ! decodebin",
                quoted(&path.display().to_string())
            ),
            true,
        ),
        CameraUri::Test(pattern) => (
            format!("videotestsrc is-live=true pattern={pattern} ! video/x-raw{size}{rate}"),
            false,
        ),
        CameraUri::Images(_) => (String::new(), false),
    };
    format!(
        "{head} ! videoconvert ! videoscale ! video/x-raw,format=RGB{size} ! \
         appsink name=sink max-buffers=1 drop=true sync={sync}"
    )
}

/// A value quoted for a launch line.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One camera through GStreamer.
pub struct GstSource {
    uri: CameraUri,
    line: String,
    limits: InputLimits,
    pipeline: Option<(gst::Pipeline, gst_app::AppSink)>,
}

impl GstSource {
    /// A source for `uri` at `format`; frames over `limits` are refused.
    pub fn new(uri: CameraUri, format: Format, limits: InputLimits) -> Self {
        let line = launch_line(&uri, format);
        Self {
            uri,
            line,
            limits,
            pipeline: None,
        }
    }

    /// The launch line it runs.
    pub fn line(&self) -> &str {
        &self.line
    }

    /// The first error or end-of-stream waiting on the bus, if any.
    fn bus_problem(pipeline: &gst::Pipeline) -> Option<CameraError> {
        let bus = pipeline.bus()?;
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos]) {
            match msg.view() {
                gst::MessageView::Error(e) => {
                    let from = e
                        .src()
                        .map(|s| s.path_string().to_string())
                        .unwrap_or_default();
                    let debug = e.debug().map(|d| format!(" ({d})")).unwrap_or_default();
                    return Some(CameraError::Read(format!("{from}: {}{debug}", e.error())));
                }
                gst::MessageView::Eos(_) => return Some(CameraError::Ended),
                _ => {}
            }
        }
        None
    }

    fn to_rgb(&self, sample: &gst::Sample) -> Result<RgbImage, CameraError> {
        let bad = |why: String| CameraError::Read(why);
        let caps = sample
            .caps()
            .ok_or_else(|| bad("a sample without caps".into()))?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| bad(e.to_string()))?;
        let (w, h) = (info.width(), info.height());
        self.limits
            .check_image(w, h)
            .map_err(|e| bad(format!("frame {w}×{h}: {e}")))?;
        let buffer = sample
            .buffer()
            .ok_or_else(|| bad("a sample without a buffer".into()))?;
        let map = buffer.map_readable().map_err(|e| bad(e.to_string()))?;
        let stride =
            usize::try_from(info.stride()[0]).map_err(|_| bad("negative stride".into()))?;
        let row = w as usize * 3;
        if stride < row || map.len() < stride * (h as usize - 1) + row {
            return Err(bad(format!(
                "buffer of {} bytes is too small for {w}×{h} RGB (stride {stride})",
                map.len()
            )));
        }
        let mut packed = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            packed.extend_from_slice(&map[y * stride..y * stride + row]);
        }
        RgbImage::from_raw(w, h, packed).ok_or_else(|| bad("frame size mismatch".into()))
    }
}

impl FrameSource for GstSource {
    fn open(&mut self) -> Result<(), CameraError> {
        init()?;
        let element = gst::parse::launch(&self.line)
            .map_err(|e| CameraError::Open(format!("{e} (pipeline: {})", self.line)))?;
        let pipeline = element
            .downcast::<gst::Pipeline>()
            .map_err(|_| CameraError::Open("the launch line is not a pipeline".into()))?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| CameraError::Open("no appsink in the pipeline".into()))?;
        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            let why = Self::bus_problem(&pipeline).map_or(e.to_string(), |p| p.to_string());
            let _ = pipeline.set_state(gst::State::Null);
            return Err(CameraError::Open(format!("{}: {why}", self.uri)));
        }
        self.pipeline = Some((pipeline, sink));
        Ok(())
    }

    fn next(&mut self, wait: Duration) -> Result<Option<RgbImage>, CameraError> {
        let Some((pipeline, sink)) = &self.pipeline else {
            return Err(CameraError::Read("not open".into()));
        };
        let timeout =
            gst::ClockTime::from_nseconds(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
        if let Some(sample) = sink.try_pull_sample(timeout) {
            return self.to_rgb(&sample).map(Some);
        }
        let ended = match Self::bus_problem(pipeline) {
            Some(CameraError::Ended) => true,
            Some(problem) => return Err(problem),
            None => sink.is_eos(),
        };
        match (ended, &self.uri) {
            (false, _) => Ok(None),
            // A video file loops (the end may show on the sink before the bus).
            (true, CameraUri::Video(_)) => {
                pipeline
                    .seek_simple(
                        gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                        gst::ClockTime::ZERO,
                    )
                    .map_err(|e| CameraError::Read(format!("cannot loop the video: {e}")))?;
                Ok(None)
            }
            (true, _) => Err(CameraError::Ended),
        }
    }

    fn close(&mut self) {
        if let Some((pipeline, _)) = self.pipeline.take() {
            let _ = pipeline.set_state(gst::State::Null);
        }
    }
}

impl Drop for GstSource {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_lines_follow_the_uri() {
        let f = Format {
            size: Some((640, 480)),
            fps: Some(30),
        };
        let line = |u: &str| launch_line(&CameraUri::parse(u).unwrap(), f);
        assert!(line("csi://1").starts_with("nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM),width=640,height=480,framerate=30/1 ! nvvidconv"));
        assert!(
            line("v4l2:///dev/video2").starts_with("v4l2src device=\"/dev/video2\" ! decodebin")
        );
        assert!(
            line("rtsp://h:8554/a").contains("rtspsrc location=\"rtsp://h:8554/a\" latency=100")
        );
        assert!(
            line("file:///v/a b.mp4").contains("location=\"/v/a b.mp4\"")
                && line("file:///v/a.mp4").ends_with("sync=true")
        );
        let test = line("test://ball");
        assert!(test.starts_with("videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1"), "{test}");
        assert!(
            test.ends_with("appsink name=sink max-buffers=1 drop=true sync=false"),
            "{test}"
        );
    }
}
