#!/usr/bin/env bash
# The main job on a fresh machine: a virtualenv with the lessons' stack, then JupyterLab on lesson 02.
# The simulator is used unless a kind cluster is the current kubectl context (or NPHELPERS_BACKEND=kind).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[lab]"
exec "$VENV/bin/jupyter" lab notebooks/02-limit-traffic-to-an-application.ipynb "$@"
