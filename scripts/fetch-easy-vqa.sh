#!/usr/bin/env bash
# scripts/fetch-easy-vqa.sh — unpacks the easy-VQA dataset (PyPI package `easy-vqa` 1.0,
# MIT licence) into .cache/easy-vqa/{train,test}/ in the layout `msao-host workload --data`
# reads: images/<id>.png and questions.json ([question, answer, image_id] rows).
# Idempotent; PyPI only; the wheel's sha256 is pinned.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.0
WHEEL="easy_vqa-${VERSION}-py3-none-any.whl"
WHEEL_SHA256=fcb51b309b78c7b00f97b64cdbcbcf5c105f94da1b39c0796cee5a787c4f650f
DEST=.cache/easy-vqa
PYTHON=${PYTHON:-python3}

if [[ -f "$DEST/test/questions.json" && -f "$DEST/train/questions.json" ]]; then
    echo "easy-VQA already in $DEST"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "easy-vqa==${VERSION}" -d "$tmp"
echo "${WHEEL_SHA256}  $tmp/$WHEEL" | sha256sum --check --quiet -
mkdir -p "$DEST"
"$PYTHON" - "$tmp/$WHEEL" "$DEST" <<'PY'
import sys, zipfile, pathlib
wheel, dest = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        prefix = "easy_vqa/data/"
        if not name.startswith(prefix) or name.endswith("/") or name.endswith(".DS_Store"):
            continue
        target = dest / name[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(z.read(name))
PY
echo "easy-VQA ${VERSION} (MIT) unpacked into $DEST: $(ls "$DEST/train/images" | wc -l) train, $(ls "$DEST/test/images" | wc -l) test images"
