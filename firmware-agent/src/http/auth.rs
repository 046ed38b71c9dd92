//! [`BearerAuth`]: a service behind a bearer token, as an authenticating gateway would put
//! it.
//!
//! ```
//! use msao_agent::http::BearerAuth;
//! # fn body(s: axum::http::StatusCode, m: String) -> axum::response::Response {
//! #     axum::response::IntoResponse::into_response((s, m))
//! # }
//! let auth = BearerAuth::new("s3cret".into(), body);
//! let app = auth.protect(axum::Router::new());
//! ```
//!
//! Every route needs `Authorization: Bearer <token>`; anything else is answered `401` with
//! `WWW-Authenticate: Bearer` and the service's error body saying what was wrong, and
//! counted ([`BearerAuth::rejected`]). The token is compared in constant time.

use super::ErrorBody;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use subtle::ConstantTimeEq as _;

/// The token every request must carry, and a count of those that did not.
#[derive(Clone)]
pub struct BearerAuth {
    inner: Arc<Inner>,
}

struct Inner {
    token: String,
    rejected: AtomicU64,
    errors: ErrorBody,
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.debug_struct("BearerAuth")
            .field("rejected", &self.rejected())
            .finish_non_exhaustive()
    }
}

impl BearerAuth {
    /// Requires `token` (non-empty; the caller checks); refusals written by `errors`.
    pub fn new(token: String, errors: ErrorBody) -> Self {
        Self {
            inner: Arc::new(Inner {
                token,
                rejected: AtomicU64::new(0),
                errors,
            }),
        }
    }

    /// `router` with every route behind the token.
    pub fn protect(&self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), check))
    }

    /// Requests refused so far.
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }

    /// What is wrong with this `Authorization` header, if anything.
    fn problem(&self, header: Option<&HeaderValue>) -> Option<&'static str> {
        let Some(value) = header else {
            return Some("no Authorization header (this server needs a bearer token)");
        };
        let Some(given) = value.as_bytes().strip_prefix(b"Bearer ") else {
            return Some("the Authorization header is not `Bearer <token>`");
        };
        if bool::from(given.ct_eq(self.inner.token.as_bytes())) {
            None
        } else {
            Some("wrong bearer token")
        }
    }
}

async fn check(State(auth): State<BearerAuth>, request: Request, next: Next) -> Response {
    match auth.problem(request.headers().get(header::AUTHORIZATION)) {
        None => next.run(request).await,
        Some(why) => {
            auth.inner.rejected.fetch_add(1, Ordering::Relaxed);
            let mut r = (auth.inner.errors)(StatusCode::UNAUTHORIZED, why.into());
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let auth = BearerAuth::new("s3cret".into(), |s, m| {
            axum::response::IntoResponse::into_response((s, m))
        });
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(auth.problem(Some(&h("Bearer s3cret"))), None);
        assert!(auth.problem(None).unwrap().contains("no Authorization"));
        assert!(
            auth.problem(Some(&h("Basic s3cret")))
                .unwrap()
                .contains("not `Bearer")
        );
        for wrong in ["Bearer s3cre", "Bearer s3cret2", "Bearer ", "Bearer S3CRET"] {
            assert_eq!(
                auth.problem(Some(&h(wrong))),
                Some("wrong bearer token"),
                "{wrong}"
            );
        }
        assert!(!format!("{auth:?}").contains("s3cret"));
    }
}
