#!/usr/bin/env bash
# tests/lib/venv.sh — one pinned Python venv for a test peer, sourced by tests/*/setup.sh.
#
#   pinned_venv VENV MODULE PIN...
#
# Creates VENV (python3 -m venv) and pip-installs the pinned wheels, unless VENV/.msao-pins
# already records exactly these pins (then nothing is fetched). Checks that MODULE imports.
# Prints `setup.sh: ready: VENV (...)` as its last line on success; exits non-zero with one
# line `setup.sh: error: ...` on stderr otherwise. Network: PyPI only. Env: PYTHON (default
# python3).

say() { printf 'setup.sh: %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

pinned_venv() {
  local venv="$1" module="$2"
  shift 2
  local pins="$*"
  local python="${PYTHON:-python3}"
  if [[ -f "$venv/.msao-pins" && "$(cat "$venv/.msao-pins")" == "$pins" ]]; then
    say "ready: $venv ($pins, already installed)"
    return 0
  fi
  command -v "$python" >/dev/null 2>&1 || die "$python not found (set PYTHON)"
  mkdir -p "$(dirname "$venv")"
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv" || die "python3 -m venv $venv failed"
  rm -f "$venv/.msao-pins"
  local log="$venv/pip-install.log"
  say "installing $pins into $venv (log: $log)"
  # shellcheck disable=SC2086 # the pins are separate words
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
      --only-binary=:all: $pins >"$log" 2>&1; then
    local reason
    reason="$(grep -E 'ERROR|error:' "$log" | tail -n 1)"
    die "pip install of $pins failed (is PyPI reachable?): ${reason:-see $log}"
  fi
  "$venv/bin/python" -c "import $module" 2>>"$log" || die "$module does not import (see $log)"
  printf '%s' "$pins" >"$venv/.msao-pins"
  say "ready: $venv ($pins)"
}
