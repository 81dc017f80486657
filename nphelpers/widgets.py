"""Interactive widgets for the lessons: label toggles and a policy editor (ipywidgets 8).

:class:`LabelToggles` lets a student tick labels on the lab's pods and see at once what
that does: the reachability matrix (the cells that changed outlined), the Service's
endpoints, real ``wget`` probes to the lesson's Service, the engine's explanation of one
chosen pair, and the ``kubectl label`` command that made the change. Unticking puts back
the value the pod had before the tick; "reset labels" puts back every pod's labels as they
were when the widget was made. :class:`PolicyEditor` is a YAML text area, filled with the
policy in force, that validates and applies a policy, errors shown inline as one line.

Both talk only to :class:`nphelpers.Lab` (its verbs, ``state()``, ``probe()``) and listen to
``lab.on_change``: whatever changes the cluster through the lab (a later cell, the other
widget, the lesson's cleanup) redraws them. Every callback is a plain method (``toggle``,
``set_label``, ``reset``, ``select``, ``validate``, ``apply``, ...) and every rendered result
a read-only property, so tests drive the widgets without a browser.

Layout: panels are stacked and every text wraps at words, so the widget fits a 1024 px
JupyterLab window with the file browser open. The matrix is an HTML table by default (a
redraw costs a few milliseconds; ``matrix_format="svg"``/``"png"`` draws the matplotlib
figure instead). A stored notebook shows a static HTML picture of the widget
(``_repr_mimebundle_``) where no widget manager runs (GitHub, nbviewer).

ipywidgets and matplotlib are imported here only; :mod:`nphelpers.lab` imports this module
lazily, so the rest of the package works without them.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as W

from . import kubectl
from .backends.base import ProbeResult
from .cluster import ClusterState
from .engine import evaluate
from .errors import ManifestError, NotFoundError, NphelpersError
from .matrix import Reachability, reachability
from .validation import validate_labels

if TYPE_CHECKING:
    from .lab import Lab

__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_MATRIX_FORMAT",
    "ImageFormat",
    "LabelToggles",
    "MatrixFormat",
    "PolicyEditor",
    "matrix_html",
    "render_image",
]

DEFAULT_LABELS: tuple[tuple[str, str], ...] = (("app", "bookstore"), ("role", "api"))
MANAGED_BY = "app.kubernetes.io/managed-by"  # bookkeeping label the lab adds; never shown
PNG_DPI = 90  # sharp enough in JupyterLab, few enough pixels to rasterize quickly
PNG_COMPRESS = 1  # zlib level: 1 is several times faster than Pillow's 6, for a slightly larger PNG
ImageFormat = Literal["png", "svg"]
MatrixFormat = Literal["html", "png", "svg"]
DEFAULT_MATRIX_FORMAT: MatrixFormat = "html"
_WIDGET_FORMAT = {"png": "png", "svg": "svg+xml"}  # ipywidgets.Image's name for each

# The figure's colours (nphelpers.plotting), repeated here so the HTML matrix needs no matplotlib.
_ALLOWED_BG, _ALLOWED_INK = "#2166AC", "#FFFFFF"
_BLOCKED_BG, _BLOCKED_INK = "#FDB863", "#5B3A00"
_SELF_BG, _SELF_INK = "#E8E8E8", "#333333"
_ERROR_STYLE = "color:#b00020;font-weight:600;line-height:1.4"
_OK_STYLE = "color:#1b5e20"
_NOTE_STYLE = "color:#555"
_MONO = "font-family:var(--jp-code-font-family, monospace);font-size:12px"
_WRAP = "white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere"  # at spaces; a long token breaks too
_OUTCOME_STYLE = {
    "allowed": ("✓ allowed", "#2166AC"),
    "blocked": ("✗ timed out", "#8a4b00"),
    "dns-failure": ("✗ bad address", "#8a4b00"),
    "refused": ("✗ refused", "#8a4b00"),
}
_FULL = W.Layout(width="100%", max_width="100%")


# -- helpers ---------------------------------------------------------------------------
def render_image(fig: Any, fmt: ImageFormat = "svg") -> bytes:
    """A matplotlib figure as SVG or PNG bytes (for an ``ipywidgets.Image``); the figure is cleared after.

    PNG is pixel-exact. SVG skips rasterizing and compressing, so it is markedly faster;
    its text is left to the browser's fonts (``svg.fonttype: none``), so glyph shapes differ.
    """
    import matplotlib

    buf = io.BytesIO()
    if fmt == "svg":
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nphelpers"}):
            fig.savefig(buf, format="svg", metadata={"Date": None})  # same picture, same bytes
    else:
        fig.savefig(buf, format="png", dpi=PNG_DPI, pil_kwargs={"compress_level": PNG_COMPRESS})
    fig.clear()  # plot_matrix already closed it in pyplot; drop its artists now
    return buf.getvalue()


def _plot_image(matrix: Reachability, state: ClusterState, previous: Reachability | None, fmt: ImageFormat) -> bytes:
    """The matrix figure (a diff against ``previous`` when it covers the same pods) as image bytes."""
    from .plotting import plot_matrix

    compare = previous if previous is not None and list(previous.pods) == list(matrix.pods) else None
    fig = plot_matrix(matrix, state, compare=compare, compare_label=("before", "after"))
    return render_image(fig, fmt)


def _changed_cells(before: Reachability | None, after: Reachability) -> list[tuple[str, str, bool, bool]]:
    """``(source, destination, was_allowed, now_allowed)`` for every cell that flipped."""
    if before is None or list(before.pods) != list(after.pods):
        return []
    return before.diff(after)


def _short(key: str) -> str:
    return key.rpartition("/")[2]


def _breakable(name: str) -> str:
    """A pod name that may wrap after its hyphens (``test-<wbr>blocked``), HTML-escaped."""
    return "-<wbr>".join(html.escape(part) for part in name.split("-"))


def matrix_html(matrix: Reachability, previous: Reachability | None = None) -> str:
    """The reachability matrix as an HTML table: rows are sources ("from"), columns destinations ("to").

    Allowed ✓ (dark blue) and blocked ✗ (light orange) differ in lightness and glyph, as in
    the figure; a pod to itself is marked *self* (a pod can always reach itself); cells that
    changed since ``previous`` are outlined and counted.
    """
    changed = {(s, d) for s, d, _, _ in _changed_cells(previous, matrix)}
    namespaces = sorted({k.partition("/")[0] for k in matrix.pods})
    one_ns = len(namespaces) == 1
    name = _short if one_ns else (lambda k: k)
    head = "".join(f'<th style="padding:2px 4px;font-weight:600;vertical-align:bottom">{_breakable(name(d))}</th>'
                   for d in matrix.pods)
    rows = []
    for i, src in enumerate(matrix.pods):
        cells = []
        for j, dst in enumerate(matrix.pods):
            if src == dst:
                bg, ink, glyph, tip = _SELF_BG, _SELF_INK, "self", f"{name(src)} to itself: always allowed"
            elif matrix.allowed[i, j]:
                bg, ink, glyph, tip = _ALLOWED_BG, _ALLOWED_INK, "✓", f"{name(src)} → {name(dst)}: allowed"
            else:
                bg, ink, glyph, tip = _BLOCKED_BG, _BLOCKED_INK, "✗", f"{name(src)} → {name(dst)}: blocked"
            outline = "outline:3px solid #111;outline-offset:-3px;" if (src, dst) in changed else ""
            if (src, dst) in changed:
                tip += " (changed)"
            cells.append(f'<td title="{html.escape(tip)}" style="background:{bg};color:{ink};{outline}'
                         f'text-align:center;min-width:2.6em;height:1.8em;border:1px solid #fff">{glyph}</td>')
        rows.append(f'<tr><th style="text-align:right;padding:2px 6px;font-weight:600">'
                    f'{_breakable(name(src))}</th>{"".join(cells)}</tr>')
    count = f" · <b>{len(changed)} changed</b> (outlined)" if changed else ""
    where = f" in <code>{html.escape(namespaces[0])}</code>" if one_ns and namespaces else ""
    legend = (f'<div style="{_NOTE_STYLE};font-size:12px;margin-top:2px">row: from, column: to, '
              f"port {matrix.port}/{matrix.protocol}{where} · ✓ allowed · ✗ blocked · self: a pod can always "
              f"reach itself{count}</div>")
    return (f'<table style="border-collapse:collapse;{_MONO};table-layout:auto">'
            f'<tr><th style="text-align:right;padding:2px 6px;{_NOTE_STYLE}">from \\ to</th>{head}</tr>'
            f'{"".join(rows)}</table>{legend}')


def _label_html(labels: Mapping[str, str]) -> str:
    """Labels as ``kubectl get --show-labels`` prints them (bookkeeping label left out), wrapping after commas."""
    shown = [html.escape(f"{k}={v}") for k, v in sorted(labels.items()) if k != MANAGED_BY]
    return ",<wbr>".join(shown) or "&lt;none&gt;"


def _parse_change(text: str) -> tuple[str, str | None]:
    """``key=value`` (set) or ``key-`` (remove) from the free text box, validated like the apiserver.

    Raises ``ValueError`` with a one-line message saying what to fix.
    """
    text = text.strip()
    if not text:
        raise ValueError("type a label as key=value (e.g. app=bookstore), or key- to remove one")
    if text.endswith("-") and "=" not in text:
        key, value = text[:-1], None
    else:
        key, sep, value = text.partition("=")
        if not sep:
            raise ValueError(f'"{text}" is not key=value (e.g. app=bookstore); write {text}- to remove it')
    _check_label(key, value, text)
    return key, value


def _check_label(key: str, value: str | None, shown: str) -> None:
    """Validate one label key (and value) with the apiserver's rules; ``ValueError`` if bad."""
    try:
        validate_labels({key: "" if value is None else value}, "metadata.labels")
    except ManifestError as err:
        raise ValueError(f'label "{shown}": {err.message}') from None


