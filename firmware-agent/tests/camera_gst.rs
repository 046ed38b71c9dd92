//! Cameras through GStreamer (feature `rtsp-server`, which includes `camera`; `.ci/run` runs
//! `cargo test -p msao-agent --features rtsp-server --test camera_gst` after installing the
//! Debian GStreamer packages): a `videotestsrc` camera, a generated H.264 file (I420 into
//! x264enc, MP4) played and looped, an RTSP server started in-process on 127.0.0.1
//! (gstreamer-rtsp-server) read back, stopped (the camera faults and keeps trying) and
//! restarted (the camera reconnects), and a device that does not exist (faults, never a
//! crash). Bounds below are liveness bounds, not performance figures (those are in
//! `benches/camera.rs`).

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use msao_agent::camera::{CameraSet, CameraSpec, CameraUri};
use msao_agent::encoders::InputLimits;
use msao_agent::shutdown::Shutdown;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Faults = Arc<Mutex<Vec<String>>>;

fn spec(name: &str, uri: &str, size: Option<(u32, u32)>, fps: Option<u32>) -> CameraSpec {
    CameraSpec {
        name: name.into(),
        uri: CameraUri::parse(uri).unwrap(),
        size,
        fps,
    }
}

/// Starts one camera; its faults are collected.
fn start(spec: CameraSpec, stall: Duration) -> (CameraSet, Faults, Arc<Shutdown>) {
    let faults: Faults = Arc::default();
    let seen = Arc::clone(&faults);
    let stop = Arc::new(Shutdown::new());
    let set = CameraSet::start(
        &[spec],
        InputLimits::default(),
        stall,
        move |name: &str, e: &msao_agent::camera::CameraError| {
            seen.lock().unwrap().push(format!("{name}: {e}"));
        },
        &stop,
    )
    .unwrap();
    (set, faults, stop)
}

fn wait_for(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop(set: CameraSet, stop: &Shutdown) {
    stop.request();
    set.join();
}

#[test]
fn a_test_pattern_keeps_only_its_newest_frame() {
    let (set, faults, s) = start(
        spec("pattern", "test://ball", Some((320, 240)), Some(30)),
        Duration::from_secs(5),
    );
    let cameras = set.cameras();
    let cam = cameras.get("pattern").unwrap();
    wait_for("20 frames", Duration::from_secs(30), || {
        cam.counts().captured >= 20
    });
    let c = cam.counts();
    // Nobody took a frame: every frame but the newest was replaced unused.
    assert_eq!(c.dropped_stale, c.captured - 1, "{c:?}");
    assert_eq!((c.used, c.errors), (0, 0), "{c:?}");
    let f = cam.take().unwrap();
    assert_eq!((f.image.width(), f.image.height()), (320, 240));
    assert!(f.seq >= 20);
    assert_eq!(cam.counts().used, 1);
    stop(set, &s);
    assert!(faults.lock().unwrap().is_empty());
    assert!(cam.peek().is_none(), "no frame outlives the camera");
}

/// Writes `frames` frames of a test pattern as H.264 (I420) in MP4.
fn h264_file(path: &std::path::Path, frames: u32) {
    gst::init().unwrap();
    let line = format!(
        "videotestsrc num-buffers={frames} pattern=smpte ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! x264enc ! h264parse ! mp4mux ! filesink location=\"{}\"",
        path.display()
    );
    let pipeline = gst::parse::launch(&line).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the encoder finished");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn an_h264_file_plays_at_its_rate_and_loops() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    h264_file(&video, 15); // half a second at 30 fps
    let (set, faults, s) = start(
        spec("clip", &format!("file://{}", video.display()), None, None),
        Duration::from_secs(5),
    );
    let cameras = set.cameras();
    let cam = cameras.get("clip").unwrap();
    // More frames than the file has: it looped, without an error.
    wait_for("40 frames", Duration::from_secs(30), || {
        cam.counts().captured >= 40
    });
    let f = cam.take().unwrap();
    assert_eq!((f.image.width(), f.image.height()), (160, 120));
    stop(set, &s);
    assert_eq!(cam.counts().errors, 0, "{:?}", faults.lock().unwrap());
}

/// An RTSP server on 127.0.0.1:`port` serving an H.264 test pattern at `/cam`, on its own
/// GLib main loop; stopped when dropped.
struct RtspServer {
    main_loop: gst::glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
    port: u16,
}

impl RtspServer {
    fn start(port: u16) -> Self {
        gst::init().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let ctx = gst::glib::MainContext::new();
            ctx.with_thread_default(|| {
                let server = rtsp::RTSPServer::new();
                server.set_address("127.0.0.1");
                server.set_service(&port.to_string());
                let factory = rtsp::RTSPMediaFactory::new();
                factory.set_launch(
                    "( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )",
                );
                factory.set_shared(true);
                server.mount_points().unwrap().add_factory("/cam", factory);
                let source = server.attach(Some(&ctx)).expect("the RTSP server binds");
                let main_loop = gst::glib::MainLoop::new(Some(&ctx), false);
                tx.send((main_loop.clone(), server.bound_port())).unwrap();
                main_loop.run();
                if let Some(s) = ctx.find_source_by_id(&source) {
                    s.destroy();
                }
                // Ends the sessions of connected clients.
                server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
            })
            .unwrap();
        });
        let (main_loop, bound) = rx.recv().unwrap();
        Self {
            main_loop,
            thread: Some(thread),
            port: u16::try_from(bound).unwrap(),
        }
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

#[test]
fn an_rtsp_camera_faults_when_its_server_goes_and_reconnects_when_it_returns() {
    let server = RtspServer::start(0);
    let port = server.port;
    let (set, faults, s) = start(
        spec("door", &format!("rtsp://127.0.0.1:{port}/cam"), None, None),
        Duration::from_secs(2),
    );
    let cameras = set.cameras();
    let cam = cameras.get("door").unwrap();
    wait_for("10 RTSP frames", Duration::from_secs(60), || {
        cam.counts().captured >= 10
    });
    let f = cam.peek().unwrap();
    assert_eq!((f.image.width(), f.image.height()), (320, 240));

    drop(server);
    wait_for(
        "a fault once the server is gone",
        Duration::from_secs(30),
        || !faults.lock().unwrap().is_empty(),
    );
    assert!(cam.counts().errors >= 1);
    let before = cam.counts().captured;

    let _server = RtspServer::start(port);
    wait_for(
        "frames again after the restart",
        Duration::from_secs(90),
        || cam.counts().captured >= before + 10,
    );
    let c = cam.counts();
    assert!(c.reconnects >= 1, "{c:?}");
    stop(set, &s);
    let f = faults.lock().unwrap();
    assert!(f.iter().all(|m| m.starts_with("door: ")), "{f:?}");
}

#[test]
fn a_missing_device_is_a_fault_never_a_crash() {
    let (set, faults, s) = start(
        spec("ghost", "v4l2:///dev/video-not-here", None, None),
        Duration::from_secs(2),
    );
    wait_for("a fault", Duration::from_secs(30), || {
        !faults.lock().unwrap().is_empty()
    });
    let cameras = set.cameras();
    let cam = cameras.get("ghost").unwrap();
    assert!(cam.peek().is_none());
    assert!(cam.counts().errors >= 1);
    stop(set, &s);
    let f = faults.lock().unwrap();
    assert!(f[0].starts_with("ghost: "), "{f:?}");
}
