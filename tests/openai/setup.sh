#!/usr/bin/env bash
# tests/openai/setup.sh — creates the Python environment with the official OpenAI client
# (PyPI `openai`, Apache-2.0) for firmware-agent/tests/api_openai.rs.
#
#   .cache/openai-venv/   python3 -m venv + pinned openai (git-ignored)
#
# Idempotent: when the venv already holds the pinned version (recorded in
# .cache/openai-venv/.msao-pins after a successful install) nothing is fetched.
# Network: PyPI only. Env: PYTHON (default python3, 3.9 or newer),
# MSAO_OPENAI_VENV (default <repo>/.cache/openai-venv).
# Exit status: 0 = ready (last line `setup.sh: ready: <venv>`); non-zero with one line
# `setup.sh: error: ...` on stderr otherwise.
set -euo pipefail

OPENAI_VERSION=3.51.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${MSAO_OPENAI_VENV:-$ROOT/.cache/openai-venv}"
PINS="openai==${OPENAI_VERSION}"

say() { printf 'setup.sh: %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

if [[ -f "$VENV/.msao-pins" && "$(cat "$VENV/.msao-pins")" == "$PINS" ]]; then
  say "ready: $VENV ($PINS, already installed)"
  exit 0
fi
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON)"
mkdir -p "$(dirname "$VENV")"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV" || die "python3 -m venv $VENV failed"
rm -f "$VENV/.msao-pins"
LOG="$VENV/pip-install.log"
say "installing $PINS into $VENV (log: $LOG)"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
    --only-binary=:all: "$PINS" >"$LOG" 2>&1; then
  reason="$(grep -E 'ERROR|error:' "$LOG" | tail -n 1)"
  die "pip install of $PINS failed (is PyPI reachable?): ${reason:-see $LOG}"
fi
"$VENV/bin/python" -c 'import openai' 2>>"$LOG" || die "openai does not import (see $LOG)"
printf '%s' "$PINS" >"$VENV/.msao-pins"
say "ready: $VENV ($PINS)"
