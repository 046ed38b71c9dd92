"""Offline check: do more test-time views of unsure requests make the local confidence a
sharper error signal for the offload gate?

For the held-out calibration split and the easy-VQA test split (64×64 images, as the model
card's figures), the INT8 edge model is run on the image and on views of it: mirrored
left-right, and shifted by 2 pixels right/left/down/up (edge pixels repeated). Schemes:
`one` (first view only), `two` (the agent's: + mirror when the first view is below 0.95),
`three`, `five`, `six` (+ shifts, same rule). Per scheme, τ is tuned on the calibration
split as `msao-host tune` does (lowest τ with accuracy ≥ cloud − 0.1 point, the cloud on all
16 int8 patches), then applied to the test split, which reports the offload fraction, the
oracle's (local wrong and cloud right) and a latency-gap estimate with 1 ms local and
25 ms offloads. Run from models/vqa: `../../.cache/vqa-venv/bin/python views_check.py`.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime as ort

import vqa_common as C

BATCH = 512


def shift(img, dx, dy):
    out = np.roll(img, (dy, dx), axis=(1, 2))
    if dy > 0:
        out[:, :dy] = img[:, :1]
    if dy < 0:
        out[:, dy:] = img[:, -1:]
    if dx > 0:
        out[:, :, :dx] = img[:, :, :1]
    if dx < 0:
        out[:, :, dx:] = img[:, :, -1:]
    return out


VIEWS = {
    "id": lambda x: x,
    "hflip": lambda x: x[:, :, ::-1],
    "r2": lambda x: shift(x, 2, 0),
    "l2": lambda x: shift(x, -2, 0),
    "d2": lambda x: shift(x, 0, 2),
    "u2": lambda x: shift(x, 0, -2),
}
SCHEMES = {"one": [], "two": ["hflip"], "three": ["hflip", "r2"], "five": ["hflip", "r2", "l2", "d2"],
           "six": ["hflip", "r2", "l2", "d2", "u2"]}


def run(edge, cloud, split, qemb, temperature):
    imgs, q = split["images"][split["i"]], qemb[split["q"]]
    out = {}
    for name, f in VIEWS.items():
        logits = [edge.run(["logits"], {"image": C.to_nchw(np.ascontiguousarray(f(imgs[b:b + BATCH]))),
                                        "question": q[b:b + BATCH]})[0] for b in range(0, len(q), BATCH)]
        out[name] = C.softmax(np.concatenate(logits) / temperature)
    cl = []
    for b in range(0, len(q), BATCH):
        feat = edge.run(["features"], {"image": C.to_nchw(imgs[b:b + BATCH]), "question": q[b:b + BATCH]})[0]
        mask = np.ones((len(feat), C.N_PATCH), np.float32)
        qi, sc = C.quantize_compact(feat, mask)
        cl.append(cloud.run(["logits"], {"patches": qi, "scale": sc, "patch_mask": mask, "question": q[b:b + BATCH]})[0])
    out["cloud"] = np.concatenate(cl).argmax(1)
    out["a"] = split["a"]
    return out


def probabilities(r, scheme):
    p = r["id"].copy()
    views = SCHEMES[scheme]
    if views:
        avg = (p + sum(r[v] for v in views)) / (1 + len(views))
        unsure = p.max(1) < 0.95
        p[unsure] = avg[unsure]
    return p


def tune(r, scheme, gap):
    p = probabilities(r, scheme)
    conf, lc, cc = p.max(1), p.argmax(1) == r["a"], r["cloud"] == r["a"]
    n, target = len(conf), cc.mean() - gap
    order = np.argsort(-conf, kind="stable")
    correct, best = cc.sum(), 1.01
    for k, i in enumerate(order):
        correct += int(lc[i]) - int(cc[i])
        if k + 1 < n and conf[order[k + 1]] == conf[i]:
            continue
        if correct / n >= target:
            best = conf[i]
    return best


def main():
    d = C.load_data()
    qemb = C.question_embeddings(d["qtext"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    edge = ort.InferenceSession(os.path.join(C.HERE, "vqa-edge-int8.onnx"), so, providers=["CPUExecutionProvider"])
    cloud = ort.InferenceSession(os.path.join(C.HERE, "vqa-cloud-fp32.onnx"), so, providers=["CPUExecutionProvider"])
    with open(os.path.join(C.ROOT, "calibration", "vqa-edge-temperature.json")) as f:
        temperature = json.load(f)["temperature"]
    ca = run(edge, cloud, d["calib"], qemb, temperature)
    te = run(edge, cloud, d["test"], qemb, temperature)
    for scheme in SCHEMES:
        tau = tune(ca, scheme, 0.001)
        p = probabilities(te, scheme)
        conf, lt, ct = p.max(1), p.argmax(1) == te["a"], te["cloud"] == te["a"]
        off = conf < tau
        fo, fm = (~lt & ct).mean(), off.mean()
        gap = 24.0 * (fm - fo) / (1.0 + 24.0 * fo)
        print(f"{scheme:5s} τ {tau:.4f}  local {lt.mean() * 100:.2f} %  offload {fm * 100:.2f} %  "
              f"oracle offload {fo * 100:.2f} %  mixed {np.where(off, ct, lt).mean() * 100:.2f} %  "
              f"cloud {ct.mean() * 100:.2f} %  gap estimate {gap * 100:+.1f} %")


if __name__ == "__main__":
    main()
