//! Remote image URLs (`image_url` with `http://` or `https://`): refused unless the host is
//! on `[api] remote_image_hosts`. An allowed URL is fetched with no redirects followed, within
//! `[api] remote_image_timeout`, and cut off past the frame-bytes limit (`[limits]`) before
//! anything is decoded; what comes back is checked like an inline image.
//!
//! Why an allowlist and not a switch: an agent that fetches any URL it is handed can be made
//! to reach whatever its network can (the cloud link, the Jetson's own services); naming the
//! camera or media hosts it may read keeps that decision with the person who deploys it.

use super::error::ApiError;
use crate::config::RemoteImages;
use futures_util::StreamExt as _;

/// Fetches remote images for the API.
pub struct Fetcher {
    policy: RemoteImages,
    client: Option<reqwest::Client>,
}

impl Fetcher {
    /// A fetcher under `policy`; with no hosts allowed it refuses every URL.
    pub fn new(policy: RemoteImages) -> Self {
        let client = (!policy.hosts.is_empty())
            .then(|| {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(policy.timeout)
                    .build()
                    .map_err(|e| log::warn!("remote images disabled: cannot build a client: {e}"))
                    .ok()
            })
            .flatten();
        Self { policy, client }
    }

    /// The image at `url`, at most `max_bytes` long; `at` names the content part.
    pub async fn fetch(&self, url: &str, at: &str, max_bytes: u64) -> Result<Vec<u8>, ApiError> {
        let refused = |why: String| {
            ApiError::invalid(
                "remote_image_refused",
                format!("{at}: {why}; send a data URL"),
            )
        };
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ApiError::invalid("invalid_image_url", format!("{at}: {e}")))?;
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port_or_known_default().unwrap_or(0);
        let (Some(client), true) = (&self.client, self.policy.allows(host, port)) else {
            return Err(refused(format!(
                "remote image URLs are refused unless the host is in [api] remote_image_hosts \
                 (`{host}:{port}` is not)"
            )));
        };
        let failed = |why: String| {
            ApiError::invalid("remote_image_unavailable", format!("{at}: {url}: {why}"))
        };
        let response = client
            .get(parsed.clone())
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(failed(format!(
                "larger than {max_bytes} bytes (limits.max_frame_bytes)"
            )));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| failed(e.to_string()))?;
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(failed(format!(
                    "larger than {max_bytes} bytes (limits.max_frame_bytes)"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
