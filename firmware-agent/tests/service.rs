//! The agent under systemd's notify protocol, as systemd runs it: `$NOTIFY_SOCKET` names a
//! datagram socket (here one this test binds), `$WATCHDOG_USEC` the watchdog. The real binary
//! must say it is loading (extending the start timeout), then `READY=1`, feed the watchdog
//! while it runs, and say `STOPPING=1` at the end.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

#[test]
fn the_agent_notifies_ready_feeds_the_watchdog_and_says_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_msao-agent"))
        .args(["--duration", "1s", "--sample-interval", "50ms"])
        .args(["--telemetry", "udp://127.0.0.1:9"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "200000")
        .env_remove("WATCHDOG_PID")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while let Ok(len) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..len]).to_string());
    }
    let at = |want: &str| {
        got.iter()
            .position(|m| m.contains(want))
            .unwrap_or_else(|| panic!("`{want}` never sent: {got:?}"))
    };
    let (loading, ready, stopping) = (at("EXTEND_TIMEOUT_USEC="), at("READY=1"), at("STOPPING=1"));
    assert!(loading < ready && ready < stopping, "{got:?}");
    let pets = got.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    // One second at a 200 ms watchdog, fed at half of it: about ten.
    assert!(pets >= 3, "watchdog fed {pets} times: {got:?}");
}
