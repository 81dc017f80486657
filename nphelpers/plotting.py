"""Pictures of reachability matrices for the notebooks.

:func:`plot_matrix` draws who-can-connect-to-whom as a grid: rows are sources ("from"),
columns are destinations ("to"), pods grouped by namespace. Allowed and blocked cells
differ in lightness (dark blue / light orange, safe for colour-blind readers and in
greyscale) *and* carry a ✓ / ✗ glyph, so colour is never the only cue. Given a second
matrix it becomes a diff: changed cells are outlined (dotted when cells are tiny) and
counted. Past :data:`DETAIL_LIMIT` pods glyphs and label lines give way to legibility.

Only matplotlib is needed, and the rest of the package imports this module lazily. Figures
are built through pyplot (so Jupyter's inline backend is loaded and has registered its PNG
formatter for ``Figure``) and closed before they are returned: pyplot keeps no reference,
so nothing leaks and the inline backend does not re-show them at the end of the cell. A
returned figure displays exactly once, when it is the cell's value or given to ``display()``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import font_manager, ft2font, patheffects
from matplotlib.artist import Artist
from matplotlib.collections import LineCollection, PatchCollection, PathCollection
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Rectangle
from matplotlib.path import Path
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D, ScaledTranslation, offset_copy

from .matrix import Reachability

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .cluster import ClusterState

__all__ = [
    "ALLOWED_COLOR",
    "BLOCKED_COLOR",
    "CHANGED_COLOR",
    "SELF_COLOR",
    "SELF_LABEL",
    "DETAIL_LIMIT",
    "diff_cells",
    "plot_matrix",
    "pod_label_text",
]

# Dark blue / light orange: a colour-blind-safe pair (ColorBrewer PuOr/RdBu family) that
# also differs strongly in lightness, so it survives greyscale printing.
ALLOWED_COLOR = "#2166AC"
BLOCKED_COLOR = "#FDB863"
CHANGED_COLOR = "#111111"
SELF_COLOR = "#E8E8E8"  # a pod to itself: always allowed (the docs: a pod cannot block access to itself)
SELF_LABEL = "self (always allowed)"
_ALLOWED_INK = "#FFFFFF"  # glyph colour on an allowed cell
_BLOCKED_INK = "#5B3A00"  # glyph colour on a blocked cell
_SEPARATOR_COLOR = "#222222"

# Above this many pods the per-cell glyphs, cell grid and pod-label lines are dropped.
DETAIL_LIMIT = 40

# Label keys that are bookkeeping rather than something a lesson selects on.
_NOISE_KEYS = frozenset({"pod-template-hash", "controller-revision-hash", "pod-template-generation"})
_NOISE_DOMAINS = ("kubernetes.io", "k8s.io")


def diff_cells(a: Reachability, b: Reachability) -> list[tuple[str, str, bool, bool]]:
    """Cells whose verdict differs: ``(source, destination, a_allowed, b_allowed)`` (:meth:`Reachability.diff`)."""
    return a.diff(b)


def pod_label_text(labels: Mapping[str, str], width: int = 34) -> str:
    """A pod's labels as one compact line (``app=bookstore,role=api``), noise skipped, ≤ ``width`` chars."""
    parts = [f"{k}={v}" for k, v in sorted(labels.items()) if not _is_noise(k)]
    text = ",".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def plot_matrix(
    matrix: Reachability,
    state: ClusterState | None = None,
    *,
    title: str | None = None,
    compare: Reachability | None = None,
    compare_label: tuple[str, str] = ("before", "after"),
    ax: Axes | None = None,
    show_labels: bool = True,
) -> Figure:
    """Draw ``matrix`` as a source (row, "from") × destination (column, "to") grid.

    ``state`` supplies pod labels for the tick labels and the policy names for the title
    (without it: pod names only, no policy line). ``title`` replaces the default title.

    With ``compare`` the figure is a diff: ``matrix`` is drawn (it is ``compare_label[1]``,
    e.g. "after") and every cell where it differs from ``compare`` (``compare_label[0]``,
    e.g. "before") is marked and counted in the title and legend (see :func:`diff_cells`).

    Returns a figure sized to its content, not held by pyplot: make it a notebook cell's
    value (or ``display()`` it) to see it once, or ``savefig`` it. With ``ax`` it draws
    into that axes instead and returns its figure, which the caller owns (and closes);
    such axes need room for the labels, or pass ``show_labels=False`` for name-only ticks.
    """
    n = len(matrix.pods)
    changed: list[tuple[str, str, bool, bool]] = []
    if compare is not None:
        changed = diff_cells(compare, matrix)
    geo = _Geometry.for_pods(n)
    labels = [_tick_label(key, state, show_labels and geo.detail) for key in matrix.pods]
    if ax is not None:
        geo = geo.fitted_to(ax)
        _draw(ax, matrix, state, title, compare is not None, compare_label, changed, labels, geo, refit=True)
        return _root(ax)

    import matplotlib.pyplot as plt

    # Through pyplot so the active backend loads: in Jupyter that registers the inline
    # PNG formatter for Figure. Closed before returning, so pyplot holds no reference and
    # the inline backend does not show it a second time at the end of the cell.
    side = max(n, 1) * geo.cell
    fig = plt.figure(figsize=(side + 6, side + 6))
    try:
        ax = fig.add_axes((3 / (side + 6), 3 / (side + 6), side / (side + 6), side / (side + 6)))
        _draw(ax, matrix, state, title, compare is not None, compare_label, changed, labels, geo)
        _fit_figure(fig, ax, geo)
    finally:
        plt.close(fig)
    return fig


