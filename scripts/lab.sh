#!/usr/bin/env bash
# The main job on a fresh machine: a virtualenv with the lessons' stack, then JupyterLab on lesson 02.
# The simulator is used unless a kind cluster is the current kubectl context (or NPHELPERS_BACKEND=kind).
#
# JupyterLab serves the repository's root (so the lessons' links to kind/README.md and the other
# notebooks work) and opens lesson 02. The install is skipped when pyproject.toml has not changed
# since the last one (the package is installed in editable mode: code changes need no reinstall).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

stamp="$VENV/.nphelpers-lab-installed"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) lab"
if [ -x "$VENV/bin/jupyter" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  echo "lab.sh: $VENV is up to date with pyproject.toml (delete $stamp to reinstall)" >&2
else
  . scripts/venv.sh lab
  echo "$wanted" > "$stamp"
fi

# The project's JupyterLab defaults (no news pop-up, no widget state saved in the notebooks).
export JUPYTER_CONFIG_PATH="$PWD/jupyter${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)  # containers and CI machines often run as root
exec "$VENV/bin/jupyter" lab "${extra[@]}" --ServerApp.root_dir="$PWD" \
  --LabApp.default_url=/lab/tree/notebooks/02-limit-traffic-to-an-application.ipynb "$@"
