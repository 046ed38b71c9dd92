//! [`Counters`]: what each served model counts (requests, answers, errors, refusals, the
//! most runs at once), and their snapshot [`ModelStats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// Per-model counters.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    served: AtomicU64,
    errors: AtomicU64,
    bad_requests: AtomicU64,
    busy: AtomicU64,
    in_flight: AtomicU64,
    max_concurrent: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModelStats {
    /// Infer requests received.
    pub requests: u64,
    /// Answered with outputs.
    pub served: u64,
    /// Answered with an error (of any status).
    pub errors: u64,
    /// Of those, refused as invalid requests (HTTP 400): the client's fault, not ours.
    pub bad_requests: u64,
    /// Of those, refused with `429` because every session was busy and the queue full.
    pub busy: u64,
    /// The most runs of this model that held a session at the same time (at most the
    /// worker count): above 1 means requests were served concurrently.
    pub max_concurrent: u64,
}

/// One run holding a session, counted in [`Counters`] while it lives.
#[derive(Debug)]
pub(crate) struct Running<'a>(&'a Counters);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn bad_request(&self) {
        self.bad_requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn busy(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts a run that holds a session until the guard drops.
    pub(crate) fn running(&self) -> Running<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_concurrent.fetch_max(now, Ordering::Relaxed);
        Running(self)
    }
    /// A snapshot.
    pub fn stats(&self) -> ModelStats {
        ModelStats {
            requests: self.requests.load(Ordering::Relaxed),
            served: self.served.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            bad_requests: self.bad_requests.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            max_concurrent: self.max_concurrent.load(Ordering::Relaxed),
        }
    }
}
