//! The cameras in the API: `camera://NAME` as an image (the camera's newest frame when the
//! pipeline starts the request; the `msao` object says which frame, its capture time and
//! age), `GET /v1/cameras`, and `GET /v1/watch`: the standing questions' answers as
//! server-sent events (`event: answer`; a subscriber too slow for
//! [`crate::camera::watch`]'s buffer gets `event: lagged` with the count it missed).

use super::{ApiError, ApiState};
use crate::camera::Cameras;
use crate::offload::Frame;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// The frame of a `camera://NAME` image: the camera's slot, taken when the request starts;
/// its temporal-MAS stream is the camera's.
pub(super) fn frame(
    cameras: &Cameras,
    name: &str,
    at: &str,
) -> Result<(Frame, Option<String>), ApiError> {
    let Some(slot) = cameras.get(name) else {
        let names = cameras.names();
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("unknown_camera"),
            message: format!(
                "{at}: no camera `{name}` (cameras: {})",
                if names.is_empty() {
                    "none configured; [[camera]] or --camera NAME=URI".into()
                } else {
                    names.join(", ")
                }
            ),
        });
    };
    if slot.peek().is_none() {
        return Err(ApiError {
            code: Some("camera_not_ready"),
            ..ApiError::unavailable(format!(
                "{at}: camera `{name}` has no frame yet (starting or reconnecting)"
            ))
        });
    }
    Ok((
        Frame::Latest(Arc::clone(slot)),
        Some(format!("camera:{name}")),
    ))
}

/// `GET /v1/cameras`: each camera's counters and its newest frame's age.
pub(super) async fn list(State(state): State<Arc<ApiState>>) -> Response {
    let data: Vec<_> = state
        .cameras
        .iter()
        .map(|c| {
            let newest = c.peek();
            json!({
                "name": c.name(),
                "object": "camera",
                "ready": newest.is_some(),
                "frame_seq": newest.as_ref().map(|f| f.seq),
                "frame_age_ms": newest.as_ref().map(|f| f.at.elapsed().as_secs_f64() * 1e3),
                "frame_size": newest.as_ref().map(|f| [f.image.width(), f.image.height()]),
                "counts": c.counts(),
            })
        })
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /v1/watch`: answers of the standing questions from now on, until the agent stops.
pub(super) async fn watch(State(state): State<Arc<ApiState>>) -> Response {
    let rx = state.watch_events.subscribe();
    let stop = Arc::clone(&state.stop);
    let events = futures_util::stream::unfold((rx, stop), |(mut rx, stop)| async move {
        loop {
            if stop.is_requested() {
                return None;
            }
            // Wake up now and then to notice the stop.
            let next = tokio::time::timeout(Duration::from_millis(250), rx.recv()).await;
            let event = match next {
                Err(_) => continue,
                Ok(Ok(e)) => Event::default()
                    .event("answer")
                    .json_data(&e)
                    .unwrap_or_else(|_| Event::default().comment("unserialisable event")),
                Ok(Err(RecvError::Lagged(n))) => {
                    Event::default().event("lagged").data(n.to_string())
                }
                Ok(Err(RecvError::Closed)) => return None,
            };
            return Some((Ok::<_, Infallible>(event), (rx, stop)));
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
