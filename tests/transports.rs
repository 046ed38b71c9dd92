//! One conformance test, run against every transport: frames sent by the agent-side sink
//! arrive at the host-side receiver complete, in order, and decodable.

use msao::{
    Decoder, Event, FrameHeader, Message, frame,
    message::{Fault, HardwareSummary, Hello, WireBuild, truncated},
    transport::{self, Endpoint, FrameSink, Receiver, SerialReceiver, SerialSink, TcpSink},
};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// The largest message we can build (names at their bounds), plus small ones.
fn messages(n: u32) -> Vec<Message> {
    let long = "x".repeat(200);
    let mut zones = heapless::Vec::new();
    while zones.push(truncated::<20>(&long)).is_ok() {}
    let mut rails = heapless::Vec::new();
    while rails.push(truncated::<16>(&long)).is_ok() {}
    let big = Message::Hello(Hello {
        device_id: truncated(&long),
        build: WireBuild::current(),
        wire_version: msao::WIRE_VERSION,
        schema: msao::SCHEMA_FINGERPRINT,
        hardware: HardwareSummary {
            board: truncated(&long),
            cpu_model: truncated(&long),
            cpu_cores: 12,
            mem_total_kib: Some(u32::MAX),
            gpu: Some(truncated(&long)),
            thermal_zones: zones,
            rails,
        },
        sample_interval_ms: u32::MAX,
        capability: msao::message::CapabilitySummary {
            providers: heapless::Vec::from_slice(msao::message::ExecProvider::ALL).unwrap(),
            l4t: Some(truncated(&long)),
            power_mode: Some(u8::MAX),
            power_mode_name: Some(truncated(&long)),
        },
    });
    let mut out = vec![big];
    out.extend((0..n).map(|i| Message::Fault(Fault::new(i as u16, &format!("fault number {i}")))));
    out
}

fn encode_all(msgs: &[Message]) -> Vec<Vec<u8>> {
    msgs.iter()
        .enumerate()
        .map(|(i, m)| {
            let mut buf = [0u8; frame::MAX_FRAME];
            frame::encode(&FrameHeader::new([9; 4], i as u32, 0), m, &mut buf)
                .unwrap()
                .to_vec()
        })
        .collect()
}

/// Receives until `want` frames arrived from one source (or a generous deadline passes).
fn collect(rx: &mut dyn Receiver, want: usize) -> HashMap<String, Vec<Message>> {
    let mut decoders: HashMap<String, Decoder> = HashMap::new();
    let mut got: HashMap<String, Vec<Message>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.values().map(Vec::len).sum::<usize>() < want && Instant::now() < deadline {
        let Some(chunk) = rx.recv(Duration::from_millis(100)).unwrap() else {
            continue;
        };
        let dec = decoders.entry(chunk.source.clone()).or_default();
        let mut input = chunk.bytes.as_slice();
        while let Some(e) = dec.push(&mut input) {
            match e {
                Event::Frame(f) => got.entry(chunk.source.clone()).or_default().push(f.message),
                other => panic!("{}: {other:?}", chunk.source),
            }
        }
    }
    got
}

