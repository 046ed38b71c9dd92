"""MLServer custom runtime serving the easy-VQA cloud model (`vqa-cloud`) behind the Open
Inference Protocol v2, for firmware-agent/tests/mlserver_compat.rs.

Served contract (also declared in model-settings.json, so /v2/models/vqa-cloud shows it):

    inputs   compact   UINT8 [1, -1]   the bytes of one compact tensor (spec/compact-tensor.md)
             question  FP32  [1, 384]  all-MiniLM-L6-v2 question embedding
    outputs  logits    FP32  [1, 13]   answer logits (easy-VQA answers.txt order)

`predict` validates and decodes the compact tensor in numpy exactly as spec §4 says (same
checks, same order, offsets in the message), scatters it into the cloud graph's dense inputs
(`patches` i8 [1,16,32], `scale` f32 [1,1], `patch_mask` f32 [1,16]; spec §4.1) and runs
models/vqa/vqa-cloud-fp32.onnx with onnxruntime on the CPU. This is an independent
re-implementation of `msao::compact::decode` + `CloudHead::run` (firmware-agent/src/brain/cloud.rs).

A bad request raises MLServerError with status 400 (MLServer answers `{"error": ...}`).
The ONNX file is `parameters.uri` of model-settings.json (relative paths are resolved by
MLServer against the folder holding model-settings.json), or $MSAO_VQA_CLOUD_ONNX if set.
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput
from mlserver.utils import get_model_uri

MAGIC = b"MC"
VERSION = 1
KNOWN_FLAGS = 0
HEADER_LEN = 14
MAX_TOTAL = 256
MAX_DIM = 1024
QUESTION_DIM = 384


class BadRequest(MLServerError):
    """A request the model cannot answer: HTTP 400."""

    def __init__(self, msg: str):
        super().__init__(msg, status_code=400)


class CompactError(ValueError):
    """A compact tensor that fails spec §4 validation; `offset` as in the spec's table."""

    def __init__(self, kind: str, offset: int, detail: str):
        super().__init__(f"compact tensor: {kind} at byte {offset}: {detail}")
        self.kind = kind
        self.offset = offset


def decode_compact(buf: bytes):
    """Validates a compact tensor (spec §4, checks in the spec's order) and returns
    (total, dim, scale f32, kept patch indices ascending, values i8 [kept, dim])."""
    n = len(buf)

    def need(end: int, field: str, offset: int):
        if n < end:
            raise CompactError(
                "Truncated", n, f"{n} bytes, the {field} at byte {offset} needs {end}"
            )

    need(2, "magic", 0)
    if buf[0:2] != MAGIC:
        raise CompactError("BadMagic", 0, f"magic {buf[0:2].hex()}, expected 4d43 (\"MC\")")
    need(3, "version", 2)
    if buf[2] != VERSION:
        raise CompactError("UnsupportedVersion", 2, f"version {buf[2]}, this reader knows 1")
    need(4, "flags", 3)
    if buf[3] & ~KNOWN_FLAGS & 0xFF:
        raise CompactError("UnknownFlags", 3, f"flags 0x{buf[3]:02x}, none defined in v1")
    need(6, "total", 4)
    total = int.from_bytes(buf[4:6], "little")
    if not 1 <= total <= MAX_TOTAL:
        raise CompactError("TotalOutOfRange", 4, f"total {total}, must be 1..={MAX_TOTAL}")
    need(8, "dim", 6)
    dim = int.from_bytes(buf[6:8], "little")
    if not 1 <= dim <= MAX_DIM:
        raise CompactError("DimOutOfRange", 6, f"dim {dim}, must be 1..={MAX_DIM}")
    need(10, "kept", 8)
    kept = int.from_bytes(buf[8:10], "little")
    if kept > total:
        raise CompactError("KeptOutOfRange", 8, f"kept {kept} > total {total}")
    need(14, "scale", 10)
    scale = np.frombuffer(buf, dtype="<f4", count=1, offset=10)[0]
    if not (np.isfinite(scale) and scale > 0):
        raise CompactError("BadScale", 10, f"scale {scale}, must be finite and > 0")
    mask_len = (total + 7) // 8
    need(HEADER_LEN + mask_len, "mask", HEADER_LEN)
    mask = np.frombuffer(buf, dtype=np.uint8, count=mask_len, offset=HEADER_LEN)
    bits = np.unpackbits(mask, bitorder="little")
    if bits[total:].any():
        last = HEADER_LEN + mask_len - 1
        raise CompactError("PaddingBitSet", last, f"mask bits >= total {total} must be 0")
    indices = np.flatnonzero(bits[:total])
    if len(indices) != kept:
        raise CompactError(
            "KeptMismatch", 8, f"kept {kept} but the mask has {len(indices)} bits set"
        )
    expected = HEADER_LEN + mask_len + kept * dim
    if n < expected:
        raise CompactError("Truncated", n, f"{n} bytes, expected {expected}")
    if n > expected:
        raise CompactError("TrailingBytes", expected, f"{n} bytes, expected {expected}")
    values = np.frombuffer(
        buf, dtype=np.int8, count=kept * dim, offset=HEADER_LEN + mask_len
    ).reshape(kept, dim)
    return total, dim, np.float32(scale), indices, values


