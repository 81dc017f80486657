"""Lessons 01, 02a and 03-07: their sources, their exercises and their stored outputs.

* Each notebook is what ``scripts/build-notebooks.py`` makes of its source in ``notebooks/src/``.
* Each exercise's reference solution (``notebooks/solutions/``) reaches the lesson's goal from the
  state the lesson is in at the exercise, and typical wrong answers (among them the attempt the
  notebook stores) do not.
* Cells tagged ``nbval-ignore-output`` are only the ``Lab(...)`` cells, and every other cell prints
  the same on the live backend (over the in-memory Kubernetes API) as the stored outputs.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from nphelpers import Lab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
MANIFESTS = NOTEBOOKS / "manifests"
SOLUTIONS = NOTEBOOKS / "solutions"
SOURCES = sorted((NOTEBOOKS / "src").glob("*.md"))
IGNORE_TAG = "nbval-ignore-output"
OUTSIDE = "203.0.113.7"


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
    assert [s.stem[:3] for s in SOURCES] == ["01-", "02a", "03-", "04-", "05-", "06-", "07-"]


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
    for cell in _code(nb):  # tables (matrices, probe lists) fit ~100 columns; explain's prose wraps
        if IGNORE_TAG in cell.metadata.get("tags", []):
            continue
        for out in cell.outputs:
            for line in (out.get("text") or out.get("data", {}).get("text/plain", "")).splitlines():
                assert len(line) <= 100 or line.startswith(("  egress", "  ingress")), line


# -- the exercises ------------------------------------------------------------------------


def _lab(namespace: str) -> Lab:
    return Lab(backend="simulated", namespace=namespace, out=None)


def _allowed(lab: Lab, source: str, destination: str) -> bool:
    return lab.verdict(source, destination).allowed


def _pods(lab: Lab) -> list[str]:
    return sorted(k for k in lab.state().pods if not k.startswith("kube-system/"))


def _pairs_match(lab: Lab, goal: Callable[[str, str], bool]) -> bool:
    pods = _pods(lab)
    return all(_allowed(lab, s, d) == goal(s, d) for s in pods for d in pods if s != d)


def setup_01() -> Lab:
    lab = _lab("lesson-01")
    lab.run("web", image="nginx", labels="app=web", port=80, expose=True)
    lab.run("api", image="nginx", labels="app=api", port=80, expose=True)
    lab.run("client", image="alpine", labels="app=client")
    return lab


def goal_01(lab: Lab) -> bool:
    return _pairs_match(lab, lambda s, d: d != "lesson-01/web")


def setup_02a() -> Lab:
    lab = _lab("lesson-02a")
    lab.run("web", image="nginx", labels="app=web", port=80, expose=True)
    lab.run("client", image="alpine", labels="app=client")
    lab.apply(MANIFESTS / "02a-other-namespace.yaml")
    lab.apply(MANIFESTS / "web-deny-all.yaml")
    return lab


def goal_02a(lab: Lab) -> bool:
    pods = ["lesson-02a/client", "lesson-02a-other/client"]
    return all(_allowed(lab, p, "web") for p in pods) and not _allowed(lab, OUTSIDE, "web")


def setup_03() -> Lab:
    lab = _lab("lesson-03")
    for tier in ("frontend", "backend", "db"):
        lab.run(tier, image="nginx", labels=f"tier={tier}", port=80, expose=True)
    lab.apply(MANIFESTS / "default-deny-all.yaml")
    lab.run("cache", image="nginx", labels="tier=cache", port=80, expose=True)
    return lab


def goal_03(lab: Lab) -> bool:
    paths = {("lesson-03/frontend", "lesson-03/backend"), ("lesson-03/backend", "lesson-03/db")}
    return _pairs_match(lab, lambda s, d: (s, d) in paths)


def setup_04() -> Lab:
    lab = _lab("secondary")
    lab.run("web", image="nginx", labels="app=web", port=80, expose=True)
    lab.run("client", image="alpine", labels="app=client")
    lab.apply(MANIFESTS / "04-other-namespace.yaml")
    lab.apply(MANIFESTS / "deny-from-other-namespaces.yaml")
    return lab


def goal_04(lab: Lab) -> bool:
    return _pairs_match(lab, lambda s, d: s.split("/")[0] == d.split("/")[0])


def setup_06() -> Lab:
    lab = _lab("lesson-06")
    lab.run("web", image="nginx", labels="app=web", port=80, expose=True)
    lab.apply(MANIFESTS / "06-namespaces.yaml")
    lab.label("dev", "purpose=testing", kind="namespace")
    lab.label("prod", "purpose=production", kind="namespace")
    return lab


def goal_06(lab: Lab) -> bool:
    lab.label("dev", "purpose=production", kind="namespace")  # whatever labels dev gets
    try:
        return _allowed(lab, "prod/client", "web") and not _allowed(lab, "dev/client", "web")
    finally:
        lab.label("dev", "purpose=testing", kind="namespace")


def setup_07() -> Lab:
    lab = _lab("lesson-07")
    lab.run("web", image="nginx", labels="app=web", port=80, expose=True)
    lab.run("client", image="alpine", labels="app=client")
    lab.run("monitor", image="alpine", labels="type=monitoring")
    lab.apply(MANIFESTS / "07-other-namespace.yaml")
    lab.label("other", "team=operations", kind="namespace")
    lab.apply(MANIFESTS / "web-allow-all-ns-monitoring-or.yaml")
    return lab


def goal_07(lab: Lab) -> bool:
    four = ["lesson-07/client", "lesson-07/monitor", "other/client", "other/monitor"]
    return [_allowed(lab, s, "web") for s in four] == [False, False, False, True]


def _policy(name: str, spec: str, namespace: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata:\n  name: {name}{ns}\nspec:\n{spec}"


WEB = "  podSelector:\n    matchLabels:\n      app: web\n"

# lesson -> (notebook, setup, goal, solution, typical wrong answers besides the notebook's attempt)
EXERCISES = {
    "01": ("01-deny-all-traffic-to-an-application", setup_01, goal_01, "01-isolate-web.yaml", [
        _policy("isolate-web", WEB + "  ingress:\n  - {}\n"),
        _policy("isolate-web", "  podSelector:\n    matchLabels:\n      app: api\n  ingress: []\n"),
    ]),
    "02a": ("02a-allow-all-traffic-to-an-application", setup_02a, goal_02a, "02a-web-allow-cluster.yaml", [
        _policy("web-allow-cluster", WEB + "  ingress:\n  - from:\n    - podSelector: {}\n"),
        _policy("web-allow-cluster", WEB + "  ingress:\n  - from: []\n"),
    ]),
    "03": ("03-default-deny-in-a-namespace", setup_03, goal_03, "03-allow-tiers.yaml", [
        (SOLUTIONS / "03-allow-tiers.yaml").read_text().split("---")[0],  # only the first of the two
        _policy("tiers", "  podSelector: {}\n  ingress:\n  - from:\n    - podSelector: {}\n"),
    ]),
    "04": ("04-deny-traffic-from-other-namespaces", setup_04, goal_04, "04-deny-from-other-namespaces.yaml", [
        _policy("wall", "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector: {}\n", "lesson-04"),
        _policy("wall", "  podSelector: {}\n  ingress: []\n", "lesson-04"),
    ]),
    "06": ("06-allow-traffic-from-a-namespace", setup_06, goal_06, "06-web-allow-prod-only.yaml", [
        (MANIFESTS / "web-allow-prod-by-name-label.yaml").read_text(),
        _policy("p", WEB + "  ingress:\n  - from:\n    - namespaceSelector: {}\n"),
    ]),
    "07": ("07-allow-traffic-from-some-pods-in-another-namespace", setup_07, goal_07,
           "07-web-allow-all-ns-monitoring.yaml", [
        _policy("web-allow-all-ns-monitoring", WEB + "  ingress:\n  - from:\n    - namespaceSelector:\n"
                "        matchLabels:\n          team: operations\n"),
    ]),
}


def _stored_attempt(stem: str) -> str:
    cell = next(c for c in _code(_notebook(stem)) if c.source.startswith('answer = """'))
    return cell.source.split('"""')[1]


