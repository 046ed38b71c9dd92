//! The `[api]` section: the OpenAI-compatible request API (`--api ADDR` overrides `listen`).
//!
//! ```toml
//! [api]
//! listen = "127.0.0.1:8090"       # loopback by default; another address is an explicit choice
//! token_env = "MSAO_API_TOKEN"    # bearer token from this environment variable (never a flag)
//! max_body_bytes = 16777216       # larger request bodies are answered 413 before parsing
//! queue = 16                      # requests waiting for the pipeline; more are answered 429
//! header_timeout = "10s"          # a client's request headers must arrive within this
//! idle_timeout = "60s"            # a connection with nothing moving is closed after this
//! request_timeout = "30s"         # longest one request may take, answered 503 after
//! max_connections = 64            # connections served at once; more are closed on accept
//! shutdown_grace = "5s"           # in-flight requests finish within this at shutdown
//! remote_image_hosts = []         # hosts (`host` or `host:port`) whose http(s) image URLs
//!                                 # may be fetched; empty: remote URLs are refused
//! remote_image_timeout = "5s"     # one remote image's whole fetch
//! ```

use super::ConfigError;
use super::interval::serde_opt;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Default request-body cap: a 4K JPEG as base64 with the JSON around it fits many times.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;
/// Default number of API requests waiting for the pipeline: at ~1 ms of edge work each,
/// the last waits some 16 ms; more are answered `429` with `Retry-After`.
pub const DEFAULT_API_QUEUE: usize = 16;
/// Default cap on connections served at once (an edge agent has a few local clients).
pub const DEFAULT_API_CONNECTIONS: usize = 64;
/// Largest queue accepted.
pub const MAX_API_QUEUE: usize = 4096;
/// Default time one remote image may take to arrive.
pub const DEFAULT_REMOTE_IMAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// `[api]` as written; every key is optional.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Address to listen on; the API is off when neither this nor `--api` is given.
    pub listen: Option<SocketAddr>,
    /// Environment variable holding the bearer token.
    pub token_env: Option<String>,
    /// Largest request body, bytes.
    pub max_body_bytes: Option<usize>,
    /// Requests waiting for the pipeline.
    pub queue: Option<usize>,
    /// Header-read timeout.
    #[serde(default, deserialize_with = "serde_opt::deserialize")]
    pub header_timeout: Option<Duration>,
    /// Idle timeout.
    #[serde(default, deserialize_with = "serde_opt::deserialize")]
    pub idle_timeout: Option<Duration>,
    /// Request timeout.
    #[serde(default, deserialize_with = "serde_opt::deserialize")]
    pub request_timeout: Option<Duration>,
    /// Connection cap.
    pub max_connections: Option<usize>,
    /// Shutdown grace period.
    #[serde(default, deserialize_with = "serde_opt::deserialize")]
    pub shutdown_grace: Option<Duration>,
    /// Hosts whose image URLs may be fetched.
    pub remote_image_hosts: Option<Vec<String>>,
    /// Time one remote image may take.
    #[serde(default, deserialize_with = "serde_opt::deserialize")]
    pub remote_image_timeout: Option<Duration>,
}

/// Remote image URLs the API may fetch (`[api] remote_image_hosts`); none by default.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteImages {
    /// `host` (any port) or `host:port` entries, compared without case.
    pub hosts: Vec<String>,
    /// Time one fetch may take, connection included.
    pub timeout: Duration,
}

impl Default for RemoteImages {
    fn default() -> Self {
        Self {
            hosts: Vec::new(),
            timeout: DEFAULT_REMOTE_IMAGE_TIMEOUT,
        }
    }
}

impl RemoteImages {
    /// True when `host:port` is on the list.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.hosts.iter().any(|entry| match entry.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => {
                h.eq_ignore_ascii_case(host) && p.parse::<u16>() == Ok(port)
            }
            _ => entry.eq_ignore_ascii_case(host),
        })
    }
}

/// The request API, resolved.
#[derive(Clone, PartialEq)]
pub struct ApiSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The bearer token every request must carry, when one is set.
    pub token: Option<String>,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Requests waiting for the pipeline.
    pub queue: usize,
    /// Connection timeouts and cap.
    pub limits: crate::http::Limits,
    /// Remote image URLs it may fetch.
    pub remote_images: RemoteImages,
}

impl std::fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.debug_struct("ApiSettings")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "set"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("queue", &self.queue)
            .field("limits", &self.limits)
            .field("remote_images", &self.remote_images)
            .finish()
    }
}

