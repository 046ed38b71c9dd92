//! [`CloudConfig`]: where the cloud model is and how to talk to it (the `[cloud]` table).

use super::CloudError;
use std::path::PathBuf;

/// How tensors travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TensorFormat {
    /// Ask the server (`GET /v2`): `binary_tensor_data` among its extensions → binary, else
    /// JSON.
    #[default]
    Auto,
    /// The binary tensor extension: a JSON header, then raw little-endian tensor bytes.
    Binary,
    /// Plain OIP v2 JSON tensors.
    Json,
}

impl TensorFormat {
    /// Stable name (`auto`, `binary`, `json`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Binary => "binary",
            Self::Json => "json",
        }
    }
}

/// The cloud endpoint: an Open Inference Protocol v2 (KServe / Triton) REST server.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudConfig {
    /// Base URL; `https://` enables TLS (rustls, WebPKI roots plus [`Self::ca_file`]).
    pub url: String,
    /// Model name.
    pub model: String,
    /// Model version; `None`: the server's default.
    pub model_version: Option<String>,
    /// Tensor encoding.
    pub tensor_format: TensorFormat,
    /// Whole-request deadline of one infer, ms.
    pub deadline_ms: u64,
    /// TCP (and TLS) connect timeout, ms.
    pub connect_timeout_ms: u64,
    /// Bearer token sent as `Authorization: Bearer …`.
    pub bearer_token: Option<String>,
    /// Name of an environment variable holding the bearer token (read when the client is
    /// created; a missing variable is a config error).
    pub bearer_token_env: Option<String>,
    /// Extra PEM root certificate(s) for TLS.
    pub ca_file: Option<PathBuf>,
}

/// Default [`CloudConfig::url`].
pub const DEFAULT_URL: &str = "http://127.0.0.1:8000";

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.into(),
            // No default: the agent takes it from its pipeline's `[cloud] model`.
            model: String::new(),
            model_version: None,
            tensor_format: TensorFormat::Auto,
            deadline_ms: 250,
            connect_timeout_ms: 1000,
            bearer_token: None,
            bearer_token_env: None,
            ca_file: None,
        }
    }
}

impl CloudConfig {
    /// Checks what can be checked without the network: the URL parses and is http/https,
    /// the model (and version, when given) is a non-empty path segment, the deadlines are
    /// positive, at most one token source is given, and the CA file exists.
    pub fn validate(&self) -> Result<(), CloudError> {
        check_segment("model", &self.model)?;
        self.validate_endpoint()
    }

    /// [`Self::validate`] without the model name (for a config whose model is still to be
    /// taken from the pipeline).
    pub fn validate_endpoint(&self) -> Result<(), CloudError> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| CloudError::config(format!("url `{}`: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CloudError::config(format!(
                "url `{}`: scheme must be http or https, not `{}`",
                self.url,
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(CloudError::config(format!(
                "url `{}` has no host",
                self.url
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(CloudError::config(format!(
                "url `{}`: no query or fragment allowed (give the base URL)",
                self.url
            )));
        }
        if let Some(v) = &self.model_version {
            check_segment("model_version", v)?;
        }
        if self.deadline_ms == 0 {
            return Err(CloudError::config("deadline_ms must be > 0"));
        }
        if self.connect_timeout_ms == 0 {
            return Err(CloudError::config("connect_timeout_ms must be > 0"));
        }
        if self.bearer_token.is_some() && self.bearer_token_env.is_some() {
            return Err(CloudError::config(
                "give bearer_token or bearer_token_env, not both",
            ));
        }
        if let Some(var) = &self.bearer_token_env
            && var.is_empty()
        {
            return Err(CloudError::config("bearer_token_env is empty"));
        }
        if let Some(ca) = &self.ca_file
            && !ca.is_file()
        {
            return Err(CloudError::config(format!(
                "ca_file {} does not exist",
                ca.display()
            )));
        }
        Ok(())
    }

    /// The bearer token: [`Self::bearer_token`], or the variable [`Self::bearer_token_env`]
    /// names (read now).
    pub fn resolve_token(&self) -> Result<Option<String>, CloudError> {
        match (&self.bearer_token, &self.bearer_token_env) {
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(var)) => match std::env::var(var) {
                Ok(t) if !t.is_empty() => Ok(Some(t)),
                Ok(_) => Err(CloudError::config(format!(
                    "bearer_token_env: environment variable `{var}` is empty"
                ))),
                Err(_) => Err(CloudError::config(format!(
                    "bearer_token_env: environment variable `{var}` is not set (or not UTF-8)"
                ))),
            },
            (None, None) => Ok(None),
        }
    }
}

/// A model name or version must be one non-empty URL path segment.
fn check_segment(key: &str, value: &str) -> Result<(), CloudError> {
    if value.is_empty() {
        return Err(CloudError::config(format!("{key} is empty")));
    }
    if value
        .chars()
        .any(|c| matches!(c, '/' | '?' | '#' | '%') || c.is_whitespace() || c.is_control())
    {
        return Err(CloudError::config(format!(
            "{key} `{value}` must be one URL path segment (no `/`, `?`, `#`, `%`, spaces)"
        )));
    }
    Ok(())
}
