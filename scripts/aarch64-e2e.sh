#!/usr/bin/env bash
# scripts/aarch64-e2e.sh — the aarch64 agent of scripts/build-jetson.sh (glibc 2.31) under
# qemu-aarch64, with the aarch64 ONNX Runtime library from PyPI: it answers a request on the
# easy-VQA pipeline through its API (the golden frame, "what is the red shape?" → the
# easy-VQA answer `triangle`) and streams the RequestTrace to an x86-64 `msao-host listen`.
# qemu runs the guest with a Cortex-A76 /proc/cpuinfo bind-mounted in a private mount
# namespace (ONNX Runtime's cpuinfo reads it; needs root), as scripts/cross-isa-check.sh.
# Needs: scripts/setup.sh, scripts/build-jetson.sh --target aarch64, a release msao-host.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
AGENT=$ROOT/target/jetson/aarch64-unknown-linux-gnu/release/msao-agent
HOST=$ROOT/target/release/msao-host
[[ -x $AGENT ]] || { echo "aarch64-e2e.sh: run scripts/build-jetson.sh --target aarch64 first" >&2; exit 2; }
[[ -x $HOST ]] || cargo build --release --locked -p msao-host
"$ROOT/scripts/fetch-onnxruntime.sh" aarch64 >/dev/null
WORK=$(mktemp -d)
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
PIDS=()
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API=$(free_port); UDP=$(free_port)
for i in 0 1; do
    printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n' "$i"
done > "$WORK/cpuinfo"

"$HOST" listen "udp://127.0.0.1:$UDP" --json > "$WORK/listen.jsonl" 2> "$WORK/listen.log" &
PIDS+=($!)
(cd "$WORK" && MSAO_ORT_LIB="$ROOT/.cache/onnxruntime-aarch64/libonnxruntime.so" \
    MSAO_MODELS_DIR="$ROOT/models" \
    unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$WORK/cpuinfo" \
    qemu-aarch64 -cpu cortex-a76 -L /usr/aarch64-linux-gnu "$AGENT" \
    --api "127.0.0.1:$API" --telemetry "udp://127.0.0.1:$UDP" --device-id aarch64-emu \
    --policy edge-only > "$WORK/agent.log" 2>&1) &
PIDS+=($!)

for _ in $(seq 1 300); do
    curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$API/health" 2>/dev/null | grep -q 200 && break
    sleep 1
done
curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$API/health" | grep -q 200 || {
    echo "aarch64-e2e.sh: the aarch64 agent never became ready:" >&2; tail -20 "$WORK/agent.log" >&2; exit 1; }

IMG=$(base64 -w0 firmware-agent/tests/fixtures/golden/easyvqa-test-0.png)
ANSWER=$(curl -s "127.0.0.1:$API/v1/chat/completions" -H 'content-type: application/json' -d '{
  "model": "easy-vqa", "messages": [{"role": "user", "content": [
    {"type": "text", "text": "what is the red shape?"},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,'"$IMG"'"}}]}]}')
content=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])' <<<"$ANSWER")
[[ $content == triangle ]] || { echo "aarch64-e2e.sh: answered \`$content\`, expected triangle: $ANSWER" >&2; exit 1; }
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["msao"]["request_id"])' <<<"$ANSWER")
for _ in $(seq 1 30); do
    grep -q "\"type\":\"request\".*\"device\":\"aarch64-emu\".*\"request_id\":$id" "$WORK/listen.jsonl" && break
    sleep 1
done
grep -q "\"type\":\"request\".*\"device\":\"aarch64-emu\".*\"request_id\":$id" "$WORK/listen.jsonl" || {
    echo "aarch64-e2e.sh: msao-host listen got no RequestTrace $id:" >&2; head -5 "$WORK/listen.jsonl" >&2; exit 1; }
echo "aarch64-e2e.sh: ok — the aarch64 agent (qemu, Cortex-A76) answered \`$content\` and its RequestTrace $id reached the x86-64 msao-host listen"
