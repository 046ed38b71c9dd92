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
//! | `auth`  | [`BearerAuth`]: every route behind a bearer token |
//!
//! Bodies are encoded and decoded with the agent's own [`msao_agent::cloud::codec`], so the
//! client and this server agree by construction. Model runs go to `spawn_blocking`, where
//! each borrows a session from its model's pool: up to `workers` requests run at once and
//! the rest wait for a free session.

mod auth;
mod decode;
mod pool;
mod state;
mod tls;

pub use auth::BearerAuth;
pub use decode::{MAX_IMAGE_BYTES, MAX_IMAGE_SIDE};
pub use pool::{Lease, Pool};
pub use state::{
    CloudState, Counters, ModelStats, QUESTION_DIM, RequestError, ServedModel, VERSION, VQA_CLOUD,
    VQA_CLOUD_DENSE, VQA_FULL, default_workers,
};
pub use tls::{HANDSHAKE_TIMEOUT, TlsListener, load_server_config};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use msao_agent::cloud::binary::{BINARY_DATA, BINARY_DATA_OUTPUT, HEADER_LENGTH};
use msao_agent::cloud::wire::{
    self, BINARY_EXTENSION, ErrorBody, ModelMetadataBody, ServerMetadata,
};
use msao_agent::cloud::{CloudError, codec, tensor};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

/// Largest request body accepted (room for a 16 MiB `vqa-full` image and its header).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Server name in `GET /v2`.
pub const SERVER_NAME: &str = "msao-cloud";

type Shared = Arc<CloudState>;

/// Serves until `shutdown` completes, then finishes the requests in flight. `listener` is a
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
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
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
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
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
fn find<'a>(
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
struct NotFound(String);

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

async fn infer(
    State(s): State<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    infer_counted(s, model, None, headers, body).await
}

async fn infer_v(
    State(s): State<Shared>,
    Path((model, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    infer_counted(s, model, Some(version), headers, body).await
}

async fn infer_counted(
    state: Shared,
    model: String,
    version: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let m = match find(&state, &model, version.as_deref()) {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    m.counters.request();
    match infer_one(&state, &model, &headers, &body).await {
        Ok(r) => {
            m.counters.served();
            r
        }
        Err(r) => {
            m.counters.error();
            if r.status() == StatusCode::BAD_REQUEST {
                m.counters.bad_request();
            }
            r
        }
    }
}

async fn infer_one(
    state: &Shared,
    model: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Response> {
    let bad = |text: String| error(StatusCode::BAD_REQUEST, text);
    let header_len = match headers.get(HEADER_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| bad(format!("{HEADER_LENGTH} header is not a length: {v:?}")))?,
        ),
    };
    // `decode_request` reports what does not decode as `InvalidRequest` ("invalid infer
    // request: …"): the client's request is wrong, which is not a malformed cloud answer.
    let (request, inputs) =
        codec::decode_request(body, header_len).map_err(|e| bad(e.to_string()))?;
    let metadata = &state
        .model(model)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("unknown model `{model}`")))?
        .metadata;
    tensor::check_inputs(metadata, &inputs).map_err(|e| bad(e.to_string()))?;

    // Which outputs, and which of them in binary.
    let all_binary = wire::param_bool(request.parameters.as_ref(), BINARY_DATA_OUTPUT);
    let (wanted, binary): (Vec<String>, HashSet<String>) = match &request.outputs {
        None => {
            let names: Vec<String> = metadata.outputs.iter().map(|o| o.name.clone()).collect();
            let binary = if all_binary {
                names.iter().cloned().collect()
            } else {
                HashSet::new()
            };
            (names, binary)
        }
        Some(list) => {
            let mut binary = HashSet::new();
            for o in list {
                if !metadata.outputs.iter().any(|s| s.name == o.name) {
                    return Err(bad(format!(
                        "output `{}` is not an output of `{model}` (outputs: {})",
                        o.name,
                        metadata
                            .outputs
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                if all_binary || wire::param_bool(o.parameters.as_ref(), BINARY_DATA) {
                    binary.insert(o.name.clone());
                }
            }
            (list.iter().map(|o| o.name.clone()).collect(), binary)
        }
    };

    let run_state = Arc::clone(state);
    let run_model = model.to_owned();
    let outputs = tokio::task::spawn_blocking(move || run_state.run(&run_model, &inputs))
        .await
        .map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("model task failed: {e}"),
            )
        })?
        .map_err(|e| match e {
            RequestError::Bad(t) => bad(t),
            RequestError::Internal(t) => error(StatusCode::INTERNAL_SERVER_ERROR, t),
        })?;
    let outputs: Vec<_> = outputs
        .into_iter()
        .filter(|o| wanted.contains(&o.name))
        .collect();
    let encoded = codec::encode_response(model, Some(VERSION), request.id, &outputs, |n| {
        binary.contains(n)
    })
    .map_err(|e| {
        let detail = match e {
            CloudError::Config { detail } | CloudError::Malformed { detail } => detail,
            other => other.to_string(),
        };
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the response: {detail}"),
        )
    })?;
    let mut response = encoded.bytes.into_response();
    let h = response.headers_mut();
    match encoded.header_len {
        Some(n) => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(HEADER_LENGTH, HeaderValue::from(n));
        }
        None => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
    Ok(response)
}
