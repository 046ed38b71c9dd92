//! The answer as OpenAI's `chat.completion` (or `chat.completion.chunk` events ending in
//! `data: [DONE]`), with one extra top-level object, `msao`: the request id its
//! `RequestTrace` carries, the decision, the answer's source and confidence, bytes up and
//! down, where the region step found the subject (`[x, y, w, h]`), per-stage milliseconds,
//! and for a `camera://` image the frame answered about (`frame`: camera, seq, capture time
//! in Unix seconds, age in ms when the pipeline took it).
//!
//! `usage`: `prompt_tokens` are the question's tokens the text encoder read (its tokenizer's
//! count, without the special tokens; 0 when no edge work ran, as for cloud-only);
//! `completion_tokens` are tokens generated, none for a classification head.

use crate::offload::Answer;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use msao::message::Modality;
use serde_json::{Value, json};

fn ms(us: Option<u32>) -> Value {
    us.map_or(Value::Null, |u| json!(f64::from(u) / 1e3))
}

/// The `msao` object.
pub fn msao(a: &Answer) -> Value {
    let t = &a.trace.timings;
    json!({
        "request_id": a.request_id,
        "decision": a.decision,
        "source": a.source,
        "confidence": a.confidence,
        "local_confidence": a.local_confidence,
        "fallback": a.source == "fallback",
        "fault": a.fault,
        "bytes_up": a.bytes_up,
        "bytes_down": a.bytes_down,
        "bytes_wasted": a.bytes_wasted,
        "latency_ms": a.latency_us as f64 / 1e3,
        "region": a.region.map(|r| [r.x, r.y, r.width, r.height]),
        "frame": a.frame.as_ref().map(|f| json!({
            "camera": f.camera,
            "seq": f.seq,
            "captured_at": f.wall.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            "age_ms": f.age_at_start.as_secs_f64() * 1e3,
        })),
        "stages_ms": {
            "encode": ms(t.encode_us),
            "mas": ms(t.mas_us),
            "policy": ms(t.policy_us),
            "local": ms(t.local_us),
            "cloud": ms(t.cloud_us),
            "total": ms(t.total_us),
        },
    })
}

fn usage(a: &Answer) -> Value {
    let prompt = a
        .trace
        .mas
        .iter()
        .find(|m| m.modality == Modality::Text)
        .map_or(0, |m| m.total);
    json!({"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt})
}

fn id(a: &Answer) -> String {
    format!("chatcmpl-{}", a.request_id)
}

/// `chat.completion`.
pub fn completion(a: &Answer, model: &str, created: u64) -> Response {
    axum::Json(json!({
        "id": id(a),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": a.answer.clone().unwrap_or_default()},
            "finish_reason": "stop",
        }],
        "usage": usage(a),
        "msao": msao(a),
    }))
    .into_response()
}

/// `chat.completion.chunk` events: the role and content, then the finish with `usage` and
/// `msao`, then `data: [DONE]`.
pub fn stream(a: &Answer, model: &str, created: u64) -> Response {
    let chunk = |delta: Value, finish: Value, extra: Option<(Value, Value)>| {
        let mut c = json!({
            "id": id(a),
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let (Some((usage, msao)), Some(m)) = (extra, c.as_object_mut()) {
            m.insert("usage".into(), usage);
            m.insert("msao".into(), msao);
        }
        format!("data: {c}\n\n")
    };
    let mut body = chunk(
        json!({"role": "assistant", "content": a.answer.clone().unwrap_or_default()}),
        Value::Null,
        None,
    );
    body += &chunk(json!({}), json!("stop"), Some((usage(a), msao(a))));
    body += "data: [DONE]\n\n";
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
