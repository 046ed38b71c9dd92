//! [`CloudError`] and its coarse [`CloudFaultKind`] (what the offload policy counts).

/// Why a cloud call failed. Every variant names what it saw, so a log line is enough to act.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The configuration is unusable (bad URL, empty model, missing token variable, …).
    #[error("cloud config: {detail}")]
    Config {
        /// What is wrong.
        detail: String,
    },
    /// The server could not be reached (connection refused, DNS, reset).
    #[error("cloud {url} unreachable: {detail}")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// The transport's reason.
        detail: String,
    },
    /// The call did not finish within its deadline (the HTTP request was cancelled).
    #[error("cloud call timed out after {after_ms} ms")]
    Timeout {
        /// The deadline, ms.
        after_ms: u64,
    },
    /// The server answered with a non-success status; `body` is its error text (first 200
    /// characters). A 400, 413 or 422 says the *request* was refused as invalid (the server
    /// is fine; [`CloudFaultKind::BadRequest`]), and the message says so.
    #[error("cloud answered HTTP {code}{}: {body}", status_note(*code))]
    Status {
        /// HTTP status code.
        code: u16,
        /// The `{"error": …}` text, or the raw body, truncated to 200 characters.
        body: String,
    },
    /// The server's answer is not valid Open Inference Protocol v2.
    #[error("malformed cloud answer: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// An infer *request* that does not decode (what the reference server reads from a
    /// client: invalid JSON, binary sizes that do not add up, bad element values).
    #[error("invalid infer request: {detail}")]
    InvalidRequest {
        /// What is wrong.
        detail: String,
    },
    /// A tensor does not match the model's metadata (name, datatype, shape or element count).
    #[error("tensor `{tensor}`: expected {expected}, got {got}")]
    Shape {
        /// The tensor.
        tensor: String,
        /// What the metadata asks for.
        expected: String,
        /// What was there.
        got: String,
    },
    /// The answer's body is larger than any valid answer of this call can be (the cap is
    /// derived from the model's output shapes): the read was aborted there.
    #[error("cloud answer larger than the {limit}-byte cap of {what}: aborted")]
    TooLarge {
        /// The cap, bytes.
        limit: usize,
        /// What was being read (`infer answer`, `GET /v2`, …).
        what: String,
    },
    /// TLS setup or handshake failed (bad CA file, certificate rejected).
    #[error("cloud TLS: {detail}")]
    Tls {
        /// What is wrong.
        detail: String,
    },
}

/// The kind of a [`CloudError`]: what the offload policy and the fault counters see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloudFaultKind {
    /// Connection refused, DNS, reset, TLS handshake.
    Unreachable,
    /// Deadline passed.
    Timeout,
    /// HTTP 5xx.
    ServerError,
    /// HTTP 4xx other than [`Self::BadRequest`] and [`Self::Busy`] (401/403 credentials, 404
    /// no such model, …) and any other non-success status.
    Rejected,
    /// HTTP 429: the server is at capacity (every session busy, its queue full).
    Busy,
    /// The request was refused as invalid: HTTP 400, 413 or 422 from the server, or (at the
    /// server) a request that does not decode. Our request is wrong, not the server's answer.
    BadRequest,
    /// Not a valid OIP v2 answer (including one larger than any valid answer can be).
    Malformed,
    /// A tensor did not match the model's metadata.
    WrongShape,
    /// The configuration is unusable.
    Config,
}

impl CloudFaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::Unreachable,
        Self::Timeout,
        Self::ServerError,
        Self::Rejected,
        Self::Busy,
        Self::BadRequest,
        Self::Malformed,
        Self::WrongShape,
        Self::Config,
    ];

    /// Stable kebab-case name (logs, JSON, counters).
    pub fn name(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::ServerError => "server-error",
            Self::Rejected => "rejected",
            Self::Busy => "busy",
            Self::BadRequest => "bad-request",
            Self::Malformed => "malformed",
            Self::WrongShape => "wrong-shape",
            Self::Config => "config",
        }
    }
}

