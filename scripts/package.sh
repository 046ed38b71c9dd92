#!/usr/bin/env bash
# scripts/package.sh — builds the Debian packages of msao-agent and msao-host for this
# machine's architecture into target/debian/ (cargo-deb 3.8, installed with cargo if
# missing). Needs scripts/setup.sh first (the models and the ONNX Runtime library they
# ship). Usage: scripts/package.sh [--features camera]
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "package.sh: installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi
[[ -e .cache/onnxruntime/libonnxruntime.so.1.31.1 ]] || { echo "package.sh: run scripts/setup.sh first" >&2; exit 1; }
[[ -e models/minilm/minilm-l6-int8.onnx ]] || { echo "package.sh: run scripts/setup.sh first (MiniLM)" >&2; exit 1; }
cargo build --release --locked -p msao-agent -p msao-host "$@"
cargo deb --no-build --locked -p msao-agent
cargo deb --no-build --locked -p msao-host
ls -l target/debian/*.deb
