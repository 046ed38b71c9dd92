"""Learned confidence for the offload gate: a failure predictor appended to the INT8 edge graph.

The local head's softmax confidence is a blunt error signal: on camera-size frames, the
offload gate tuned on it sends about twice as many requests to the cloud as the ones the
local head actually gets wrong. Here a small MLP (ConfidNet-style: Corbière et al., "Addressing
Failure Prediction by Learning Model Confidence", NeurIPS 2019) learns P(local answer is
correct) from what the edge graph already computes:

    x = [features (16 patches × 32, scaled), standardised question (384), sorted softmax(logits) (13)]
    h = relu(x W1 + b1) (64), h = relu(h W2 + b2) (64), z = h w3 + b3,  confidence = sigmoid(-z)

It never changes the answer (the edge head stays as weak as it is); it only tells the gate
how far to trust it. Training data: the training split's INT8 outputs (never the held-out or
test split) on the 64×64 images, their mirror images, and 4 camera-size views (each image
scaled up by U(1, 3) with a triangle filter, ±2 levels of noise, scaled back to 64×64 as the
agent's region step and resize do), target = 1 when the INT8 local answer is wrong (binary
cross-entropy); seeded, 8 epochs, ≈ 2 min on 2 cores.

The gate is appended to `vqa-edge-int8.onnx` in FP32 (nodes named `gate.*`, new output
`confidence` [batch, 1]); the existing outputs are untouched (same nodes, same values). FP32,
like the classifier layer: with its weights stored int8, ONNX Runtime on CPU fuses each
DequantizeLinear → MatMul into an int8 matmul with dynamically quantised activations, which
cost 63 µs per edge run against 13 µs in FP32 (batch 1, one thread, 2026-11-22), for 183 KB
less file.
Rerunning replaces an earlier gate. Then `--check` compares it with the softmax confidence on
held-out and test questions seen through the camera-size simulation; the result goes to
`gate-check.json`.

Usage (from models/vqa, after quantize.py, before evaluate.py):
    ../../.cache/vqa-venv/bin/python gate.py [--skip-train] [--check]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime as ort
import optax
from onnx import helper, numpy_helper
from PIL import Image

import vqa_common as C

HID = 64
EPOCHS = 8
BATCH = 256
INFER_BATCH = 512
CAMERA_SEED = 11
SECOND_VIEW_BELOW = 0.95  # the agent's default: mirror view when the first confidence is below
GRAPH = os.path.join(C.HERE, "vqa-edge-int8.onnx")


def camera(imgs_u8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The camera-size workload's resampling, per image: scaled up by U(1, 3) with a triangle
    filter, ±2 levels of uniform noise, scaled back to 64×64 with a triangle filter (the
    region step's crop taken as exact)."""
    out = np.empty_like(imgs_u8)
    for k, im in enumerate(imgs_u8):
        side = int(round(64 * rng.uniform(1.0, 3.0)))
        up = np.asarray(Image.fromarray(im).resize((side, side), Image.BILINEAR), np.int16)
        up = np.clip(up + rng.integers(-2, 3, up.shape), 0, 255).astype(np.uint8)
        out[k] = np.asarray(Image.fromarray(up).resize((64, 64), Image.BILINEAR))
    return out


def infer(edge, imgs_u8, q, cloud=None):
    """INT8 edge outputs (features flattened, logits) and, with `cloud`, the cloud's answer on all
    16 int8 patches."""
    feats, logits, cl = [], [], []
    for b in range(0, len(q), INFER_BATCH):
        f, lg = edge.run(["features", "logits"], {"image": C.to_nchw(imgs_u8[b:b + INFER_BATCH]),
                                                  "question": q[b:b + INFER_BATCH]})
        feats.append(f.reshape(len(f), -1)); logits.append(lg)
        if cloud is not None:
            mask = np.ones((len(f), C.N_PATCH), np.float32)
            qi, sc = C.quantize_compact(f, mask)
            cl.append(cloud.run(["logits"], {"patches": qi, "scale": sc, "patch_mask": mask,
                                             "question": q[b:b + INFER_BATCH]})[0].argmax(1))
    out = {"feat": np.concatenate(feats), "logits": np.concatenate(logits)}
    if cloud is not None:
        out["cloud"] = np.concatenate(cl)
    return out


def gate_inputs(r, qs):
    p = C.softmax(r["logits"])
    return {"feat": r["feat"].astype(np.float32), "q": qs.astype(np.float32),
            "p": np.ascontiguousarray(np.sort(p, 1)[:, ::-1])}


