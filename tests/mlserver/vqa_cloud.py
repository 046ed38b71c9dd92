"""The easy-VQA cloud model (`vqa-cloud`) in numpy + onnxruntime, without a server: the
compact-tensor decoder (spec/compact-tensor.md §4) and the cloud graph run. Shared by the two
real OIP v2 peers the agent's client is tested against: the MLServer runtime
(tests/mlserver/runtime.py) and the KServe model (tests/kserve/server.py). Imports numpy and
onnxruntime only, so either server's venv can load it.

`decode_compact` validates and decodes a compact tensor exactly as spec §4 says (same checks,
same order, offsets in the message); `VqaCloud.run` scatters it into the cloud graph's dense
inputs (`patches` i8 [1,16,32], `scale` f32 [1,1], `patch_mask` f32 [1,16]; spec §4.1) and
runs models/vqa/vqa-cloud-fp32.onnx on the CPU. This is an independent re-implementation of
`msao::compact::decode` + `CloudHead::run` (firmware-agent/src/brain/cloud.rs).
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort

MAGIC = b"MC"
VERSION = 1
KNOWN_FLAGS = 0
HEADER_LEN = 14
MAX_TOTAL = 256
MAX_DIM = 1024
QUESTION_DIM = 384


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


class VqaCloud:
    """The loaded cloud graph: `run(compact bytes, question [1, 384] f32) -> logits [1, 13]`.
    A bad compact tensor raises `CompactError`; one for another grid, `ValueError`."""

    def __init__(self, path: str):
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
        _, self.patches, self.dim = shapes["patches"]
        self.question_dim = shapes["question"][1]
        if self.question_dim != QUESTION_DIM:
            raise ValueError(f"vqa-cloud: question width {self.question_dim}, expected 384")

    def run(self, compact: bytes, question: np.ndarray) -> np.ndarray:
        total, dim, scale, indices, values = decode_compact(compact)
        if (total, dim) != (self.patches, self.dim):
            raise ValueError(
                f"compact tensor is {total} patches x {dim}, "
                f"the model takes {self.patches} x {self.dim}"
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
        return np.asarray(logits, dtype=np.float32)
