//! The one bounded queue every source submits to, and the pipeline serves.
//!
//! Overflow policy, by source: the request API and cameras call [`Submitter::try_submit`]
//! and are refused at once when the queue is full (the API answers `429`; every refusal is
//! counted in [`Submitter::refused`]); the workload replay calls
//! [`Submitter::submit_blocking`] and waits for room (backpressure: a replay loses
//! nothing). The queue closes when every [`Submitter`] is dropped; the pipeline then
//! answers what it holds and returns.

use super::request::{Reply, Request};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Called once with the request's reply, on the pipeline's thread or a runtime worker.
pub type ReplyFn = Box<dyn FnOnce(Reply) + Send>;

/// A request and where its reply goes.
pub struct Submission {
    /// The request.
    pub request: Request,
    /// Its reply.
    pub reply: ReplyFn,
}

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The queue holds its maximum.
    #[error("the request queue is full ({0} waiting)")]
    Full(usize),
    /// The pipeline has stopped.
    #[error("the pipeline has stopped")]
    Closed,
}

/// The submitting end; cheap to clone, one per source.
#[derive(Clone)]
pub struct Submitter {
    tx: mpsc::Sender<Submission>,
    depth: usize,
    refused: Arc<AtomicU64>,
}

/// The pipeline's end.
pub struct Queue {
    pub(super) rx: mpsc::Receiver<Submission>,
}

/// A queue of at most `depth` waiting requests (at least 1).
pub fn queue(depth: usize) -> (Submitter, Queue) {
    let depth = depth.max(1);
    let (tx, rx) = mpsc::channel(depth);
    (
        Submitter {
            tx,
            depth,
            refused: Arc::new(AtomicU64::new(0)),
        },
        Queue { rx },
    )
}

impl Submitter {
    /// Queues `request` unless the queue is full or closed (counted as refused).
    pub fn try_submit(&self, request: Request, reply: ReplyFn) -> Result<(), Refused> {
        self.tx
            .try_send(Submission { request, reply })
            .map_err(|e| {
                self.refused.fetch_add(1, Ordering::Relaxed);
                match e {
                    mpsc::error::TrySendError::Full(_) => Refused::Full(self.depth),
                    mpsc::error::TrySendError::Closed(_) => Refused::Closed,
                }
            })
    }

    /// Queues `request`, waiting for room. Not for use inside an async runtime.
    pub fn submit_blocking(&self, request: Request, reply: ReplyFn) -> Result<(), Refused> {
        self.tx
            .blocking_send(Submission { request, reply })
            .map_err(|_| Refused::Closed)
    }

    /// Requests refused by [`Self::try_submit`] so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The most requests that wait at once.
    pub fn depth(&self) -> usize {
        self.depth
    }
}
