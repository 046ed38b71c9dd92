"""Writes a second, different pipeline into OUT: three tiny ONNX models built with onnx.helper,
their manifests, a labels file, a calibration file and the pipeline file — for
firmware-agent/tests/pipeline_generality.rs, which runs it through the real binaries.

Nothing is shared with easy-VQA but the WordPiece tokenizer file (copied into OUT):
other model and tensor names, three labels instead of 13, a one-channel (gray) 32x32 input,
a 16-d text embedding, no audio model, no region step, a cloud model named otherwise.
A third, tiny-gray-split, runs the head as a graph of its own (tiny-enc gives the probe,
features and embedding; tiny-head answers from the embedding and the question).
A second pipeline file, tiny-gray-det, is the same with an ONNX detector as its region step
(tiny-det: boxes and scores of the frame's four quadrants, yxyx, normalised).

The answers are known in closed form, so the test can check them exactly:
  * the local head scores the frame's mean luma m in [0, 1]: logits = 10 * [m - 0.5, 0.5 - m, 0]
    -> "light" when m > 0.5, "dark" when m < 0.5 (labels: light, dark, mixed);
  * the cloud model does the same on the mean of the patch features it receives (the kept
    patches' mean luma), so a frame whose patches are all alike gets the same answer both ways.

Usage: python make_tiny.py OUT_DIR TOKENIZER_JSON
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
Q = 16        # text embedding width
SIDE = 32     # input frame side
GRID = 2      # feature patches per side
DIM = 8       # features per patch
LABELS = ["light", "dark", "mixed"]


def const(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def score_nodes(mean: str, out: str, prefix: str) -> tuple[list, list]:
    """logits = 10 * [m - 0.5, 0.5 - m, 0] for a [batch, 1] mean m."""
    w = np.array([[10.0, -10.0, 0.0]], dtype=np.float32)
    b = np.array([-5.0, 5.0, 0.0], dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", [mean, f"{prefix}_w"], [f"{prefix}_mw"]),
        helper.make_node("Add", [f"{prefix}_mw", f"{prefix}_b"], [out]),
    ]
    return nodes, [const(f"{prefix}_w", w), const(f"{prefix}_b", b)]


def question_term(question: str, into: str, out: str, prefix: str) -> tuple[list, list]:
    """Adds question @ 0 to `into`: the question input is consumed, the answer unchanged."""
    zeros = np.zeros((Q, len(LABELS)), dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", [question, f"{prefix}_qw"], [f"{prefix}_q"]),
        helper.make_node("Add", [into, f"{prefix}_q"], [out]),
    ]
    return nodes, [const(f"{prefix}_qw", zeros)]


def edge() -> onnx.ModelProto:
    pool = SIDE // GRID
    nodes = [
        # Probe: 4x4 average pool -> [b, 1, 8, 8] (MAS scores its energy per patch).
        helper.make_node("AveragePool", ["pixels"], ["act"], kernel_shape=[4, 4], strides=[4, 4]),
        # Features: the patch's mean luma, repeated DIM times -> [b, DIM, 2, 2].
        helper.make_node("AveragePool", ["pixels"], ["patch_mean"], kernel_shape=[pool, pool],
                         strides=[pool, pool]),
        helper.make_node("Tile", ["patch_mean", "repeats"], ["feat"]),
        helper.make_node("GlobalAveragePool", ["feat"], ["pooled4"]),
        helper.make_node("Flatten", ["pooled4"], ["pooled"], axis=1),
        helper.make_node("ReduceMean", ["pixels"], ["m4"], keepdims=1),
        helper.make_node("Flatten", ["m4"], ["m"], axis=1),
    ]
    init = [const("repeats", np.array([1, DIM, 1, 1], dtype=np.int64))]
    n, i = score_nodes("m", "raw", "head")
    nodes += n
    init += i
    n, i = question_term("q_emb", "raw", "scores", "head")
    nodes += n
    init += i
    graph = helper.make_graph(
        nodes, "tiny-edge",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 1, SIDE, SIDE]),
         helper.make_tensor_value_info("q_emb", TensorProto.FLOAT, ["batch", Q])],
        [helper.make_tensor_value_info("act", TensorProto.FLOAT, ["batch", 1, 8, 8]),
         helper.make_tensor_value_info("feat", TensorProto.FLOAT, ["batch", DIM, GRID, GRID]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", DIM]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", len(LABELS)])],
        init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def encoder_only() -> onnx.ModelProto:
    """tiny-edge without its head: no question input, no logits."""
    pool = SIDE // GRID
    nodes = [
        helper.make_node("AveragePool", ["pixels"], ["act"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("AveragePool", ["pixels"], ["patch_mean"], kernel_shape=[pool, pool],
                         strides=[pool, pool]),
        helper.make_node("Tile", ["patch_mean", "repeats"], ["feat"]),
        helper.make_node("GlobalAveragePool", ["feat"], ["pooled4"]),
        helper.make_node("Flatten", ["pooled4"], ["pooled"], axis=1),
    ]
    init = [const("repeats", np.array([1, DIM, 1, 1], dtype=np.int64))]
    graph = helper.make_graph(
        nodes, "tiny-enc",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 1, SIDE, SIDE])],
        [helper.make_tensor_value_info("act", TensorProto.FLOAT, ["batch", 1, 8, 8]),
         helper.make_tensor_value_info("feat", TensorProto.FLOAT, ["batch", DIM, GRID, GRID]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", DIM])],
        init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def head() -> onnx.ModelProto:
    """The head as a graph of its own: the same closed form on the mean of the image
    embedding (which is the frame's mean luma)."""
    nodes = [helper.make_node("ReduceMean", ["img_vec"], ["m"], axes=[1], keepdims=1)]
    init = []
    n, i = score_nodes("m", "raw", "head")
    nodes += n
    init += i
    n, i = question_term("qv", "raw", "split_scores", "head")
    nodes += n
    init += i
    graph = helper.make_graph(
        nodes, "tiny-head",
        [helper.make_tensor_value_info("img_vec", TensorProto.FLOAT, ["batch", DIM]),
         helper.make_tensor_value_info("qv", TensorProto.FLOAT, ["batch", Q])],
        [helper.make_tensor_value_info("split_scores", TensorProto.FLOAT, ["batch", len(LABELS)])],
        init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def text(vocab: int) -> onnx.ModelProto:
    rng = np.random.default_rng(20261206)
    table = rng.standard_normal((vocab, Q)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["tok"]),                 # [b, s, Q]
        helper.make_node("Cast", ["mask"], ["maskf"], to=TensorProto.FLOAT),   # [b, s]
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),          # [b, s, 1]
        helper.make_node("Mul", ["tok", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),  # [b, Q]
        helper.make_node("Mul", ["summed", "summed"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis1"], ["norm2"], keepdims=1),  # [b, 1]
        helper.make_node("Add", ["norm2", "eps"], ["norm2e"]),
        helper.make_node("Sqrt", ["norm2e"], ["norm"]),
        helper.make_node("Div", ["summed", "norm"], ["sentence"]),
    ]
    init = [const("table", table), const("axis1", np.array([1], dtype=np.int64)),
            const("axis2", np.array([2], dtype=np.int64)),
            const("eps", np.array([1e-12], dtype=np.float32))]
    graph = helper.make_graph(
        nodes, "tiny-text",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("sentence", TensorProto.FLOAT, ["batch", Q])],
        init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def cloud() -> onnx.ModelProto:
    patches = GRID * GRID
    nodes = [
        helper.make_node("Cast", ["cells"], ["pf"], to=TensorProto.FLOAT),  # [b, P, D]
        helper.make_node("Unsqueeze", ["dequant", "axis2"], ["scale3"]),         # [b, 1, 1]
        helper.make_node("Mul", ["pf", "scale3"], ["x"]),
        helper.make_node("ReduceMean", ["x"], ["per_patch"], axes=[2], keepdims=0),  # [b, P]
        helper.make_node("Mul", ["per_patch", "cell_mask"], ["kept"]),
        helper.make_node("ReduceSum", ["kept", "axis1"], ["total"], keepdims=1),     # [b, 1]
        helper.make_node("ReduceSum", ["cell_mask", "axis1"], ["count"], keepdims=1),
        helper.make_node("Add", ["count", "eps"], ["count_e"]),
        helper.make_node("Div", ["total", "count_e"], ["c"]),
    ]
    init = [const("axis1", np.array([1], dtype=np.int64)),
            const("axis2", np.array([2], dtype=np.int64)),
            const("eps", np.array([1e-6], dtype=np.float32))]
    n, i = score_nodes("c", "raw", "cloud")
    nodes += n
    init += i
    n, i = question_term("qv", "raw", "verdict", "cloud")
    nodes += n
    init += i
    graph = helper.make_graph(
        nodes, "tiny-cloud",
        [helper.make_tensor_value_info("cells", TensorProto.INT8, ["batch", patches, DIM]),
         helper.make_tensor_value_info("dequant", TensorProto.FLOAT, ["batch", 1]),
         helper.make_tensor_value_info("cell_mask", TensorProto.FLOAT, ["batch", patches]),
         helper.make_tensor_value_info("qv", TensorProto.FLOAT, ["batch", Q])],
        [helper.make_tensor_value_info("verdict", TensorProto.FLOAT, ["batch", len(LABELS)])],
        init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def detector() -> onnx.ModelProto:
    """Four candidate boxes, the frame's quadrants (yxyx, normalised), each scored by its mean
    luma: the region is the brightest quadrant when it reaches the pipeline's min_score."""
    half = SIDE // 2
    quads = np.array([[[0.0, 0.0, 0.5, 0.5], [0.0, 0.5, 0.5, 1.0],
                       [0.5, 0.0, 1.0, 0.5], [0.5, 0.5, 1.0, 1.0]]], dtype=np.float32)
    nodes = [
        helper.make_node("AveragePool", ["img"], ["q4"], kernel_shape=[half, half],
                         strides=[half, half]),                                 # [b, 1, 2, 2]
        helper.make_node("Flatten", ["q4"], ["quad_scores"], axis=1),          # [b, 4]
        # The boxes do not depend on the frame; 0 * scores gives them the batch dimension.
        helper.make_node("Unsqueeze", ["quad_scores", "axis2"], ["s3"]),       # [b, 4, 1]
        helper.make_node("Mul", ["s3", "zero"], ["z"]),
        helper.make_node("Add", ["z", "quads"], ["quad_boxes"]),               # [b, 4, 4]
    ]
    init = [const("quads", quads), const("zero", np.zeros((1,), dtype=np.float32)),
            const("axis2", np.array([2], dtype=np.int64))]
    graph = helper.make_graph(
        nodes, "tiny-det",
        [helper.make_tensor_value_info("img", TensorProto.FLOAT, ["batch", 1, SIDE, SIDE])],
        [helper.make_tensor_value_info("quad_boxes", TensorProto.FLOAT, ["batch", 4, 4]),
         helper.make_tensor_value_info("quad_scores", TensorProto.FLOAT, ["batch", 4])],
        init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


MANIFEST_HEAD = '''# Generated by tests/tinymodels/make_tiny.py for the pipeline generality test.
name = "{name}"
modality = "{modality}"
precision = "fp32"
file = "{file}"
sha256 = "{sha}"
licence = "Apache-2.0"
{probe}{role}
[provenance]
source = "generated by tests/tinymodels/make_tiny.py (onnx.helper, opset {opset})"
url = "https://github.com/onnx/onnx"
'''

# The gray 32x32 input of the edge encoders and the detector.
GRAY_32 = '''
[preprocess]
kind = "image"
resize = [32, 32]
layout = "nchw"
color = "gray"
scale = 0.00392156862745098
mean = [0.0]
std = [1.0]
interpolation = "triangle"
'''

EDGE_REST = GRAY_32 + '''
[[inputs]]
name = "pixels"
dtype = "f32"
shape = ["batch", 1, 32, 32]
range = [0.0, 1.0]

[[inputs]]
name = "q_emb"
dtype = "f32"
shape = ["batch", 16]

[[outputs]]
name = "act"
dtype = "f32"
shape = ["batch", 1, 8, 8]

[[outputs]]
name = "feat"
dtype = "f32"
shape = ["batch", 8, 2, 2]

[[outputs]]
name = "pooled"
dtype = "f32"
shape = ["batch", 8]

[[outputs]]
name = "scores"
dtype = "f32"
shape = ["batch", 3]
'''

ENC_REST = EDGE_REST.replace('''
[[inputs]]
name = "q_emb"
dtype = "f32"
shape = ["batch", 16]
''', "").replace('''
[[outputs]]
name = "scores"
dtype = "f32"
shape = ["batch", 3]
''', "")

HEAD_REST = '''
[preprocess]
kind = "embeddings"

[[inputs]]
name = "img_vec"
dtype = "f32"
shape = ["batch", 8]

[[inputs]]
name = "qv"
dtype = "f32"
shape = ["batch", 16]

[[outputs]]
name = "split_scores"
dtype = "f32"
shape = ["batch", 3]
'''

SPLIT_HEAD = '''[head]
kind = "separate"
model = "tiny-head"
image = "img_vec"
question = "qv"
logits = "split_scores"
labels = "../labels.txt"
calibration = "../tiny-head-temperature.json"

'''

DET_REST = GRAY_32 + '''
[[inputs]]
name = "img"
dtype = "f32"
shape = ["batch", 1, 32, 32]
range = [0.0, 1.0]

[[outputs]]
name = "quad_boxes"
dtype = "f32"
shape = ["batch", 4, 4]

[[outputs]]
name = "quad_scores"
dtype = "f32"
shape = ["batch", 4]
'''

TEXT_REST = '''
[preprocess]
kind = "text"
tokenizer = "tokenizer.json"
max_length = 32
pooling = "mean"
normalize = true

[dims]
seq = 8

[[inputs]]
name = "ids"
dtype = "i64"
shape = ["batch", "seq"]
range = [1000.0, 29000.0]

[[inputs]]
name = "mask"
dtype = "i64"
shape = ["batch", "seq"]
fill = 1

[[outputs]]
name = "sentence"
dtype = "f32"
shape = ["batch", 16]
'''

CLOUD_REST = '''
[bindings]
patches = "cells"
scale = "dequant"
patch_mask = "cell_mask"
question = "qv"
logits = "verdict"

[preprocess]
kind = "compact-tensor"
source_model = "tiny-edge"
source_output = "feat"

[[inputs]]
name = "cells"
dtype = "i8"
shape = ["batch", 4, 8]
range = [0.0, 127.0]

[[inputs]]
name = "dequant"
dtype = "f32"
shape = ["batch", 1]
fill = 0.01

[[inputs]]
name = "cell_mask"
dtype = "f32"
shape = ["batch", 4]
fill = 1.0

[[inputs]]
name = "qv"
dtype = "f32"
shape = ["batch", 16]

[[outputs]]
name = "verdict"
dtype = "f32"
shape = ["batch", 3]
'''

PIPELINE = '''# The tiny gray pipeline (tests/tinymodels/make_tiny.py): nothing from easy-VQA but the tokenizer.
name = "tiny-gray"

[image]
model = "tiny-edge"
precision = "fp32"
input = "pixels"
features = "feat"
embedding = "pooled"

[text]
model = "tiny-text"
precision = "fp32"
input_ids = "ids"
attention_mask = "mask"
embedding = "sentence"

[head]
kind = "fused"
question = "q_emb"
logits = "scores"
labels = "labels.txt"
calibration = "tiny-edge-temperature.json"

[region]
kind = "none"

[mas.modal]
# Random 16-d embeddings: every question counts as about the image.
relevance_low = -1.0
relevance_high = -0.5
image_prompts = ["how bright is the picture?"]
audio_prompts = ["what was said?"]

[cloud]
model = "tiny-cloud"
compact = "packed"
question = "qvec"
logits = "verdict"
full_model = "tiny-full"
full_image = "frame"
full_question = "text"
'''


DETECTOR_REGION = '''[region]
kind = "detector"
model = "tiny-det"
input = "img"
boxes = "quad_boxes"
scores = "quad_scores"
box_format = "yxyx"
min_score = 0.5
'''


def write_model(out: str, model: onnx.ModelProto, name: str, modality: str, probe: str,
                role: str, rest: str) -> str:
    onnx.checker.check_model(model)
    file = f"{name}.onnx"
    path = os.path.join(out, file)
    onnx.save(model, path)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    probe_line = f'probe = "{probe}"\n' if probe else ""
    with open(os.path.join(out, f"{name}.toml"), "w") as f:
        f.write(MANIFEST_HEAD.format(name=name, modality=modality, file=file, sha=sha,
                                     probe=probe_line, role=f'role = "{role}"\n',
                                     opset=OPSET) + rest)
    return sha


def main() -> None:
    out, tokenizer = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(tokenizer) as f:
        vocab = len(json.load(f)["model"]["vocab"])
    shutil.copyfile(tokenizer, os.path.join(out, "tokenizer.json"))
    edge_sha = write_model(out, edge(), "tiny-edge", "image", "act", "image-encoder", EDGE_REST)
    write_model(out, text(vocab), "tiny-text", "text", "", "text-encoder", TEXT_REST)
    write_model(out, cloud(), "tiny-cloud", "image", "", "cloud-compact", CLOUD_REST)
    write_model(out, detector(), "tiny-det", "image", "", "region-detector", DET_REST)
    write_model(out, encoder_only(), "tiny-enc", "image", "act", "image-encoder", ENC_REST)
    head_sha = write_model(out, head(), "tiny-head", "image", "", "local-head", HEAD_REST)
    with open(os.path.join(out, "tiny-head-temperature.json"), "w") as f:
        json.dump({"model": "tiny-head", "sha256": head_sha, "temperature": 1.0}, f)
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("# tiny-gray answers, logit order\n" + "".join(f"{l}\n" for l in LABELS))
    with open(os.path.join(out, "tiny-edge-temperature.json"), "w") as f:
        json.dump({"model": "tiny-edge", "sha256": edge_sha, "temperature": 1.0}, f)
    os.makedirs(os.path.join(out, "pipelines"), exist_ok=True)
    with open(os.path.join(out, "pipelines", "tiny-gray.toml"), "w") as f:
        f.write(PIPELINE.replace('"labels.txt"', '"../labels.txt"')
                .replace('"tiny-edge-temperature.json"', '"../tiny-edge-temperature.json"'))
    with open(os.path.join(out, "pipelines", "tiny-gray-det.toml"), "w") as f:
        f.write(PIPELINE.replace('name = "tiny-gray"', 'name = "tiny-gray-det"')
                .replace('"labels.txt"', '"../labels.txt"')
                .replace('"tiny-edge-temperature.json"', '"../tiny-edge-temperature.json"')
                .replace('[region]\nkind = "none"\n', DETECTOR_REGION))
    split = (PIPELINE.replace('name = "tiny-gray"', 'name = "tiny-gray-split"')
             .replace('model = "tiny-edge"', 'model = "tiny-enc"'))
    split = split[:split.index("[head]")] + SPLIT_HEAD + split[split.index("\n[region]") + 1:]
    with open(os.path.join(out, "pipelines", "tiny-gray-split.toml"), "w") as f:
        f.write(split)
    print(f"make_tiny.py: wrote the tiny-gray pipeline to {out}")


if __name__ == "__main__":
    main()
