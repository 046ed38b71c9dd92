#!/usr/bin/env bash
# scripts/fetch-onnxruntime.sh — the pinned ONNX Runtime C library from its PyPI wheel.
#
#   scripts/fetch-onnxruntime.sh [ARCH [DEST]]
#
# ARCH: x86_64 or aarch64 (default: this machine's); DEST: the folder to put
# libonnxruntime.so.VERSION (+ the plain and .1 links) in (default: .cache/onnxruntime for
# this machine's architecture, .cache/onnxruntime-ARCH for another one, e.g. the aarch64
# library that scripts/cross-isa-check.sh runs under qemu-aarch64).
# Idempotent: a library already in place with the pinned sha256 is not fetched again.
# Needs: bash, python3 with pip, sha256sum. Network: PyPI only.
set -euo pipefail

ORT_VERSION=1.31.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WHEELS="$ROOT/.cache/wheels"
NATIVE="$(uname -m)"
ARCH="${1:-$NATIVE}"
case "$ARCH" in
  x86_64 | amd64)
    ARCH=x86_64
    ORT_PLATFORM=manylinux_2_28_x86_64
    ORT_WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
    ORT_LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
    ;;
  aarch64 | arm64)
    ARCH=aarch64
    ORT_PLATFORM=manylinux_2_28_aarch64
    ORT_WHEEL_SHA256=da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3
    ORT_LIB_SHA256=8aa3b76b28c778a2b1dd660d34161adb1d508c9ccd04ff9dc80e26eca5df8467
    ;;
  *)
    echo "fetch-onnxruntime.sh: no pinned onnxruntime wheel for machine '$ARCH' (x86_64 and aarch64 only)" >&2
    exit 1
    ;;
esac
[[ "$NATIVE" == arm64 ]] && NATIVE=aarch64
if [[ "$ARCH" == "$NATIVE" ]]; then
  DEFAULT_DEST="$ROOT/.cache/onnxruntime"
else
  DEFAULT_DEST="$ROOT/.cache/onnxruntime-$ARCH"
fi
ORT_DIR="${2:-$DEFAULT_DEST}"
# The wheel's Python tag does not matter (only the C library is taken out of it), so the
# cp311 wheel is used everywhere and pinned once per platform.
ORT_WHEEL="onnxruntime-${ORT_VERSION}-cp311-cp311-${ORT_PLATFORM}.whl"

SCRIPT=fetch-onnxruntime.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

ORT_LIB="$ORT_DIR/libonnxruntime.so.${ORT_VERSION}"
if [[ -f "$ORT_LIB" && "$(sha256_of "$ORT_LIB")" == "$ORT_LIB_SHA256" ]]; then
  say "onnxruntime ${ORT_VERSION} ($ARCH) already in place"
else
  fetch_wheel "$ORT_WHEEL" "$ORT_WHEEL_SHA256" \
    --platform "$ORT_PLATFORM" --python-version 311 --implementation cp --abi cp311 \
    "onnxruntime==${ORT_VERSION}"
  mkdir -p "$ORT_DIR"
  extract "$WHEELS/$ORT_WHEEL" "onnxruntime/capi/libonnxruntime.so.${ORT_VERSION}" "$ORT_LIB"
  # Needed by the CUDA/TensorRT providers of GPU builds; harmless here.
  extract "$WHEELS/$ORT_WHEEL" "onnxruntime/capi/libonnxruntime_providers_shared.so" \
    "$ORT_DIR/libonnxruntime_providers_shared.so"
  chmod 0755 "$ORT_LIB" "$ORT_DIR/libonnxruntime_providers_shared.so"
  check_sha "$ORT_LIB" "$ORT_LIB_SHA256"
fi
# The wheel ships only the versioned file; the agent looks for the plain name.
ln -sfn "libonnxruntime.so.${ORT_VERSION}" "$ORT_DIR/libonnxruntime.so"
ln -sfn "libonnxruntime.so.${ORT_VERSION}" "$ORT_DIR/libonnxruntime.so.1"
say "ONNX Runtime ${ORT_VERSION} ($ARCH): $ORT_DIR/libonnxruntime.so -> $(readlink "$ORT_DIR/libonnxruntime.so")"
