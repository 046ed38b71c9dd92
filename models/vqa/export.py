"""Builds the ONNX graphs (onnx.helper, opset 17, IR 9) from .cache/vqa/params.npz and checks
that ONNX Runtime reproduces the JAX forward pass on test samples.

Writes models/vqa/vqa-edge-fp32.onnx and models/vqa/vqa-cloud-fp32.onnx.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import vqa_common as C

OPSET = 17
IR_VERSION = 9  # readable by older ONNX Runtime / TensorRT builds on JetPack
F32, I8 = TensorProto.FLOAT, TensorProto.INT8


def load_params():
    z = np.load(os.path.join(C.CACHE, "params.npz"))
    out = {"edge": {}, "cloud": {}, "meta": {}}
    for k in z.files:
        g, name = k.split("/", 1)
        out[g][name] = z[k].astype(np.float32)
    return out


def fold_question(w, b, meta):
    """(q - mu) * s @ w + b  ==  q @ (s w) + (b - s mu @ w): the graphs take the raw embedding."""
    mu, s = meta["q_mu"].astype(np.float64), float(meta["q_scale"])
    return (s * w.astype(np.float64)).astype(np.float32), (b - s * (mu @ w.astype(np.float64))).astype(np.float32)


class G:
    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output + "_" + op, **attrs))
        return output

    def model(self, name, inputs, outputs, doc):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="msao models/vqa/export.py", doc_string=doc)
        m.ir_version = IR_VERSION
        onnx.checker.check_model(m, full_check=True)
        return m


def build_edge(p, meta) -> onnx.ModelProto:
    g = G()
    wq, bq = fold_question(p["head.wq"], p["head.bq"], meta)
    x = "image"
    names = {2: "probe", 4: "features"}
    for k in range(1, 5):
        y = g.op("Conv", [x, g.const(f"conv{k}.w", p[f"conv{k}.w"]), g.const(f"conv{k}.b", p[f"conv{k}.b"])],
                 f"conv{k}", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
        x = g.op("Relu", [y], names.get(k, f"relu{k}"))
    gap = g.op("GlobalAveragePool", ["features"], "gap")
    emb = g.op("Flatten", [gap], "image_embedding", axis=1)
    hi = g.op("Gemm", [emb, g.const("head.wi", p["head.wi"]), g.const("head.bi", p["head.bi"])], "head_i")
    hq = g.op("Gemm", ["question", g.const("head.wq", wq), g.const("head.bq", bq)], "head_q")
    h = g.op("Relu", [g.op("Mul", [hi, hq], "head_iq")], "head_h")
    g.op("Gemm", [h, g.const("head.wo", p["head.wo"]), g.const("head.bo", p["head.bo"])], "logits")
    B = "batch"
    return g.model(
        "vqa_edge",
        [helper.make_tensor_value_info("image", F32, [B, 3, 64, 64]),
         helper.make_tensor_value_info("question", F32, [B, 384])],
        [helper.make_tensor_value_info("probe", F32, [B, 16, 16, 16]),
         helper.make_tensor_value_info("features", F32, [B, 32, 4, 4]),
         helper.make_tensor_value_info("image_embedding", F32, [B, 32]),
         helper.make_tensor_value_info("logits", F32, [B, 13])],
        "easy-VQA edge model: image f32 [B,3,64,64] RGB pixel/255, question f32 [B,384] MiniLM "
        "embedding -> probe, features (16 patches), image_embedding, logits (13 answers).")


def build_cloud(p, meta) -> onnx.ModelProto:
    g = G()
    wq, bq = fold_question(p["q.w"], p["q.b"], meta)
    ax1, ax2 = g.const("axes1", np.array([1], np.int64)), g.const("axes2", np.array([2], np.int64))
    pf = g.op("Cast", ["patches"], "patches_f", to=F32)
    s3 = g.op("Unsqueeze", ["scale", ax2], "scale3")
    m3 = g.op("Unsqueeze", ["patch_mask", ax2], "mask3")
    x = g.op("Mul", [g.op("Mul", [pf, s3], "deq"), m3], "x")
    h = g.op("Relu", [g.op("Add", [g.op("MatMul", [x, g.const("p1.w", p["p1.w"])], "p1_mm"),
                                   g.const("p1.slot", p["p1.slot"])], "p1_add")], "h1")
    h = g.op("Relu", [g.op("Add", [g.op("MatMul", [h, g.const("p2.w", p["p2.w"])], "p2_mm"),
                                   g.const("p2.b", p["p2.b"])], "p2_add")], "h2")
    qh = g.op("Relu", [g.op("Gemm", ["question", g.const("q.w", wq), g.const("q.b", bq)], "q_gemm")], "qh")
    hq = g.op("Mul", [h, g.op("Unsqueeze", [qh, ax1], "qh3")], "hq")
    s = g.op("MatMul", [hq, g.const("att.w", p["att.w"])], "att_s")
    pen = g.op("Mul", [g.op("Sub", [m3, g.const("one", np.array(1.0, np.float32))], "m_minus1"),
                       g.const("big", np.array(1e4, np.float32))], "att_pen")
    a = g.op("Softmax", [g.op("Add", [s, pen], "att_logit")], "att_a", axis=1)
    att = g.op("ReduceSum", [g.op("Mul", [a, h], "att_ah"), ax1], "att_pool", keepdims=0)
    tot = g.op("ReduceSum", [g.op("Mul", [h, m3], "h_masked"), ax1], "h_sum", keepdims=0)
    cnt = g.op("Max", [g.op("ReduceSum", ["patch_mask", ax1], "m_cnt", keepdims=1), "one"], "m_cnt1")
    mean = g.op("Div", [tot, cnt], "mean_pool")
    flat = g.op("Concat", [g.op("Flatten", [x], "x_flat", axis=1), "patch_mask"], "layout", axis=1)
    lay = g.op("Relu", [g.op("Gemm", [flat, g.const("g.w", p["g.w"]), g.const("g.b", p["g.b"])], "g_gemm")], "g_relu")
    z = g.op("Concat", [att, mean, qh, lay], "z", axis=1)
    for k in (1, 2):
        z = g.op("Relu", [g.op("Gemm", [z, g.const(f"m{k}.w", p[f"m{k}.w"]), g.const(f"m{k}.b", p[f"m{k}.b"])], f"m{k}")], f"m{k}_relu")
    g.op("Gemm", [z, g.const("m3.w", p["m3.w"]), g.const("m3.b", p["m3.b"])], "logits")
    B = "batch"
    return g.model(
        "vqa_cloud",
        [helper.make_tensor_value_info("patches", I8, [B, 16, 32]),
         helper.make_tensor_value_info("scale", F32, [B, 1]),
         helper.make_tensor_value_info("patch_mask", F32, [B, 16]),
         helper.make_tensor_value_info("question", F32, [B, 384])],
        [helper.make_tensor_value_info("logits", F32, [B, 13])],
        "easy-VQA cloud model: compact edge features (int8 patches [B,16,32] with zeros in dropped "
        "slots, per-request scale [B,1], patch_mask [B,16] 1=kept) + question f32 [B,384] -> logits.")


def main():
    import jax
    import jax.numpy as jnp
    import onnxruntime as ort
    import nets

    p = load_params()
    edge, cloud = build_edge(p["edge"], p["meta"]), build_cloud(p["cloud"], p["meta"])
    paths = {n: os.path.join(C.HERE, f"vqa-{n}-fp32.onnx") for n in ("edge", "cloud")}
    onnx.save(edge, paths["edge"])
    onnx.save(cloud, paths["cloud"])

    d = C.load_data()
    qemb = C.question_embeddings(d["qtext"])
    te = d["test"]
    sel = np.arange(0, len(te["q"]), max(1, len(te["q"]) // 256))[:256]
    img = C.to_nchw(te["images"][te["i"][sel]])
    q = qemb[te["q"][sel]]
    jp = jax.tree_util.tree_map(jnp.asarray, p)
    qs = (q - p["meta"]["q_mu"]) * p["meta"]["q_scale"]  # JAX takes the standardised question
    ref = [np.asarray(t) for t in nets.edge_forward(jp["edge"], img, qs)]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(paths["edge"], so, providers=["CPUExecutionProvider"])
    got = s.run(["probe", "features", "image_embedding", "logits"], {"image": img, "question": q})
    worst = 0.0
    for name, r, o in zip(("probe", "features", "image_embedding", "logits"), ref, got):
        diff = float(np.abs(r - o).max())
        worst = max(worst, diff / (float(np.abs(r).max()) + 1e-6))
        print(f"edge {name}: shape {o.shape}, max |ort - jax| = {diff:.2e}")
    rng = np.random.default_rng(C.SEED)
    mask = C.random_mask(len(sel), 8, rng)
    qi, scale = C.quantize_compact(got[1], mask)
    ref_c = np.asarray(nets.cloud_forward(jp["cloud"], qi.astype(np.float32) * scale[:, :, None], mask, qs))
    sc = ort.InferenceSession(paths["cloud"], so, providers=["CPUExecutionProvider"])
    got_c = sc.run(["logits"], {"patches": qi, "scale": scale, "patch_mask": mask, "question": q})[0]
    diff = float(np.abs(ref_c - got_c).max())
    worst = max(worst, diff / (float(np.abs(ref_c).max()) + 1e-6))
    print(f"cloud logits: max |ort - jax| = {diff:.2e}; argmax agree {np.mean(ref_c.argmax(1) == got_c.argmax(1)):.4f}")
    if worst > 1e-4:
        sys.exit(f"ONNX Runtime disagrees with JAX (relative {worst:.2e} > 1e-4)")
    print("ONNX Runtime == JAX within 1e-4 (relative to max |output|)")


if __name__ == "__main__":
    main()
