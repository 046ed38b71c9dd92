"""KServe 0.21 Python ModelServer serving the easy-VQA cloud model (`vqa-cloud`) over the
Open Inference Protocol v2 REST API, for firmware-agent/tests/kserve_compat.rs.

Served contract (`GET /v2/models/vqa-cloud`; KServe adds `"versions": null`):

    inputs   compact   UINT8 [1, -1]   the bytes of one compact tensor (spec/compact-tensor.md)
             question  FP32  [1, 384]  all-MiniLM-L6-v2 question embedding
    outputs  logits    FP32  [1, 13]   answer logits (easy-VQA answers.txt order)

The model (compact-tensor decoder + ONNX graph) is tests/mlserver/vqa_cloud.py, the same code
the MLServer peer runs; this file is only the KServe binding. Outputs come back in the form
the request asked for (JSON, or the binary tensor extension with `binary_data`), which is
KServe's own logic (`InferResponse.to_rest`), not ours.

KServe's RESTServer hard-codes `uvicorn.Config(host="0.0.0.0")`; `bind_loopback` wraps it so
the server listens on 127.0.0.1 only. gRPC is off.

Env: MSAO_KSERVE_PORT (HTTP port, default 18090), MSAO_KSERVE_HOST (default 127.0.0.1),
MSAO_VQA_CLOUD_ONNX (default <repo>/models/vqa/vqa-cloud-fp32.onnx).

    .cache/kserve-venv/bin/python tests/kserve/server.py      # http://127.0.0.1:18090
"""

from __future__ import annotations

import os
import sys
import uuid

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "mlserver"))
from vqa_cloud import CompactError, VqaCloud  # noqa: E402

# KServe parses sys.argv when `kserve.model_server` is imported (parse_known_args): keep ours
# out of it, everything comes from the environment.
sys.argv = sys.argv[:1]
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402
from kserve.errors import InvalidInput  # noqa: E402
from kserve.protocol.rest import server as rest_server  # noqa: E402

MODEL = "vqa-cloud"
HOST = os.environ.get("MSAO_KSERVE_HOST", "127.0.0.1")
PORT = int(os.environ.get("MSAO_KSERVE_PORT", "18090"))
ONNX = os.environ.get("MSAO_VQA_CLOUD_ONNX") or os.path.join(
    ROOT, "models", "vqa", "vqa-cloud-fp32.onnx"
)


def bind_loopback(host: str) -> None:
    """Makes KServe's REST server listen on `host` instead of its hard-coded 0.0.0.0: the
    uvicorn config is built in RESTServer.__init__ and read again when the server binds, so
    setting its host right after construction is enough."""
    init = rest_server.RESTServer.__init__

    def loopback_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.config.host = host

    rest_server.RESTServer.__init__ = loopback_init


class VqaCloudModel(Model):
    """`vqa-cloud`: compact tensor + question embedding -> logits."""

    def __init__(self, name: str, path: str):
        super().__init__(name)
        self._path = path
        self._model = None

    def load(self) -> bool:
        self._model = VqaCloud(self._path)
        self.ready = True
        return self.ready

    def get_input_types(self):
        return [
            {"name": "compact", "datatype": "UINT8", "shape": [1, -1]},
            {"name": "question", "datatype": "FP32", "shape": [1, self._model.question_dim]},
        ]

    def get_output_types(self):
        return [{"name": "logits", "datatype": "FP32", "shape": [1, 13]}]

    @staticmethod
    def _input(payload: InferRequest, name: str, datatype: str) -> np.ndarray:
        found = [i for i in payload.inputs if i.name == name]
        if len(found) != 1:
            raise InvalidInput(
                f"vqa-cloud: expected exactly one input `{name}`, got "
                f"{[i.name for i in payload.inputs]}"
            )
        inp = found[0]
        if inp.datatype != datatype:
            raise InvalidInput(f"vqa-cloud: input `{name}` is {inp.datatype}, expected {datatype}")
        try:
            arr = inp.as_numpy()
        except Exception as e:  # data that does not fit the declared shape/datatype
            raise InvalidInput(f"vqa-cloud: input `{name}`: {e}") from e
        if arr.ndim != 2 or arr.shape[0] != 1:
            raise InvalidInput(
                f"vqa-cloud: input `{name}` has shape {list(arr.shape)}, expected [1, n]"
            )
        return arr

    def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        compact = self._input(payload, "compact", "UINT8")
        question = self._input(payload, "question", "FP32")
        if question.shape[1] != self._model.question_dim:
            raise InvalidInput(
                f"vqa-cloud: question has shape {list(question.shape)}, "
                f"expected [1, {self._model.question_dim}]"
            )
        try:
            logits = self._model.run(compact.astype(np.uint8).tobytes(), question)
        except (CompactError, ValueError) as e:
            raise InvalidInput(f"vqa-cloud: {e}") from e
        out = InferOutput(name="logits", shape=list(logits.shape), datatype="FP32")
        out.set_data_from_numpy(logits, binary_data=False)
        return InferResponse(
            # The request id is optional (the agent sends none); KServe's REST response model
            # requires one, so a model makes one up, as KServe's own servers do.
            response_id=payload.id or str(uuid.uuid4()),
            model_name=self.name,
            infer_outputs=[out],
            use_binary_outputs=payload.use_binary_outputs,
            requested_outputs=payload.request_outputs,
        )


if __name__ == "__main__":
    bind_loopback(HOST)
    model = VqaCloudModel(MODEL, ONNX)
    model.load()
    ModelServer(http_port=PORT, enable_grpc=False, workers=1).start([model])