impl ApiSection {
    /// Resolves against `--api` (which wins over `listen`); `None` when the API is off.
    /// `env` looks an environment variable up (the process environment outside tests).
    pub fn resolve(
        &self,
        flag: Option<SocketAddr>,
        origin: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ApiSettings>, ConfigError> {
        let Some(listen) = flag.or(self.listen) else {
            return Ok(None);
        };
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: format!("api.{key}"),
            origin: origin.to_string(),
            reason,
        };
        let token = match &self.token_env {
            None => None,
            Some(var) => match env(var) {
                Some(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                _ => {
                    return Err(invalid(
                        "token_env",
                        format!("the environment variable {var} is unset or empty"),
                    ));
                }
            },
        };
        let queue = self.queue.unwrap_or(DEFAULT_API_QUEUE);
        if !(1..=MAX_API_QUEUE).contains(&queue) {
            return Err(invalid(
                "queue",
                format!("{queue} is outside 1..={MAX_API_QUEUE}"),
            ));
        }
        let max_body_bytes = self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY);
        if max_body_bytes < 1024 {
            return Err(invalid(
                "max_body_bytes",
                format!("{max_body_bytes} is below 1024 (no request with an image fits)"),
            ));
        }
        let max_connections = self.max_connections.unwrap_or(DEFAULT_API_CONNECTIONS);
        if !(1..=65_536).contains(&max_connections) {
            return Err(invalid(
                "max_connections",
                format!("{max_connections} is outside 1..=65536"),
            ));
        }
        let hosts = self.remote_image_hosts.clone().unwrap_or_default();
        if let Some(bad) = hosts
            .iter()
            .find(|h| h.trim().is_empty() || h.contains('/') || h.contains('@'))
        {
            return Err(invalid(
                "remote_image_hosts",
                format!("`{bad}` is not a host or host:port (no scheme, path or user)"),
            ));
        }
        let timeout = self
            .remote_image_timeout
            .unwrap_or(DEFAULT_REMOTE_IMAGE_TIMEOUT);
        if timeout > Duration::from_secs(60) {
            return Err(invalid(
                "remote_image_timeout",
                format!("{timeout:?} is above 60 s"),
            ));
        }
        let d = crate::http::Limits::default();
        Ok(Some(ApiSettings {
            remote_images: RemoteImages { hosts, timeout },
            listen,
            token,
            max_body_bytes,
            queue,
            limits: crate::http::Limits {
                header_read_timeout: self.header_timeout.unwrap_or(d.header_read_timeout),
                idle_timeout: self.idle_timeout.unwrap_or(d.idle_timeout),
                request_timeout: self.request_timeout.unwrap_or(d.request_timeout),
                max_connections,
                shutdown_grace: self.shutdown_grace.unwrap_or(d.shutdown_grace),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml: &str) -> ApiSection {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn off_unless_an_address_is_given_and_the_flag_wins() {
        let none = |_: &str| None;
        assert_eq!(
            ApiSection::default().resolve(None, "t", none).unwrap(),
            None
        );
        let s = section("listen = \"127.0.0.1:8090\"");
        let flag = "127.0.0.1:9000".parse().ok();
        let r = s.resolve(flag, "t", none).unwrap().unwrap();
        assert_eq!(r.listen.port(), 9000);
        assert_eq!(r.queue, DEFAULT_API_QUEUE);
        assert_eq!(r.max_body_bytes, DEFAULT_MAX_BODY);
        assert_eq!(r.token, None);
    }

    #[test]
    fn a_named_token_variable_must_be_set_and_is_never_printed() {
        let s = section("listen = \"127.0.0.1:8090\"\ntoken_env = \"T\"");
        let e = s.resolve(None, "f.toml", |_| None).unwrap_err().to_string();
        assert!(
            e.contains("api.token_env") && e.contains("T is unset"),
            "{e}"
        );
        let r = s
            .resolve(None, "t", |_| Some("s3cret".into()))
            .unwrap()
            .unwrap();
        assert_eq!(r.token.as_deref(), Some("s3cret"));
        assert!(!format!("{r:?}").contains("s3cret"));
    }

    #[test]
    fn remote_hosts_match_by_name_and_port_when_given() {
        let r = RemoteImages {
            hosts: vec![
                "cam.local".into(),
                "10.0.0.5:8080".into(),
                "[::1]:9000".into(),
            ],
            ..RemoteImages::default()
        };
        assert!(r.allows("CAM.local", 80) && r.allows("cam.local", 443));
        assert!(r.allows("10.0.0.5", 8080) && !r.allows("10.0.0.5", 80));
        assert!(r.allows("[::1]", 9000) && !r.allows("[::1]", 9001));
        assert!(!r.allows("cam.local.evil", 80) && !r.allows("127.0.0.1", 8080));
        assert!(
            !RemoteImages::default().allows("cam.local", 80),
            "none by default"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (toml, key) in [
            ("queue = 0", "api.queue"),
            ("max_body_bytes = 10", "api.max_body_bytes"),
            ("max_connections = 0", "api.max_connections"),
            (
                "remote_image_hosts = [\"http://cam\"]",
                "api.remote_image_hosts",
            ),
            ("remote_image_hosts = [\"\"]", "api.remote_image_hosts"),
            ("remote_image_timeout = \"2m\"", "api.remote_image_timeout"),
        ] {
            let s = section(&format!("listen = \"127.0.0.1:1\"\n{toml}"));
            let e = s.resolve(None, "f", |_| None).unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
        assert!(toml::from_str::<ApiSection>("listen = \"nowhere\"").is_err());
        assert!(toml::from_str::<ApiSection>("idle_timeout = \"0s\"").is_err());
    }
}