class VqaCloudRuntime(MLModel):
    """`vqa-cloud`: compact tensor + question embedding -> logits."""

    async def load(self) -> bool:
        path = os.environ.get("MSAO_VQA_CLOUD_ONNX") or await get_model_uri(self._settings)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"vqa-cloud: ONNX model {path} not found")
        opts = ort.SessionOptions()
        # Small graph; keep the shared CPU for the agent under test.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            path, sess_options=opts, providers=["CPUExecutionProvider"]
        )
        shapes = {i.name: i.shape for i in self._session.get_inputs()}
        # The grid and widths come from the graph itself: patches [batch, P, D].
        _, self._patches, self._dim = shapes["patches"]
        self._question_dim = shapes["question"][1]
        if self._question_dim != QUESTION_DIM:
            raise ValueError(f"vqa-cloud: question width {self._question_dim}, expected 384")
        self.ready = True
        return self.ready

    def _input(self, payload: InferenceRequest, name: str, datatype: str) -> np.ndarray:
        found = [i for i in payload.inputs if i.name == name]
        if len(found) != 1:
            raise BadRequest(
                f"vqa-cloud: expected exactly one input `{name}`, got "
                f"{[i.name for i in payload.inputs]}"
            )
        inp = found[0]
        if inp.datatype != datatype:
            raise BadRequest(f"vqa-cloud: input `{name}` is {inp.datatype}, expected {datatype}")
        try:
            arr = NumpyCodec.decode_input(inp)
        except Exception as e:  # malformed data for the declared shape/datatype
            raise BadRequest(f"vqa-cloud: input `{name}`: {e}") from e
        if arr.ndim != 2 or arr.shape[0] != 1:
            raise BadRequest(f"vqa-cloud: input `{name}` has shape {list(arr.shape)}, expected [1, n]")
        return arr

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        compact = self._input(payload, "compact", "UINT8")
        question = self._input(payload, "question", "FP32")
        if question.shape[1] != self._question_dim:
            raise BadRequest(
                f"vqa-cloud: question has shape {list(question.shape)}, expected [1, {self._question_dim}]"
            )
        try:
            total, dim, scale, indices, values = decode_compact(compact.astype(np.uint8).tobytes())
        except CompactError as e:
            raise BadRequest(f"vqa-cloud: {e}") from e
        if (total, dim) != (self._patches, self._dim):
            raise BadRequest(
                f"vqa-cloud: compact tensor is {total} patches x {dim}, "
                f"the model takes {self._patches} x {self._dim}"
            )
        # Scatter (spec §4.1): every element written, dropped slots zero.
        patches = np.zeros((1, total, dim), np.int8)
        patch_mask = np.zeros((1, total), np.float32)
        patches[0, indices, :] = values
        patch_mask[0, indices] = 1.0
        (logits,) = self._session.run(
            ["logits"],
            {
                "patches": patches,
                "scale": np.array([[scale]], np.float32),
                "patch_mask": patch_mask,
                "question": question.astype(np.float32, copy=False),
            },
        )
        logits = np.asarray(logits, dtype=np.float32)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[
                ResponseOutput(
                    name="logits",
                    datatype="FP32",
                    shape=list(logits.shape),
                    data=logits.flatten().tolist(),
                )
            ],
        )