def _draw(ax: Axes, matrix: Reachability, state: ClusterState | None, title: str | None, diff: bool,
          compare_label: tuple[str, str], changed: Sequence[tuple[str, str, bool, bool]], labels: Sequence[str],
          geo: _Geometry, refit: bool = False) -> None:
    """Every artist of the picture, into ``ax`` (``refit``: the axes is the caller's)."""
    n = len(matrix.pods)
    _draw_cells(ax, matrix, geo)
    if not n:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_title(matrix, state, title, changed, diff, compare_label, geo), fontsize=geo.title_font)
        return
    _draw_ticks(ax, labels, geo)
    ax.set_title(_title(matrix, state, title, changed, diff, compare_label, geo),
                 fontsize=geo.title_font, loc="center", pad=8)
    fig = _root(ax)
    if refit and fig.get_layout_engine() is not None:
        # The caller's layout engine will shrink the axes to make room for the labels:
        # run it once so namespace names and outlines are spaced for the real cell size.
        fig.draw_without_rendering()
        geo = geo.fitted_to(ax)
        if geo.cell_pt < 2.3 * geo.tick_font and any("\n" in text for text in labels):
            _draw_ticks(ax, [text.split("\n", 1)[0] for text in labels], geo)  # two lines do not fit
    ns_depth = _draw_namespaces(ax, _namespace_blocks(matrix.pods), n, geo)
    if changed:
        _draw_changes(ax, matrix.pods, changed, geo)
    _draw_legend(ax, geo, changed, diff, compare_label, ns_depth)


# -- layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """Sizes (inches / points) chosen from the number of pods so any size stays legible."""

    n: int
    cell: float  # cell side, inches
    detail: bool  # glyphs, cell grid and label lines
    tick_font: float
    stride: int  # label every stride-th pod
    title_font: float = 11.0
    ns_font: float = 9.0

    @property
    def cell_pt(self) -> float:
        return self.cell * 72.0

    @classmethod
    def for_pods(cls, n: int) -> _Geometry:
        if n <= DETAIL_LIMIT:
            cell = min(0.7, max(0.34, 4.4 / max(n, 1)))
            tick = 9.0 if n <= 12 else 8.0
            return cls(n, cell, True, tick, 1)
        cell = min(0.3, max(0.07, 14.0 / n))
        tick = min(7.5, max(5.5, cell * 72 * 0.8))
        stride = max(1, math.ceil(tick * 1.2 / (cell * 72)))
        return cls(n, cell, False, tick, stride, ns_font=8.0)

    def fitted_to(self, ax: Axes) -> _Geometry:
        """The same choices with the cell size of an axes the caller supplied (before any
        layout engine shrinks it: only line widths and label spacing depend on it)."""
        if not self.n:
            return self
        box = ax.get_window_extent()  # pixels; works inside SubFigures too
        return replace(self, cell=min(box.width, box.height) / _root(ax).dpi / self.n)