fn conformance(sink: &mut dyn FrameSink, rx: &mut dyn Receiver) {
    let msgs = messages(200);
    let frames = encode_all(&msgs);
    assert!(
        frames[0].len() > 600,
        "the big Hello should be near the frame limit"
    );
    let sender = std::thread::scope(|s| {
        let h = s.spawn(|| {
            for f in &frames {
                // UDP on loopback can drop under a burst; pace lightly.
                sink.send_frame(f).unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let got = collect(rx, msgs.len());
        h.join().unwrap();
        got
    });
    assert_eq!(
        sender.len(),
        1,
        "one source expected, got {:?}",
        sender.keys().collect::<Vec<_>>()
    );
    let received = sender.into_values().next().unwrap();
    assert_eq!(received.len(), msgs.len());
    assert!(received == msgs, "frames arrived altered or out of order");
}

/// The reverse direction: the host replies to the source it heard from, and the agent's
/// sink reads the request on the same link.
fn reply_conformance(sink: &mut dyn FrameSink, rx: &mut dyn Receiver) {
    let hello = &encode_all(&messages(0))[0];
    sink.send_frame(hello).unwrap();
    let source = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < deadline, "host never heard the agent");
            if let Some(chunk) = rx.recv(Duration::from_millis(100)).unwrap() {
                break chunk.source;
            }
        }
    };
    let request = Message::ProfileRequest(msao::message::ProfileRequest {
        request_id: 77,
        target_boot_id: [1, 2, 3, 4],
        model: None,
        provider: None,
        precision: None,
        batch: 1,
        warmup: 5,
        iterations: 20,
    });
    let mut buf = [0u8; frame::MAX_FRAME];
    let wire = frame::encode(&FrameHeader::new([0; 4], 0, 0), &request, &mut buf).unwrap();
    rx.reply(&source, wire).unwrap();
    let mut dec = Decoder::new();
    let mut incoming = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "agent never read the request");
        let n = sink.poll_incoming(&mut incoming).unwrap();
        let mut input = &incoming[..n];
        if let Some(event) = dec.push(&mut input) {
            match event {
                Event::Frame(f) => {
                    assert_eq!(f.message, request);
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn udp_conformance() {
    let mut rx = transport::open_receiver(&"udp://127.0.0.1:0".parse().unwrap()).unwrap();
    let mut sink = transport::open_sink(rx.endpoint()).unwrap();
    conformance(sink.as_mut(), rx.as_mut());
    reply_conformance(sink.as_mut(), rx.as_mut());
}

#[test]
fn tcp_conformance() {
    let mut rx = transport::open_receiver(&"tcp://127.0.0.1:0".parse().unwrap()).unwrap();
    let mut sink = transport::open_sink(rx.endpoint()).unwrap();
    conformance(sink.as_mut(), rx.as_mut());
    reply_conformance(sink.as_mut(), rx.as_mut());
}

#[test]
fn serial_conformance_over_a_pty_pair() {
    let (master, slave) = serialport::TTYPort::pair().expect("pseudo-terminal pair");
    let path = serialport::SerialPort::name(&slave).expect("pty has a path");
    drop(slave);
    let endpoint: Endpoint = format!("serial://{path}?baud=921600").parse().unwrap();
    let mut rx = SerialReceiver::from_port(Box::new(master), endpoint.clone());
    let mut sink = SerialSink::open(endpoint).unwrap();
    conformance(&mut sink, &mut rx);
    reply_conformance(&mut sink, &mut rx);
}

#[test]
fn tcp_host_accepts_many_agents_each_with_its_own_stream() {
    let mut rx = transport::open_receiver(&"tcp://127.0.0.1:0".parse().unwrap()).unwrap();
    let msgs = messages(20);
    let frames = encode_all(&msgs);
    std::thread::scope(|s| {
        for _ in 0..3 {
            let endpoint = rx.endpoint().clone();
            let frames = &frames;
            s.spawn(move || {
                let mut sink = TcpSink::new(endpoint);
                for f in frames {
                    sink.send_frame(f).unwrap();
                }
            });
        }
        let got = collect(rx.as_mut(), 3 * msgs.len());
        assert_eq!(got.len(), 3, "three agents, three sources");
        for (source, received) in got {
            assert!(received == msgs, "{source}: stream interleaved or altered");
        }
    });
}

#[test]
fn tcp_sink_fails_fast_while_down_and_reconnects_when_the_collector_appears() {
    // Reserve a port, then free it so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint: Endpoint = format!("tcp://127.0.0.1:{port}").parse().unwrap();
    let mut sink = TcpSink::new(endpoint.clone());
    let frame = &encode_all(&messages(0))[0];
    assert!(sink.send_frame(frame).is_err(), "no collector yet");
    // During the backoff the sink refuses without trying to connect.
    let second = sink.send_frame(frame).unwrap_err();
    assert_eq!(second.kind(), std::io::ErrorKind::NotConnected);
    let mut rx = transport::open_receiver(&endpoint).unwrap();
    let mut sent = false;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !sent && Instant::now() < deadline {
        sent = sink.send_frame(frame).is_ok();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(sent, "sink never reconnected");
    assert!(sink.is_connected());
    let got = collect(rx.as_mut(), 1);
    assert_eq!(got.values().map(Vec::len).sum::<usize>(), 1);
}

#[test]
fn udp_an_unterminated_datagram_costs_one_drop_and_not_the_next_frame() {
    let mut rx = transport::open_receiver(&"udp://127.0.0.1:0".parse().unwrap()).unwrap();
    let Endpoint::Udp(addr) = rx.endpoint().clone() else {
        panic!("not udp")
    };
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let frames = encode_all(&messages(3));
    // Each valid frame follows a datagram cut short (no 0x00) from the same peer.
    for f in &frames {
        tx.send_to(&f[..f.len() / 2], &addr).unwrap();
        tx.send_to(f, &addr).unwrap();
    }
    let mut dec = msao::Decoder::new();
    let mut events = Vec::new();
    while events.len() < 2 * frames.len() {
        let got = rx
            .recv(Duration::from_secs(5))
            .unwrap()
            .expect("a datagram");
        assert!(got.is_datagram());
        let mut input = &got.bytes[..];
        while let Some(e) = dec.push(&mut input) {
            events.push(e);
        }
        events.extend(dec.end_datagram());
    }
    for (i, pair) in events.chunks(2).enumerate() {
        assert!(
            matches!(
                pair[0],
                Event::Dropped {
                    cause: msao::DropCause::Unterminated,
                    ..
                }
            ),
            "{i}: {:?}",
            pair[0]
        );
        assert!(matches!(pair[1], Event::Frame(_)), "{i}: {:?}", pair[1]);
    }
    let n = frames.len() as u64;
    assert_eq!(dec.stats().frames, n);
    assert_eq!(dec.stats().dropped(msao::DropCause::Unterminated), n);
}

#[test]
fn tcp_receiver_refuses_peers_past_its_cap_and_keeps_serving_the_others() {
    use std::io::{Read, Write};
    let limits = transport::TcpLimits { max_peers: 2 };
    let mut rx =
        transport::TcpReceiver::bind_with("tcp://127.0.0.1:0".parse().unwrap(), limits).unwrap();
    let Endpoint::Tcp(addr) = rx.endpoint().clone() else {
        panic!("not tcp")
    };
    let kept: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // Wait until both are accepted (each sends a byte that comes back as a chunk).
    for mut s in &kept {
        s.write_all(&[0]).unwrap();
    }
    for _ in 0..2 {
        rx.recv(Duration::from_secs(5)).unwrap().expect("a chunk");
    }
    let mut extra = std::net::TcpStream::connect(&addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    // Closed at once: end of stream (or a reset), never a hang.
    assert!(matches!(extra.read(&mut buf), Ok(0) | Err(_)));
    assert_eq!(rx.counters().refused_peers, 1);
    assert_eq!(rx.counters().peers, 2);
    let frame = &encode_all(&messages(1))[0];
    (&kept[1]).write_all(frame).unwrap();
    let got = rx
        .recv(Duration::from_secs(5))
        .unwrap()
        .expect("still served");
    assert_eq!(&got.bytes, frame);
}
