//! Hostile peers against the real `msao-host listen` process on 127.0.0.1: a `01 00` flood
//! beside a real agent, more peers than the cap, a garbage UDP flood, descriptor exhaustion.
//! Bounds are on counts, peak RSS and CPU time over a window; never on wall-clock speed.
mod common;

use common::*;
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpStream, UdpSocket},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

/// Longest any test waits for the output it expects (a hang fails instead of blocking CI).
const PATIENCE: Duration = Duration::from_secs(120);
/// Peak RSS the listener may reach under the flood: a debug build idles near 10 MiB and
/// the receive side holds at most a few MiB of queued chunks; unbounded buffering took
/// the same flood past 1 GiB.
const MAX_RSS_KIB: u64 = 64 * 1024;

#[derive(Default)]
struct Seen {
    faults: usize,
    drops: usize,
    summary: Option<serde_json::Value>,
    stderr: String,
}

/// A running `msao-host` with its output watched by two threads.
struct Listener {
    child: Child,
    addr: String,
    seen: Arc<Mutex<Seen>>,
}

impl Listener {
    fn start(args: &[&str], prefix: &[&str]) -> Self {
        let (program, mut all) = match prefix {
            [] => (env!("CARGO_BIN_EXE_msao-host"), vec![]),
            [p, rest @ ..] => (*p, rest.to_vec()),
        };
        if !prefix.is_empty() {
            all.push(env!("CARGO_BIN_EXE_msao-host"));
        }
        all.extend_from_slice(args);
        let mut child = Command::new(program)
            .args(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("msao-host starts");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first stderr line: {first:?}"))
            .split_once("://")
            .unwrap()
            .1
            .to_string();
        let s = seen.clone();
        thread::spawn(move || {
            let mut rest = String::new();
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                rest.push_str(&line);
                s.lock().unwrap().stderr.clone_from(&rest);
                line.clear();
            }
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let s = seen.clone();
        thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                let mut seen = s.lock().unwrap();
                if line.contains(r#""type":"fault""#) {
                    seen.faults += 1;
                } else if line.contains(r#""type":"drop""#) {
                    seen.drops += 1;
                } else if line.contains(r#""type":"summary""#) {
                    seen.summary = serde_json::from_str(&line).ok();
                }
            }
        });
        Self { child, addr, seen }
    }

    /// Waits until `cond` holds (or fails the test after [`PATIENCE`]).
    fn wait_for(&self, what: &str, cond: impl Fn(&Seen) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !cond(&self.seen.lock().unwrap()) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn status(&self, key: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} in /proc status"))
    }

    /// utime + stime of the process, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let after = &s[s.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    /// Ctrl-C, then the summary line and the exit status.
    fn stop(mut self) -> (serde_json::Value, String) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "listen exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "listen did not stop on SIGINT");
            thread::sleep(Duration::from_millis(20));
        }
        self.wait_for("the summary", |s| s.summary.is_some());
        let seen = self.seen.lock().unwrap();
        (seen.summary.clone().unwrap(), seen.stderr.clone())
    }
}

fn fault_frame(seq: u32) -> Vec<u8> {
    encode(&header(BOOT, seq), &fault())
}

#[test]
fn a_flooding_tcp_peer_neither_hides_another_peers_frames_nor_grows_memory() {
    const VALID: usize = 200;
    let l = Listener::start(&["listen", "tcp://127.0.0.1:0", "--json"], &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let (addr, stop) = (l.addr.clone(), stop.clone());
        thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let junk: Vec<u8> = [1u8, 0].repeat(32 * 1024);
            let mut sent = 0u64;
            while !stop.load(Ordering::SeqCst) && s.write_all(&junk).is_ok() {
                sent += junk.len() as u64;
            }
            sent
        })
    };
    // Let the flood fill every queue before the real agent speaks.
    l.wait_for("flood drops", |s| s.drops > 10_000);
    let mut agent = TcpStream::connect(&l.addr).unwrap();
    for seq in 0..VALID as u32 {
        agent.write_all(&fault_frame(seq)).unwrap();
    }
    l.wait_for("every valid frame", |s| s.faults >= VALID);
    let peak = l.status("VmHWM:");
    eprintln!("peak RSS under the flood: {peak} KiB");
    stop.store(true, Ordering::SeqCst);
    let (summary, _) = l.stop();
    let flooded = flood.join().unwrap();
    assert!(flooded > 1 << 20, "the flood sent {flooded} bytes");
    assert_eq!(summary["frames"], VALID as u64, "{summary}");
    assert!(
        summary["drops"]["crc"].as_u64().unwrap() > 10_000,
        "{summary}"
    );
    assert!(
        peak < MAX_RSS_KIB,
        "peak RSS {peak} KiB ≥ {MAX_RSS_KIB} KiB"
    );
}

