#!/usr/bin/env bash
# The main job on a fresh machine: a virtualenv with the lessons' stack, then JupyterLab on lesson 02.
# The simulator is used unless a kind cluster is the current kubectl context (or NPHELPERS_BACKEND=kind).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh lab
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)  # containers and CI machines often run as root
exec "$VENV/bin/jupyter" lab "${extra[@]}" notebooks/02-limit-traffic-to-an-application.ipynb "$@"
