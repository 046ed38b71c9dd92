//! [`CloudClient`]: health, metadata, format negotiation and infer against one OIP v2 model.
//!
//! One `reqwest::Client` per [`CloudClient`] (clones share it), so connections are pooled
//! and reused. Every call is cancel-safe: dropping its future drops the HTTP request, which
//! is how a speculative offload is called off.

use super::breaker::{Breaker, parse_retry_after};
use super::codec;
use super::limit::{self, MAX_CONTROL_RESPONSE};
use super::tensor::{self, InferReply, InferTensor, ModelMetadata, Negotiated};
use super::wire::{BINARY_EXTENSION, ModelMetadataBody, ServerMetadata};
use super::{CloudConfig, CloudError, TensorFormat, binary};
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long an idle pooled connection is kept: below the idle timeouts servers commonly
/// use (60 s for `msao-host cloud`, nginx's keep-alive 75 s), so the first request after a
/// quiet minute does not meet a connection the server has just closed (reqwest's default,
/// 90 s, counted such a request as `unreachable`).
pub const POOL_IDLE: Duration = Duration::from_secs(30);

/// How long the breaker stays open after an unreachable server, by default.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A client for one model on one OIP v2 server. Cheap to clone.
#[derive(Clone)]
pub struct CloudClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: CloudConfig,
    http: reqwest::Client,
    /// `{url}` without a trailing `/`.
    base: String,
    /// `{base}/v2/models/{model}[/versions/{version}]`.
    model_url: String,
    auth: Option<HeaderValue>,
    metadata: Mutex<Option<ModelMetadata>>,
    negotiated: Mutex<Option<Negotiated>>,
    breaker: Breaker,
}

impl std::fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudClient")
            .field("url", &self.inner.base)
            .field("model", &self.inner.config.model)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The error and its sources, `: `-joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

