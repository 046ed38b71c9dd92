//! The stop signal: set by SIGINT/SIGTERM or `--duration`, waited on by the run loop.
//!
//! A `Condvar` rather than a flag polled in a sleep loop, so a signal ends the wait at once
//! and an idle agent does not wake up for nothing.

use std::{
    sync::{Arc, Condvar, Mutex, PoisonError},
    time::Instant,
};

/// A one-way stop request; once requested it stays requested.
#[derive(Debug, Default)]
pub struct Shutdown {
    requested: Mutex<bool>,
    cv: Condvar,
}

impl Shutdown {
    /// A signal not yet requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests the stop and wakes every waiter.
    pub fn request(&self) {
        // A poisoned lock only means another thread panicked while holding it; the bool
        // is still meaningful, so carry on rather than lose the stop request.
        *self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.cv.notify_all();
    }

    /// True once a stop was requested.
    pub fn is_requested(&self) -> bool {
        *self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `deadline` or a stop request, whichever comes first; returns true when a
    /// stop was requested.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let mut requested = self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if *requested {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Spurious wake-ups just go round the loop again.
            requested = self
                .cv
                .wait_timeout(requested, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Routes SIGINT, SIGTERM and SIGHUP to `shutdown`. Can be called once per process.
pub fn install_signal_handler(shutdown: Arc<Shutdown>) -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(move || {
        log::info!("stop signal received; flushing telemetry");
        shutdown.request();
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn request_ends_a_wait_and_sticks() {
        let s = Arc::new(Shutdown::new());
        assert!(!s.wait_until(Instant::now()));
        let s2 = Arc::clone(&s);
        let t =
            std::thread::spawn(move || s2.wait_until(Instant::now() + Duration::from_secs(600)));
        s.request();
        assert!(t.join().unwrap());
        assert!(s.is_requested());
        assert!(s.wait_until(Instant::now() + Duration::from_secs(600)));
    }
}
