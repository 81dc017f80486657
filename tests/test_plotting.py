"""The reachability pictures: right cells, right colours, honest titles, diffs, no leaks, scale."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.figure

matplotlib.use("Agg")  # headless, whatever the environment says

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from matplotlib.colors import to_rgb, to_rgba  # noqa: E402

from nphelpers import plotting  # noqa: E402
from nphelpers.cluster import ClusterState  # noqa: E402
from nphelpers.matrix import Reachability, reachability  # noqa: E402
from nphelpers.plotting import ALLOWED_COLOR, BLOCKED_COLOR, diff_cells, plot_matrix, pod_label_text  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "api-allow"


def _load(name: str) -> list[dict[str, Any]]:
    with open(EXAMPLES / name) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def _pod(name: str, labels: dict[str, str], namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]},
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@pytest.fixture
def before() -> ClusterState:
    """The api-allow lesson's pods, plus a second namespace, without the policy."""
    objects = _load("apiserver.yaml") + _load("clients.yaml")
    objects += [
        _namespace("staging"),
        _pod("web", {"app": "bookstore", "role": "frontend", "pod-template-hash": "5d8f"}, "staging"),
        _pod("db", {"app": "inventory", "app.kubernetes.io/name": "postgres"}, "staging"),
    ]
    return ClusterState.from_objects(objects)


@pytest.fixture
def after(before: ClusterState) -> ClusterState:
    state = before.copy()
    for obj in _load("api-allow.yaml"):
        state.apply(obj)
    return state


def _axes(fig: Any) -> Any:
    return next(ax for ax in fig.axes if any(im.get_gid() == "reachability" for im in ax.images))


def _by_gid(ax: Any, gid: str) -> Any:
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) <= 1
    return found[0] if found else None


def _centres(collection: Any) -> set[tuple[int, int]]:
    """(column, row) of each path in a data-coordinate collection."""
    out = set()
    for path in collection.get_paths():
        box = path.get_extents()
        out.add((round((box.x0 + box.x1) / 2), round((box.y0 + box.y1) / 2)))
    return out


def _cells(matrix: np.ndarray) -> set[tuple[int, int]]:
    rows, cols = np.nonzero(matrix)
    return set(zip(cols.tolist(), rows.tolist(), strict=True))


# -- the grid ----------------------------------------------------------------------------


def test_every_cell_has_its_colour_and_glyph(after: ClusterState) -> None:
    m = reachability(after)
    n = len(m.pods)
    assert n == 5 and not m.allowed.all()  # the policy blocks something
    ax = _axes(plot_matrix(m, after))

    image = next(im for im in ax.images if im.get_gid() == "reachability")
    rgba = image.to_rgba(image.get_array())[..., :3]
    assert rgba.shape == (n, n, 3)
    is_allowed = np.isclose(rgba, to_rgb(ALLOWED_COLOR)).all(axis=-1)
    is_blocked = np.isclose(rgba, to_rgb(BLOCKED_COLOR)).all(axis=-1)
    assert (is_allowed == m.allowed).all()
    assert (is_blocked == ~m.allowed).all()

    # Colour is not the only cue: one glyph per cell, of the matching kind.
    assert _centres(_by_gid(ax, "glyph-allowed")) == _cells(m.allowed)
    assert _centres(_by_gid(ax, "glyph-blocked")) == _cells(~m.allowed)
    assert len(_by_gid(ax, "glyph-allowed").get_paths()) == int(m.allowed.sum())


def test_colours_differ_in_lightness() -> None:
    """Readable in greyscale: WCAG contrast between the two is at least 3:1 (graphics)."""

    def luminance(colour: str) -> float:
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    light, dark = sorted((luminance(BLOCKED_COLOR), luminance(ALLOWED_COLOR)), reverse=True)
    assert (light + 0.05) / (dark + 0.05) >= 3


def test_title_names_port_protocol_and_policies(before: ClusterState, after: ClusterState) -> None:
    title = _axes(plot_matrix(reachability(after, port=80, protocol="TCP"), after)).get_title()
    assert "80/TCP" in title
    assert "default/api-allow" in title

    title = _axes(plot_matrix(reachability(before, port=443, protocol="UDP"), before)).get_title()
    assert "443/UDP" in title and "no policies" in title

    title = _axes(plot_matrix(reachability(after), after, title="Task 3")).get_title()
    assert title == "Task 3"


