#!/usr/bin/env bash
# The whole test suite on a fresh machine: a virtualenv, the package with its test extra,
# Debian's chromium for the browser test (when apt is usable), ruff, pytest and nbval.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh test

# The browser test drives Debian's chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed and cannot be installed here; the browser test will be skipped" >&2
  fi
fi

"$VENV/bin/ruff" check nphelpers tests benchmarks
# Simulator by default, whatever the machine's kubeconfig says; the kind workflow sets NPHELPERS_BACKEND=kind.
export NPHELPERS_BACKEND=${NPHELPERS_BACKEND:-simulated}
"$VENV/bin/python" -m pytest tests --nbval notebooks "$@"
