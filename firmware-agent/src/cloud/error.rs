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
    /// characters).
    #[error("cloud answered HTTP {code}: {body}")]
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
    /// HTTP 4xx (and any other non-success status).
    Rejected,
    /// Not a valid OIP v2 answer.
    Malformed,
    /// A tensor did not match the model's metadata.
    WrongShape,
    /// The configuration is unusable.
    Config,
}

impl CloudFaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::Unreachable,
        Self::Timeout,
        Self::ServerError,
        Self::Rejected,
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
            Self::Malformed => "malformed",
            Self::WrongShape => "wrong-shape",
            Self::Config => "config",
        }
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
            Self::Status { .. } => CloudFaultKind::Rejected,
            Self::Malformed { .. } => CloudFaultKind::Malformed,
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
