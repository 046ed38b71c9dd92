"""Evaluates the three ONNX models with ONNX Runtime (CPU) and fits the local head's temperature.

- edge FP32 / INT8 accuracy on the easy-VQA test split (9,673 questions) and the held-out split;
- temperature scaling of the INT8 edge logits (the model that runs on the device; FP32 too, for
  reference) fitted by NLL on the held-out split; ECE (15 bins) before/after on the test split;
- cloud accuracy on compact tensors made from the INT8 edge model's `features`: all 16 patches,
  8 kept by probe energy (top-8 of C.probe_patch_energy), 8 kept at random (seeded), 4 by energy;
- sizes, sha256, batch-1 CPU latency.
Writes calibration/vqa-edge-temperature.json and models/vqa/metrics.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time

import numpy as np
import onnxruntime as ort
from scipy.optimize import minimize_scalar

import vqa_common as C

BATCH = 256
CAL_DIR = os.path.join(C.ROOT, "calibration")


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_edge(s, split, qemb):
    outs = {"logits": [], "features": [], "energy": []}
    for b in range(0, len(split["q"]), BATCH):
        ii = split["i"][b:b + BATCH]
        probe, feat, logits = s.run(["probe", "features", "logits"],
                                    {"image": C.to_nchw(split["images"][ii]), "question": qemb[split["q"][b:b + BATCH]]})
        outs["logits"].append(logits); outs["features"].append(feat); outs["energy"].append(C.probe_patch_energy(probe))
    return {k: np.concatenate(v) for k, v in outs.items()}


def run_cloud(s, feats, mask, q):
    out = []
    for b in range(0, len(feats), BATCH):
        qi, scale = C.quantize_compact(feats[b:b + BATCH], mask[b:b + BATCH])
        out.append(s.run(["logits"], {"patches": qi, "scale": scale, "patch_mask": mask[b:b + BATCH],
                                      "question": q[b:b + BATCH]})[0])
    return np.concatenate(out)


def fit_temperature(logits, labels):
    r = minimize_scalar(lambda lt: C.nll(logits, labels, math.exp(lt)), bounds=(-4.0, 4.0), method="bounded",
                        options={"xatol": 1e-6})
    return float(math.exp(r.x))


def latency_ms(s, feeds, n=200):
    for _ in range(10):
        s.run(None, feeds)
    t = time.perf_counter()
    for _ in range(n):
        s.run(None, feeds)
    return (time.perf_counter() - t) / n * 1e3


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    d = C.load_data()
    qemb = C.question_embeddings(d["qtext"])
    te, ca = d["test"], d["calib"]
    files = {k: os.path.join(C.HERE, f"vqa-{k}.onnx") for k in ("edge-fp32", "edge-int8", "cloud-fp32")}
    sess = {k: session(v) for k, v in files.items()}
    acc = lambda lg, y: float((lg.argmax(1) == y).mean())

    res = {"test_questions": int(len(te["q"])), "calib_questions": int(len(ca["q"])),
           "calib_images": int(C.N_CALIB_IMAGES), "train_questions": int(len(d["train"]["q"])), "seed": C.SEED}
    edge = {}
    for k in ("edge-fp32", "edge-int8"):
        edge[k] = {"test": run_edge(sess[k], te, qemb), "calib": run_edge(sess[k], ca, qemb)}
        res[f"{k}_test_acc"] = acc(edge[k]["test"]["logits"], te["a"])
        res[f"{k}_calib_acc"] = acc(edge[k]["calib"]["logits"], ca["a"])
        print(f"{k}: test acc {res[f'{k}_test_acc']:.4f}  held-out acc {res[f'{k}_calib_acc']:.4f}")
    res["edge_int8_vs_fp32_argmax_agree"] = float(
        (edge["edge-int8"]["test"]["logits"].argmax(1) == edge["edge-fp32"]["test"]["logits"].argmax(1)).mean())

    temps = {}
    for k in ("edge-int8", "edge-fp32"):
        t = fit_temperature(edge[k]["calib"]["logits"], ca["a"])
        lt = edge[k]["test"]["logits"]
        temps[k] = {"temperature": round(t, 6), "ece_before": round(C.ece(lt, te["a"]), 6),
                    "ece_after": round(C.ece(lt, te["a"], t), 6),
                    "nll_before": round(C.nll(lt, te["a"], 1.0), 6), "nll_after": round(C.nll(lt, te["a"], t), 6)}
        print(f"{k}: temperature {t:.4f}  test ECE(15) {temps[k]['ece_before']:.4f} -> {temps[k]['ece_after']:.4f}  "
              f"NLL {temps[k]['nll_before']:.4f} -> {temps[k]['nll_after']:.4f}")

    feats, energy = edge["edge-int8"]["test"]["features"], edge["edge-int8"]["test"]["energy"]
    q = qemb[te["q"]]
    rng = np.random.default_rng(C.SEED)
    masks = {"all16": np.ones((len(q), C.N_PATCH), np.float32),
             "energy_top8": C.topk_mask(energy, 8),
             "random8": C.random_mask(len(q), 8, rng),
             "energy_top4": C.topk_mask(energy, 4)}
    for name, m in masks.items():
        res[f"cloud_test_acc_{name}"] = acc(run_cloud(sess["cloud-fp32"], feats, m, q), te["a"])
        print(f"cloud ({name} patches of INT8 edge features, int8 compact): test acc {res[f'cloud_test_acc_{name}']:.4f}")
    res["cloud_test_acc_all16_from_fp32_edge"] = acc(
        run_cloud(sess["cloud-fp32"], edge["edge-fp32"]["test"]["features"], masks["all16"], q), te["a"])
    print(f"cloud (all 16 patches of FP32 edge features): test acc {res['cloud_test_acc_all16_from_fp32_edge']:.4f}")

    x1 = {"image": C.to_nchw(te["images"][te["i"][:1]]), "question": q[:1]}
    qi, sc = C.quantize_compact(feats[:1], masks["energy_top8"][:1])
    c1 = {"patches": qi, "scale": sc, "patch_mask": masks["energy_top8"][:1], "question": q[:1]}
    res["files"] = {}
    for k, path in files.items():
        res["files"][k] = {"file": os.path.basename(path), "bytes": os.path.getsize(path), "sha256": sha256(path),
                           "cpu_batch1_ms": round(latency_ms(sess[k], c1 if k.startswith("cloud") else x1), 3)}
        print(f"{k}: {res['files'][k]}")
    res["temperature"] = temps
    C.write_json(os.path.join(C.HERE, "metrics.json"), res)

    t8 = temps["edge-int8"]
    C.write_json(os.path.join(CAL_DIR, "vqa-edge-temperature.json"), {
        "model": "vqa-edge", "precision": "int8", "file": "models/vqa/vqa-edge-int8.onnx",
        "sha256": res["files"]["edge-int8"]["sha256"], "output": "logits",
        "usage": "p = softmax(logits / temperature); confidence = max p",
        "temperature": t8["temperature"], "ece_bins": 15,
        "ece_before": t8["ece_before"], "ece_after": t8["ece_after"],
        "nll_before": t8["nll_before"], "nll_after": t8["nll_after"],
        "fit_split": "easy-VQA train, held-out images (calib)", "fit_questions": res["calib_questions"],
        "fit_images": res["calib_images"], "eval_split": "easy-VQA test", "eval_questions": res["test_questions"],
        "seed": C.SEED, "fp32_reference": temps["edge-fp32"],
    })
    write_split_json(os.path.join(CAL_DIR, "vqa-heldout-split.json"), {
        "what": "easy-VQA train images held out from training; with all their questions they are the INT8 "
                "calibration set (1024 evenly spread questions, models/vqa/quantize.py) and the temperature "
                "fitting set (all questions, models/vqa/evaluate.py)",
        "source": "PyPI easy-vqa 1.0, easy_vqa/data/train/images/<id>.png", "seed": C.SEED,
        "selection": "np.sort(np.random.default_rng(seed).permutation(4000)[:500])",
        "questions": res["calib_questions"], "image_ids": [int(i) for i in d["calib_image_ids"]],
    })
    write_results_md(res)
    print("wrote models/vqa/metrics.json, models/vqa/RESULTS.md, calibration/vqa-edge-temperature.json, "
          "calibration/vqa-heldout-split.json")


def write_split_json(path, obj):
    """Like C.write_json, but the id list on one line."""
    ids = obj.pop("image_ids")
    text = json.dumps(obj, indent=2)[:-2] + ',\n  "image_ids": ' + json.dumps(ids) + "\n}\n"
    json.loads(text)
    with open(path, "w") as f:
        f.write(text)


def write_results_md(r):
    f = r["files"]
    t8, t32 = r["temperature"]["edge-int8"], r["temperature"]["edge-fp32"]
    lines = [
        "# easy-VQA models: measured results (generated by models/vqa/evaluate.py; do not edit)", "",
        f"easy-VQA test split: {r['test_questions']} questions / 1000 images; held-out split: "
        f"{r['calib_questions']} questions / {r['calib_images']} train images; seed {r['seed']}; "
        "ONNX Runtime 1.31.1, CPUExecutionProvider, 2 threads.", "",
        "| model | file | bytes | sha256 | test acc. | held-out acc. | CPU batch-1 ms |",
        "|-------|------|-------|--------|-----------|---------------|----------------|",
    ]
    for k, acc, cal in (("edge-fp32", r["edge-fp32_test_acc"], r["edge-fp32_calib_acc"]),
                        ("edge-int8", r["edge-int8_test_acc"], r["edge-int8_calib_acc"]),
                        ("cloud-fp32", r["cloud_test_acc_all16"], None)):
        lines.append(f"| {k} | `{f[k]['file']}` | {f[k]['bytes']:,} | `{f[k]['sha256']}` | {acc:.4f} | "
                     f"{'—' if cal is None else f'{cal:.4f}'} | {f[k]['cpu_batch1_ms']:.3f} |")
    lines += ["", f"Edge INT8 vs FP32 argmax agreement on test: {r['edge_int8_vs_fp32_argmax_agree']:.4f}", "",
              "Cloud, compact tensor from the INT8 edge model's `features` (int8, per-request scale):", "",
              "| patches kept | chosen by | test acc. |", "|---|---|---|",
              f"| 16 | all | {r['cloud_test_acc_all16']:.4f} |",
              f"| 8 | top-8 probe energy | {r['cloud_test_acc_energy_top8']:.4f} |",
              f"| 8 | random (seeded) | {r['cloud_test_acc_random8']:.4f} |",
              f"| 4 | top-4 probe energy | {r['cloud_test_acc_energy_top4']:.4f} |",
              f"| 16 | all, from the FP32 edge model | {r['cloud_test_acc_all16_from_fp32_edge']:.4f} |", "",
              "Temperature scaling of the edge logits (fitted by NLL on the held-out split; ECE 15 bins on test):", "",
              "| model | T | ECE before | ECE after | NLL before | NLL after |", "|---|---|---|---|---|---|"]
    for k, t in (("edge-int8 (shipped)", t8), ("edge-fp32 (reference)", t32)):
        lines.append(f"| {k} | {t['temperature']:.4f} | {t['ece_before']:.4f} | {t['ece_after']:.4f} | "
                     f"{t['nll_before']:.4f} | {t['nll_after']:.4f} |")
    with open(os.path.join(C.HERE, "RESULTS.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
