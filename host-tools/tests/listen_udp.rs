//! `listen` over UDP (and TCP) loopback in-process: the command binds port 0, a sender
//! thread started from the listening hook sends frames, `--count` ends the run.
mod common;

use common::*;
use msao::transport::{Endpoint, FrameSink, TcpSink, UdpSink};
use msao_host::env::Env;
use std::{sync::mpsc, thread, time::Duration};

/// Runs `listen ARGS` with a hook that sends `frames` to the bound endpoint.
fn listen_and_send(args: &[&str], frames: Vec<Vec<u8>>) -> (String, String, Endpoint) {
    let (mut env, err) = Env::captured();
    let (tx, rx) = mpsc::channel();
    env.on_listening = Some(Box::new(move |eps: &[Endpoint]| {
        let ep = eps[0].clone();
        let frames = frames.clone();
        tx.send(ep.clone()).unwrap();
        thread::spawn(move || {
            let mut sink: Box<dyn FrameSink> = match ep {
                Endpoint::Udp(_) => Box::new(UdpSink::open(ep).unwrap()),
                _ => Box::new(TcpSink::new(ep)),
            };
            for f in frames {
                // A TCP sink may need a moment to connect: retry, never assert on time.
                while sink.send_frame(&f).is_err() {
                    thread::sleep(Duration::from_millis(20));
                }
            }
        });
    }));
    let (r, out) = run_with(args, &mut env);
    r.unwrap();
    (out, err.contents(), rx.recv().unwrap())
}

#[test]
fn udp_json_lines_until_count() {
    let msgs = [hello("udp-dev"), sample(), sample(), fault(), sample()];
    let frames = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| encode(&header(BOOT, i as u32), m))
        .collect();
    let (out, err, ep) = listen_and_send(
        &["listen", "udp://127.0.0.1:0", "--json", "--count", "5"],
        frames,
    );
    assert!(
        matches!(ep, Endpoint::Udp(ref a) if !a.ends_with(":0")),
        "port resolved: {ep}"
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 6, "{out}");
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["hello", "sample", "sample", "fault", "sample", "summary"]
    );
    for (i, l) in lines[..5].iter().enumerate() {
        assert_eq!(l["device"], "udp-dev");
        assert_eq!(l["seq"], i);
        assert!(
            l["source"]
                .as_str()
                .unwrap()
                .starts_with("udp://127.0.0.1:"),
            "{l}"
        );
        let rx = l["rx_time"].as_str().unwrap();
        assert!(rx.ends_with('Z') && rx.contains('T'), "RFC 3339 UTC: {rx}");
    }
    let summary = &lines[5];
    assert_eq!(summary["frames"], 5);
    assert_eq!(summary["by_kind"]["sample"], 3);
    assert_eq!(summary["dropped"], 0);
    assert_eq!(summary["stopped_by"], "count");
    assert_eq!(summary["devices"][0]["device"], "udp-dev");
    assert!(err.is_empty(), "no warnings: {err}");
}

#[test]
fn udp_human_table_and_summary() {
    let frames = [hello("table-dev"), sample()]
        .iter()
        .enumerate()
        .map(|(i, m)| encode(&header(BOOT, i as u32), m))
        .collect();
    let (out, _, _) = listen_and_send(&["listen", "udp://127.0.0.1:0", "--count", "2"], frames);
    // stdout is not a terminal here: no ANSI escapes, the final table then the summary.
    assert!(!out.contains('\x1b'), "{out:?}");
    let mut lines = out.lines();
    let title = lines.next().unwrap();
    for col in [
        "DEVICE", "SOURCE", "BOOT", "FRAMES", "DROPS", "CPU", "MEM", "TEMP", "GPU", "POWER", "AGE",
    ] {
        assert!(title.contains(col), "{title}");
    }
    let row = lines.next().unwrap();
    for cell in [
        "table-dev",
        "udp://127.0.0.1:",
        "1a2b3c4d",
        "12.3%",
        "1.0/8.0 GiB",
        "45.5°C",
        "n/a",
        "5.10 W",
    ] {
        assert!(row.contains(cell), "{cell} missing in {row}");
    }
    assert!(out.contains("summary: 2 frames decoded"), "{out}");
    assert!(out.contains("stopped by: count"), "{out}");
}

#[test]
fn tcp_stream_split_across_writes() {
    let bytes = stream(BOOT, &[hello("tcp-dev"), sample(), sample()]);
    // Arbitrary write boundaries: the per-peer decoder reassembles frames.
    let frames = bytes.chunks(7).map(<[u8]>::to_vec).collect();
    let (out, _, ep) = listen_and_send(
        &["listen", "tcp://127.0.0.1:0", "--json", "--count", "3"],
        frames,
    );
    assert!(matches!(ep, Endpoint::Tcp(_)));
    let lines = json_lines(&out);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["hello", "sample", "sample", "summary"]);
    assert!(
        lines[0]["source"]
            .as_str()
            .unwrap()
            .starts_with("tcp://127.0.0.1:")
    );
    assert_eq!(lines[3]["dropped"], 0);
}

#[test]
fn ctrl_c_ends_with_a_summary() {
    let (mut env, _) = Env::captured();
    let stop = env.shutdown.clone();
    env.on_listening = Some(Box::new(move |_: &[Endpoint]| stop.request()));
    let (r, out) = run_with(&["listen", "udp://127.0.0.1:0", "--json"], &mut env);
    r.unwrap();
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "summary");
    assert_eq!(lines[0]["stopped_by"], "interrupted");
}

#[test]
fn bad_url_is_an_error_naming_it() {
    let (r, _, _) = run(&["listen", "udp://256.0.0.1:1"]);
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("cannot listen on udp://256.0.0.1:1"), "{e}");
}
