//! The reference endpoint's limits: per-connection timeouts and caps ([`Limits`]), and the
//! largest request body each model can need ([`BodyLimit`], from its inputs' sizes).
//!
//! Every overflow is a clean refusal: a body over its model's limit is answered `413`
//! (before it is parsed, at once when `Content-Length` says so), a request past
//! [`Limits::request_timeout`] `503`, a connection beyond [`Limits::max_connections`] is
//! closed as soon as it is accepted (counted; the log line is rate-limited).

// The connection limits are the agent's HTTP layer's, shared with its request API.
pub use msao_agent::host::serve::{
    HEADER_READ_TIMEOUT, IDLE_TIMEOUT, Limits, MAX_CONNECTIONS, REQUEST_TIMEOUT, SHUTDOWN_GRACE,
};

/// Requests that may wait for a free session, per worker, before more are answered `429`.
/// Four per worker: a burst is absorbed, yet the last in the queue waits only a few runs.
pub const QUEUE_PER_WORKER: usize = 4;

/// Seconds a `429` asks the client to wait (`Retry-After`): one second is many model runs.
pub const RETRY_AFTER_S: u64 = 1;

/// Room for the JSON part of a request besides the tensor data (id, names, shapes,
/// parameters, outputs): what a binary body's header or a JSON body's framing may take.
pub const JSON_OVERHEAD: usize = 64 * 1024;

/// Bytes one numeric element may take in a JSON body: `-1.23456789e-38, ` is 16; 24 leaves
/// room for pretty-printed JSON from other clients.
pub const JSON_BYTES_PER_ELEMENT: usize = 24;

/// A JSON string may escape each byte as `\u00XX`: six characters for one byte.
pub const JSON_ESCAPE_FACTOR: usize = 6;

/// Longest question text (`vqa-full`'s `question`): the tokenizer keeps far fewer tokens.
pub const MAX_QUESTION_BYTES: usize = 4 * 1024;

/// Absolute ceiling of any request body, whatever the models: a `vqa-full` image
/// ([`super::MAX_IMAGE_BYTES`]) and its header fit well below it.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// The most bytes one input tensor can take in each form of body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorBound {
    /// In the binary extension: raw little-endian data (BYTES: 4-byte length + bytes each).
    pub binary: usize,
    /// In a JSON body.
    pub json: usize,
}

impl TensorBound {
    /// `elements` numbers of `size` bytes each.
    pub fn numeric(elements: usize, size: usize) -> Self {
        Self {
            binary: elements.saturating_mul(size),
            json: elements.saturating_mul(JSON_BYTES_PER_ELEMENT),
        }
    }

    /// `elements` text elements of at most `max_len` bytes (quoted and escaped in JSON).
    pub fn text(elements: usize, max_len: usize) -> Self {
        Self {
            binary: elements.saturating_mul(max_len.saturating_add(4)),
            json: elements.saturating_mul(max_len.saturating_mul(JSON_ESCAPE_FACTOR) + 3),
        }
    }

    /// One binary blob (an encoded image) of at most `max_len` bytes. JSON carries text
    /// only and a JPEG or PNG file is never UTF-8, so a JSON body gets no room for it.
    pub fn blob(max_len: usize) -> Self {
        Self {
            binary: max_len.saturating_add(4),
            json: 0,
        }
    }
}

/// The largest request body one model accepts, in each form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    /// A binary-extension body: [`JSON_OVERHEAD`] for the header + the raw tensor bytes.
    pub binary: usize,
    /// A JSON body: [`JSON_OVERHEAD`] + the inputs' JSON bounds.
    pub json: usize,
}

impl BodyLimit {
    /// The limit for a model whose inputs are bounded by `inputs`, never above [`MAX_BODY`].
    pub fn of(inputs: &[TensorBound]) -> Self {
        let sum = |f: fn(&TensorBound) -> usize| {
            inputs
                .iter()
                .map(f)
                .fold(JSON_OVERHEAD, usize::saturating_add)
                .min(MAX_BODY)
        };
        Self {
            binary: sum(|t| t.binary),
            json: sum(|t| t.json),
        }
    }

    /// The limit for a body in binary form (`binary`) or JSON.
    pub fn get(&self, binary: bool) -> usize {
        if binary { self.binary } else { self.json }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_the_overhead_plus_the_inputs_and_never_above_the_ceiling() {
        let l = BodyLimit::of(&[TensorBound::numeric(384, 4), TensorBound::numeric(600, 1)]);
        assert_eq!(l.binary, JSON_OVERHEAD + 384 * 4 + 600);
        assert_eq!(l.json, JSON_OVERHEAD + 984 * JSON_BYTES_PER_ELEMENT);
        let full = BodyLimit::of(&[
            TensorBound::blob(16 << 20),
            TensorBound::text(1, MAX_QUESTION_BYTES),
        ]);
        assert_eq!(
            full.binary,
            JSON_OVERHEAD + (16 << 20) + 4 + MAX_QUESTION_BYTES + 4
        );
        assert_eq!(
            full.json,
            JSON_OVERHEAD + MAX_QUESTION_BYTES * JSON_ESCAPE_FACTOR + 3
        );
        let huge = BodyLimit::of(&[TensorBound::numeric(usize::MAX / 2, 8)]);
        assert_eq!((huge.binary, huge.json), (MAX_BODY, MAX_BODY));
    }
}
