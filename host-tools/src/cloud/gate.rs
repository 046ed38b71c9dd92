//! [`Gate`]: the bounded wait for a model session; beyond `workers + queue` requests at
//! once the next is refused (the route answers `429` with `Retry-After`).
//!
//! ```
//! use msao_host::cloud::Gate;
//!
//! let gate = Gate::new(1, 1); // one running, one waiting
//! let a = gate.try_enter().unwrap();
//! let b = gate.try_enter().unwrap();
//! assert!(gate.try_enter().is_none()); // a third is refused, not queued
//! assert_eq!(gate.refused(), 1);
//! drop(a);
//! assert!(gate.try_enter().is_some());
//! # drop(b);
//! ```
//!
//! Semantics: never blocks; a pass is an owned permit, held by the blocking model run until
//! it ends (so a request abandoned by its client still counts until its run finishes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Admission to the model sessions: at most `workers + queue` requests hold a pass.
#[derive(Debug)]
pub struct Gate {
    passes: Arc<Semaphore>,
    queue: usize,
    refused: AtomicU64,
}

/// One admitted request; dropping it lets the next one in.
pub type Pass = OwnedSemaphorePermit;

impl Gate {
    /// `workers` running and `queue` waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        Self {
            passes: Arc::new(Semaphore::new(workers.saturating_add(queue).max(1))),
            queue,
            refused: AtomicU64::new(0),
        }
    }

    /// A pass now, or `None` (counted) when `workers + queue` requests already hold one.
    pub fn try_enter(&self) -> Option<Pass> {
        let pass = Arc::clone(&self.passes).try_acquire_owned().ok();
        if pass.is_none() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        pass
    }

    /// How many requests may wait for a session.
    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}