def _fit_figure(fig: Figure, ax: Axes, geo: _Geometry, pad: float = 0.15) -> None:
    """Resize the figure to the grid plus whatever its labels, title and legend need.

    Everything outside the grid is sized in points, so the margins measured once stay
    right after the resize; no layout engine has to iterate at draw time.
    """
    canvas = fig.canvas
    if not hasattr(canvas, "get_renderer"):  # e.g. a vector-only backend: measure with Agg
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    dpi = fig.dpi
    tight = fig.get_tightbbox(renderer)  # inches
    grid = ax.get_window_extent(renderer)  # pixels
    left = grid.x0 / dpi - tight.x0
    bottom = grid.y0 / dpi - tight.y0
    right = tight.x1 - grid.x1 / dpi
    top = tight.y1 - grid.y1 / dpi
    side = max(geo.n, 1) * geo.cell
    # Whole tenths of an inch: the size shows in the figure's text form, which nbval compares,
    # and font metrics may differ by a hair between machines.
    width = math.ceil((left + side + right + 2 * pad) * 10) / 10
    height = math.ceil((bottom + side + top + 2 * pad) * 10) / 10
    fig.set_size_inches(width, height)
    ax.set_position(((left + pad) / width, (bottom + pad) / height, side / width, side / height))


def _root(ax: Axes) -> Figure:
    """The top-level figure holding ``ax`` (``ax.figure`` may be a SubFigure)."""
    return ax.figure.figure  # type: ignore[union-attr,return-value]


def _tick_label(key: str, state: ClusterState | None, with_labels: bool) -> str:
    name = key.split("/", 1)[-1]
    pod = state.pods.get(key) if state is not None else None
    if not with_labels or pod is None:
        return name
    text = pod_label_text(pod.labels)
    return f"{name}\n{text}" if text else name


def _is_noise(key: str) -> bool:
    if key in _NOISE_KEYS:
        return True
    domain = key.split("/", 1)[0] if "/" in key else ""
    return any(domain == d or domain.endswith("." + d) for d in _NOISE_DOMAINS)


def _namespace_blocks(pods: Sequence[str]) -> list[tuple[str, int, int]]:
    """Contiguous ``(namespace, start, stop)`` runs of the (sorted) pod list."""
    blocks: list[tuple[str, int, int]] = []
    for i, key in enumerate(pods):
        ns = key.split("/", 1)[0]
        if blocks and blocks[-1][0] == ns:
            blocks[-1] = (ns, blocks[-1][1], i + 1)
        else:
            blocks.append((ns, i, i + 1))
    return blocks


# -- drawing -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _glyphs() -> tuple[str, str]:
    """✓ / ✗ when the default font has them, else the text table's ``.`` / ``X``."""
    try:
        font = ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties()))
        if font.get_char_index(ord("✓")) and font.get_char_index(ord("✗")):
            return "✓", "✗"
    except (OSError, RuntimeError, ValueError):
        pass
    return ".", "X"


def _draw_cells(ax: Axes, matrix: Reachability, geo: _Geometry) -> None:
    n = geo.n
    data = matrix.allowed.astype(np.int8) if n else np.zeros((1, 1), dtype=np.int8)
    cmap = ListedColormap([BLOCKED_COLOR, ALLOWED_COLOR], name="reachability")
    image = ax.imshow(data, cmap=cmap, vmin=0, vmax=1, interpolation="nearest", aspect="equal")
    image.set_gid("reachability")
    if not n:
        image.set_visible(False)
        ax.text(0, 0, "no pods", ha="center", va="center", color="0.4")
        return
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    for spine in ax.spines.values():
        spine.set_color(_SEPARATOR_COLOR)
    if not geo.detail:
        return
    # White gaps between cells, then one glyph per cell. Both as single collections: a
    # Text per cell would cost n² layouts.
    edges = np.arange(0.5, n - 1, 1.0)
    segments = [((e, -0.5), (e, n - 0.5)) for e in edges] + [((-0.5, e), (n - 0.5, e)) for e in edges]
    ax.add_collection(LineCollection(segments, colors="white", linewidths=max(0.8, geo.cell_pt * 0.05), zorder=2))
    # The diagonal, a pod to itself, is always allowed: grey and hatched, without a glyph.
    diagonal = [Rectangle((i - 0.5, i - 0.5), 1, 1) for i in range(n)]
    selfs = PatchCollection(diagonal, facecolors=SELF_COLOR, edgecolors="white", hatch="//", linewidths=0,
                            zorder=2.5)
    selfs.set_gid("self-cells")
    ax.add_collection(selfs, autolim=False)
    off_diagonal = ~np.eye(n, dtype=bool)
    yes, no = _glyphs()
    rows, cols = np.nonzero(matrix.allowed & off_diagonal)
    _glyph_marks(ax, cols, rows, yes, _ALLOWED_INK, "glyph-allowed")
    rows, cols = np.nonzero(~matrix.allowed & off_diagonal)
    _glyph_marks(ax, cols, rows, no, _BLOCKED_INK, "glyph-blocked")