/// HTTP statuses that refuse the request itself as invalid: 400 Bad Request, 413 Content
/// Too Large, 422 Unprocessable Content (FastAPI's validation error, KServe, MLServer).
fn is_bad_request(code: u16) -> bool {
    matches!(code, 400 | 413 | 422)
}

/// What a status adds to the message: that the request (not the answer) was at fault.
fn status_note(code: u16) -> &'static str {
    if is_bad_request(code) {
        " (the server refused the request as invalid)"
    } else {
        ""
    }
}

impl CloudError {
    /// The kind of this error.
    pub fn kind(&self) -> CloudFaultKind {
        match self {
            Self::Config { .. } => CloudFaultKind::Config,
            Self::Unreachable { .. } | Self::Tls { .. } => CloudFaultKind::Unreachable,
            Self::Timeout { .. } => CloudFaultKind::Timeout,
            Self::Status { code, .. } if *code >= 500 => CloudFaultKind::ServerError,
            Self::Status { code, .. } if is_bad_request(*code) => CloudFaultKind::BadRequest,
            Self::Status { code: 429, .. } => CloudFaultKind::Busy,
            Self::Status { .. } => CloudFaultKind::Rejected,
            Self::InvalidRequest { .. } => CloudFaultKind::BadRequest,
            Self::Malformed { .. } | Self::TooLarge { .. } => CloudFaultKind::Malformed,
            Self::Shape { .. } => CloudFaultKind::WrongShape,
        }
    }

    /// A [`CloudError::Config`].
    pub(crate) fn config(detail: impl Into<String>) -> Self {
        Self::Config {
            detail: detail.into(),
        }
    }

    /// A [`CloudError::Malformed`].
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::Malformed {
            detail: detail.into(),
        }
    }

    /// The same error seen from the server's side: a [`CloudError::Malformed`] found while
    /// decoding a *request* becomes [`CloudError::InvalidRequest`]; others are unchanged.
    pub(crate) fn in_request(self) -> Self {
        match self {
            Self::Malformed { detail } => Self::InvalidRequest { detail },
            other => other,
        }
    }

    /// A [`CloudError::Shape`].
    pub fn shape(
        tensor: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Self::Shape {
            tensor: tensor.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// A [`CloudError::Status`] from a response body: the `{"error": …}` text when the body
    /// is OIP JSON, else the body itself; truncated to 200 characters.
    pub fn status(code: u16, body: &[u8]) -> Self {
        let text = serde_json::from_slice::<super::wire::ErrorBody>(body)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
        Self::Status {
            code,
            body: text.chars().take(200).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_is_a_bad_request_not_a_malformed_answer() {
        for code in [400, 413, 422] {
            let e = CloudError::status(code, br#"{"error":"tensor `compact`: BadMagic"}"#);
            assert_eq!(e.kind(), CloudFaultKind::BadRequest, "{code}");
            let text = e.to_string();
            assert!(text.contains("refused the request as invalid"), "{text}");
            assert!(!text.contains("malformed"), "{text}");
        }
        for (code, kind) in [
            (401, CloudFaultKind::Rejected),
            (404, CloudFaultKind::Rejected),
            (429, CloudFaultKind::Busy),
            (500, CloudFaultKind::ServerError),
            (503, CloudFaultKind::ServerError),
        ] {
            assert_eq!(CloudError::status(code, b"x").kind(), kind, "{code}");
        }
        assert_eq!(
            CloudError::status(503, br#"{"error":"busy"}"#).to_string(),
            "cloud answered HTTP 503: busy"
        );
        let e = CloudError::malformed("request JSON: EOF").in_request();
        assert_eq!(e.to_string(), "invalid infer request: request JSON: EOF");
        assert_eq!(e.kind(), CloudFaultKind::BadRequest);
        assert_eq!(CloudFaultKind::BadRequest.name(), "bad-request");
        assert!(CloudFaultKind::ALL.contains(&CloudFaultKind::BadRequest));
    }
}
