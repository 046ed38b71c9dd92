//! Errors in OpenAI's envelope: `{"error": {"message", "type", "param", "code"}}`, `code` a
//! string or null, with the HTTP status clients expect for each.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One refused request: status, OpenAI error type, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`.
    pub kind: &'static str,
    /// A short machine-readable code, or `None`.
    pub code: Option<&'static str>,
    /// What was wrong, for a person.
    pub message: String,
}

/// Seconds a `429` asks the client to wait: one second is hundreds of edge requests.
pub const RETRY_AFTER_S: u64 = 1;

impl ApiError {
    /// `400`: the request itself is wrong.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: Some(code),
            message: message.into(),
        }
    }

    /// `404`: no such pipeline.
    pub fn unknown_model(model: &str, known: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("model_not_found"),
            message: format!("the model `{model}` does not exist; this agent serves {known}"),
        }
    }

    /// `413`: the body is over `[api] max_body_bytes`.
    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: "invalid_request_error",
            code: Some("request_too_large"),
            message: format!("the request body is over {limit} bytes ([api] max_body_bytes)"),
        }
    }

    /// `429`: the pipeline's queue is full.
    pub fn busy(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: "rate_limit_error",
            code: Some("queue_full"),
            message: message.into(),
        }
    }

    /// `503`: loading, or shutting down.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "server_error",
            code: Some("unavailable"),
            message: message.into(),
        }
    }
}

/// [`crate::http::ErrorBody`] for the API (the request timeout, the bearer token).
pub fn error_body(status: StatusCode, message: String) -> Response {
    let kind = match status {
        StatusCode::UNAUTHORIZED => "authentication_error",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request_error",
    };
    envelope(status, kind, None, &message)
}

fn envelope(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = envelope(self.status, self.kind, self.code, &self.message);
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
        }
        r
    }
}
