#!/usr/bin/env python3
"""Build lesson notebooks from their reviewable sources: notebooks/src/NN-slug.md -> notebooks/NN-slug.ipynb.

A source is Markdown. Every fenced block opened with ```python is a code cell; the text between
code cells is one markdown cell each (other fences, such as ```yaml or ```bash, stay markdown).
Cell tags follow the fence's info string: ```python tags=nbval-ignore-output,another-tag.

The notebook is written without outputs; scripts/execute-notebooks.sh then runs it and stores
the outputs that nbval compares:

    scripts/build-notebooks.py                      # every source in notebooks/src/
    scripts/build-notebooks.py notebooks/src/01-*.md
    scripts/execute-notebooks.sh notebooks/01-*.ipynb
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
FENCE = re.compile(r"^```python(?:\s+tags=(?P<tags>[\w,-]+))?\s*$")

METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "pygments_lexer": "ipython3"},
}


def cells_of(text: str, where: str) -> list[nbformat.NotebookNode]:
    """The notebook cells a source holds, in order."""
    cells: list[nbformat.NotebookNode] = []
    prose: list[str] = []
    code: list[str] | None = None
    tags: list[str] = []

    def flush_prose() -> None:
        body = "\n".join(prose).strip("\n")
        if body.strip():
            cells.append(nbformat.v4.new_markdown_cell(body))
        prose.clear()

    for number, line in enumerate(text.splitlines(), 1):
        if code is None:
            match = FENCE.match(line)
            if match:
                flush_prose()
                code, tags = [], (match.group("tags") or "").split(",") if match.group("tags") else []
            else:
                prose.append(line)
        elif line.strip() == "```":
            cell = nbformat.v4.new_code_cell("\n".join(code).strip("\n"))
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)
            code = None
        else:
            code.append(line)
            if line.startswith("```"):
                raise SystemExit(f"{where}:{number}: a fence inside a python cell; close the cell first")
    if code is not None:
        raise SystemExit(f"{where}: a python cell is not closed")
    flush_prose()
    return cells


def build(source: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata=METADATA)
    nb.cells = cells_of(source.read_text(encoding="utf-8"), str(source))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{source.stem[:40]}-{i}"  # stable ids: rebuilding changes nothing that was not edited
    nbformat.validate(nb)
    target = ROOT / "notebooks" / f"{source.stem}.ipynb"
    nbformat.write(nb, target)
    return target


def main(argv: list[str]) -> int:
    sources = [Path(a) for a in argv] or sorted(SOURCES.glob("*.md"))
    for source in sources:
        print(f"built {build(source).relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