def test_tick_labels_show_pod_names_and_labels(after: ClusterState) -> None:
    m = reachability(after)
    ax = _axes(plot_matrix(m, after))
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == cols
    assert "apiserver\napp=bookstore,role=api" in rows
    assert "test-blocked\napp=other" in rows
    # Bookkeeping labels are left out, the lesson's labels kept.
    assert "web\napp=bookstore,role=frontend" in rows
    assert "db\napp=inventory" in rows
    # Rows are sources, in the matrix's order; column labels are rotated.
    assert [r.split("\n")[0] for r in rows] == [p.split("/")[1] for p in m.pods]
    assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())
    assert "from" in ax.get_ylabel() and "to" in ax.get_xlabel()

    plain = _axes(plot_matrix(m, after, show_labels=False))
    assert [t.get_text() for t in plain.get_yticklabels()] == [p.split("/")[1] for p in m.pods]
    no_state = _axes(plot_matrix(m))
    assert "apiserver" in [t.get_text() for t in no_state.get_yticklabels()]


def test_pod_label_text() -> None:
    assert pod_label_text({"role": "api", "app": "bookstore"}) == "app=bookstore,role=api"
    assert pod_label_text({"pod-template-hash": "x", "kubernetes.io/os": "linux", "app.kubernetes.io/name": "y"}) == ""
    assert pod_label_text({"example.com/team": "a"}) == "example.com/team=a"
    long = pod_label_text({"app": "x" * 80}, width=20)
    assert len(long) == 20 and long.endswith("…")


def test_namespace_blocks_are_separated_and_named(after: ClusterState) -> None:
    m = reachability(after)
    ax = _axes(plot_matrix(m, after))
    names = [t.get_text() for t in ax.texts if t.get_gid() == "namespace"]
    assert sorted(set(names)) == ["default", "staging"]
    assert names.count("default") == 2  # once for the rows, once for the columns
    # A separator at the default|staging boundary, across rows and across columns.
    boundary = sum(1 for p in m.pods if p.startswith("default/")) - 0.5
    lines = [line.get_xydata() for line in ax.lines]
    assert any(np.allclose(xy[:, 1], boundary) and xy[0, 0] == -0.5 for xy in lines)
    assert any(np.allclose(xy[:, 0], boundary) and xy[0, 1] == -0.5 for xy in lines)


def test_legend_explains_colours(after: ClusterState) -> None:
    legend = _axes(plot_matrix(reachability(after), after)).get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert any("allowed" in t for t in texts) and any("blocked" in t for t in texts)


# -- diffs -------------------------------------------------------------------------------


def test_diff_cells_lists_exactly_the_changes(before: ClusterState, after: ClusterState) -> None:
    old, new = reachability(before), reachability(after)
    changed = diff_cells(old, new)
    expected = [
        (src, "default/apiserver", True, False)
        for src in ("default/test-blocked", "staging/db", "staging/web")
    ]
    assert changed == expected
    assert diff_cells(new, new) == []
    assert diff_cells(new, old) == [(s, d, b, a) for s, d, a, b in expected]


def test_diff_needs_the_same_pods(before: ClusterState, after: ClusterState) -> None:
    with pytest.raises(ValueError, match="different pods"):
        diff_cells(reachability(before), reachability(after, pods=["default/apiserver"]))


def test_diff_mode_marks_exactly_the_changed_cells(before: ClusterState, after: ClusterState) -> None:
    old, new = reachability(before), reachability(after)
    ax = _axes(plot_matrix(new, after, compare=old))
    marks = _by_gid(ax, "changed-cells")
    assert len(marks.get_paths()) == 3
    assert _centres(marks) == _cells(old.allowed != new.allowed)
    # The drawn matrix is the "after" one.
    image = next(im for im in ax.images if im.get_gid() == "reachability")
    assert (np.asarray(image.get_array()).astype(bool) == new.allowed).all()
    title = ax.get_title()
    assert "3 cells changed" in title and "3 now blocked" in title and "before → after" in title
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("(3)" in t and "before → after" in t for t in legend)


def test_diff_mode_with_custom_labels_and_no_changes(after: ClusterState) -> None:
    m = reachability(after)
    ax = _axes(plot_matrix(m, after, compare=m, compare_label=("predicted", "observed")))
    assert _by_gid(ax, "changed-cells") is None
    assert "predicted → observed: 0 cells changed" in ax.get_title()


# -- figures and pyplot ------------------------------------------------------------------


def test_no_pyplot_figures_left_open(before: ClusterState, after: ClusterState) -> None:
    open_before = plt.get_fignums()
    fig = plot_matrix(reachability(after), after, compare=reachability(before))
    assert plt.get_fignums() == open_before
    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # still renders after pyplot let go of it
    assert buf.getvalue().startswith(b"\x89PNG")


