"""MLServer custom runtime serving the easy-VQA cloud model (`vqa-cloud`) behind the Open
Inference Protocol v2, for firmware-agent/tests/mlserver_compat.rs.

Served contract (also declared in model-settings.json, so /v2/models/vqa-cloud shows it):

    inputs   compact   UINT8 [1, -1]   the bytes of one compact tensor (spec/compact-tensor.md)
             question  FP32  [1, 384]  all-MiniLM-L6-v2 question embedding
    outputs  logits    FP32  [1, 13]   answer logits (easy-VQA answers.txt order)

The model itself (compact-tensor decoder + the ONNX graph) is `vqa_cloud.py` beside this
file, shared with the KServe peer (tests/kserve/server.py); this file is only the MLServer
binding: request tensors in, `logits` out.

A bad request raises MLServerError with status 400 (MLServer answers `{"error": ...}`).
The ONNX file is `parameters.uri` of model-settings.json (relative paths are resolved by
MLServer against the folder holding model-settings.json), or $MSAO_VQA_CLOUD_ONNX if set.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput
from mlserver.utils import get_model_uri

# vqa_cloud.py sits beside this file (also in the test's temporary copy).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vqa_cloud import CompactError, VqaCloud  # noqa: E402


class BadRequest(MLServerError):
    """A request the model cannot answer: HTTP 400."""

    def __init__(self, msg: str):
        super().__init__(msg, status_code=400)


class VqaCloudRuntime(MLModel):
    """`vqa-cloud`: compact tensor + question embedding -> logits."""

    async def load(self) -> bool:
        path = os.environ.get("MSAO_VQA_CLOUD_ONNX") or await get_model_uri(self._settings)
        self._model = VqaCloud(path)
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
        if question.shape[1] != self._model.question_dim:
            raise BadRequest(
                f"vqa-cloud: question has shape {list(question.shape)}, "
                f"expected [1, {self._model.question_dim}]"
            )
        try:
            logits = self._model.run(compact.astype(np.uint8).tobytes(), question)
        except (CompactError, ValueError) as e:
            raise BadRequest(f"vqa-cloud: {e}") from e
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
