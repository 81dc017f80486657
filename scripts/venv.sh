# Sourced by lab.sh and test.sh: make .venv (or $VENV) and install the package with the given extra.
# Usage: . scripts/venv.sh EXTRA
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[$1]"