def _glyph_marks(ax: Axes, xs: np.ndarray, ys: np.ndarray, glyph: str, color: str, gid: str) -> None:
    """``glyph`` centred on every (x, y) cell, from the font's outline, as one collection.

    In data units (scaled with the cell), so glyphs follow the grid through any layout change
    and n² cells cost one draw call instead of n² text layouts.
    """
    shape = _glyph_path(glyph)
    paths = [Path(shape.vertices + (x, y), shape.codes) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    marks = PathCollection(paths, facecolors=color, edgecolors="none", zorder=3)
    marks.set_gid(gid)
    ax.add_collection(marks, autolim=False)


@lru_cache(maxsize=8)
def _glyph_path(glyph: str) -> Path:
    """The bold outline of ``glyph``, centred on 0, 0.42 data units (cells) big, flipped for a top-down y axis."""
    path = TextPath((0, 0), glyph, size=10, prop=font_manager.FontProperties(weight="bold"))
    box = path.get_extents()
    scale = 0.42 / max(box.width, box.height)
    move = Affine2D().translate(-(box.x0 + box.x1) / 2, -(box.y0 + box.y1) / 2).scale(scale, -scale)
    return path.transformed(move)


def _draw_ticks(ax: Axes, labels: Sequence[str], geo: _Geometry) -> None:
    n = len(labels)
    ticks = list(range(0, n, geo.stride))
    shown = [labels[i] for i in ticks]
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xticks(ticks, shown, fontsize=geo.tick_font, linespacing=1.1)
    ax.set_yticks(ticks, shown, fontsize=geo.tick_font, linespacing=1.1)
    # Vertical column labels stand exactly over their column, both lines of them.
    for text in ax.get_xticklabels():
        text.set(rotation=90, ha="left", va="center", rotation_mode="anchor")
    ax.tick_params(which="major", length=2 if geo.detail else 1.5, width=0.6, pad=2)
    ax.set_ylabel("from (source pod)", fontsize=geo.ns_font + 1, labelpad=6)
    ax.set_xlabel("to (destination pod)", fontsize=geo.ns_font + 1, labelpad=8)


def _draw_namespaces(ax: Axes, blocks: Sequence[tuple[str, int, int]], n: int, geo: _Geometry) -> float:
    """Separator lines between namespace blocks, extended into the right and bottom margins
    where the namespace names sit. Returns the depth (points) of the bottom name band."""
    if not n:
        return 0.0
    reach = 14.0 / geo.cell_pt  # how far (data units) a separator pokes out of the grid
    lw = 1.6 if geo.detail else 0.9
    style = {"color": _SEPARATOR_COLOR, "linewidth": lw, "clip_on": False, "solid_capstyle": "butt", "zorder": 4}
    for _, start, _ in blocks[1:]:
        edge = start - 0.5
        ax.plot([-0.5, n - 0.5 + reach], [edge, edge], **style)  # between row blocks
        ax.plot([edge, edge], [-0.5, n - 0.5 + reach], **style)  # between column blocks
    thin = {**style, "linewidth": 0.8}
    for edge in (-0.5, n - 0.5):
        ax.plot([n - 0.5, n - 0.5 + reach], [edge, edge], **thin)
        ax.plot([edge, edge], [n - 0.5, n - 0.5 + reach], **thin)

    font = geo.ns_font
    char_pt = 0.62 * font
    # Row blocks: names to the right of the grid, skipping any that would collide.
    right = offset_copy(ax.transData, fig=_root(ax), x=6, y=0, units="points")
    last_end = -math.inf
    for ns, start, stop in blocks:
        centre = (start + stop - 1) / 2
        half = 0.6 * font / geo.cell_pt
        if centre - half < last_end:
            continue
        ax.text(n - 0.5, centre, ns, transform=right, ha="left", va="center", fontsize=font,
                fontweight="bold", clip_on=False, gid="namespace")
        last_end = centre + half
    # Column blocks: names under the grid, vertical when the block is too narrow.
    below = offset_copy(ax.transData, fig=_root(ax), x=0, y=-5, units="points")
    depth = font * 1.4
    last_end = -math.inf
    for ns, start, stop in blocks:
        centre = (start + stop - 1) / 2
        width_pt = (stop - start) * geo.cell_pt
        vertical = len(ns) * char_pt > width_pt - 4
        half = (0.6 * font if vertical else len(ns) * char_pt / 2) / geo.cell_pt
        if centre - half < last_end:
            continue
        ax.text(centre, n - 0.5, ns, transform=below, ha="center", va="top", fontsize=font,
                fontweight="bold", rotation=90 if vertical else 0, clip_on=False, gid="namespace")
        last_end = centre + half
        depth = max(depth, len(ns) * char_pt + 4 if vertical else font * 1.4)
    return depth + 5


def _draw_changes(ax: Axes, pods: Sequence[str], changed: Sequence[tuple[str, str, bool, bool]],
                  geo: _Geometry) -> None:
    """Mark each changed cell: a heavy outline with a white halo (visible on both colours)
    around the glyph, or, when cells are too small for outlines, a dark dot in the middle.
    In data units, so the marks stay on their cells whatever the layout does."""
    index = {p: i for i, p in enumerate(pods)}
    cells = [(index[d], index[s]) for s, d, _, _ in changed]
    if geo.detail:
        lw = 2.4
        inset = 0.07 + lw / 2 / geo.cell_pt  # the stroke stays inside its own cell
        side = 1 - 2 * inset
        shapes = [Rectangle((x - side / 2, y - side / 2), side, side) for x, y in cells]
        marks = PatchCollection(shapes, facecolors="none", edgecolors=CHANGED_COLOR, linewidths=lw, zorder=5)
        marks.set_path_effects([patheffects.withStroke(linewidth=lw * 2.2, foreground="white")])
    else:
        dots = [Circle((x, y), 0.3) for x, y in cells]
        marks = PatchCollection(dots, facecolors=CHANGED_COLOR, edgecolors="white",
                                linewidths=max(0.4, geo.cell_pt * 0.09), zorder=5)
    marks.set_gid("changed-cells")
    ax.add_collection(marks, autolim=False)


def _draw_legend(ax: Axes, geo: _Geometry, changed: Sequence[tuple[str, str, bool, bool]], diff: bool,
                 compare_label: tuple[str, str], ns_depth: float) -> None:
    yes, no = _glyphs()
    handles: list[Artist] = [
        Patch(facecolor=ALLOWED_COLOR, edgecolor="none", label=f"{yes} allowed"),
        Patch(facecolor=BLOCKED_COLOR, edgecolor="none", label=f"{no} blocked"),
    ]
    if geo.detail:
        handles.append(Patch(facecolor=SELF_COLOR, edgecolor="white", hatch="//", label=SELF_LABEL))
    if diff:
        label = f"changed, {compare_label[0]} → {compare_label[1]} ({len(changed)})"
        if geo.detail:
            mark: Artist = Patch(facecolor="0.93", edgecolor=CHANGED_COLOR, linewidth=2.0, label=label)
            mark.set_path_effects([patheffects.withStroke(linewidth=4.4, foreground="white")])
        else:
            mark = Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor=CHANGED_COLOR,
                          markeredgecolor="white", label=label)
        handles.append(mark)
    anchor = ax.transAxes + ScaledTranslation(0, -ns_depth / 72, _root(ax).dpi_scale_trans)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=anchor,
              ncols=len(handles), frameon=False, fontsize=9, handlelength=1.6, handleheight=1.1,
              borderaxespad=0, columnspacing=1.6)


