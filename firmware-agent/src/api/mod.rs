//! The request API: OpenAI-compatible, because that is what applications already speak
//! to vLLM, llama.cpp, Ollama and NIM.
//!
//! | route                       | answers |
//! |-----------------------------|---------|
//! | `POST /v1/chat/completions` | the pipeline's answer in `choices[0].message.content`, plain or as SSE (`stream: true`), with an `msao` object |
//! | `GET /v1/models`            | the pipelines this agent serves |
//! | `GET /v1/cameras`           | the cameras: URI-free names, frame counters, the newest frame's age |
//! | `GET /v1/watch`             | the standing questions' answers as server-sent events |
//! | `GET /health`               | `503` while loading, `200` once the pipeline serves |
//!
//! Every request becomes one [`Request`] on the pipeline's queue ([`Submitter::try_submit`]:
//! a full queue is answered `429` with `Retry-After`, never waited on), and gets exactly
//! one answer: the pipeline's (a cloud fault is a local answer flagged `fallback`), or
//! `503` when the agent stops before it started. The connection limits and timeouts are
//! [`crate::http`]'s; bodies over `[api] max_body_bytes` are refused `413` before they are
//! read whole. Errors use OpenAI's envelope ([`error`]).
//!
//! | file      | owns |
//! |-----------|------|
//! | `content` | reading a chat request's content parts into question, image, audio |
//! | `remote`  | fetching an `http(s)` image URL from a host on `[api] remote_image_hosts` (refused otherwise) |
//! | `reply`   | the completion, the SSE chunks and the `msao` object |
//! | `camera`  | `camera://NAME` images, `GET /v1/cameras`, `GET /v1/watch` |
//! | `error`   | [`ApiError`]: OpenAI's error envelope and statuses |

mod camera;
pub mod content;
pub mod error;
mod remote;
mod reply;

pub use error::{ApiError, RETRY_AFTER_S};

use crate::config::ApiSettings;
use crate::encoders::InputLimits;
use crate::http::BearerAuth;
use crate::offload::{Arrival, Audio, Frame, Refused, Reply, Request, Submitter};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// API request ids count from here, so they never meet a workload's (`RequestTrace`
/// ids are unique per agent run).
pub const FIRST_API_ID: u32 = 1 << 31;

/// The pipeline the API serves, as requests see it.
#[derive(Debug, Clone)]
pub struct ApiModel {
    /// The `model` requests name (the pipeline file's `name`).
    pub id: String,
    /// Whether the pipeline has an audio model (else `input_audio` is refused).
    pub takes_audio: bool,
}

impl ApiModel {
    /// The API's view of a pipeline.
    pub fn of(pipeline: &crate::pipelines::PipelineSpec) -> Self {
        Self {
            id: pipeline.name.clone(),
            takes_audio: pipeline.audio.is_some(),
        }
    }
}

/// Where the API's requests go and what else it reads: the queue, the cameras, the
/// standing questions' answers.
#[derive(Clone)]
pub struct Sources {
    /// The pipeline's queue.
    pub submitter: Submitter,
    /// The cameras (`camera://NAME`, `GET /v1/cameras`).
    pub cameras: crate::camera::Cameras,
    /// The standing questions' answers (`GET /v1/watch`).
    pub watch_events: tokio::sync::broadcast::Sender<crate::camera::WatchEvent>,
    /// The agent's stop (ends the event streams).
    pub stop: Arc<crate::shutdown::Shutdown>,
}

/// What the handlers share.
pub struct ApiState {
    /// The pipeline served.
    model: ApiModel,
    submitter: Submitter,
    cameras: crate::camera::Cameras,
    watch_events: tokio::sync::broadcast::Sender<crate::camera::WatchEvent>,
    stop: Arc<crate::shutdown::Shutdown>,
    ready: Arc<AtomicBool>,
    limits: InputLimits,
    max_body: usize,
    remote: remote::Fetcher,
    next_id: AtomicU32,
    answered: AtomicU64,
    refused: AtomicU64,
}

impl ApiState {
    /// Handlers for pipeline `model` over `sources`; `ready` turns true once the
    /// pipeline serves.
    pub fn new(
        model: ApiModel,
        sources: Sources,
        ready: Arc<AtomicBool>,
        limits: InputLimits,
        max_body: usize,
        remote: crate::config::RemoteImages,
    ) -> Self {
        Self {
            model,
            submitter: sources.submitter,
            cameras: sources.cameras,
            watch_events: sources.watch_events,
            stop: sources.stop,
            ready,
            limits,
            max_body,
            remote: remote::Fetcher::new(remote),
            next_id: AtomicU32::new(FIRST_API_ID),
            answered: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// `N answered, M refused (K at the full queue)`, for the log at shutdown.
    pub fn summary(&self) -> String {
        format!(
            "{} answered, {} refused ({} at the full queue)",
            self.answered.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.submitter.refused()
        )
    }
}

/// The routes; every one but `/health` (for probes, it says nothing but ready or not)
/// behind the bearer token when `token` is set.
pub fn router(state: Arc<ApiState>, token: Option<String>) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/v1/cameras", get(camera::list))
        .route("/v1/watch", get(camera::watch))
        .fallback(not_found)
        .with_state(Arc::clone(&state));
    let api = match token {
        Some(t) => BearerAuth::new(t, error::error_body).protect(api),
        None => api,
    };
    Router::new()
        .route("/health", get(health))
        .with_state(state)
        .merge(api)
}

/// Serves the API on `listener` under `settings`' limits until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    settings: &ApiSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state, settings.token.clone());
    crate::http::serve::run(
        listener,
        app,
        settings.limits,
        "msao-agent api",
        error::error_body,
        shutdown,
    )
    .await
}

