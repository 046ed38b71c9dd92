#!/usr/bin/env bash
# tests/openai/setup.sh — creates the Python environment with the official OpenAI client
# (PyPI `openai`, Apache-2.0) for firmware-agent/tests/api_openai.rs.
#
#   .cache/openai-venv/   python3 -m venv + pinned openai (git-ignored)
#
# Idempotent (tests/lib/venv.sh). Network: PyPI only. Env: PYTHON (default python3, 3.9 or
# newer), MSAO_OPENAI_VENV (default <repo>/.cache/openai-venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/lib/venv.sh
source "$ROOT/tests/lib/venv.sh"
pinned_venv "${MSAO_OPENAI_VENV:-$ROOT/.cache/openai-venv}" openai openai==3.51.0
