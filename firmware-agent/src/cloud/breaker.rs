//! [`Breaker`]: the cloud client's circuit breaker. After a call finds the server
//! unreachable, or busy (`429`), the breaker is open for a while — `retry_after`, or the
//! server's own `Retry-After` for a 429 — and callers that can answer without the cloud
//! (MSAO, the bandit) do so instead of paying a connect timeout or adding load. Any other
//! outcome closes it: a cloud that answers, even with an error, is there.

use super::CloudFaultKind;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Longest a server's `Retry-After` is honoured: a server asking for more is asked again
/// after this (a device must not go cloud-blind for an hour on one header).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Open until an instant, or closed.
#[derive(Debug)]
pub struct Breaker {
    retry_after: Duration,
    open_until: Mutex<Option<Instant>>,
    /// The last 429's `Retry-After`, taken by the next [`Self::record`].
    hint: Mutex<Option<Duration>>,
}

impl Breaker {
    /// A closed breaker that opens for `retry_after` after an unreachable server.
    pub fn new(retry_after: Duration) -> Self {
        Self {
            retry_after,
            open_until: Mutex::new(None),
            hint: Mutex::new(None),
        }
    }

    /// True while calls should not be made.
    pub fn is_open(&self) -> bool {
        let g = self
            .open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        g.is_some_and(|t| Instant::now() < t)
    }

    /// A 429 said `Retry-After: after`.
    pub fn hint(&self, after: Duration) {
        *self.hint.lock().unwrap_or_else(PoisonError::into_inner) = Some(after);
    }

    /// A call ended: `None` when it succeeded, else its fault's kind.
    pub fn record(&self, fault: Option<CloudFaultKind>) {
        let hint = self
            .hint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let open_for = match fault {
            Some(CloudFaultKind::Unreachable) => Some(self.retry_after),
            Some(CloudFaultKind::Busy) => {
                Some(hint.unwrap_or(self.retry_after).min(MAX_RETRY_AFTER))
            }
            _ => None,
        };
        *self
            .open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = open_for.map(|d| Instant::now() + d);
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by inference servers).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_unreachable_and_busy_and_closes_on_any_answer() {
        let b = Breaker::new(Duration::from_secs(5));
        assert!(!b.is_open());
        b.record(Some(CloudFaultKind::Unreachable));
        assert!(b.is_open());
        b.record(Some(CloudFaultKind::Timeout));
        assert!(!b.is_open(), "a timeout is not a missing server");
        b.hint(Duration::from_secs(2));
        b.record(Some(CloudFaultKind::Busy));
        assert!(b.is_open());
        b.record(None);
        assert!(!b.is_open());
        // A zero Retry-After opens for no time at all.
        b.hint(Duration::ZERO);
        b.record(Some(CloudFaultKind::Busy));
        assert!(!b.is_open());
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
