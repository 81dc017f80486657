#!/usr/bin/env bash
# Re-run the lesson notebooks on the simulator and store their outputs in place: the outputs
# that `pytest --nbval notebooks/` compares (on the simulator here, on kind in CI).
#
#   scripts/execute-notebooks.sh                 # every notebook in notebooks/
#   scripts/execute-notebooks.sh notebooks/02-*.ipynb
#
# Then strips what changes on every run without meaning anything (execution timings in cell
# metadata, widget state and widget views (their static pictures stay), stdout split at random flush points), so that a
# regenerated notebook only differs from the committed one where an output really changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
export NPHELPERS_BACKEND=simulated  # stored outputs come from the simulator, whatever kubectl's context is

if [ "$#" -gt 0 ]; then
  notebooks=("$@")
else
  notebooks=(notebooks/*.ipynb)
fi

for nb in "${notebooks[@]}"; do
  echo "executing $nb" >&2
  "$VENV/bin/jupyter" nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.kernel_name=python3 "$nb"
done

"$VENV/bin/python" - "${notebooks[@]}" <<'PY'
"""Make executed notebooks stable: strip volatile metadata, merge split streams, drop widget views."""
import sys

import nbformat

VOLATILE_CELL_KEYS = ("execution", "collapsed", "scrolled", "ExecuteTime")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def stable_outputs(outputs):
    merged = []
    for out in outputs:
        if WIDGET_VIEW in out.get("data", {}):
            # A widget view names a model by a random id, and without the widget state (stripped
            # below) a stored view cannot be shown anyway: the widget appears when the cell runs.
            # What stays is the widget's static picture (text/html, text/plain) for GitHub and
            # nbviewer; an output with nothing else is dropped.
            del out["data"][WIDGET_VIEW]
            if not any(k.startswith("text/") for k in out["data"]):
                continue
        if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                and merged[-1].name == out.name):
            # The kernel flushes stdout at arbitrary points; one stream per run of text.
            merged[-1].text += out.text
            continue
        merged.append(out)
    return merged


for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)  # ipywidgets' saved state: model ids, changes every run
    for cell in nb.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = stable_outputs(cell.outputs)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"stripped {path}", file=sys.stderr)
PY
