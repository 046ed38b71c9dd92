#!/usr/bin/env bash
# tests/kserve/setup.sh — creates the Python environment that serves the cloud model with
# KServe's Python ModelServer (Apache-2.0, PyPI `kserve`) for
# firmware-agent/tests/kserve_compat.rs.
#
#   .cache/kserve-venv/   python3 -m venv + pinned kserve, onnxruntime, numpy (git-ignored)
#
# Idempotent: when the venv already holds the pinned versions (recorded in
# .cache/kserve-venv/.msao-pins after a successful install) nothing is fetched.
# Network: PyPI only (pip honours PIP_INDEX_URL etc. as usual).
# Env: PYTHON (default python3; KServe 0.21.0 needs Python 3.10–3.13),
#      MSAO_KSERVE_VENV (default <repo>/.cache/kserve-venv).
# Exit status: 0 = ready (the last line printed is `setup.sh: ready: <venv>`); non-zero with
# one line `setup.sh: error: ...` on stderr otherwise.
set -euo pipefail

KSERVE_VERSION=0.21.0
# Same ONNX Runtime as scripts/setup.sh and the model manifests (models/vqa/*.toml).
ORT_VERSION=1.31.1
# kserve 0.21.0 (numpy <3, >=1.26) and onnxruntime 1.31.1 both accept numpy 2.2.
NUMPY_VERSION=2.2.6

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${MSAO_KSERVE_VENV:-$ROOT/.cache/kserve-venv}"
PINS="kserve==${KSERVE_VERSION} onnxruntime==${ORT_VERSION} numpy==${NUMPY_VERSION}"

say() { printf 'setup.sh: %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

if [[ -x "$VENV/bin/python" && -f "$VENV/.msao-pins" && "$(cat "$VENV/.msao-pins")" == "$PINS" ]]; then
  say "ready: $VENV ($PINS, already installed)"
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON to a Python 3.10-3.13)"
"$PYTHON" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' \
  || die "KServe ${KSERVE_VERSION} needs Python 3.10-3.13, $PYTHON is $("$PYTHON" -V 2>&1)"

mkdir -p "$(dirname "$VENV")"
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV" 2>"$VENV.venv-log" \
    || die "python3 -m venv $VENV failed: $(tail -n 1 "$VENV.venv-log")"
  rm -f "$VENV.venv-log"
fi
rm -f "$VENV/.msao-pins"

LOG="$VENV/pip-install.log"
say "installing $PINS into $VENV (log: $LOG)"
# shellcheck disable=SC2086
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
    --only-binary=:all: $PINS >"$LOG" 2>&1; then
  reason="$(grep -E 'ERROR|error:' "$LOG" | tail -n 1)"
  die "pip install of $PINS failed (is PyPI reachable?): ${reason:-see $LOG}"
fi
"$VENV/bin/python" -c 'import kserve, onnxruntime, numpy' 2>>"$LOG" \
  || die "installed packages do not import (see $LOG)"
printf '%s' "$PINS" >"$VENV/.msao-pins"
say "ready: $VENV ($PINS)"