def forward(g, x):
    h = jax.nn.relu(x["feat"] * g["fs"] @ g["wf"] + x["q"] @ g["wq"] + x["p"] @ g["wp"] + g["b1"])
    h = jax.nn.relu(h @ g["w2"] + g["b2"])
    return (h @ g["w3"] + g["b3"])[:, 0]


def train(edge, d, qemb, q_mu, q_scale, t0):
    tr = d["train"]
    rng = np.random.default_rng(CAMERA_SEED)
    imgs = tr["images"][tr["i"]]
    views = [imgs, imgs[:, :, ::-1]] + [camera(v, rng) for v in (imgs, imgs[:, :, ::-1]) * 2]
    q = qemb[tr["q"]]
    xs, ys = [], []
    for v in views:
        r = infer(edge, np.ascontiguousarray(v), q)
        xs.append(gate_inputs(r, (q - q_mu) * q_scale))
        ys.append((r["logits"].argmax(1) != tr["a"]).astype(np.float32))
    x = {k: np.concatenate([v[k] for v in xs]) for k in xs[0]}
    y = np.concatenate(ys)
    print(f"gate training rows {len(y)} ({len(views)} views of {len(tr['q'])} training questions), "
          f"local errors {int(y.sum())} ({y.mean() * 100:.2f} %)  ({time.time() - t0:.0f} s)", flush=True)

    prng = np.random.default_rng(C.SEED)
    he = lambda s, f: jnp.asarray(prng.standard_normal(s).astype(np.float32) * np.sqrt(2.0 / f))
    g = {"wf": he((512, HID), 512), "wq": he((C.Q_DIM, HID), C.Q_DIM), "wp": he((13, HID), 13),
         "b1": jnp.zeros(HID), "w2": he((HID, HID), HID), "b2": jnp.zeros(HID),
         "w3": he((HID, 1), HID), "b3": jnp.zeros(1)}
    fs = jnp.float32(1.0 / x["feat"].std())
    n = len(y)
    opt = optax.adamw(optax.cosine_decay_schedule(1e-3, EPOCHS * (n // BATCH)), weight_decay=1e-4)
    st = opt.init(g)

    @jax.jit
    def step(g, st, xb, yb):
        lf = lambda g: optax.sigmoid_binary_cross_entropy(forward({**g, "fs": fs}, xb), yb).mean()
        l, gr = jax.value_and_grad(lf)(g)
        u, st = opt.update(gr, st, g)
        return optax.apply_updates(g, u), st, l

    for ep in range(EPOCHS):
        perm = prng.permutation(n)
        ls = []
        for b in range(n // BATCH):
            sel = perm[b * BATCH:(b + 1) * BATCH]
            g, st, l = step(g, st, {k: v[sel] for k, v in x.items()}, y[sel])
            ls.append(float(l))
        print(f"gate epoch {ep + 1}/{EPOCHS}: BCE {np.mean(ls):.4f} ({time.time() - t0:.0f} s)", flush=True)
    out = {k: np.asarray(v, np.float32) for k, v in g.items()}
    out["fs"] = np.asarray(fs, np.float32)
    return out


def fold(g: dict, q_mu, q_scale) -> dict:
    """The gate as the graph computes it, on the raw inputs: (q - mu) * s @ wq == q @ (s wq) -
    s mu @ wq, and feat * fs @ wf == feat @ (fs wf)."""
    f64 = lambda a: np.asarray(a, np.float64)
    return {"wf": (float(g["fs"]) * f64(g["wf"])).astype(np.float32),
            "wq": (float(q_scale) * f64(g["wq"])).astype(np.float32),
            "b1": (f64(g["b1"]) - float(q_scale) * (f64(q_mu) @ f64(g["wq"]))).astype(np.float32),
            "wp": g["wp"], "w2": g["w2"], "b2": g["b2"], "w3": g["w3"], "b3": g["b3"]}


def graph_forward(w: dict, feat, q, logits):
    """NumPy reference of the appended subgraph (raw features, raw question, logits)."""
    p = np.sort(C.softmax(logits), 1)[:, ::-1]
    h = np.maximum(feat.reshape(len(feat), -1) @ w["wf"] + q @ w["wq"] + p @ w["wp"] + w["b1"], 0)
    h = np.maximum(h @ w["w2"] + w["b2"], 0)
    return 1.0 / (1.0 + np.exp(h @ w["w3"] + w["b3"]))[:, 0]


def append_gate(model: onnx.ModelProto, w: dict) -> onnx.ModelProto:
    """Adds the gate (FP32; nodes and initialisers named gate.*) and the `confidence` output;
    removes an earlier gate first."""
    gr = model.graph
    keep = [n for n in gr.node if not n.name.startswith("gate.")]
    del gr.node[:]
    gr.node.extend(keep)
    inits = [t for t in gr.initializer if not t.name.startswith("gate.")]
    del gr.initializer[:]
    gr.initializer.extend(inits)
    outs = [o for o in gr.output if o.name != "confidence"]
    del gr.output[:]
    gr.output.extend(outs)

    def init(name, arr):
        gr.initializer.append(numpy_helper.from_array(np.asarray(arr), "gate." + name))
        return "gate." + name

    def op(kind, inputs, out, **attrs):
        gr.node.append(helper.make_node(kind, inputs, ["gate." + out], name="gate." + out, **attrs))
        return "gate." + out

    def weight(name):
        return init(name, np.asarray(w[name], np.float32))

    feat = op("Flatten", ["features"], "feat", axis=1)
    prob = op("Softmax", ["logits"], "prob", axis=1)
    k = init("k", np.array([13], np.int64))
    gr.node.append(helper.make_node("TopK", [prob, k], ["gate.sorted", "gate.sorted_idx"], name="gate.topk",
                                    axis=1, largest=1, sorted=1))
    h = op("Add", [op("Add", [op("MatMul", [feat, weight("wf")], "hf"), op("MatMul", ["question", weight("wq")], "hq")], "hfq"),
                   op("MatMul", ["gate.sorted", weight("wp")], "hp")], "hfqp")
    h = op("Relu", [op("Add", [h, weight("b1")], "h1_pre")], "h1")
    h = op("Relu", [op("Gemm", [h, weight("w2"), weight("b2")], "h2_pre")], "h2")
    z = op("Gemm", [h, weight("w3"), weight("b3")], "z")
    gr.node.append(helper.make_node("Sigmoid", [op("Neg", [z], "neg_z")], ["confidence"], name="gate.confidence"))
    gr.output.append(helper.make_tensor_value_info("confidence", onnx.TensorProto.FLOAT, ["batch", 1]))
    onnx.checker.check_model(model, full_check=True)
    return model


def tune(risk, lc, cc, gap):
    """As `msao-host tune`: offload the riskiest first; the fewest offloads with accuracy ≥ cloud −
    gap. Returns the risk threshold (offload when risk ≥ it)."""
    n, target = len(risk), cc.mean() - gap
    order = np.argsort(risk, kind="stable")  # safest first
    correct, best = cc.sum(), -np.inf
    for k, i in enumerate(order):
        correct += int(lc[i]) - int(cc[i])
        if k + 1 < n and risk[order[k + 1]] == risk[i]:
            continue
        if correct / n >= target:
            best = risk[order[k + 1]] if k + 1 < n else np.inf
    return best


def check(d, qemb, edge, cloud, temperature, reps):
    """Softmax confidence (the agent's two-view rule) vs learned confidence (same rule), on
    camera-size views of the held-out split (`reps` views per question, for tuning) and the test
    split (one view, for judging)."""
    rng = np.random.default_rng(CAMERA_SEED + 1)
    res = {}
    for name, r_ in (("calib", reps), ("test", 1)):
        s = d[name]
        q = np.concatenate([qemb[s["q"]]] * r_)
        a = np.concatenate([s["a"]] * r_)
        imgs = camera(np.concatenate([s["images"][s["i"]]] * r_), rng)
        run = lambda im: edge.run(["logits", "confidence"], {"image": C.to_nchw(im), "question": q_})
        lg, cf, lg2, cf2 = [], [], [], []
        for b in range(0, len(q), INFER_BATCH):
            q_ = q[b:b + INFER_BATCH]
            x, y = run(imgs[b:b + INFER_BATCH]); lg.append(x); cf.append(y[:, 0])
            x, y = run(np.ascontiguousarray(imgs[b:b + INFER_BATCH, :, ::-1])); lg2.append(x); cf2.append(y[:, 0])
        p, p2 = C.softmax(np.concatenate(lg) / temperature), C.softmax(np.concatenate(lg2) / temperature)
        c1, c2 = np.concatenate(cf), np.concatenate(cf2)
        cc = infer(edge, imgs, q, cloud)["cloud"] == a
        avg = 0.5 * (p + p2)
        soft_un = p.max(1) < SECOND_VIEW_BELOW
        p_soft = np.where(soft_un[:, None], avg, p)
        # Same answers and second views (the agent's rule); only the gate's signal differs.
        lc = p_soft.argmax(1) == a
        res[name] = {"softmax": (-p_soft.max(1), lc, soft_un.mean()),
                     "learned": (-np.where(soft_un, 0.5 * (c1 + c2), c1), lc, soft_un.mean()), "cloud": cc}
    out = {"calib_questions": int(len(d["calib"]["q"])), "calib_views_per_question": reps,
           "test_questions": int(len(d["test"]["q"])), "rows": []}
    cal, te = res["calib"], res["test"]
    for gap in (0.001, 0.003, 0.005):
        for sig in ("softmax", "learned"):
            risk, lc, sv = te[sig]
            cc = te["cloud"]
            for how, t in (("tuned on held-out", tune(cal[sig][0], cal[sig][1], cal["cloud"], gap)),
                           ("hindsight on test", tune(risk, lc, cc, gap))):
                off = risk >= t
                fo, fm = float((~lc & cc).mean()), float(off.mean())
                row = {"signal": sig, "max_gap_points": gap * 100, "threshold": how, "second_view_fraction": float(sv),
                       "local_acc": float(lc.mean()), "cloud_acc": float(cc.mean()),
                       "mixed_acc": float(np.where(off, cc, lc).mean()), "offload_fraction": fm,
                       "oracle_offload_fraction": fo, "oracle_caught": int((off & ~lc & cc).sum()),
                       "oracle_offloads": int((~lc & cc).sum()),
                       "gap_estimate": 24.0 * (fm - fo) / (1.0 + 24.0 * fo)}
                out["rows"].append(row)
                print(f"{sig:8s} cloud−{gap * 100:.1f} pt, {how:17s}: offload {fm * 100:5.2f} % (oracle {fo * 100:.2f} %, "
                      f"caught {row['oracle_caught']}/{row['oracle_offloads']})  mixed {row['mixed_acc'] * 100:.2f} % "
                      f"(cloud {row['cloud_acc'] * 100:.2f} %)  second views {sv * 100:.1f} %  "
                      f"gap estimate {row['gap_estimate'] * 100:+.1f} %")
    C.write_json(os.path.join(C.HERE, "gate-check.json"), out)
    print("wrote models/vqa/gate-check.json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="compare with the softmax confidence (camera-size views)")
    ap.add_argument("--check-only", action="store_true", help="only the comparison (the graph already has the gate)")
    ap.add_argument("--skip-train", action="store_true", help="reuse the trained gate in .cache/vqa/gate.npz")
    ap.add_argument("--reps", type=int, default=3, help="camera-size views per held-out question when tuning")
    args = ap.parse_args()
    t0 = time.time()
    d = C.load_data()
    qemb = C.question_embeddings(d["qtext"])
    q_mu = qemb.mean(0).astype(np.float32)
    q_scale = np.float32(1.0 / (qemb - q_mu).std())
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    if not args.check_only:
        edge = ort.InferenceSession(GRAPH, so, providers=["CPUExecutionProvider"])
        cached = os.path.join(C.CACHE, "gate.npz")
        if args.skip_train and os.path.exists(cached):
            z = np.load(cached)
            g = {k: z[k] for k in z.files}
        else:
            g = train(edge, d, qemb, q_mu, q_scale, t0)
            np.savez(cached, **g)
        w = fold(g, q_mu, q_scale)
        model = append_gate(onnx.load(GRAPH), w)
        onnx.save(model, GRAPH)
        # The ONNX gate must match the NumPy reference and the trained JAX gate.
        te = d["test"]
        q = qemb[te["q"][:INFER_BATCH]]
        img = te["images"][te["i"][:INFER_BATCH]]
        edge = ort.InferenceSession(GRAPH, so, providers=["CPUExecutionProvider"])
        feat, logits, conf = edge.run(["features", "logits", "confidence"], {"image": C.to_nchw(img), "question": q})
        r = {"feat": feat.reshape(len(feat), -1), "logits": logits}
        trained = 1.0 / (1.0 + np.exp(np.asarray(forward(g, gate_inputs(r, (q - q_mu) * q_scale)))))
        err = max(float(np.abs(conf[:, 0] - graph_forward(w, feat, q, logits)).max()),
                  float(np.abs(conf[:, 0] - trained).max()))
        n_params = sum(np.size(g[k]) for k in g if k != "fs")
        print(f"wrote {GRAPH}: + gate ({n_params} parameters, FP32); max |Δconfidence| ONNX vs NumPy/JAX "
              f"{err:.2e}  ({time.time() - t0:.0f} s)")
        if err > 1e-4:
            sys.exit(f"gate export mismatch: {err}")
    if args.check or args.check_only:
        import json
        edge = ort.InferenceSession(GRAPH, so, providers=["CPUExecutionProvider"])
        cloud = ort.InferenceSession(os.path.join(C.HERE, "vqa-cloud-fp32.onnx"), so, providers=["CPUExecutionProvider"])
        with open(os.path.join(C.ROOT, "calibration", "vqa-edge-temperature.json")) as f:
            temperature = json.load(f)["temperature"]
        check(d, qemb, edge, cloud, temperature, args.reps)


if __name__ == "__main__":
    main()