async fn health(State(state): State<Arc<ApiState>>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "loading"})),
        )
            .into_response()
    }
}

async fn models(State(state): State<Arc<ApiState>>) -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": state.model.id, "object": "model", "created": 0, "owned_by": "msao"}],
    }))
    .into_response()
}

async fn not_found() -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "invalid_request_error",
        code: Some("not_found"),
        message: "no such endpoint (POST /v1/chat/completions, GET /v1/models, GET /v1/cameras, GET /v1/watch, GET /health)".into(),
    }
    .into_response()
}

async fn chat(State(state): State<Arc<ApiState>>, headers: HeaderMap, body: Body) -> Response {
    match answer(&state, &headers, body).await {
        Ok(r) => {
            state.answered.fetch_add(1, Ordering::Relaxed);
            r
        }
        Err(e) => {
            state.refused.fetch_add(1, Ordering::Relaxed);
            e.into_response()
        }
    }
}

async fn answer(state: &ApiState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let received = Instant::now();
    if !state.ready.load(Ordering::Acquire) {
        return Err(ApiError::unavailable("the pipeline is still loading"));
    }
    // Refused at once when the client says it is too large; cut off when it is not honest.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return Err(ApiError::too_large(state.max_body));
    }
    let bytes = axum::body::to_bytes(body, state.max_body)
        .await
        .map_err(|_| ApiError::too_large(state.max_body))?;
    let request: content::ChatRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid("invalid_json", format!("the request body: {e}")))?;
    if request.model != state.model.id {
        return Err(ApiError::unknown_model(
            &request.model,
            &format!("`{}`", state.model.id),
        ));
    }
    let inputs = content::read(&request, &state.limits)?;
    if inputs.audio.is_some() && !state.model.takes_audio {
        return Err(ApiError::invalid(
            "unsupported_content_part",
            format!(
                "pipeline `{}` takes no audio (its file has no [audio] model); leave out the input_audio part",
                state.model.id
            ),
        ));
    }
    drop(bytes);
    // Decoded here, on the connection's worker: about a millisecond for a 640×480 JPEG,
    // CPU-bound on the same cores a blocking pool would use, and each hand-off to another
    // thread costs a wake-up (~0.1 ms on a VM) on every request's critical path.
    let (frame, stream) = match &inputs.image {
        content::ImageSource::Inline(bytes) => (
            Frame::Decoded(content::decode_image(bytes, &state.limits)?),
            None,
        ),
        content::ImageSource::Remote { url, at } => {
            let bytes = state
                .remote
                .fetch(url, at, state.limits.max_frame_bytes)
                .await?;
            (
                Frame::Decoded(content::decode_image(&bytes, &state.limits)?),
                None,
            )
        }
        content::ImageSource::Camera { name, at } => camera::frame(&state.cameras, name, at)?,
    };
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let submitted = state.submitter.try_submit(
        Request {
            id,
            frame,
            question: inputs.question,
            audio: inputs.audio.map(Audio::Wav),
            arrival: Arrival::At(received),
            stream,
        },
        Box::new(move |reply| {
            let _ = tx.send(reply);
        }),
    );
    match submitted {
        Ok(()) => {}
        Err(Refused::Full(n)) => {
            return Err(ApiError::busy(format!(
                "the pipeline's queue is full ({n} waiting); retry after {RETRY_AFTER_S} s"
            )));
        }
        Err(Refused::Closed) => return Err(ApiError::unavailable("the agent is stopping")),
    }
    let answer = match rx.await {
        Ok(Reply::Answered(a)) => a,
        Ok(Reply::NotStarted) | Err(_) => {
            return Err(ApiError::unavailable(
                "the agent stopped before this request started",
            ));
        }
    };
    if answer.input_failed() {
        return Err(ApiError::invalid(
            "invalid_input",
            answer.fault.clone().unwrap_or_default(),
        ));
    }
    if answer.answer.is_none() {
        // A cloud fault where the policy ran no local head (cloud-only).
        return Err(ApiError {
            status: StatusCode::BAD_GATEWAY,
            kind: "server_error",
            code: Some("cloud_failed"),
            message: format!(
                "the cloud failed and this policy has no local answer: {}",
                answer.fault.clone().unwrap_or_default()
            ),
        });
    }
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(if request.stream {
        reply::stream(&answer, &request.model, created)
    } else {
        reply::completion(&answer, &request.model, created)
    })
}

/// Runs the API's server for pipeline `model` on its own thread and runtime until
/// `shutdown`.
pub fn spawn(
    model: ApiModel,
    settings: ApiSettings,
    listener: std::net::TcpListener,
    sources: Sources,
    ready: Arc<AtomicBool>,
    limits: InputLimits,
    shutdown: Arc<crate::shutdown::Shutdown>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("api")
        .enable_all()
        .build()?;
    let addr = settings.listen;
    std::thread::Builder::new()
        .name("api".into())
        .spawn(move || {
            let log_model = model.id.clone();
            let state = Arc::new(ApiState::new(
                model,
                sources,
                ready,
                limits,
                settings.max_body_bytes,
                settings.remote_images.clone(),
            ));
            let stopped = async move {
                while !shutdown.is_requested() {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            };
            let served = rt.block_on(async {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                log::info!(
                    "request API on http://{addr}/v1 (OpenAI-compatible; model `{}`{})",
                    log_model,
                    if settings.token.is_some() {
                        ", bearer token required"
                    } else {
                        ""
                    }
                );
                serve(listener, Arc::clone(&state), &settings, stopped).await
            });
            match served {
                Ok(()) => log::info!("request API stopped: {}", state.summary()),
                Err(e) => log::warn!("request API on {addr}: {e} ({})", state.summary()),
            }
        })
}
