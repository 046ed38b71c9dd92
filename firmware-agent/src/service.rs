//! [`Notifier`]: the agent under systemd (`Type=notify`, `packaging/msao-agent/`): the start
//! timeout extended while models (and TensorRT engines, which can take minutes) load,
//! `READY=1` once the request path and telemetry run, the watchdog fed from the main loop,
//! `STOPPING=1` at shutdown, and a `STATUS=` line for `systemctl status`. Outside systemd
//! (no `$NOTIFY_SOCKET`) every call does nothing; a failed notification is logged once and
//! never stops the agent.

use log::warn;
use sd_notify::NotifyState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Each extension of the start timeout while loading, and how often it is renewed.
const EXTEND_BY: Duration = Duration::from_secs(60);
const EXTEND_EVERY: Duration = Duration::from_secs(20);

/// The agent's notifications to its service manager.
#[derive(Debug)]
pub struct Notifier {
    watchdog: Option<Duration>,
    last_pet: Instant,
    failed: AtomicBool,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::from_env()
    }
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET` and `$WATCHDOG_USEC` (set by systemd for this process).
    pub fn from_env() -> Self {
        Self {
            watchdog: sd_notify::watchdog_enabled(),
            last_pet: Instant::now(),
            failed: AtomicBool::new(false),
        }
    }

    /// True when systemd watches this process with a watchdog.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(states)
            && !self.failed.swap(true, Ordering::Relaxed)
        {
            warn!(
                "cannot notify systemd ($NOTIFY_SOCKET): {e}; the service may be restarted for it"
            );
        }
    }

    /// Runs `load` while renewing the start timeout every 20 s by 60 s, so a first
    /// TensorRT engine build is not killed by `TimeoutStartSec`.
    pub fn extend_while<T>(&self, what: &str, load: impl FnOnce() -> T) -> T {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return load();
        }
        self.send(&[NotifyState::Status(what)]);
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let usec = u32::try_from(EXTEND_BY.as_micros()).unwrap_or(u32::MAX);
        let renew = std::thread::Builder::new()
            .name("sd-extend".into())
            .spawn(move || {
                loop {
                    let _ = sd_notify::notify(&[NotifyState::ExtendTimeoutUsec(usec)]);
                    if done_rx.recv_timeout(EXTEND_EVERY) != Err(mpsc::RecvTimeoutError::Timeout) {
                        return;
                    }
                }
            });
        let out = load();
        drop(done_tx);
        if let Ok(h) = renew {
            let _ = h.join();
        }
        out
    }

    /// The agent serves: `READY=1` and a status line.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// Feeds the watchdog if half its interval has passed (call from the main loop).
    pub fn pet(&mut self) {
        if let Some(w) = self.watchdog
            && self.last_pet.elapsed() >= w / 2
        {
            self.send(&[NotifyState::Watchdog]);
            self.last_pet = Instant::now();
        }
    }

    /// The agent is stopping.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}
