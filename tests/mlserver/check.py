"""By-hand check of the MLServer side alone (no Rust): sends the golden fixture's compact
tensors (firmware-agent/tests/fixtures/golden/golden.json) to a running MLServer as OIP v2
JSON and compares the logits with the Python reference recorded there, then checks that a
corrupt tensor gets HTTP 400. Standard library + numpy only.

    .cache/mlserver-venv/bin/python tests/mlserver/check.py [http://127.0.0.1:18080]
"""

import json
import os
import sys
import urllib.error
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GOLDEN = os.path.join(ROOT, "firmware-agent", "tests", "fixtures", "golden", "golden.json")


def encode_compact(features_pm: np.ndarray, keep: np.ndarray) -> bytes:
    """Reference encoder (spec §2-3): patch-major f32 [total, dim] + bool keep [total]."""
    total, dim = features_pm.shape
    kept = features_pm[keep].astype(np.float32)
    m = np.float32(np.abs(kept).max()) if kept.size else np.float32(0)
    scale = np.float32(m / np.float32(127)) if m > 0 else np.float32(1)
    q = np.clip(np.rint(kept / scale), -127, 127).astype(np.int8)
    mask = np.packbits(np.concatenate([keep, np.zeros(-total % 8, bool)]), bitorder="little")
    head = b"MC\x01\x00" + np.array([total, dim, keep.sum()], "<u2").tobytes()
    return head + np.array([scale], "<f4").tobytes() + mask.tobytes() + q.tobytes()


def infer(url: str, compact: bytes, question) -> tuple[int, dict]:
    body = {
        "inputs": [
            {"name": "compact", "datatype": "UINT8", "shape": [1, len(compact)], "data": list(compact)},
            {"name": "question", "datatype": "FP32", "shape": [1, len(question)], "data": list(question)},
        ]
    }
    req = urllib.request.Request(
        f"{url}/v2/models/vqa-cloud/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080"
    g = json.load(open(GOLDEN))
    failures = 0
    for img in g["images"]:
        feats = np.array(img["edge_int8_features_patch_major"], np.float32).reshape(16, 32)
        question = g["question_embeddings"][img["question"]]
        for case in img["cloud"]:
            keep = np.array(case["keep"], bool)
            compact = encode_compact(feats, keep)
            status, reply = infer(url, compact, question)
            out = reply["outputs"][0] if status == 200 else None
            logits = np.array(out["data"], np.float32) if out else None
            diff = float(np.abs(logits - np.array(case["logits"], np.float32)).max()) if out else None
            ok = status == 200 and diff <= 1e-4 and int(logits.argmax()) == case["answer"]
            failures += not ok
            print(f"{img['file']} keep={case['keep_label']:>3} {len(compact)} B: HTTP {status}, "
                  f"answer {None if logits is None else int(logits.argmax())} "
                  f"(ref {case['answer']}), max |diff| {diff} {'ok' if ok else 'FAIL'}")
    status, reply = infer(url, b"XX" + bytes(14), g["question_embeddings"][g["images"][0]["question"]])
    ok = status == 400 and "BadMagic" in reply.get("error", "")
    failures += not ok
    print(f"corrupt tensor: HTTP {status} {reply} {'ok' if ok else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
