"""Cross-check (not part of build.sh): test accuracy of the VQA models when the question
embeddings come from the MiniLM ONNX files in models/minilm/ (what the agent runs) instead of
the numpy reference used for training.

Usage: python check_text_encoder.py [models/minilm/minilm-l6-int8.onnx ...]
"""

from __future__ import annotations

import os
import sys

import numpy as np
import onnxruntime as ort

import vqa_common as C
from evaluate import run_cloud, run_edge, session


def embed_onnx(path, qtext):
    sys.path.insert(0, os.path.join(C.ROOT, "models", "minilm"))
    import minilm_ref
    tok = minilm_ref.load_tokenizer(os.path.join(C.ROOT, "models", "minilm", "tokenizer.json"))
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = []
    for q in qtext:
        ids = np.array([tok.encode(q).ids], np.int64)
        out.append(s.run(["embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
    return np.stack(out).astype(np.float32)


def main():
    paths = sys.argv[1:] or [os.path.join(C.ROOT, "models", "minilm", f"minilm-l6-{p}.onnx") for p in ("fp32", "int8")]
    d = C.load_data()
    te = d["test"]
    ref = C.question_embeddings(d["qtext"])
    edge = session(os.path.join(C.HERE, "vqa-edge-int8.onnx"))
    cloud = session(os.path.join(C.HERE, "vqa-cloud-fp32.onnx"))
    for name, emb in [("minilm_ref.py (training)", ref)] + [(os.path.basename(p), embed_onnx(p, d["qtext"])) for p in paths]:
        cos = float((emb * ref).sum(1).min())
        e = run_edge(edge, te, emb)
        acc_e = float((e["logits"].argmax(1) == te["a"]).mean())
        acc_c = float((run_cloud(cloud, e["features"], np.ones((len(te["q"]), 16), np.float32), emb[te["q"]])
                       .argmax(1) == te["a"]).mean())
        print(f"{name}: min cos to reference {cos:.5f}; edge INT8 test acc {acc_e:.4f}; cloud test acc {acc_c:.4f}")


if __name__ == "__main__":
    main()
