//! The request deadline, counted from the request's arrival: a cloud call gets only what
//! is left of `deadline_ms` after the frame was read, encoded and the upload built, and
//! none at all when nothing is left (the local answer is committed instead).

use crate::cloud::{CloudError, InferReply};
use std::future::Future;
use std::time::{Duration, Instant};

/// When a request that arrived at `arrival` must be answered.
pub(super) fn due(arrival: Instant, deadline: Duration) -> Instant {
    arrival + deadline
}

/// Runs `call` until `due` at the latest. A call whose time is already spent is never
/// started (not even polled once: its first poll may build the request body). Either way
/// the error is the configured `deadline`'s [`CloudError::Timeout`], so faults read the
/// same whatever part of the deadline the edge work used.
pub(super) async fn within<F>(
    due: Instant,
    deadline: Duration,
    call: F,
) -> Result<InferReply, CloudError>
where
    F: Future<Output = Result<InferReply, CloudError>>,
{
    let timeout = || CloudError::Timeout {
        after_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
    };
    if Instant::now() >= due {
        return Err(timeout());
    }
    tokio::time::timeout_at(due.into(), call)
        .await
        .map_err(|_| timeout())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_deadline_never_starts_the_call_and_a_slow_one_is_cut() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let ms = Duration::from_millis;
        let started = std::sync::atomic::AtomicBool::new(false);
        let spent = Instant::now() - ms(1);
        let r = rt.block_on(within(spent, ms(250), async {
            started.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(CloudError::Malformed {
                detail: "ran".into(),
            })
        }));
        assert!(
            matches!(r, Err(CloudError::Timeout { after_ms: 250 })),
            "{r:?}"
        );
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        let t = Instant::now();
        let r = rt.block_on(within(t + ms(50), ms(250), async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Err(CloudError::Malformed {
                detail: "late".into(),
            })
        }));
        assert!(
            matches!(r, Err(CloudError::Timeout { after_ms: 250 })),
            "{r:?}"
        );
        // A liveness bound, not a timing claim: far below the 30 s the call wanted.
        assert!(t.elapsed() < Duration::from_secs(20));
    }
}
