#!/usr/bin/env bash
# scripts/cross-isa-check.sh — the INT8 models answer the same on every CPU family.
#
#   scripts/cross-isa-check.sh [--questions N] [--out DIR] [--no-aarch64]
#
# Runs `msao-host eval` on the first N easy-VQA test questions (default 300) three times:
#   native    this machine (on an AVX-512 VNNI host: the VNNI kernels),
#   haswell   the same x86-64 binary under `qemu-x86_64 -cpu Haswell` (AVX2, no AVX-512,
#             no VNNI: the saturating VPMADDUBSW kernels),
#   aarch64   an aarch64 build under `qemu-aarch64` with the aarch64 ONNX Runtime library
#             from its PyPI wheel (emulated Cortex-A76: NEON with SDOT/UDOT),
# and compares each emulated run with the native one (scripts/cross_isa_compare.py):
# accuracies within 0.3 points, MAS keep-masks equal on at least 99 % of questions.
# Exit 0 when every comparison holds, 1 when one fails, 2 on a usage or setup error.
#
# Needs (Debian): qemu-user, gcc-aarch64-linux-gnu, libc6-arm64-cross, libc6-dev-arm64-cross,
# libstdc++6-arm64-cross; the Rust target aarch64-unknown-linux-gnu; scripts/setup.sh done.
# Time on 2 cores: ~2 min native build reuse, ~4 min per emulated run of 300 questions, plus
# the aarch64 release build the first time (~6 min).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=300
OUT="$ROOT/target/cross-isa"
AARCH64=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --questions) N="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-aarch64) AARCH64=0; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "cross-isa-check.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
say() { printf '\n==> cross-isa: %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "cross-isa-check.sh: '$1' not found ($2)" >&2; exit 2; }; }
[[ "$(uname -m)" == x86_64 ]] || { echo "cross-isa-check.sh: runs on an x86-64 host (it emulates Haswell and aarch64)" >&2; exit 2; }
need qemu-x86_64 "apt-get install qemu-user"
mkdir -p "$OUT"

say "native build"
cargo build --release --locked -p msao-host
HOST="$ROOT/target/release/msao-host"

run_eval() { # NAME RUNNER... -- EXTRA ARGS
  local name="$1"; shift
  local runner=()
  while [[ "$1" != -- ]]; do runner+=("$1"); shift; done
  shift
  say "eval $name ($N questions)"
  local t0=$SECONDS
  "${runner[@]}" eval --limit "$N" --json --records "$OUT/$name.jsonl" "$@" > "$OUT/$name.json"
  echo "$name: $((SECONDS - t0)) s"
}
# qemu prints a warning per CPUID bit TCG lacks; they say nothing about the results.
quiet_qemu() { "$@" 2> >(grep -v "TCG doesn't support requested feature" >&2); }

run_eval native "$HOST" --
run_eval haswell quiet_qemu qemu-x86_64 -cpu Haswell "$HOST" --
RUNS=(haswell)

if [[ $AARCH64 == 1 ]]; then
  need qemu-aarch64 "apt-get install qemu-user"
  need aarch64-linux-gnu-gcc "apt-get install gcc-aarch64-linux-gnu libc6-arm64-cross libc6-dev-arm64-cross libstdc++6-arm64-cross"
  [[ -e /usr/aarch64-linux-gnu/include/stdio.h ]] || { echo "cross-isa-check.sh: no aarch64 C headers (apt-get install libc6-dev-arm64-cross)" >&2; exit 2; }
  [[ -d /usr/aarch64-linux-gnu/lib ]] || { echo "cross-isa-check.sh: /usr/aarch64-linux-gnu missing (libc6-arm64-cross)" >&2; exit 2; }
  rustup target add aarch64-unknown-linux-gnu >/dev/null
  "$ROOT/scripts/fetch-onnxruntime.sh" aarch64
  say "aarch64 build"
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    cargo build --release --locked -p msao-host --target aarch64-unknown-linux-gnu
  # qemu-user 7.2 shows the host's x86 /proc/cpuinfo to the guest, and ONNX Runtime's
  # cpuinfo library dereferences NULL when it finds no ARM core there. The guest gets the
  # /proc/cpuinfo of the core qemu emulates (Cortex-A76: NEON + dot product, as the
  # Jetson Orin's Cortex-A78AE), bind-mounted in a private mount namespace (needs root).
  for i in 0 1; do
    printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n' "$i"
  done > "$OUT/cpuinfo-cortex-a76"
  need unshare "util-linux"
  in_arm_ns() { unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$OUT/cpuinfo-cortex-a76" "$@"; }
  run_eval aarch64 quiet_qemu in_arm_ns qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu \
    "$ROOT/target/aarch64-unknown-linux-gnu/release/msao-host" -- \
    --onnxruntime "$ROOT/.cache/onnxruntime-aarch64/libonnxruntime.so"
  RUNS+=(aarch64)
fi

say "compare"
status=0
for run in "${RUNS[@]}"; do
  python3 "$ROOT/scripts/cross_isa_compare.py" "$OUT/native" "$OUT/$run" || status=1
done
exit $status