def test_no_figure_leaks_when_drawing_fails(after: ClusterState, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(plotting, "_draw_legend", broken)
    open_before = plt.get_fignums()
    with pytest.raises(RuntimeError):
        plot_matrix(reachability(after), after)
    assert plt.get_fignums() == open_before


def test_figure_is_sized_to_its_content(after: ClusterState) -> None:
    fig = plot_matrix(reachability(after), after)
    width, height = fig.get_size_inches()
    assert 3 < width < 12 and 3 < height < 12
    bbox = _axes(fig).get_position()
    assert abs(bbox.width * width - bbox.height * height) < 1e-6  # square cells


def test_draws_into_a_given_axes(before: ClusterState, after: ClusterState) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 8), layout="constrained")
    try:
        assert plot_matrix(reachability(before), before, ax=left) is fig
        assert plot_matrix(reachability(after), after, ax=right, compare=reachability(before)) is fig
        assert len(_by_gid(right, "changed-cells").get_paths()) == 3
        fig.savefig(io.BytesIO(), format="png")
    finally:
        plt.close(fig)
    root = matplotlib.figure.Figure(figsize=(8, 8))
    sub_ax = root.subfigures(1, 1).add_subplot()
    assert plot_matrix(reachability(after), after, ax=sub_ax) is root  # the root, not the SubFigure


def test_empty_matrix() -> None:
    fig = plot_matrix(Reachability(80, "TCP", [], np.zeros((0, 0), dtype=bool)))
    ax = _axes(fig)
    assert any(t.get_text() == "no pods" for t in ax.texts)
    fig.savefig(io.BytesIO(), format="png")


# -- scale -------------------------------------------------------------------------------


def _big_cluster(namespaces: int = 10, per_namespace: int = 20) -> ClusterState:
    objects: list[dict[str, Any]] = []
    for k in range(namespaces):
        ns = f"team-{k:02d}"
        objects.append(_namespace(ns))
        for i in range(per_namespace):
            objects.append(_pod(f"svc-{i:02d}", {"app": f"a{i % 4}", "tier": "db" if i % 3 == 0 else "web"}, ns))
        objects.append({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "db-only-web", "namespace": ns},
            "spec": {
                "podSelector": {"matchLabels": {"tier": "db"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "web"}}}]}],
            },
        })
    return ClusterState.from_objects(objects)


def test_200_pods_render_without_per_cell_detail() -> None:
    state = _big_cluster()
    m = reachability(state)
    assert len(m.pods) == 200
    relaxed = state.copy()
    del relaxed.policies["team-03/db-only-web"]
    other = reachability(relaxed)

    # What keeps it quick is checked below (no per-cell artists); timings belong in benchmarks/.
    fig = plot_matrix(other, relaxed, compare=m)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")

    ax = _axes(fig)
    assert _by_gid(ax, "glyph-allowed") is None and _by_gid(ax, "glyph-blocked") is None
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert 0 < len(labels) <= 200 and all("\n" not in t for t in labels)  # names only, maybe thinned
    assert all(t.get_fontsize() >= 5 for t in ax.get_yticklabels())
    changed = diff_cells(m, other)
    assert changed and len(_by_gid(ax, "changed-cells").get_paths()) == len(changed)
    assert f"{len(changed)} cells changed" in ax.get_title()
    assert max(fig.get_size_inches()) < 20
    image = next(im for im in ax.images if im.get_gid() == "reachability")
    rgba = image.to_rgba(image.get_array())
    assert int(np.isclose(rgba, to_rgba(ALLOWED_COLOR)).all(axis=-1).sum()) == int(other.allowed.sum())


# -- Jupyter -----------------------------------------------------------------------------


def test_displays_exactly_once_in_a_notebook() -> None:
    """As a cell's value the figure renders once (not again by the inline backend at the
    end of the cell); assigned, it does not render; pyplot keeps nothing open."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    setup = (
        "import numpy as np\n"
        "from nphelpers.matrix import Reachability\n"
        "from nphelpers.plotting import plot_matrix\n"
        "m = Reachability(80, 'TCP', ['a/x', 'a/y'], np.array([[True, False], [True, True]]))\n"
    )
    cells = [setup + "plot_matrix(m)", "fig = plot_matrix(m)", "import matplotlib.pyplot as plt\nplt.get_fignums()"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    root = str(Path(__file__).resolve().parent.parent)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": root}})
    try:
        client.execute()
    except Exception as exc:  # no usable kernel here (e.g. sandboxed CI): not this module's bug
        if type(exc).__name__ in ("NoSuchKernel", "DeadKernelError", "CellTimeoutError", "RuntimeError"):
            pytest.skip(f"no working Jupyter kernel: {exc}")
        raise
    images = [[o for o in c.outputs if "image/png" in o.get("data", {})] for c in nb.cells]
    assert [len(i) for i in images] == [1, 0, 0]
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "[]"