impl CloudClient {
    /// Validates the config, reads the bearer token and the CA file, and builds the HTTP
    /// client. No network traffic.
    pub fn new(config: &CloudConfig) -> Result<Self, CloudError> {
        config.validate()?;
        let auth = match config.resolve_token()? {
            None => None,
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    CloudError::config("bearer token has characters not allowed in a header")
                })?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .pool_idle_timeout(POOL_IDLE)
            .tcp_nodelay(true);
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| CloudError::Tls {
                detail: format!("ca_file {}: {e}", path.display()),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| CloudError::Tls {
                    detail: format!("ca_file {}: {}", path.display(), chain(&e)),
                })?;
            if certs.is_empty() {
                return Err(CloudError::Tls {
                    detail: format!("ca_file {}: no PEM certificate in it", path.display()),
                });
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(|e| CloudError::Tls {
            detail: format!("cannot build the HTTP client: {}", chain(&e)),
        })?;
        let base = config.url.trim_end_matches('/').to_owned();
        let mut model_url = format!("{base}/v2/models/{}", config.model);
        if let Some(v) = &config.model_version {
            model_url.push_str("/versions/");
            model_url.push_str(v);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                http,
                base,
                model_url,
                auth,
                metadata: Mutex::new(None),
                negotiated: Mutex::new(None),
                breaker: Breaker::new(DEFAULT_RETRY_AFTER),
            }),
        })
    }

    /// This client with its [`Breaker`] open for `after` after an unreachable server
    /// (default [`super::DEFAULT_RETRY_AFTER`]). Call right after [`Self::new`]: clones made
    /// before keep the old setting.
    pub fn retry_after(mut self, after: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.breaker = Breaker::new(after);
        }
        self
    }

    /// True while the breaker is open: the last completed inference found the server
    /// unreachable or busy, within the retry time. Calls still work; callers that can
    /// answer without the cloud do.
    pub fn is_open(&self) -> bool {
        self.inner.breaker.is_open()
    }

    /// The config it was built from.
    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    /// Deadline of the control calls (health, metadata): connect timeout + infer deadline.
    fn control_timeout(&self) -> Duration {
        let c = &self.inner.config;
        Duration::from_millis(c.connect_timeout_ms.saturating_add(c.deadline_ms))
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> CloudError {
        let detail = chain(e);
        let lower = detail.to_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            CloudError::Tls { detail }
        } else if e.is_timeout() && !e.is_connect() {
            CloudError::Timeout {
                after_ms: self
                    .control_timeout()
                    .as_millis()
                    .try_into()
                    .unwrap_or(u64::MAX),
            }
        } else {
            CloudError::Unreachable {
                url: url.to_owned(),
                detail,
            }
        }
    }

    fn with_auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.inner.auth {
            Some(v) => req.header(AUTHORIZATION, v.clone()),
            None => req,
        }
    }

    /// Sends a request; returns the status, headers and body, the body read as it comes
    /// and abandoned beyond `cap` bytes ([`CloudError::TooLarge`]; a `Content-Length` above
    /// it is refused before a byte is read). No status check.
    async fn send(
        &self,
        url: &str,
        req: reqwest::RequestBuilder,
        cap: usize,
        what: &str,
    ) -> Result<(u16, HeaderMap, bytes::Bytes), CloudError> {
        let mut resp = self
            .with_auth(req)
            .send()
            .await
            .map_err(|e| self.transport_error(url, &e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let too_large = || CloudError::TooLarge {
            limit: cap,
            what: what.to_owned(),
        };
        let declared = resp.content_length();
        if declared.is_some_and(|n| n > cap as u64) {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, &e))?
        {
            if body.len() + chunk.len() > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, bytes::Bytes::from(body)))
    }

    /// `GET url` under the control timeout; a non-2xx status is [`CloudError::Status`].
    async fn get(&self, url: &str) -> Result<bytes::Bytes, CloudError> {
        let t = self.control_timeout();
        let what = format!("GET {url}");
        let send = self.send(url, self.inner.http.get(url), MAX_CONTROL_RESPONSE, &what);
        let (status, _, body) =
            tokio::time::timeout(t, send)
                .await
                .map_err(|_| CloudError::Timeout {
                    after_ms: millis(t),
                })??;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(CloudError::status(status, &body))
        }
    }

    /// `GET /v2/health/ready`: `Ok` when the server answers 200.
    pub async fn server_ready(&self) -> Result<(), CloudError> {
        self.get(&format!("{}/v2/health/ready", self.inner.base))
            .await
            .map(drop)
    }

    /// `GET /v2/models/{model}[/versions/{v}]/ready`: `Ok` when the model is ready.
    pub async fn model_ready(&self) -> Result<(), CloudError> {
        self.get(&format!("{}/ready", self.inner.model_url))
            .await
            .map(drop)
    }

    /// `GET /v2`: server name, version and extensions.
    pub async fn server_metadata(&self) -> Result<ServerMetadata, CloudError> {
        let body = self.get(&format!("{}/v2", self.inner.base)).await?;
        serde_json::from_slice(&body)
            .map_err(|e| CloudError::malformed(format!("server metadata (GET /v2): {e}")))
    }

    /// `GET /v2/models/{model}[/versions/{v}]`; cached after the first success.
    pub async fn metadata(&self) -> Result<ModelMetadata, CloudError> {
        if let Some(m) = lock(&self.inner.metadata).clone() {
            return Ok(m);
        }
        let body = self.get(&self.inner.model_url).await?;
        let wire: ModelMetadataBody = serde_json::from_slice(&body)
            .map_err(|e| CloudError::malformed(format!("model metadata: {e}")))?;
        let m = wire.to_metadata()?;
        if m.name != self.inner.config.model {
            return Err(CloudError::malformed(format!(
                "asked for model `{}`, metadata describes `{}`",
                self.inner.config.model, m.name
            )));
        }
        *lock(&self.inner.metadata) = Some(m.clone());
        Ok(m)
    }

    /// Server ready, model ready, metadata and tensor format. The result is cached; after
    /// a failure the next call tries again.
    pub async fn connect(&self) -> Result<Negotiated, CloudError> {
        if let Some(n) = lock(&self.inner.negotiated).clone() {
            return Ok(n);
        }
        let server = match self.server_metadata().await {
            Ok(s) => Some(s),
            // A server without `GET /v2` still serves; it just advertises no extensions.
            // Refused credentials are not that: the next calls would be refused too.
            Err(CloudError::Status { code, .. }) if code != 401 && code != 403 => None,
            Err(e) => return Err(e),
        };
        self.server_ready().await?;
        self.model_ready().await?;
        let metadata = self.metadata().await?;
        let format = match self.inner.config.tensor_format {
            TensorFormat::Auto => {
                let binary = server
                    .as_ref()
                    .is_some_and(|s| s.extensions.iter().any(|x| x == BINARY_EXTENSION));
                if binary {
                    TensorFormat::Binary
                } else {
                    TensorFormat::Json
                }
            }
            f => f,
        };
        let n = Negotiated {
            format,
            metadata,
            server: server.map_or_else(
                || "unknown".to_owned(),
                |s| format!("{} {}", s.name, s.version).trim().to_owned(),
            ),
        };
        *lock(&self.inner.negotiated) = Some(n.clone());
        Ok(n)
    }

    /// Forgets the cached negotiation and metadata (the next call connects again).
    pub fn reset(&self) {
        *lock(&self.inner.negotiated) = None;
        *lock(&self.inner.metadata) = None;
    }

    /// The negotiation, when [`Self::connect`] has succeeded.
    pub fn negotiated(&self) -> Option<Negotiated> {
        lock(&self.inner.negotiated).clone()
    }

    /// One inference, the whole call (connecting first when needed) under `deadline`.
    ///
    /// Inputs are checked against the model metadata before anything is sent (unknown,
    /// missing or duplicate input, datatype, shape with `-1` wildcards, element count:
    /// [`CloudError::Shape`]); outputs are checked the same way on the way back.
    pub async fn infer(
        &self,
        inputs: Vec<InferTensor>,
        deadline: Duration,
    ) -> Result<InferReply, CloudError> {
        self.infer_counted(inputs, deadline, None).await
    }

    /// [`infer`](Self::infer), adding to `sent` each part of the request body as it is
    /// handed to the HTTP connection (in 16 KiB pieces). A caller that cancels the
    /// call reads there how many bytes actually left (speculation's wasted upload).
    pub async fn infer_counted(
        &self,
        inputs: Vec<InferTensor>,
        deadline: Duration,
        sent: Option<Arc<AtomicU64>>,
    ) -> Result<InferReply, CloudError> {
        let result = tokio::time::timeout(deadline, self.infer_unbounded(inputs, sent))
            .await
            .unwrap_or_else(|_| {
                Err(CloudError::Timeout {
                    after_ms: millis(deadline),
                })
            });
        self.inner
            .breaker
            .record(result.as_ref().err().map(CloudError::kind));
        result
    }

    async fn infer_unbounded(
        &self,
        inputs: Vec<InferTensor>,
        sent: Option<Arc<AtomicU64>>,
    ) -> Result<InferReply, CloudError> {
        let start = Instant::now();
        let n = self.connect().await?;
        tensor::check_inputs(&n.metadata, &inputs)?;
        let binary = n.format == TensorFormat::Binary;
        let outputs: Vec<String> = n.metadata.outputs.iter().map(|o| o.name.clone()).collect();
        let body = codec::encode_request(&inputs, &outputs, binary)?;
        let bytes_up = body.bytes.len();
        let url = format!("{}/infer", self.inner.model_url);
        let mut req = self.inner.http.post(&url);
        req = match body.header_len {
            Some(len) => req
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(binary::HEADER_LENGTH, len),
            None => req.header(CONTENT_TYPE, "application/json"),
        };
        let req = match sent {
            None => req.body(body.bytes),
            Some(sent) => req
                .header(CONTENT_LENGTH, bytes_up)
                .body(counted_body(body.bytes, sent)),
        };
        let cap = limit::infer_response_cap(&n.metadata);
        let (status, headers, reply) = self.send(&url, req, cap, "an infer answer").await?;
        if !(200..300).contains(&status) {
            if let Some(after) = headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after)
            {
                self.inner.breaker.hint(after);
            }
            return Err(CloudError::status(status, &reply));
        }
        let header_len = match headers.get(binary::HEADER_LENGTH) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<usize>().ok())
                    .ok_or_else(|| {
                        CloudError::malformed(format!(
                            "{} header is not a length: {v:?}",
                            binary::HEADER_LENGTH
                        ))
                    })?,
            ),
        };
        let (_, outputs) = codec::decode_response(&reply, header_len)?;
        tensor::check_outputs(&n.metadata, &outputs)?;
        Ok(InferReply {
            outputs,
            bytes_up,
            bytes_down: reply.len(),
            elapsed: start.elapsed(),
            format: n.format,
        })
    }
}

/// Pieces a counted request body is handed over in.
pub const BODY_CHUNK: usize = 16 * 1024;

/// A body that adds each piece's length to `sent` when the connection takes it.
fn counted_body(bytes: Vec<u8>, sent: Arc<AtomicU64>) -> reqwest::Body {
    let bytes = bytes::Bytes::from(bytes);
    let pieces: Vec<bytes::Bytes> = (0..bytes.len())
        .step_by(BODY_CHUNK)
        .map(|at| bytes.slice(at..bytes.len().min(at + BODY_CHUNK)))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(pieces.into_iter().map(
        move |piece| {
            sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
            Ok::<_, std::io::Error>(piece)
        },
    )))
}
