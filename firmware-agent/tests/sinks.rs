//! Sink threads with in-memory transports: numbering, encoding, flush, failure streaks,
//! the flush deadline.

use msao::{
    decoder::{Frame, decode_frame},
    message::{Fault, FaultCode, Message},
    transport::{Endpoint, FrameSink},
};
use msao_agent::{
    clock::Clock,
    system::{LinuxReader, SystemReader},
    telemetry::{
        Bus, Control, FlushDeadline, RECOVER_AFTER, SinkWorker, Telemetry, TelemetryQueue,
    },
};
use std::{
    io,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

mod common;

/// Records frames; fails with ECONNREFUSED while `fail` is set.
struct Recording {
    endpoint: Endpoint,
    frames: Arc<Mutex<Vec<Vec<u8>>>>,
    fail: Arc<AtomicBool>,
}

type Frames = Arc<Mutex<Vec<Vec<u8>>>>;

fn recording(name: &str) -> (Box<dyn FrameSink>, Frames, Arc<AtomicBool>) {
    let frames = Frames::default();
    let fail = Arc::new(AtomicBool::new(false));
    let sink = Recording {
        endpoint: Endpoint::Udp(format!("{name}:1")),
        frames: Arc::clone(&frames),
        fail: Arc::clone(&fail),
    };
    (Box::new(sink), frames, fail)
}

impl FrameSink for Recording {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        }
        self.frames.lock().unwrap().push(frame.to_vec());
        Ok(())
    }
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

fn decoded(frames: &Frames) -> Vec<Frame> {
    frames
        .lock()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f.last(), Some(&0), "frames end in the terminator");
            let mut body = f[..f.len() - 1].to_vec();
            decode_frame(&mut body).unwrap()
        })
        .collect()
}

/// Polls until `done` (the sink threads work asynchronously); fails after 10 s.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn sample() -> Message {
    Message::Sample(LinuxReader::new(common::fixture("linux-x86")).sample())
}

#[test]
fn frames_are_numbered_stamped_and_flushed() {
    let (sink, frames, _) = recording("a");
    let boot = [0xB0, 0x07, 0x1D, 0x01];
    let t = Telemetry::start_with(vec![sink], 16, Clock::start(), &Control::unkeyed(boot)).unwrap();
    let sent = [sample(), Message::Fault(Fault::new(3, "x")), sample()];
    for (i, m) in sent.iter().enumerate() {
        t.publish(1000 + i as u64, m);
    }
    let reports = t.finish(Duration::from_secs(10));
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].sent, reports[0].failed, reports[0].abandoned),
        (3, 0, 0)
    );
    assert_eq!(reports[0].endpoint, "udp://a:1");
    let got = decoded(&frames);
    assert_eq!(got.len(), 3);
    for (i, (f, m)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(f.header.seq, i as u32);
        assert_eq!(f.header.timestamp_us, 1000 + i as u64);
        assert_eq!(f.header.boot_id, boot);
        assert_eq!(&f.message, m);
    }
}

#[test]
fn failing_sink_is_counted_and_reported_once_per_streak() {
    let (a, a_frames, _) = recording("healthy");
    let (b, b_frames, b_fail) = recording("flaky");
    let t = Telemetry::start_with(
        vec![a, b],
        64,
        Clock::start(),
        &Control::unkeyed([1, 2, 3, 4]),
    )
    .unwrap();
    let bus = t.bus().clone();
    let failed = || bus.drops().send_failed;

    b_fail.store(true, Ordering::SeqCst);
    for i in 0..5 {
        t.publish(i, &sample());
    }
    wait_for("5 failed sends", || failed() == 5);

    b_fail.store(false, Ordering::SeqCst);
    let ok_frames = RECOVER_AFTER as u64 + 2;
    for i in 0..ok_frames {
        t.publish(100 + i, &sample());
    }
    // ok_frames samples plus the fault about its own outage, sent once it worked again
    wait_for("flaky sink to recover", || {
        b_frames.lock().unwrap().len() == ok_frames as usize + 1
    });

    b_fail.store(true, Ordering::SeqCst);
    t.publish(200, &sample());
    wait_for("the second streak", || failed() == 6);
    let reports = t.finish(Duration::from_secs(10));

    let faults = |frames: &[Frame]| -> Vec<String> {
        frames
            .iter()
            .filter_map(|f| match &f.message {
                Message::Fault(x) if x.code == FaultCode::Transport as u16 => {
                    Some(x.message.to_string())
                }
                _ => None,
            })
            .collect()
    };
    let a_got = decoded(&a_frames);
    assert_eq!(a_got.len(), 5 + ok_frames as usize + 1 + 2);
    assert_eq!(
        faults(&a_got),
        ["udp://flaky:1: refused", "udp://flaky:1: refused"]
    );

    let b_got = decoded(&b_frames);
    assert_eq!(faults(&b_got), ["udp://flaky:1: refused"]);
    // Sequence numbers count every frame handed to the transport: the 5 failed ones show
    // up at the host as a gap before the first frame that arrived.
    let seqs: Vec<u32> = b_got.iter().map(|f| f.header.seq).collect();
    assert_eq!(seqs, (5..5 + ok_frames as u32 + 1).collect::<Vec<_>>());
    assert!(
        matches!(b_got[1].message, Message::Fault(_)),
        "fault right after recovery"
    );

    let b_report = reports
        .iter()
        .find(|r| r.endpoint == "udp://flaky:1")
        .unwrap();
    assert_eq!(
        (b_report.sent, b_report.failed, b_report.streaks),
        (ok_frames + 1, 6, 2)
    );
    assert_eq!(bus.drops().send_failed, 6);
}

/// Blocks in `send_frame` until the test lets it go, announcing each call.
struct Gated {
    endpoint: Endpoint,
    entered: mpsc::Sender<()>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl FrameSink for Gated {
    fn send_frame(&mut self, _frame: &[u8]) -> io::Result<()> {
        let _ = self.entered.send(());
        let _ = self.release.lock().unwrap().recv();
        Ok(())
    }
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

#[test]
fn frames_left_at_the_flush_deadline_are_abandoned_and_counted() {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let sink = Gated {
        endpoint: Endpoint::Tcp("slow:1".into()),
        entered: entered_tx,
        release: Arc::new(Mutex::new(release_rx)),
    };
    let queue = Arc::new(TelemetryQueue::new(8, "tcp://slow:1").unwrap());
    let bus = Bus::new(vec![Arc::clone(&queue)]);
    let flush = Arc::new(FlushDeadline::new());
    let worker = SinkWorker::new(
        0,
        Arc::clone(&queue),
        bus,
        Box::new(sink),
        [0; 4],
        Clock::start(),
        Arc::clone(&flush),
    );
    for t in 0..5 {
        queue.push(t, sample());
    }
    let handle = worker.spawn().unwrap();
    entered.recv().unwrap(); // the worker is inside the first send
    flush.set(Instant::now()); // a deadline already passed
    release.send(()).unwrap();
    let report = handle.join().unwrap();
    assert_eq!((report.sent, report.abandoned), (1, 4));
    assert!(queue.is_empty());
}
