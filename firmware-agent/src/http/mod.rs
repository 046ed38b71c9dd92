//! The HTTP layer of every service the product runs (the agent's request API, the
//! reference cloud of `msao-host cloud`): hyper's HTTP/1.1 under connection [`Limits`]
//! (header-read, idle and request timeouts, a connection cap, a graceful shutdown) and a
//! constant-time bearer token ([`BearerAuth`]).
//!
//! | file    | owns |
//! |---------|------|
//! | `serve` | [`serve::run`]: the accept loop under [`Limits`], graceful shutdown |
//! | `auth`  | [`BearerAuth`]: every route behind `Authorization: Bearer` |

mod auth;
pub mod serve;

pub use auth::BearerAuth;
pub use serve::REFUSAL_LOG_EVERY;

use axum::http::StatusCode;
use axum::response::Response;
use std::time::Duration;

/// Writes an error response in a service's own shape (OIP `{"error": …}`, OpenAI's
/// envelope, …).
pub type ErrorBody = fn(StatusCode, String) -> Response;

/// Longest a client may take to send a request's headers (from the first wait for them):
/// a slowloris client that trickles a header forever is closed after this. Ten seconds is
/// far longer than any real client on a LAN or WAN needs for a few hundred bytes.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection with no bytes moving either way for this long is closed. One minute keeps
/// the agent's pooled connection alive between requests of a 1 fps stream, and frees a
/// socket that a client forgot within a minute.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest one request may take, body upload and model run included: a body trickled byte
/// by byte, or a run stuck behind a wedged session, is answered `503` after this. A cloud
/// answer later than 30 s is useless to an agent whose deadline is in milliseconds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once; one more is closed on accept. 256 stays well below the
/// 1024-descriptor default of systemd and most shells (sessions, model files and the
/// listener need some too), and is far above what a fleet's agents hold (one or two each).
pub const MAX_CONNECTIONS: usize = 256;

/// After Ctrl-C / SIGTERM, how long requests in flight may take to finish before every
/// connection is closed and the process exits. Five seconds is many model runs; systemd's
/// own stop timeout (90 s) is never reached.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The connection limits of [`serve::run`]; [`Default`] is the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}
