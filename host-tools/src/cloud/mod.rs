//! The reference cloud endpoint (`msao-host cloud`): the cloud models served over the Open
//! Inference Protocol v2 REST API, JSON tensors and the binary tensor extension, answering
//! in the form each request asked for. See `docs/cloud.md`.
//!
//! | file    | owns |
//! |---------|------|
//! | `mod`   | [`serve`] and the routes: health, metadata, infer |
//! | `state` | [`CloudState`]: served models, sessions, counters, running one request |
//! | `pool`  | [`Pool`]: the sessions of one model, borrowed by one request at a time |
//! | `decode`| `vqa-full`'s `image` tensor (JPEG or PNG bytes) decoded under size limits |
//! | `tls`   | [`TlsListener`]: HTTPS (rustls) for [`serve`] |
//! | (agent) | [`BearerAuth`] and the accept loop, from `msao_agent::host::serve` (shared with the agent's API) |
//! | `infer` | the infer route: body limits, admission ([`Gate`]), the model run, the answer |
//! | `gate`  | [`Gate`]: the bounded wait for a session (`429` beyond it) |
//! | `limits`| [`Limits`], [`BodyLimit`]: every timeout, cap and size, and why |
//! | `counters` | [`Counters`], [`ModelStats`] |
//!
//! Bodies are encoded and decoded with the agent's own [`msao_agent::host::oip::codec`], so the
//! client and this server agree by construction. Model runs go to `spawn_blocking`, where
//! each borrows a session from its model's pool: up to `workers` requests run at once, up to
//! `queue` more wait for a free session, and the rest are answered `429` with `Retry-After`.

mod counters;
mod decode;
mod gate;
mod infer;
mod limits;
mod pool;
mod state;
mod tls;

pub use decode::{MAX_IMAGE_BYTES, MAX_IMAGE_SIDE};
pub use gate::{Gate, Pass};
pub use limits::{
    BodyLimit, HEADER_READ_TIMEOUT, IDLE_TIMEOUT, JSON_BYTES_PER_ELEMENT, JSON_ESCAPE_FACTOR,
    JSON_OVERHEAD, Limits, MAX_BODY, MAX_CONNECTIONS, MAX_QUESTION_BYTES, QUEUE_PER_WORKER,
    REQUEST_TIMEOUT, RETRY_AFTER_S, SHUTDOWN_GRACE, TensorBound,
};
pub use msao_agent::host::serve::BearerAuth;
pub use msao_agent::host::serve::REFUSAL_LOG_EVERY;
pub use pool::{Lease, Pool};
pub use state::{
    CloudState, Counters, DENSE_SUFFIX, ModelStats, RequestError, ServedModel, VERSION,
    default_workers,
};
pub use tls::{HANDSHAKE_TIMEOUT, TlsListener, load_server_config};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use infer::{infer, infer_v};
use msao_agent::host::oip::wire::{BINARY_EXTENSION, ErrorBody, ModelMetadataBody, ServerMetadata};
use std::future::Future;
use std::sync::Arc;

/// Server name in `GET /v2`.
pub const SERVER_NAME: &str = "msao-cloud";

pub(crate) type Shared = Arc<CloudState>;

/// Serves until `shutdown` completes, then finishes the requests in flight (within
/// [`SHUTDOWN_GRACE`]), under the default [`Limits`]. `listener` is a
/// `tokio::net::TcpListener` (plain HTTP) or a [`TlsListener`] (HTTPS).
pub async fn serve<L>(
    listener: L,
    state: Arc<CloudState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    serve_router(listener, router(state), shutdown).await
}

/// [`serve`] for a [`router`] with layers of its own (e.g. [`BearerAuth::protect`]).
pub async fn serve_router<L>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    serve_with(listener, app, Limits::default(), shutdown).await
}

/// [`serve_router`] under explicit [`Limits`]: each connection has a header-read timeout,
/// an idle timeout and a per-request timeout; connections beyond the cap are closed on
/// accept; after `shutdown`, requests in flight get the grace period, then every
/// connection is closed and this returns.
pub async fn serve_with<L>(
    listener: L,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    msao_agent::host::serve::serve::run(listener, app, limits, "msao-host cloud", error, shutdown)
        .await?;
    Ok(())
}

/// The routes.
pub fn router(state: Arc<CloudState>) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(ok))
        .route("/v2/health/ready", get(ok))
        .route("/v2/models/{model}", get(model_metadata))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route("/v2/models/{model}/infer", post(infer))
        .route(
            "/v2/models/{model}/versions/{version}",
            get(model_metadata_v),
        )
        .route(
            "/v2/models/{model}/versions/{version}/ready",
            get(model_ready_v),
        )
        .route("/v2/models/{model}/versions/{version}/infer", post(infer_v))
        .fallback(not_found)
        .with_state(state)
}

pub fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, axum::Json(ErrorBody { error: text.into() })).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint (OIP v2: /v2, /v2/health/*, /v2/models/{model}[/versions/{v}][/ready|/infer])",
    )
}

async fn ok() -> StatusCode {
    StatusCode::OK
}

async fn server_metadata() -> axum::Json<ServerMetadata> {
    axum::Json(ServerMetadata {
        name: SERVER_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: vec![BINARY_EXTENSION.into()],
    })
}

/// The model, or a 404 naming what is served.
pub(crate) fn find<'a>(
    state: &'a CloudState,
    model: &str,
    version: Option<&str>,
) -> Result<&'a ServedModel, NotFound> {
    let m = state.model(model).ok_or_else(|| {
        let served: Vec<&str> = state
            .models()
            .iter()
            .map(|m| m.metadata.name.as_str())
            .collect();
        NotFound(format!(
            "unknown model `{model}` (served: {})",
            served.join(", ")
        ))
    })?;
    match version {
        Some(v) if v != VERSION => Err(NotFound(format!(
            "model `{model}` has no version `{v}` (versions: {VERSION})"
        ))),
        _ => Ok(m),
    }
}

/// A 404 and its text.
pub(crate) struct NotFound(String);

impl IntoResponse for NotFound {
    fn into_response(self) -> Response {
        error(StatusCode::NOT_FOUND, self.0)
    }
}

fn metadata_response(state: &CloudState, model: &str, version: Option<&str>) -> Response {
    match find(state, model, version) {
        Ok(m) => axum::Json(ModelMetadataBody::from_metadata(&m.metadata)).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn model_metadata(State(s): State<Shared>, Path(model): Path<String>) -> Response {
    metadata_response(&s, &model, None)
}

async fn model_metadata_v(
    State(s): State<Shared>,
    Path((model, version)): Path<(String, String)>,
) -> Response {
    metadata_response(&s, &model, Some(&version))
}

async fn model_ready(State(s): State<Shared>, Path(model): Path<String>) -> Response {
    match find(&s, &model, None) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(r) => r.into_response(),
    }
}

async fn model_ready_v(
    State(s): State<Shared>,
    Path((model, version)): Path<(String, String)>,
) -> Response {
    match find(&s, &model, Some(&version)) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(r) => r.into_response(),
    }
}
