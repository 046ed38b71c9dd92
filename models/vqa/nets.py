"""The edge and cloud networks in JAX (forward passes only; parameters are plain dicts of arrays).

Edge (one graph): image -> conv s2 (16) -> conv s2 (16) = probe [B,16,16,16]
                        -> conv s2 (32) -> conv s2 (32) = features [B,32,4,4]
                        -> global mean = image_embedding [B,32]
        local head: logits = W_o relu((W_i e + b_i) * (W_q q + b_q)) + b_o   (32 hidden units)
The JAX forward passes take the *standardised* question qs = (q - q_mu) * q_scale (q_mu, q_scale
from the 107 distinct easy-VQA question embeddings); export.py folds that affine map into the
first question layer, so the ONNX graphs take the raw MiniLM embedding.
Cloud: per-patch MLP (+ learned slot embedding) over the dequantised int8 patches, question
       MLP, question-conditioned attention pooling and masked mean pooling over the kept
       patches (patch_mask), plus a layout path (all 16 masked patches flattened with the mask
       -> 256), then a 3-layer MLP -> 13 logits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

EDGE_CH = (16, 16, 32, 32)
EDGE_HID = 32
CLOUD_HID = 128
CLOUD_MLP = 256
N_ANS = 13


def _he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def init_edge(rng: np.random.Generator) -> dict:
    p, cin = {}, 3
    for k, c in enumerate(EDGE_CH, 1):
        p[f"conv{k}.w"] = _he(rng, (c, cin, 3, 3), cin * 9)
        p[f"conv{k}.b"] = np.zeros(c, np.float32)
        cin = c
    p["head.wi"] = _he(rng, (cin, EDGE_HID), cin)
    p["head.bi"] = np.ones(EDGE_HID, np.float32) * 0.1
    p["head.wq"] = _he(rng, (384, EDGE_HID), 384)
    p["head.bq"] = np.ones(EDGE_HID, np.float32) * 0.1
    p["head.wo"] = _he(rng, (EDGE_HID, N_ANS), EDGE_HID)
    p["head.bo"] = np.zeros(N_ANS, np.float32)
    return p


def init_cloud(rng: np.random.Generator, d: int = EDGE_CH[-1]) -> dict:
    h, m = CLOUD_HID, CLOUD_MLP
    return {
        "p1.w": _he(rng, (d, h), d), "p1.slot": np.zeros((16, h), np.float32),
        "p2.w": _he(rng, (h, h), h), "p2.b": np.zeros(h, np.float32),
        "q.w": _he(rng, (384, h), 384), "q.b": np.zeros(h, np.float32),
        "att.w": _he(rng, (h, 1), h),
        "g.w": _he(rng, (16 * d + 16, m), 16 * d + 16), "g.b": np.zeros(m, np.float32),
        "m1.w": _he(rng, (3 * h + m, m), 3 * h + m), "m1.b": np.zeros(m, np.float32),
        "m2.w": _he(rng, (m, m), m), "m2.b": np.zeros(m, np.float32),
        "m3.w": _he(rng, (m, N_ANS), m), "m3.b": np.zeros(N_ANS, np.float32),
    }


def _conv(x, w, b):
    y = jax.lax.conv_general_dilated(x, w, (2, 2), ((1, 1), (1, 1)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return jax.nn.relu(y + b[None, :, None, None])


def edge_encoder(p, image):
    x = _conv(image, p["conv1.w"], p["conv1.b"])
    probe = _conv(x, p["conv2.w"], p["conv2.b"])
    x = _conv(probe, p["conv3.w"], p["conv3.b"])
    features = _conv(x, p["conv4.w"], p["conv4.b"])
    return probe, features


def edge_head(p, emb, q):
    hi = emb @ p["head.wi"] + p["head.bi"]
    hq = q @ p["head.wq"] + p["head.bq"]
    return jax.nn.relu(hi * hq) @ p["head.wo"] + p["head.bo"]


def edge_forward(p, image, q):
    probe, features = edge_encoder(p, image)
    emb = features.mean(axis=(2, 3))
    return probe, features, emb, edge_head(p, emb, q)


def cloud_forward(p, patches, mask, q):
    """patches f32 [B,16,D] (already dequantised), mask f32 [B,16], q f32 [B,384] -> logits."""
    x = patches * mask[:, :, None]
    h = jax.nn.relu(x @ p["p1.w"] + p["p1.slot"][None])
    h = jax.nn.relu(h @ p["p2.w"] + p["p2.b"])
    qh = jax.nn.relu(q @ p["q.w"] + p["q.b"])
    s = (h * qh[:, None, :]) @ p["att.w"]                 # [B,16,1]
    s = s + (mask[:, :, None] - 1.0) * 1e4
    a = jax.nn.softmax(s, axis=1)
    att = (a * h).sum(1)
    mean = (h * mask[:, :, None]).sum(1) / jnp.maximum(mask.sum(1, keepdims=True), 1.0)
    flat = jnp.concatenate([x.reshape(x.shape[0], -1), mask], axis=1)  # spatial layout path
    g = jax.nn.relu(flat @ p["g.w"] + p["g.b"])
    z = jnp.concatenate([att, mean, qh, g], axis=1)
    z = jax.nn.relu(z @ p["m1.w"] + p["m1.b"])
    z = jax.nn.relu(z @ p["m2.w"] + p["m2.b"])
    return z @ p["m3.w"] + p["m3.b"]


def features_to_patches(features):
    """[B,D,4,4] -> [B,16,D] (row-major patch order)."""
    b, d = features.shape[:2]
    return features.reshape(b, d, 16).transpose(0, 2, 1)
