//! The infer route: the body read under its model's [`BodyLimit`](super::BodyLimit) (413
//! beyond it, before anything is parsed), admission through the [`Gate`](super::Gate) (429
//! with `Retry-After` when every session is busy and the queue full), the model run on a
//! blocking thread, and the answer in the form the request asked for.

use super::{CloudState, NotFound, RETRY_AFTER_S, RequestError, Shared, VERSION, error, find};
use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use msao_agent::host::oip::binary::{BINARY_DATA, BINARY_DATA_OUTPUT, HEADER_LENGTH};
use msao_agent::host::oip::wire;
use msao_agent::host::oip::{CloudError, codec, tensor};
use std::collections::HashSet;
use std::sync::Arc;

pub(crate) async fn infer(
    State(s): State<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_counted(s, model, None, headers, body).await
}

pub(crate) async fn infer_v(
    State(s): State<Shared>,
    Path((model, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer_counted(s, model, Some(version), headers, body).await
}

async fn infer_counted(
    state: Shared,
    model: String,
    version: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let m = match find(&state, &model, version.as_deref()) {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    m.counters.request();
    let result = match read_body(&state, &model, &headers, body).await {
        Ok(body) => infer_one(&state, &model, &headers, &body).await,
        Err(r) => Err(r),
    };
    match result {
        Ok(r) => {
            m.counters.served();
            r
        }
        Err(r) => {
            m.counters.error();
            match r.status() {
                StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
                    m.counters.bad_request();
                }
                StatusCode::TOO_MANY_REQUESTS => m.counters.busy(),
                _ => {}
            }
            r
        }
    }
}

/// The body, at most the model's limit for its form: a `Content-Length` above it is
/// refused before a byte is read, a chunked body as soon as it passes the limit.
async fn read_body(
    state: &CloudState,
    model: &str,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<Bytes, Response> {
    let binary = headers.contains_key(HEADER_LENGTH);
    let limit = state
        .model(model)
        .ok_or_else(|| NotFound(format!("unknown model `{model}`")).into_response())?
        .body_limit
        .get(binary);
    let form = if binary {
        "binary: JSON header + raw tensor bytes"
    } else {
        "JSON"
    };
    let too_large = |got: String| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body of {got} bytes is over the {limit}-byte limit of model `{model}` ({form})"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared
        && n > limit as u64
    {
        return Err(too_large(n.to_string()));
    }
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large(format!("more than {}", buf.len() + data.len())));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// A `429` saying every session is busy, with `Retry-After`.
fn busy(state: &CloudState) -> Response {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "busy: all {} sessions are running and {} requests already wait (--queue); retry after {RETRY_AFTER_S} s",
            state.workers(),
            state.gate().queue()
        ),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    r
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

    // The pass is held by the run itself: a request its client gave up on still counts
    // until its run ends.
    let pass = state.gate().try_enter().ok_or_else(|| busy(state))?;
    let run_state = Arc::clone(state);
    let run_model = model.to_owned();
    let outputs = tokio::task::spawn_blocking(move || {
        let _pass = pass;
        run_state.run(&run_model, &inputs)
    })
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