@pytest.mark.parametrize("lesson", sorted(EXERCISES))
def test_the_reference_solution_reaches_the_goal(lesson: str) -> None:
    _, setup, goal, solution, _ = EXERCISES[lesson]
    lab = setup()
    assert not goal(lab), "the goal must not hold before the learner does anything"
    lab.apply(SOLUTIONS / solution)
    assert goal(lab)


@pytest.mark.parametrize("lesson", sorted(EXERCISES))
def test_typical_wrong_answers_miss_the_goal(lesson: str) -> None:
    stem, setup, goal, _, wrong = EXERCISES[lesson]
    answers = [_stored_attempt(stem), *wrong]
    assert len(answers) >= 2
    for answer in answers:
        lab = setup()
        lab.apply(answer)
        assert not goal(lab), answer


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
    from nphelpers.backends.live import LiveBackend
    from tests.fake_kube import NGINX_PAGE, FakeKube

    nb = _notebook(source.stem)
    monkeypatch.chdir(NOTEBOOKS)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    backend = LiveBackend("kind-test", api=FakeKube(), namespace="lab")  # type: ignore[arg-type]
    backend.settle = 0.2
    backend._poll_interval = 0.0
    backend._sleep = lambda seconds: None
    scope: dict[str, object] = {"_backend": backend, "_out": _Stdout()}
    differences, known = [], []
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
        if not ignored and printed != stored and code == "lab.cleanup()" and sorted(
            printed.splitlines()
        ) == sorted(stored.splitlines()):
            # Known: across several namespaces the live backend deletes in another order (issue 7's
            # one-renderer work makes both backends print the same cleanup). Only the order may differ.
            known.append(f"cell {cell.execution_count}")
            continue
        if not ignored and printed != stored:
            differences.append(f"cell {cell.execution_count}: {code.splitlines()[0]}\n--- stored\n{stored}"
                               f"--- live\n{printed}")
    assert not differences, "\n".join(differences)
    if known:
        pytest.xfail("the live backend deletes objects of several namespaces in another order: " + ", ".join(known))