def _first_line(text: str) -> str:
    line = text.strip("\n").split("\n", 1)[0]
    return line if len(line) <= 80 else line[:79] + "…"


def _pre(text: str, style: str = "") -> str:
    return f'<pre style="margin:0;{_WRAP};{_MONO};{style}">{html.escape(text)}</pre>'


def _error_html(message: str | None) -> str:
    return f'<div style="{_ERROR_STYLE};{_WRAP}">error: {html.escape(message)}</div>' if message else ""


def _change_args(changes: Mapping[str, str | None]) -> list[str]:
    """``{"app": "x", "role": None}`` as Lab.label's arguments: ``["app=x", "role-"]``."""
    return [f"{k}-" if v is None else f"{k}={v}" for k, v in changes.items()]


class _View(W.VBox):
    """The widget's box: refreshed from the cluster whenever it is shown, with a static picture
    (text/html, text/plain) for places that cannot run widgets (GitHub, nbviewer, a PDF)."""

    def __init__(self, children: Sequence[W.Widget], refresh: Callable[[], None],
                 static: Callable[[], tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(list(children), **kwargs)
        self._nphelpers_refresh = refresh
        self._nphelpers_static = static

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        self._nphelpers_refresh()
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        plain, rich = self._nphelpers_static()
        return {**bundle, "text/plain": plain, "text/html": rich}


# -- label toggles ---------------------------------------------------------------------
class LabelToggles:
    """Checkboxes that put lesson labels on and off the lab's pods, with live consequences.

    One row per pod: a checkbox per lesson label (``labels``, default ``app=bookstore`` and
    ``role=api``; ticked when the pod carries exactly that value) and the pod's labels now.
    Below, one line for any label on any pod (``key=value`` or ``key-``) and "reset labels".
    Every change goes through the lab (``kubectl label``); then the matrix (diffed against the
    previous one), the target Service's endpoints, the probes, the selected pair's
    explanation and the kubectl command are refreshed. On a live cluster probes take
    seconds, so they run only on "probe now"; the matrix and explanation are the policies'
    prediction and stay instant.

    ``pods``: pod names (or ``ns/name``) to show; default every pod in the lab's namespace.
    ``target``: the Service clients ``wget`` (or a URL); the default ``apiserver`` is probed
    only if that Service exists. ``clients``: the pods that probe; default the shown pods that
    are not behind the target Service when the widget is made.
    ``matrix_format``: ``"html"`` (default, instant), ``"svg"`` or ``"png"`` (the matplotlib figure).
    """

    def __init__(
        self,
        lab: Lab,
        pods: Sequence[str] | None = None,
        port: int = 80,
        *,
        labels: Sequence[tuple[str, str]] = DEFAULT_LABELS,
        protocol: str = "TCP",
        target: str | None = "apiserver",
        clients: Sequence[str] | None = None,
        timeout: int = 2,
        auto_probe: bool | None = None,
        matrix_format: MatrixFormat = DEFAULT_MATRIX_FORMAT,
    ) -> None:
        self.lab = lab
        self.port = port
        self.protocol = protocol
        self.labels = [(str(k), str(v)) for k, v in labels]
        self.timeout = timeout
        self.matrix_format: MatrixFormat = matrix_format
        self.live = lab.probes_take_seconds
        self.auto_probe = (not self.live) if auto_probe is None else auto_probe

        state = lab.state()
        if pods is None:
            self.pods = sorted(k for k, p in state.pods.items() if p.namespace == lab.namespace)
        else:
            self.pods = sorted(self._key(p) for p in pods)
            for key in self.pods:
                state.pod(key)  # NotFoundError now rather than on the first change
        self.target = target if target and "://" not in target and self._key(target) in state.services else None
        self.url, servers = self._target(state, target)
        if clients is None:
            self.clients = [k for k in self.pods if k not in servers] if self.url else []
        else:
            self.clients = [self._key(c) for c in clients]

        self._state = state
        self._original = {k: self._own_labels(state.pods[k].labels) for k in self.pods}
        self._saved: dict[tuple[str, str], str | None] = {}  # (pod, key) -> the value before a tick
        self._matrix: Reachability | None = None
        self._previous: Reachability | None = None
        self._probes: list[ProbeResult] = []
        self._probes_stale = False
        self._explanation = ""
        self._last_command = ""
        self._last_output = ""
        self._error: str | None = None
        self._image = b""
        self._matrix_markup = ""
        self._syncing = False  # True while widget values are set from the state (no callbacks)
        self._busy = False  # True while this widget itself changes the cluster (one refresh at the end)

        self.source, self.destination = self._default_pair(state, servers)
        self._build()
        self.refresh(probe=self.auto_probe)
        lab.on_change(self._on_lab_change, key="nphelpers.widgets.LabelToggles")

    # -- read-only results ----------------------------------------------------------
    @property
    def matrix(self) -> Reachability:
        """The reachability matrix last rendered (the policies' verdict on the current labels)."""
        assert self._matrix is not None
        return self._matrix

    @property
    def previous_matrix(self) -> Reachability | None:
        """The matrix rendered before that (what the diff compares against); None at first."""
        return self._previous

    @property
    def changes(self) -> list[tuple[str, str, bool, bool]]:
        """Cells the last refresh flipped: ``(source, destination, was_allowed, now_allowed)``."""
        return _changed_cells(self._previous, self.matrix)

    @property
    def probe_results(self) -> list[ProbeResult]:
        """The latest probe per client; on kind they may predate the last change (:attr:`probes_stale`)."""
        return list(self._probes)

    @property
    def probes_stale(self) -> bool:
        """True when labels changed after the shown probes ran (kind: press "probe now")."""
        return self._probes_stale

    @property
    def endpoints(self) -> list[str] | None:
        """The pods behind the target Service now (names), or None without a target Service."""
        if self.target is None:
            return None
        service = self._state.services.get(self._key(self.target))
        return [] if service is None else [p.name for p in self._state.endpoints(service)]

    @property
    def explanation(self) -> str:
        """``Verdict.explain()`` for the selected pair (``source`` -> ``destination``)."""
        return self._explanation

    @property
    def last_command(self) -> str:
        """The kubectl command(s) of the last change (``kubectl label pod X app-``), one per line."""
        return self._last_command

    @property
    def last_output(self) -> str:
        """What that command printed (``pod/X labeled``)."""
        return self._last_output

    @property
    def error(self) -> str | None:
        """The one-line error of the last action, or None when it succeeded."""
        return self._error

    @property
    def image(self) -> bytes:
        """The matrix figure last rendered (``matrix_format`` svg/png), or b"" for the HTML matrix."""
        return self._image

    @property
    def matrix_markup(self) -> str:
        """The HTML matrix last rendered (``matrix_format="html"``), or "" for a figure."""
        return self._matrix_markup

    # -- actions (the widget handlers call these) ------------------------------------
    def toggle(self, pod: str, key: str, value: str, on: bool) -> None:
        """Tick (``on``: set ``key=value``) or untick a lesson label on ``pod``.

        Unticking is undo: the pod gets back the value ``key`` had before the tick (or loses
        ``key`` if it had none). Unticking a label the pod had from the start removes it.
        """
        pod_key = self._key(pod)
        current = self._state.pods.get(pod_key)
        now = current.labels.get(key) if current else None
        if on:
            if now != value:
                self._saved[(pod_key, key)] = now
            self._change(pod, {key: value})
        else:
            before = self._saved.pop((pod_key, key), None)
            self._change(pod, {key: before if before != value else None})

    def set_label(self, pod: str, text: str) -> None:
        """Apply the free text ``key=value`` (or ``key-``) to ``pod``; bad input only sets :attr:`error`."""
        try:
            key, value = _parse_change(text)
        except ValueError as err:
            self._fail(str(err))
            return
        self._change(pod, {key: value})

    def remove_label(self, pod: str, key: str) -> None:
        """Remove label ``key`` (``key=...`` and ``key-`` are accepted too) from ``pod``."""
        key = key.strip().partition("=")[0].removesuffix("-")
        if not key:
            self._fail("type the key of the label to remove (e.g. role)")
            return
        try:
            _check_label(key, None, key)
        except ValueError as err:
            self._fail(str(err))
            return
        self._change(pod, {key: None})

    def reset(self) -> None:
        """Put every shown pod's labels back as they were when the widget was made."""
        self._refresh_state()
        work = []
        for pod, original in self._original.items():
            current = self._state.pods.get(pod)
            if current is None:
                continue
            now = self._own_labels(current.labels)
            changes: dict[str, str | None] = {k: None for k in now if k not in original}
            changes.update({k: v for k, v in original.items() if now.get(k) != v})
            if changes:
                work.append((pod, changes))
        self._saved.clear()
        if not work:
            self._error = None
            self._last_command, self._last_output = "", "(the labels are as they were: nothing to reset)"
            self._sync_widgets()
            return
        self._change_many(work)

    def select(self, source: str, destination: str) -> None:
        """Choose the pair the explanation is about (pod names or ``ns/name``)."""
        src, dst = self._key(source), self._key(destination)
        for key in (src, dst):
            if key not in self.pods or key not in self._state.pods:
                self._fail(f'pod "{key}" is not one of this widget\'s pods')
                return
        self.source, self.destination = src, dst
        self._error = None
        self._explain()
        self._sync_widgets()

    def refresh(self, probe: bool | None = None) -> None:
        """Re-read the cluster and redraw everything; probes run when ``probe`` (default: auto)."""
        if not self._refresh_state():
            return
        self._compute_matrix()
        self._explain()
        if self.auto_probe if probe is None else probe:
            self.probe()
        elif self._probes:
            self._probes_stale = True
        self._sync_widgets()
        self._draw_matrix()

    def probe(self) -> list[ProbeResult]:
        """Run the probes now: ``wget`` from every client to the target (seconds each on kind)."""
        if not self.url:
            self._probes = []
            return []
        if self.live:
            self._w_probes.value = _pre("probing… (each wget runs in its pod)", _NOTE_STYLE)
        results = []
        for client in self.clients:
            if client not in self._state.pods:  # deleted since: nothing to exec in
                continue
            try:
                results.append(self.lab.probe(self.url, from_pod=client, timeout=self.timeout))
            except NphelpersError as err:
                self._fail(str(err))
                break
        self._probes = results
        self._probes_stale = False
        self._w_probes.value = self._probes_html()
        return list(results)

    def view(self) -> W.VBox:
        """The widget to display in the notebook (built once, updated in place, refreshed when shown)."""
        return self._view

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self._view)

    def static(self) -> tuple[str, str]:
        """A picture of the widget as it is now, for places without widgets: (text/plain, text/html)."""
        rows = "".join(
            f"<tr><td><code>{html.escape(_short(k))}</code></td><td><code>"
            f"{_label_html(self._state.pods[k].labels) if k in self._state.pods else 'deleted'}</code></td></tr>"
            for k in self.pods
        )
        rich = (f'<div style="max-width:100%"><p style="{_NOTE_STYLE}"><i>A picture of the label widget as the '
                "lesson left it; run the notebook to tick labels.</i></p>"
                f'<table style="{_MONO}"><tr><th align="left">pod</th><th align="left">labels</th></tr>{rows}</table>'
                f"{self._matrix_markup or matrix_html(self.matrix, None)}{self._service_html()}"
                f"{self._probes_html()}</div>")
        plain = "\n".join([f"Label widget ({len(self.pods)} pods): run the notebook to use it.", repr(self.matrix)])
        return plain, rich

    # -- internals --------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return name if "/" in name else f"{self.lab.namespace}/{name}"

    @staticmethod
    def _own_labels(labels: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in labels.items() if k != MANAGED_BY}

    def _refresh_state(self) -> bool:
        try:
            self._state = self.lab.state()
        except NphelpersError as err:  # e.g. the kind cluster went away: say so, keep the last picture
            self._fail(str(err))
            return False
        return True

    def _on_lab_change(self) -> None:
        """Something changed the cluster through the lab (a cell, the policy editor, cleanup): redraw."""
        if not self._busy:
            self.refresh()

    def _target(self, state: ClusterState, target: str | None) -> tuple[str | None, set[str]]:
        """The probe URL and the pods serving it (those are not clients)."""
        if not target:
            return None, set()
        if "://" in target:
            return target, set()
        service = state.services.get(self._key(target))
        if service is None:
            return None, set()
        url = target + (f":{self.port}" if self.port != 80 else "")
        return url, {p.key for p in state.endpoints(service)}

    def _default_pair(self, state: ClusterState, servers: set[str]) -> tuple[str, str]:
        """First client -> first server, preferring a client that is blocked (the interesting case)."""
        if not self.pods:
            return "", ""
        dst = next((k for k in self.pods if k in servers), self.pods[-1])
        sources = self.clients or [k for k in self.pods if k != dst] or self.pods
        for src in sources:
            if not evaluate(state, state.pods[src], state.pods[dst], self.port, self.protocol).allowed:
                return src, dst
        return sources[0], dst

    def _fail(self, message: str) -> None:
        self._error = message
        self._w_error.value = _error_html(message)

    def _change(self, pod: str, change: Mapping[str, str | None]) -> None:
        self._change_many([(self._key(pod), change)])

    def _change_many(self, work: Sequence[tuple[str, Mapping[str, str | None]]]) -> None:
        """Label pods through the lab (its printing captured), then refresh everything once."""
        commands, outputs = [], []
        self._busy = True
        try:
            for pod, change in work:
                with self.lab.captured() as lines:
                    self.lab.label(_short(pod), *_change_args(change))
                commands += [line[2:] for line in lines if line.startswith("$ ")]
                outputs += [line for line in lines if not line.startswith("$ ")]
        except NotFoundError as err:
            # Most often the lesson ran to its cleanup cell: say how to get the pods back.
            self._busy = False
            self.refresh()  # show what is really left: deleted pods get disabled boxes
            self._fail(f"{err}: was the lab cleaned up? Run the lesson's cells down to this one again "
                       "(Kernel > Restart Kernel and Run up to Selected Cell).")
            self._sync_widgets()
            return
        except NphelpersError as err:
            self._busy = False
            self.refresh(probe=False)
            self._fail(str(err))
            self._sync_widgets()  # put a clicked checkbox back to what the pod really has
            return
        finally:
            self._busy = False
        self._last_command = "\n".join(commands)
        self._last_output = "\n".join(outputs)
        self._error = None
        self.refresh()

    def _compute_matrix(self) -> None:
        """The matrix for the current state; the one shown so far becomes the previous one."""
        pods = [k for k in self.pods if k in self._state.pods]
        matrix = reachability(self._state, self.port, self.protocol, pods=pods)
        self._previous, self._matrix = self._matrix, matrix

    def _draw_matrix(self) -> None:
        """Redraw the matrix (a diff against the previous one) as HTML, or as the figure."""
        if self.matrix_format == "html":
            self._matrix_markup = matrix_html(self.matrix, self._previous)
            self._w_matrix.value = self._matrix_markup
        else:
            self._image = _plot_image(self.matrix, self._state, self._previous, self.matrix_format)
            self._w_image.value = self._image

    def _explain(self) -> None:
        state = self._state
        if self.source in state.pods and self.destination in state.pods:
            verdict = evaluate(state, state.pods[self.source], state.pods[self.destination], self.port, self.protocol)
            self._explanation = verdict.explain()
        else:
            self._explanation = "(pick a source and a destination pod)"

    # -- widgets ----------------------------------------------------------------------
    def _build(self) -> None:
        """Create every widget once; later changes only set their values."""
        self._w_checks: dict[tuple[str, str, str], W.Checkbox] = {}
        self._w_current: dict[str, W.HTML] = {}
        name_w, box_w = "112px", "112px"
        rest = W.Layout(flex="1 1 auto", min_width="0", width="auto")
        head = [W.HTML("<b>pod</b>", layout=W.Layout(width=name_w, flex="0 0 auto"))]
        head += [W.HTML(f"<b>{html.escape(k)}={html.escape(v)}</b>", layout=W.Layout(width=box_w, flex="0 0 auto"))
                 for k, v in self.labels]
        head += [W.HTML("<b>labels now</b>", layout=rest)]
        rows: list[W.Widget] = [W.HBox(head, layout=_FULL)]
        for pod in self.pods:
            cells: list[W.Widget] = [W.HTML(f"<code>{html.escape(_short(pod))}</code>",
                                            layout=W.Layout(width=name_w, flex="0 0 auto"))]
            for key, value in self.labels:
                box = W.Checkbox(value=False, indent=False, description="",
                                 layout=W.Layout(width=box_w, flex="0 0 auto"))
                box.observe(self._on_check(pod, key, value), names="value")
                self._w_checks[(pod, key, value)] = box
                cells.append(box)
            current = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0", width="auto"))
            self._w_current[pod] = current
            rows.append(W.HBox([*cells, current], layout=_FULL))

        # One line for any label on any pod, and the reset.
        options = [(_short(k), k) for k in self.pods]
        self._w_pod = W.Dropdown(options=options, layout=W.Layout(width="150px"))
        self._w_text = W.Text(placeholder="key=value or key-", layout=W.Layout(width="150px"))
        add = W.Button(description="set", tooltip="kubectl label pod POD key=value --overwrite",
                       layout=W.Layout(width="auto"))
        remove = W.Button(description="remove", tooltip="kubectl label pod POD key-", layout=W.Layout(width="auto"))
        reset = W.Button(description="reset labels", icon="undo", layout=W.Layout(width="auto"),
                         tooltip="put every pod's labels back as they were when this widget was made")
        add.on_click(lambda _b: self.set_label(self._w_pod.value, self._w_text.value))
        remove.on_click(lambda _b: self.remove_label(self._w_pod.value, self._w_text.value))
        reset.on_click(lambda _b: self.reset())
        self._w_add, self._w_remove, self._w_reset = add, remove, reset
        wrap = W.Layout(flex_flow="row wrap", align_items="center", width="100%", max_width="100%")
        any_label = W.HBox([W.HTML("<b>any label:</b>&nbsp;"), self._w_pod, self._w_text, add, remove, reset],
                           layout=wrap)

        self._w_error = W.HTML(layout=_FULL)
        self._w_command = W.HTML(layout=_FULL)
        self._w_matrix = W.HTML(layout=W.Layout(width="100%", max_width="100%", overflow="auto"))
        self._w_image = W.Image(format=_WIDGET_FORMAT.get(self.matrix_format, "svg+xml"),
                                layout=W.Layout(max_width="100%", width="auto",
                                                display=None if self.matrix_format != "html" else "none"))
        self._w_service = W.HTML(layout=_FULL)
        self._w_probes = W.HTML(layout=_FULL)
        # Class names for tests and benchmarks that find the parts in the browser.
        for widget, name in ((self._w_matrix, "matrix"), (self._w_image, "matrix-image"), (self._w_probes, "probes"),
                             (self._w_service, "service"), (self._w_command, "command"), (self._w_error, "error")):
            widget.add_class(f"nphelpers-{name}")
        self._w_from = W.Dropdown(options=options, description="from",
                                  layout=W.Layout(width="200px"), style={"description_width": "36px"})
        self._w_to = W.Dropdown(options=options, description="to",
                                layout=W.Layout(width="200px"), style={"description_width": "36px"})
        for dropdown in (self._w_from, self._w_to):
            dropdown.observe(self._on_select, names="value")
        self._w_explain = W.HTML(layout=_FULL)

        probe_head: list[W.Widget] = [W.HTML(
            f"<b>probes</b> <code>wget -qO- --timeout={self.timeout} {html.escape(self._shown_url())}</code> "
            "from each client", layout=W.Layout(flex="1 1 auto", min_width="0"))]
        if not self.auto_probe and self.url:
            button = W.Button(description="probe now", icon="play", button_style="info", layout=W.Layout(width="auto"),
                              tooltip="run wget in each client pod (takes seconds on kind)")
            button.on_click(lambda _b: self.probe())
            probe_head.append(button)
        parts: list[W.Widget] = [
            W.VBox(rows, layout=_FULL), any_label, self._w_error, self._w_command,
            W.HTML("<b>matrix</b> (the policies' verdict, pod to pod)"), self._w_matrix, self._w_image,
            self._w_service, W.HBox(probe_head, layout=wrap), self._w_probes,
        ]
        if self.live:
            parts.append(W.HTML("<i>The matrix and <b>why?</b> are the policies' prediction, instant; "
                                "the probes are what the cluster really does.</i>", layout=_FULL))
        parts += [W.HBox([W.HTML("<b>why?</b>&nbsp;"), self._w_from, self._w_to], layout=wrap), self._w_explain]
        self._view = _View(parts, self._refresh_when_shown, self.static,
                           layout=W.Layout(width="100%", max_width="100%", overflow="hidden"))
        self._view.add_class("nphelpers-label-widget")

    def _shown_url(self) -> str:
        if not self.url:
            return "-"
        return self.url if "://" in self.url else f"http://{self.url}"

    def _refresh_when_shown(self) -> None:
        self.refresh()

    def _on_check(self, pod: str, key: str, value: str) -> Callable[[dict[str, Any]], None]:
        def handler(change: dict[str, Any]) -> None:
            if not self._syncing:
                self.toggle(pod, key, value, bool(change["new"]))
        return handler

    def _on_select(self, _change: dict[str, Any]) -> None:
        if not self._syncing and self._w_from.value and self._w_to.value:
            self.select(self._w_from.value, self._w_to.value)

    def _sync_widgets(self) -> None:
        """Push the rendered state into the widgets without re-triggering their handlers."""
        self._syncing = True
        try:
            for (pod, key, value), box in self._w_checks.items():
                pod_obj = self._state.pods.get(pod)
                box.value = pod_obj is not None and pod_obj.labels.get(key) == value
                box.disabled = pod_obj is None
            for pod, widget in self._w_current.items():
                pod_obj = self._state.pods.get(pod)
                widget.value = f"<code>{_label_html(pod_obj.labels) if pod_obj else 'deleted'}</code>"
            if self.source and self.destination:
                self._w_from.value, self._w_to.value = self.source, self.destination
        finally:
            self._syncing = False
        self._w_error.value = _error_html(self._error)
        gone = not any(k in self._state.pods for k in self.pods)
        if gone:
            self._w_command.value = _pre("These pods are gone (the lab was cleaned up): run the lesson's cells "
                                         "down to this one again to use the widget.", "color:#8a4b00")
        elif self._last_command:
            self._w_command.value = _pre(f"$ {self._last_command}\n{self._last_output}")
        elif self._last_output:
            self._w_command.value = _pre(self._last_output, _NOTE_STYLE)
        else:
            self._w_command.value = _pre("Tick a label to set it on the pod; untick to put back what it had "
                                         "before. The kubectl command appears here.", _NOTE_STYLE)
        self._w_service.value = self._service_html()
        self._w_probes.value = self._probes_html()
        self._w_explain.value = _pre(self._explanation)

    def _service_html(self) -> str:
        """The target Service's endpoints, and why a probe by Service name can differ from the matrix."""
        endpoints = self.endpoints
        if endpoints is None:
            return ""
        name = html.escape(self.target or "")
        if endpoints:
            pods = ", ".join(f"<code>{html.escape(p)}</code>" for p in endpoints)
            return (f'<div style="{_WRAP}"><b>Service <code>{name}</code></b> sends to: {pods}. The probes '
                    "go through the Service to these pods; the matrix is pod to pod.</div>")
        return (f'<div style="{_WRAP};color:#8a4b00"><b>Service <code>{name}</code> has no endpoints</b>: its '
                "selector matches no pod, so a wget to its name is refused at the Service address, whatever the "
                "policies allow. The matrix and why? judge pod to pod and do not see this.</div>")

    def _probes_html(self) -> str:
        if not self.url:
            return _pre("(no target Service to probe)", _NOTE_STYLE)
        if not self._probes:
            return _pre('(press "probe now" to run them)' if not self.auto_probe else "(no client pods)", _NOTE_STYLE)
        rows = []
        for r in self._probes:
            word, colour = _OUTCOME_STYLE.get(r.outcome, (r.outcome, "#000"))
            rows.append(
                f'<tr><td style="vertical-align:top;white-space:nowrap">'
                f"<code>{html.escape(_short(r.source))}</code></td>"
                f'<td style="color:{colour};font-weight:600;vertical-align:top;white-space:nowrap">'
                f"{html.escape(word)}</td>"
                f'<td style="{_WRAP}"><code>{html.escape(_first_line(r.output) or "(empty)")}</code></td></tr>'
            )
        stale = ('<div style="color:#8a4b00">labels changed since: these are the old results, '
                 "press \"probe now\"</div>" if self._probes_stale else "")
        return (f'<table style="{_MONO};width:100%;table-layout:auto"><tr><th align="left">from</th>'
                f'<th align="left">outcome</th><th align="left">wget prints (first line)</th></tr>'
                f'{"".join(rows)}</table>{stale}')


# -- policy editor ---------------------------------------------------------------------
def _policy_yaml(lab: Lab, name: str | None) -> str:
    """The YAML of the policy in force (``name``, or the lab's only policy in its namespace); ``""`` if none."""
    names = [p.name for p in lab.state().policies.values() if p.namespace == lab.namespace]
    chosen = name if name else (names[0] if len(names) == 1 else None)
    if chosen is None or chosen not in names:
        return ""
    return lab.policy_yaml(chosen)


class PolicyEditor:
    """A YAML text area with Validate and Apply: errors inline (one red line), never a traceback.

    Starts with the policy in force (``policy``, or the lab's only policy) unless ``text`` is
    given. Validation is :func:`nphelpers.manifests.load_text` (the same checks as
    ``lab.apply``). Apply goes through the lab (objects land in its namespace and carry its
    label, and the label widget redraws), shows kubectl's result lines and the matrix,
    outlining the cells the change flipped.
    """

    def __init__(
        self, lab: Lab, text: str = "", *, policy: str | None = None, port: int = 80, protocol: str = "TCP",
        rows: int = 16, matrix_format: MatrixFormat = DEFAULT_MATRIX_FORMAT,
    ) -> None:
        self.lab = lab
        self.matrix_format: MatrixFormat = matrix_format
        self.port = port
        self.protocol = protocol
        self._message = ""
        self._error: str | None = None
        self._lines: list[str] = []
        self._objects: list[dict[str, Any]] = []
        self._notes: list[str] = []
        self._matrix: Reachability | None = None
        self._previous: Reachability | None = None
        self._image = b""
        self._matrix_markup = ""

        self._policy = policy
        self._filled = "" if text else _policy_yaml(lab, policy)  # what the editor loaded from the cluster
        self._busy = False
        self._w_text = W.Textarea(value=text or self._filled, rows=rows,
                                  layout=W.Layout(width="100%", max_width="100%"))
        validate = W.Button(description="Validate", icon="check", layout=W.Layout(width="auto"))
        apply = W.Button(description="Apply", icon="upload", button_style="primary", layout=W.Layout(width="auto"))
        validate.on_click(lambda _b: self.validate())
        apply.on_click(lambda _b: self.apply())
        self._w_message = W.HTML(layout=_FULL)
        # Hidden until the first apply: an Image without a value shows as a broken picture.
        self._w_matrix = W.HTML(layout=W.Layout(width="100%", max_width="100%", overflow="auto"))
        self._w_image = W.Image(format=_WIDGET_FORMAT.get(matrix_format, "svg+xml"),
                                layout=W.Layout(max_width="100%", display="none"))
        parts = [self._w_text, W.HBox([validate, apply]), self._w_message, self._w_matrix, self._w_image]
        self._view = _View(parts, lambda: None, self.static,
                           layout=W.Layout(width="100%", max_width="100%", overflow="hidden"))
        self._view.add_class("nphelpers-policy-editor")
        lab.on_change(self._on_lab_change, key="nphelpers.widgets.PolicyEditor")

    # -- read-only results ----------------------------------------------------------
    @property
    def text(self) -> str:
        """The YAML in the text area (settable, e.g. to load the next exercise)."""
        return self._w_text.value

    @text.setter
    def text(self, value: str) -> None:
        self._w_text.value = value

    @property
    def message(self) -> str:
        """What the editor shows under the text: the error line, or the result of validate/apply."""
        return self._message

    @property
    def error(self) -> str | None:
        """The one-line error of the last validate/apply, or None when it succeeded."""
        return self._error

    @property
    def lines(self) -> list[str]:
        """kubectl's lines from the last successful apply."""
        return list(self._lines)

    @property
    def matrix(self) -> Reachability | None:
        """The matrix drawn after the last apply (None before the first)."""
        return self._matrix

    @property
    def previous_matrix(self) -> Reachability | None:
        """The matrix just before the last apply (the diff's "before")."""
        return self._previous

    @property
    def image(self) -> bytes:
        """The matrix figure drawn after the last apply (``matrix_format`` svg/png), else b""."""
        return self._image

    @property
    def matrix_markup(self) -> str:
        """The HTML matrix drawn after the last apply (``matrix_format="html"``), else ""."""
        return self._matrix_markup

    # -- actions ----------------------------------------------------------------------
    def validate(self) -> str | None:
        """Check the text; returns the one-line error (also shown in red) or None when valid."""
        from .manifests import load_text

        try:
            result = load_text(self.text, source="editor", namespace=self.lab.namespace)
        except ManifestError as err:
            return self._show_error(str(err))
        if not result.objects:
            return self._show_error("editor: nothing to apply: no Pod, Service, Namespace or NetworkPolicy found")
        self._objects = result.objects
        self._notes = [f"note: {n}" for n in result.notes]
        names = ", ".join(f"{kubectl.resource_name(o['kind'])}/{o['metadata']['name']}" for o in result.objects)
        self._show([f"valid: {names}", *self._notes])
        return None

    def apply(self) -> list[str]:
        """Validate, then apply through the lab; returns kubectl's lines ([] when invalid)."""
        if self.validate() is not None:
            return []
        state = self.lab.state()
        before = reachability(state, self.port, self.protocol, pods=self._lab_pods(state))
        self._busy = True
        try:
            with self.lab.captured() as printed:
                self.lab.apply_objects(self._objects)
        except NphelpersError as err:
            self._show_error(str(err))
            return []
        finally:
            self._busy = False
        lines = list(printed)
        self._lines = lines
        state = self.lab.state()
        self._previous = before
        self._matrix = reachability(state, self.port, self.protocol, pods=self._lab_pods(state))
        if self.matrix_format == "html":
            self._matrix_markup = matrix_html(self._matrix, before)
            self._w_matrix.value = self._matrix_markup
        else:
            self._image = _plot_image(self._matrix, state, before, self.matrix_format)
            self._w_image.value = self._image
            self._w_image.layout.display = None
        self._show(["$ kubectl apply -f - <<EOF ... EOF", *self._notes, *lines])
        return list(lines)

    def view(self) -> W.VBox:
        """The widget to display in the notebook."""
        return self._view

    def static(self) -> tuple[str, str]:
        """A picture of the editor for places without widgets: (text/plain, text/html)."""
        plain = "Policy editor: run the notebook to edit and apply.\n" + self.text
        rich = (f'<div style="max-width:100%"><p style="{_NOTE_STYLE}"><i>The policy editor as the lesson left '
                f"it; run the notebook to edit and apply.</i></p>{_pre(self.text)}</div>")
        return plain, rich

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self._view)

    # -- internals --------------------------------------------------------------------
    def _on_lab_change(self) -> None:
        """The cluster changed through the lab (not by this editor): follow the policy in force if the
        text is still what the editor loaded, and redraw a shown matrix without a diff."""
        if self._busy:
            return
        try:
            if self._filled and self.text == self._filled:
                self._filled = _policy_yaml(self.lab, self._policy)
                self._w_text.value = self._filled
            if self._matrix is not None:
                state = self.lab.state()
                self._previous = self._matrix = reachability(state, self.port, self.protocol,
                                                             pods=self._lab_pods(state))
                if self.matrix_format == "html":
                    self._matrix_markup = matrix_html(self._matrix)
                    self._w_matrix.value = self._matrix_markup
        except NphelpersError as err:
            self._show_error(str(err))

    def _lab_pods(self, state: ClusterState) -> list[str]:
        return sorted(k for k, p in state.pods.items() if p.namespace == self.lab.namespace)

    def _show_error(self, message: str) -> str:
        message = message.replace("\n", " ")  # one line, whatever the source
        self._error = message
        self._message = message
        self._w_message.value = _error_html(message)
        return message

    def _show(self, lines: list[str]) -> None:
        self._error = None
        self._message = "\n".join(lines)
        self._w_message.value = _pre(self._message, _OK_STYLE)