def _title(matrix: Reachability, state: ClusterState | None, title: str | None,
           changed: Sequence[tuple[str, str, bool, bool]], diff: bool, compare_label: tuple[str, str],
           geo: _Geometry) -> str:
    lines: list[str] = []
    if title is not None:
        lines.append(title)
    else:
        lines.append(f"Who can connect to port {matrix.port}/{matrix.protocol}?")
        if state is not None:
            lines.append(_policy_line(sorted(state.policies), width=max(40, int(geo.n * geo.cell * 12))))
    if diff:
        newly_blocked = sum(1 for *_, was, now in changed if was and not now)
        newly_allowed = len(changed) - newly_blocked
        noun = "cell" if len(changed) == 1 else "cells"
        parts = [f"{k} now {what}" for k, what in ((newly_blocked, "blocked"), (newly_allowed, "allowed")) if k]
        detail = f" ({', '.join(parts)})" if parts else ""
        lines.append(f"{compare_label[0]} → {compare_label[1]}: {len(changed)} {noun} changed{detail}")
    return "\n".join(lines)


def _policy_line(keys: Sequence[str], width: int, most: int = 8) -> str:
    if not keys:
        return "no policies"
    shown = list(keys[:most])
    if len(keys) > most:
        shown.append(f"+{len(keys) - most} more")
    noun = "policy" if len(keys) == 1 else "policies"
    return textwrap.fill(f"{noun}: " + ", ".join(shown), width=width, break_on_hyphens=False)


