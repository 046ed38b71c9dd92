//! A chat request's user content, read into what the pipeline needs: the question (text
//! parts), one image (`image_url`: a data URL of JPEG, PNG or WebP, as an object or — as
//! Ollama accepts — a bare string; or `camera://NAME`, a camera's newest frame) and
//! optionally audio (`input_audio`, WAV).
//!
//! Everything is checked before anything is decoded: the question's length, the image's
//! dimensions from its header ([`decode_image_within`]), the audio's duration from its WAV
//! header (in the pipeline). A remote image URL is handed on as such: the API fetches it
//! only from a host on `[api] remote_image_hosts` (`remote`).

use super::error::ApiError;
use crate::encoders::{InputLimits, decode_image_within};
use base64::Engine as _;
use image::RgbImage;
use serde::Deserialize;
use serde_json::Value;

/// The parts of `POST /v1/chat/completions` the agent reads; other fields (temperature,
/// max_tokens, …) are accepted and ignored, as a classification head has no use for them.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// The pipeline.
    pub model: String,
    /// The conversation; the last `user` message is the request.
    pub messages: Vec<ChatMessage>,
    /// Answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
}

/// One message.
#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, …
    pub role: String,
    /// A string, or a list of content parts.
    #[serde(default)]
    pub content: Value,
}

/// The request's inputs, undecoded.
#[derive(Debug)]
pub struct Inputs {
    /// The text parts, joined by a space.
    pub question: String,
    /// The image: inline bytes, or a remote URL.
    pub image: ImageSource,
    /// WAV bytes, when the request has audio.
    pub audio: Option<Vec<u8>>,
}

/// Where a request's image is.
#[derive(Debug)]
pub enum ImageSource {
    /// A data URL's bytes.
    Inline(Vec<u8>),
    /// An `http://` or `https://` URL, and the content part that named it (for errors).
    Remote {
        /// The URL.
        url: String,
        /// `messages[i].content[j]`.
        at: String,
    },
    /// `camera://NAME`: that camera's newest frame when the pipeline starts the request.
    Camera {
        /// The camera's name.
        name: String,
        /// `messages[i].content[j]`.
        at: String,
    },
}

/// Reads the last user message's parts.
pub fn read(request: &ChatRequest, limits: &InputLimits) -> Result<Inputs, ApiError> {
    let Some((index, message)) = request
        .messages
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.role == "user")
    else {
        return Err(ApiError::invalid(
            "no_user_message",
            "messages has no `user` message",
        ));
    };
    let at = |part: usize| format!("messages[{index}].content[{part}]");
    let mut texts = Vec::new();
    let mut image = None;
    let mut audio = None;
    match &message.content {
        Value::String(s) => texts.push(s.clone()),
        Value::Array(parts) => {
            for (i, part) in parts.iter().enumerate() {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => match part.get("text").and_then(Value::as_str) {
                        Some(t) => texts.push(t.to_string()),
                        None => return Err(bad_part(&at(i), "a text part needs `text`")),
                    },
                    Some("image_url") => {
                        if image.is_some() {
                            return Err(bad_part(&at(i), "one image per request"));
                        }
                        image = Some(image_url(part.get("image_url"), &at(i))?);
                    }
                    Some("input_audio") => {
                        if audio.is_some() {
                            return Err(bad_part(&at(i), "one audio track per request"));
                        }
                        audio = Some(input_audio(part.get("input_audio"), &at(i))?);
                    }
                    Some(other) => {
                        return Err(ApiError::invalid(
                            "unsupported_content_part",
                            format!(
                                "{}: content part type `{other}` is not supported \
                                 (text, image_url, input_audio)",
                                at(i)
                            ),
                        ));
                    }
                    None => return Err(bad_part(&at(i), "a content part needs `type`")),
                }
            }
        }
        _ => {
            return Err(ApiError::invalid(
                "invalid_content",
                format!("messages[{index}].content must be a string or a list of parts"),
            ));
        }
    }
    let question = texts.join(" ").trim().to_string();
    if question.is_empty() {
        return Err(ApiError::invalid(
            "no_question",
            "the user message has no text: the pipeline answers a question about the image",
        ));
    }
    limits
        .check_question(&question)
        .map_err(|e| ApiError::invalid("question_too_long", e.to_string()))?;
    let Some(image) = image else {
        return Err(ApiError::invalid(
            "no_image",
            "the user message has no image_url part: the pipeline answers about an image",
        ));
    };
    Ok(Inputs {
        question,
        image,
        audio,
    })
}

fn bad_part(at: &str, why: &str) -> ApiError {
    ApiError::invalid("invalid_content_part", format!("{at}: {why}"))
}

/// `image_url`: `{"url": "data:…"}` or a bare `"data:…"` string (or an http(s) URL).
fn image_url(value: Option<&Value>, at: &str) -> Result<ImageSource, ApiError> {
    let url = match value {
        Some(Value::String(s)) => s.as_str(),
        Some(v) => match v.get("url").and_then(Value::as_str) {
            Some(s) => s,
            None => return Err(bad_part(at, "image_url needs `url`")),
        },
        None => return Err(bad_part(at, "an image_url part needs `image_url`")),
    };
    if let Some(name) = url.strip_prefix("camera://") {
        return Ok(ImageSource::Camera {
            name: name.trim_end_matches('/').to_string(),
            at: at.to_string(),
        });
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(ImageSource::Remote {
            url: url.to_string(),
            at: at.to_string(),
        });
    }
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(bad_part(
            at,
            "image_url must be a data URL (data:image/jpeg;base64,…)",
        ));
    };
    let Some((meta, data)) = rest.split_once(',') else {
        return Err(bad_part(at, "a data URL needs a `,` before its data"));
    };
    let Some(mime) = meta.strip_suffix(";base64") else {
        return Err(bad_part(at, "the data URL must be base64 (`;base64,`)"));
    };
    if !matches!(
        mime,
        "image/jpeg" | "image/jpg" | "image/png" | "image/webp"
    ) {
        return Err(ApiError::invalid(
            "unsupported_image_type",
            format!(
                "{at}: image type `{mime}` is not supported (image/jpeg, image/png, image/webp)"
            ),
        ));
    }
    decode_base64(data, at).map(ImageSource::Inline)
}

/// `input_audio`: `{"data": base64, "format": "wav"}`.
fn input_audio(value: Option<&Value>, at: &str) -> Result<Vec<u8>, ApiError> {
    let Some(v) = value else {
        return Err(bad_part(at, "an input_audio part needs `input_audio`"));
    };
    match v.get("format").and_then(Value::as_str) {
        Some("wav") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                "unsupported_audio_format",
                format!("{at}: audio format `{other}` is not supported (wav)"),
            ));
        }
        None => return Err(bad_part(at, "input_audio needs `format`")),
    }
    match v.get("data").and_then(Value::as_str) {
        Some(data) => decode_base64(data, at),
        None => Err(bad_part(at, "input_audio needs `data`")),
    }
}

fn decode_base64(data: &str, at: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::invalid("invalid_base64", format!("{at}: bad base64: {e}")))
}

/// Decodes the image under `limits` (dimensions checked from its header first).
pub fn decode_image(bytes: &[u8], limits: &InputLimits) -> Result<RgbImage, ApiError> {
    decode_image_within(bytes, "image_url", limits)
        .map_err(|e| ApiError::invalid("invalid_image", e.to_string()))
}