#[test]
fn peers_past_the_cap_are_refused_and_the_others_still_served() {
    let l = Listener::start(
        &["listen", "tcp://127.0.0.1:0", "--json", "--max-peers", "2"],
        &[],
    );
    let mut agents: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(&l.addr).unwrap())
        .collect();
    for (i, a) in agents.iter_mut().enumerate() {
        a.write_all(&fault_frame(i as u32)).unwrap();
    }
    l.wait_for("both agents' first frames", |s| s.faults == 2);
    for _ in 0..5 {
        let mut extra = TcpStream::connect(&l.addr).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 8];
        let r = extra.read(&mut buf);
        assert!(matches!(r, Ok(0) | Err(_)), "refused at once, got {r:?}");
        if let Err(e) = &r {
            assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "not refused: {e}");
        }
    }
    for (i, a) in agents.iter_mut().enumerate() {
        a.write_all(&fault_frame(10 + i as u32)).unwrap();
    }
    l.wait_for("both agents' second frames", |s| s.faults == 4);
    let (summary, stderr) = l.stop();
    assert_eq!(summary["receive"]["refused_peers"], 5, "{summary}");
    assert_eq!(summary["frames"], 4, "{summary}");
    // Five refusals within the warning interval: one warning line, not five.
    assert_eq!(stderr.matches("refused").count(), 1, "{stderr}");
}

#[test]
fn a_garbage_udp_flood_costs_no_valid_datagram() {
    const VALID: usize = 100;
    let l = Listener::start(&["listen", "udp://127.0.0.1:0", "--json"], &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let (addr, stop) = (l.addr.clone(), stop.clone());
        thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                // Unterminated, terminated garbage and lone zeros, in bursts the socket
                // buffer can hold (the kernel drops what overflows it, for every peer).
                for d in [&[0x42u8; 40][..], &[3, 9, 9, 0, 7][..], &[0][..]] {
                    let _ = s.send_to(d, &addr);
                    n += 1;
                }
                thread::sleep(Duration::from_micros(500));
            }
            n
        })
    };
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
    for seq in 0..VALID as u32 {
        let f = fault_frame(seq);
        // The agent's own cut datagram must not cost its next frame.
        agent.send_to(&f[..f.len() / 2], &l.addr).unwrap();
        agent.send_to(&f, &l.addr).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    l.wait_for("every valid datagram", |s| s.faults >= VALID);
    stop.store(true, Ordering::SeqCst);
    let garbage = flood.join().unwrap();
    let (summary, _) = l.stop();
    assert!(garbage > 300, "flood sent {garbage} datagrams");
    assert_eq!(summary["frames"], VALID as u64, "{summary}");
    assert!(
        summary["drops"]["unterminated"].as_u64().unwrap() >= VALID as u64,
        "{summary}"
    );
}

#[test]
fn descriptor_exhaustion_neither_stops_service_nor_spins() {
    let l = Listener::start(
        &["listen", "tcp://127.0.0.1:0", "--json"],
        &["prlimit", "--nofile=64:64", "--"],
    );
    let mut agent = TcpStream::connect(&l.addr).unwrap();
    agent.write_all(&fault_frame(0)).unwrap();
    l.wait_for("the first frame", |s| s.faults == 1);
    // 64 descriptors, two per accepted peer: most of these wait in the backlog, where
    // every accept fails with EMFILE.
    let _crowd: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&l.addr).unwrap())
        .collect();
    l.wait_for("the accept warning", |s| s.stderr.contains("accept failed"));
    let ticks_per_s = 100; // USER_HZ on Linux
    let before = l.cpu_ticks();
    thread::sleep(Duration::from_secs(3));
    let used = l.cpu_ticks() - before;
    eprintln!("CPU over 3 s with descriptors exhausted: {used} ticks");
    // A spinning accept loop burns ~3 s of CPU here; backing off costs a few ticks.
    assert!(
        used < ticks_per_s,
        "{used} ticks of CPU in a 3 s window with descriptors exhausted"
    );
    agent.write_all(&fault_frame(1)).unwrap();
    l.wait_for("a frame while exhausted", |s| s.faults == 2);
    let (summary, stderr) = l.stop();
    assert!(
        summary["receive"]["accept_errors"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert_eq!(summary["frames"], 2, "{summary}");
    assert!(
        stderr.matches("accept failed").count() <= 2,
        "rate-limited: {stderr}"
    );
}
