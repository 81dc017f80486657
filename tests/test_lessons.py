"""Lessons 01, 02a, 03-07 and 09-12: their sources, their exercises and their stored outputs.

* Each notebook is what ``scripts/build-notebooks.py`` makes of its source in ``notebooks/src/``.
* Each lesson's exercise is the catalogue's (``nphelpers.catalog``): the lab the notebook has built
  when it starts the exercise is exactly the exercise's starting state (pods, Services, policies,
  namespaces and their labels), the attempt the notebook stores fails the check and the reference
  solution passes it there. (``tests/test_exercises.py`` checks each exercise on its own: its
  solution, and typical wrong answers with their hints.)
* Cells tagged ``nbval-ignore-output`` are only the ``Lab(...)`` cells, and every other cell prints
  the same on the live backend (over the in-memory Kubernetes API) as the stored outputs.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nphelpers import Lab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
SOURCES = sorted((NOTEBOOKS / "src").glob("*.md"))
IGNORE_TAG = "nbval-ignore-output"


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build-notebooks.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _notebook(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)


def _code(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_sources_cover_the_lessons() -> None:
    assert [s.stem[:3] for s in SOURCES] == ["01-", "02a", "03-", "04-", "05-", "06-", "07-", "09-", "10-", "11-",
                                             "12-", "13-", "14-"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_built_from_its_source(source: Path) -> None:
    built = _builder().cells_of(source.read_text(encoding="utf-8"), str(source))
    stored = _notebook(source.stem).cells
    assert [(c.cell_type, c.source, c.metadata.get("tags")) for c in stored] == [
        (c.cell_type, c.source, c.metadata.get("tags")) for c in built
    ], "run scripts/build-notebooks.py and scripts/execute-notebooks.sh"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_only_the_lab_cell_is_ignored_by_nbval(source: Path) -> None:
    for cell in _code(_notebook(source.stem)):
        tags = cell.metadata.get("tags", [])
        assert set(tags) <= {IGNORE_TAG}, tags
        assert (IGNORE_TAG in tags) == ("Lab(" in cell.source), cell.source
        assert "NBVAL" not in cell.source, "markers are cell tags, not comments in the student's cell"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_lesson_shape(source: Path) -> None:
    nb = _notebook(source.stem)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for part in ("**After this lesson you can**", "**Time:**", "**Predict.**", "## Summary", "## Cleanup"):
        assert part in text, part
    assert "](README.md)" in text, "no link back to the index"
    for link in re.findall(r"\]\(([^)]+\.ipynb)\)", text):
        assert (NOTEBOOKS / link).is_file(), link
    assert _code(nb)[-1].source == "lab.cleanup()"
    pages = sum("<title>Welcome to nginx!</title>" in o.get("text", "") for c in _code(nb) for o in c.outputs)
    assert pages <= 1, "nginx's page in full more than once"
    for cell in _code(nb):  # tables (matrices, probe lists) fit ~100 columns; prose (explain, hints, errors) wraps
        if IGNORE_TAG in cell.metadata.get("tags", []):
            continue
        for out in cell.outputs:
            for line in (out.get("text") or out.get("data", {}).get("text/plain", "")).splitlines():
                prose = line.startswith(("  egress", "  ingress", "hint: ", "Rules: ", "$ ", "error: ")) or any(
                    mark in line for mark in (". ", "; ", " map[")  # sentences, commands, kubectl's label maps
                ) or (line.startswith("  ") and ": " in line)  # a check's findings
                assert len(line) <= 100 or prose, line


# -- the exercises: the catalogue's, started where the lesson stands ----------------------

# lesson -> its notebook and the catalogue's exercise
LESSON_EXERCISES = {
    "01": ("01-deny-all-traffic-to-an-application", "01-deny-all"),
    "02a": ("02a-allow-all-traffic-to-an-application", "02a-allow-all-pods"),
    "03": ("03-default-deny-in-a-namespace", "03-default-deny"),
    "04": ("04-deny-traffic-from-other-namespaces", "04-other-namespaces"),
    "06": ("06-allow-traffic-from-a-namespace", "06-from-namespace"),
    "07": ("07-allow-traffic-from-some-pods-in-another-namespace", "07-and-not-or"),
    "09": ("09-allow-traffic-only-to-a-port", "09-named-port"),
    "10": ("10-allow-traffic-from-multiple-selectors", "10-multiple-selectors"),
    "11": ("11-deny-egress-from-an-application", "11-dns-only"),
    "12": ("12-default-deny-egress-in-a-namespace", "12-deny-egress-dns"),
    "13": ("13-limit-egress-to-some-pods", "13-egress-to-api"),
    "14": ("14-deny-external-egress", "14-cluster-only"),
}


def test_every_lesson_with_an_exercise_is_listed() -> None:
    from nphelpers.catalog import EXERCISES

    lessons = {e.lesson for e in EXERCISES.values()} - {"02"}
    assert set(LESSON_EXERCISES) == lessons
    assert all(EXERCISES[ex].lesson == lesson for lesson, (_, ex) in LESSON_EXERCISES.items())


def _replay_until_the_exercise(stem: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[str]]:
    """Run the notebook's cells on the simulator, silently, up to the cell that starts the exercise;
    the scope and the cells from there on."""
    monkeypatch.chdir(NOTEBOOKS)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    cells = [c.source for c in _code(_notebook(stem))]
    start = next(i for i, c in enumerate(cells) if "lab.start_exercise(" in c)
    scope: dict[str, Any] = {}
    for code in cells[:start]:
        code = code.replace("Lab(namespace=", 'Lab(backend="simulated", out=False, namespace=')
        exec(compile(code, f"<{stem}>", "exec"), scope)
    return scope, cells[start:]


def _picture(lab: Lab) -> dict[str, Any]:
    """What an exercise starts from, without the lab's bookkeeping: objects by namespace/name."""
    from nphelpers.arguments import MANAGED_BY

    state = lab.state()

    def labels(obj: Any) -> dict[str, str]:
        return {k: v for k, v in obj.labels.items() if k != MANAGED_BY}

    return {
        "pods": {k: (labels(p), p.image, p.ports) for k, p in state.pods.items()},
        "services": {k: (s.selector, s.ports) for k, s in state.services.items()},
        "policies": {k: p.manifest["spec"] for k, p in state.policies.items()},
        "namespaces": {n: labels(ns) for n, ns in state.namespaces.items() if n in lab.namespaces},
    }


