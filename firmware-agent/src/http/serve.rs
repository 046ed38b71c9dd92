//! The accept loop: each connection served by hyper's HTTP/1.1
//! server under [`Limits`] (header-read, idle and request timeouts, a connection cap), and
//! a graceful shutdown bounded by [`Limits::shutdown_grace`].
//!
//! Semantics: a connection beyond the cap is closed at once (counted; the first refusal and
//! then at most one line per [`REFUSAL_LOG_EVERY`] go to stderr); a connection with no bytes
//! moving for the idle timeout is asked to close after its current request, and dropped if
//! it still has not after a second one (a client that never reads its answer). On shutdown
//! the listener is dropped first, every connection finishes its request in flight and
//! closes, and whatever is left after the grace period is dropped.

use super::{ErrorBody, Limits};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

/// Least time between two log lines about connections refused at the cap.
pub const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` under `limits` until `shutdown` completes; `name` starts its
/// log lines, `errors` writes its `503` bodies in the service's own error shape.
pub async fn run<L>(
    mut listener: L,
    app: Router,
    limits: Limits,
    name: &'static str,
    errors: ErrorBody,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let app = app.layer(axum::middleware::from_fn_with_state(
        (limits.request_timeout, errors),
        request_timeout,
    ));
    let service = TowerToHyperService::new(app);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut refusals = Refusals::default();
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            c = listener.accept() => c,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refusals.refused(name, &peer, limits.max_connections);
            drop(io);
            continue;
        };
        conns.spawn(connection(
            io,
            service.clone(),
            limits,
            stopping.clone(),
            slot,
        ));
    }
    // Stop accepting: the port is free from here on.
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log::warn!(
            "{name}: {} connections still open after the {:?} grace period: closed",
            conns.len(),
            limits.shutdown_grace
        );
        conns.shutdown().await;
    }
    if refusals.total > 0 {
        log::warn!(
            "{name}: {} connections refused at the cap of {}",
            refusals.total,
            limits.max_connections
        );
    }
    Ok(())
}

/// Connections refused at the cap, and when that was last logged.
#[derive(Default)]
struct Refusals {
    total: u64,
    since_log: u64,
    logged: Option<Instant>,
}

impl Refusals {
    fn refused(&mut self, name: &str, peer: &dyn std::fmt::Debug, cap: usize) {
        self.total += 1;
        self.since_log += 1;
        if self.logged.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY) {
            log::warn!(
                "{name}: {cap} connections open, the cap: closed \
                 {} new connection(s), the last from {peer:?} (at most one such line per {:?})",
                self.since_log,
                REFUSAL_LOG_EVERY
            );
            self.since_log = 0;
            self.logged = Some(Instant::now());
        }
    }
}

async fn connection<I>(
    io: I,
    service: TowerToHyperService<Router>,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let io = Watched {
        inner: io,
        activity: activity.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut closing = *stopping.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    let mut tick = tokio::time::interval((limits.idle_timeout / 4).max(Duration::from_millis(10)));
    loop {
        tokio::select! {
            // A connection error (reset, header timeout) only ends this connection.
            _ = conn.as_mut() => return,
            _ = stopping.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick() => {
                let idle = activity.idle();
                if idle >= limits.idle_timeout.saturating_mul(2) {
                    return;
                }
                if idle >= limits.idle_timeout && !closing {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Answers `503` when the inner service takes longer than the request timeout.
async fn request_timeout(
    State((limit, errors)): State<(Duration, ErrorBody)>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(r) => r,
        Err(_) => errors(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no answer within the request timeout of {limit:?}"),
        ),
    }
}

/// When bytes last moved on a connection, as milliseconds since it was accepted.
#[derive(Clone)]
struct Activity {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }
    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }
    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// An I/O stream that records when bytes last moved.
struct Watched<I> {
    inner: I,
    activity: Activity,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
