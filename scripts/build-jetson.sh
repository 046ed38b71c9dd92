#!/usr/bin/env bash
# scripts/build-jetson.sh — one aarch64 build of msao-agent and msao-host for JetPack 5 and 6
# (linked against glibc 2.31, JetPack 5's Ubuntu 20.04; JetPack 6 has 2.35), and the x86-64
# release at the same floor, then a check that no binary needs a glibc symbol newer than
# 2.31. Output: target/jetson/{aarch64,x86_64}-unknown-linux-gnu/release/.
#
# Tools (pinned, installed here if missing): zig 0.15.2 from the PyPI `ziglang` wheel in
# .cache/zig-venv (zig 0.16's `ar` broke ring's build), cargo-zigbuild 0.24.1 from crates.io,
# the rustup target aarch64-unknown-linux-gnu.
#
# Usage: scripts/build-jetson.sh [--target aarch64|x86_64|both] (default both)
# Not yet: the `camera` feature against JetPack 5's GStreamer 1.16 (docs/jetson.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GLIBC_FLOOR=2.31
ZIG_VERSION=0.15.2
ZIGBUILD_VERSION=0.24.1
which=both
while [[ $# -gt 0 ]]; do
    case $1 in
        --target) which=$2; shift 2 ;;
        *) echo "build-jetson.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=tests/lib/venv.sh
source "$ROOT/tests/lib/venv.sh"
pinned_venv "$ROOT/.cache/zig-venv" ziglang "ziglang==$ZIG_VERSION" >/dev/null
ZIG_DIR=$(echo "$ROOT"/.cache/zig-venv/lib/python3*/site-packages/ziglang)
[[ -x $ZIG_DIR/zig ]] || { echo "build-jetson.sh: no zig in $ZIG_DIR" >&2; exit 1; }
export PATH="$ZIG_DIR:$PATH"
if ! cargo install --list | grep -q "^cargo-zigbuild v$ZIGBUILD_VERSION:"; then
    echo "build-jetson.sh: installing cargo-zigbuild $ZIGBUILD_VERSION"
    cargo install cargo-zigbuild --version "$ZIGBUILD_VERSION" --locked --quiet
fi
rustup target add aarch64-unknown-linux-gnu >/dev/null

case $which in
    both) targets=(aarch64-unknown-linux-gnu x86_64-unknown-linux-gnu) ;;
    aarch64|x86_64) targets=("$which-unknown-linux-gnu") ;;
    *) echo "build-jetson.sh: --target aarch64, x86_64 or both" >&2; exit 2 ;;
esac

# The newest GLIBC_x.y a binary's dynamic symbols need (readelf reads any architecture).
glibc_needed() {
    readelf -W --dyn-syms "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1
}

status=0
for t in "${targets[@]}"; do
    echo "build-jetson.sh: zig $(zig version), $t against glibc $GLIBC_FLOOR"
    cargo zigbuild --release --locked --target "$t.$GLIBC_FLOOR" --target-dir target/jetson \
        -p msao-agent -p msao-host
    for bin in msao-agent msao-host; do
        f=target/jetson/$t/release/$bin
        need=$(glibc_needed "$f")
        if [[ "$(printf '%s\n%s\n' "$need" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]]; then
            echo "build-jetson.sh: FAIL $f needs GLIBC_$need (> $GLIBC_FLOOR):" >&2
            readelf -W --dyn-syms "$f" | grep -E "GLIBC_$need" | head -5 >&2
            status=1
        else
            echo "build-jetson.sh: ok   $f needs at most GLIBC_$need ($(file -b "$f" | cut -d, -f1-2))"
        fi
    done
done
exit $status