@pytest.mark.parametrize("lesson", sorted(LESSON_EXERCISES))
def test_the_exercise_starts_where_the_lesson_stands(lesson: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from nphelpers.catalog import EXERCISES

    stem, exercise_id = LESSON_EXERCISES[lesson]
    scope, rest = _replay_until_the_exercise(stem, monkeypatch)
    assert f'EXERCISES["{exercise_id}"]' in rest[0]
    lesson_lab: Lab = scope["lab"]  # type: ignore[assignment]
    fresh = Lab(backend="simulated", namespace=lesson_lab.namespace, out=False)
    fresh.start_exercise(EXERCISES[exercise_id])
    assert _picture(lesson_lab) == _picture(fresh)


@pytest.mark.parametrize("lesson", sorted(LESSON_EXERCISES))
def test_the_stored_attempt_fails_and_the_solution_passes_in_the_lesson(
    lesson: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nphelpers.catalog import EXERCISES

    stem, exercise_id = LESSON_EXERCISES[lesson]
    scope, rest = _replay_until_the_exercise(stem, monkeypatch)
    exec(compile(rest[0], f"<{stem}>", "exec"), scope)
    attempt = next(c for c in rest if c.startswith('answer = """'))
    assert "lab.check(exercise, answer)" in attempt
    exec(compile(attempt, f"<{stem}>", "exec"), scope)
    assert not scope["result"], "the stored attempt is the one the learner repairs: it must fail"
    lab: Lab = scope["lab"]  # type: ignore[assignment]
    exercise = EXERCISES[exercise_id]
    assert lab.check(exercise, SOLUTIONS / str(exercise.solution))


# -- the live backend prints the stored outputs -------------------------------------------


class _Stdout:
    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_stored_outputs_hold_on_the_live_backend(
    source: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every cell, run on the live backend over ``tests/fake_kube.py``, prints its stored stdout
    (the tagged ``Lab(...)`` cell is run on that backend but not compared)."""
    from nphelpers import kubectl
    from tests.fake_kube import NGINX_PAGE
    from tests.test_notebooks import _kind_sanitized, fake_live_backend

    nb = _notebook(source.stem)
    monkeypatch.chdir(NOTEBOOKS)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    backend = fake_live_backend()
    scope: dict[str, object] = {"_backend": backend, "_out": _Stdout()}
    differences = []
    for cell in _code(nb):
        code = cell.source
        ignored = IGNORE_TAG in cell.metadata.get("tags", [])
        if ignored:
            namespace = re.search(r'Lab\(namespace="([^"]+)"', code).group(1)  # type: ignore[union-attr]
            code = code.replace("Lab(namespace=", "Lab(_backend, out=_out, namespace=")
            backend.namespace = namespace
            backend._touched_namespaces = {namespace}
        capsys.readouterr()
        exec(compile(code, f"<{source.stem} cell {cell.execution_count}>", "exec"), scope)
        printed = capsys.readouterr().out.replace(NGINX_PAGE, kubectl.nginx_index())
        stored = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        if not ignored and _kind_sanitized(printed) != _kind_sanitized(stored):  # as the kind workflow compares
            differences.append(f"cell {cell.execution_count}: {code.splitlines()[0]}\n--- stored\n{stored}"
                               f"--- live\n{printed}")
    assert not differences, "\n".join(differences)


# -- the kind workflow runs every notebook ---------------------------------------------------


def test_the_kind_workflow_runs_every_notebook_once() -> None:
    """The parallel jobs of .github/workflows/kind.yml cover notebooks/*.ipynb, each notebook in one job."""
    import fnmatch

    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "kind.yml").read_text())
    job = workflow["jobs"]["notebooks-on-kind"]
    runs_on_kind = [step.get("run") or "" for step in job["steps"]]
    # Every job runs its group of notebooks, addresses masked by the kind sanitizer (notebooks/README.md).
    assert any(run.startswith("pytest --nbval ${{ matrix.notebooks }} ") and
               "--nbval-sanitize-with notebooks/kind-sanitize.cfg" in run for run in runs_on_kind)
    groups = [entry["notebooks"].split() for entry in job["strategy"]["matrix"]["include"]]
    names = sorted(p.relative_to(ROOT).as_posix() for p in NOTEBOOKS.glob("*.ipynb"))
    runs = {name: sum(any(fnmatch.fnmatchcase(name, g) for g in group) for group in groups) for name in names}
    assert runs == {name: 1 for name in names}
