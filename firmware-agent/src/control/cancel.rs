//! [`Cancels`]: the request ids a host has asked to stop, shared by the sink threads that
//! read `ProfileCancel`s and the control thread that runs profiles.
//!
//! The control thread asks before every inference of a profile, so a cancelled profile
//! ends within one run; a request cancelled while still queued ends before it starts.

use std::{collections::VecDeque, sync::Mutex};

/// Cancelled request ids remembered; older ones are forgotten (their requests have long
/// finished: the queue holds at most a few).
pub const REMEMBERED: usize = 16;

/// Request ids a host asked to stop, the newest [`REMEMBERED`].
#[derive(Debug, Default)]
pub struct Cancels {
    ids: Mutex<VecDeque<u32>>,
}

impl Cancels {
    /// No request cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `request_id` as cancelled.
    pub fn cancel(&self, request_id: u32) {
        let mut ids = self.lock();
        if ids.contains(&request_id) {
            return;
        }
        if ids.len() == REMEMBERED {
            ids.pop_front();
        }
        ids.push_back(request_id);
    }

    /// Whether a host asked to stop `request_id`.
    pub fn is_cancelled(&self, request_id: u32) -> bool {
        self.lock().contains(&request_id)
    }

    /// Forgets `request_id` (its reply has been sent).
    pub fn forget(&self, request_id: u32) {
        self.lock().retain(|id| *id != request_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<u32>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_newest_ids_and_forgets_on_request() {
        let c = Cancels::new();
        assert!(!c.is_cancelled(1));
        c.cancel(1);
        c.cancel(1);
        assert!(c.is_cancelled(1));
        for id in 100..100 + REMEMBERED as u32 {
            c.cancel(id);
        }
        assert!(!c.is_cancelled(1), "the oldest id is forgotten");
        assert!(c.is_cancelled(100) && c.is_cancelled(99 + REMEMBERED as u32));
        c.forget(100);
        assert!(!c.is_cancelled(100));
    }
}
