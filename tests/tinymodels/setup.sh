#!/usr/bin/env bash
# tests/tinymodels/setup.sh — creates the Python environment that builds the tiny ONNX
# models of the pipeline generality test (tests/tinymodels/make_tiny.py, run by
# firmware-agent/tests/pipeline_generality.rs): numpy and onnx (PyPI, BSD-3-Clause and
# Apache-2.0), the versions models/minilm/build.sh pins.
#
#   .cache/tinymodels-venv/   python3 -m venv + pinned wheels (git-ignored)
#
# Idempotent (tests/lib/venv.sh). Network: PyPI only. Env: PYTHON (default python3),
# MSAO_TINYMODELS_VENV (default <repo>/.cache/tinymodels-venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/lib/venv.sh
source "$ROOT/tests/lib/venv.sh"
pinned_venv "${MSAO_TINYMODELS_VENV:-$ROOT/.cache/tinymodels-venv}" onnx \
  numpy==2.1.3 onnx==1.19.1 protobuf==7.36.2 ml_dtypes==0.6.0
