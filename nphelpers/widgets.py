"""Interactive widgets for the lessons: label toggles and a policy editor (ipywidgets 8).

:class:`LabelToggles` lets a student tick labels on the lab's pods and see at once what
that does: the reachability matrix (with the cells that changed outlined), real ``wget``
probes to the lesson's Service, the engine's explanation of one chosen pair, and the
``kubectl label`` command that makes the same change. :class:`PolicyEditor` is a YAML text
area that validates and applies a policy, errors shown inline as one line.

Every callback is a plain method (``toggle``, ``set_label``, ``select``, ``validate``,
``apply``, ...) and every rendered result is a read-only property, so tests drive the
widgets without a browser; the ipywidgets event handlers only call those methods. Widgets
are built once; a change re-renders the matrix to an image (SVG by default, PNG on request)
and updates widget values in place.

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

__all__ = ["DEFAULT_IMAGE_FORMAT", "DEFAULT_LABELS", "ImageFormat", "LabelToggles", "PolicyEditor", "render_image"]

DEFAULT_LABELS: tuple[tuple[str, str], ...] = (("app", "bookstore"), ("role", "api"))
MANAGED_BY = "app.kubernetes.io/managed-by"  # bookkeeping label the lab adds; never shown
PNG_DPI = 90  # sharp enough in JupyterLab, few enough pixels to rasterize quickly
PNG_COMPRESS = 1  # zlib level: 1 is several times faster than Pillow's 6, for a slightly larger PNG
ImageFormat = Literal["png", "svg"]
# SVG by default: no rasterizing and no zlib, so a toggle redraws in roughly 0.5-0.7x the
# time of PNG (benchmarks/widget_latency.py); PNG is pixel-exact where SVG uses browser fonts.
DEFAULT_IMAGE_FORMAT: ImageFormat = "svg"
_WIDGET_FORMAT = {"png": "png", "svg": "svg+xml"}  # ipywidgets.Image's name for each

_ERROR_STYLE = "color:#b00020;font-weight:600;line-height:1.4"
_OK_STYLE = "color:#1b5e20"
_MONO = "font-family:var(--jp-code-font-family, monospace);font-size:12px"
_OUTCOME_STYLE = {
    "allowed": ("✓ allowed", "#2166AC"),
    "blocked": ("✗ blocked", "#8a4b00"),
    "dns-failure": ("✗ dns-failure", "#8a4b00"),
    "refused": ("✗ refused", "#8a4b00"),
}


# -- helpers ---------------------------------------------------------------------------
def render_image(fig: Any, fmt: ImageFormat = DEFAULT_IMAGE_FORMAT) -> bytes:
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


def _plot_image(
    matrix: Reachability, state: ClusterState, previous: Reachability | None, title: str | None, fmt: ImageFormat
) -> bytes:
    """The matrix figure (a diff against ``previous`` when it covers the same pods) as image bytes."""
    from .plotting import plot_matrix

    compare = previous if previous is not None and list(previous.pods) == list(matrix.pods) else None
    fig = plot_matrix(matrix, state, title=title, compare=compare, compare_label=("before", "after"))
    return render_image(fig, fmt)


def _changed_cells(before: Reachability | None, after: Reachability) -> list[tuple[str, str, bool, bool]]:
    """``(source, destination, was_allowed, now_allowed)`` for every cell that flipped."""
    if before is None or list(before.pods) != list(after.pods):
        return []
    rows, cols = (before.allowed != after.allowed).nonzero()
    return [
        (after.pods[i], after.pods[j], bool(before.allowed[i, j]), bool(after.allowed[i, j]))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]


def _label_text(labels: Mapping[str, str]) -> str:
    """Labels as ``kubectl get --show-labels`` prints them, without the lab's bookkeeping label."""
    shown = [f"{k}={v}" for k, v in sorted(labels.items()) if k != MANAGED_BY]
    return ",".join(shown) or "<none>"


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
    # pre-wrap at spaces only: JupyterLab's default would split words mid-way
    wrap = "white-space:pre-wrap;word-break:normal;overflow-wrap:normal"
    return f'<pre style="margin:0;{wrap};{_MONO};{style}">{html.escape(text)}</pre>'


def _error_html(message: str | None) -> str:
    return f'<div style="{_ERROR_STYLE}">error: {html.escape(message)}</div>' if message else ""


# -- label toggles ---------------------------------------------------------------------
class LabelToggles:
    """Checkboxes that put lesson labels on and off the lab's pods, with live consequences.

    One row per pod: a checkbox per lesson label (``labels``, default ``app=bookstore`` and
    ``role=api``; checked when the pod carries exactly that value), the pod's current
    labels, and a free ``key=value`` box with add/remove buttons. Every change goes to the
    backend (``kubectl label``), then the matrix (diffed against the previous one), the
    probes, the selected pair's explanation and the equivalent kubectl command are
    refreshed. On a live kind cluster probes take seconds, so they run only on the
    "probe now" button; the matrix and explanation are the policies' prediction and stay
    instant. On the simulator probes run after every change.

    ``pods``: pod names (or ``ns/name``) to show; default every pod in the lab's namespace.
    ``target``: what clients ``wget`` (a Service name in the lab's namespace or a URL);
    the default ``apiserver`` is probed only if that Service exists. ``clients``: the pods
    that probe; default the shown pods that are not behind the target Service.
    ``image_format``: ``"svg"`` (default, faster) or ``"png"`` (pixel-exact text).
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
        image_format: ImageFormat = DEFAULT_IMAGE_FORMAT,
    ) -> None:
        self.lab = lab
        self.port = port
        self.protocol = protocol
        self.labels = [(str(k), str(v)) for k, v in labels]
        self.timeout = timeout
        self.image_format: ImageFormat = image_format
        self.live = getattr(lab.backend, "name", "") == "kind"
        self.auto_probe = (not self.live) if auto_probe is None else auto_probe

        state = lab.backend.state()
        if pods is None:
            self.pods = sorted(k for k, p in state.pods.items() if p.namespace == lab.namespace)
        else:
            self.pods = sorted(self._key(p) for p in pods)
            for key in self.pods:
                state.pod(key)  # NotFoundError now rather than on the first change
        self.url, servers = self._target(state, target)
        if clients is None:
            self.clients = [k for k in self.pods if k not in servers] if self.url else []
        else:
            self.clients = [self._key(c) for c in clients]

        self._state = state
        self._matrix: Reachability | None = None
        self._previous: Reachability | None = None
        self._probes: list[ProbeResult] = []
        self._probes_stale = False
        self._explanation = ""
        self._last_command = ""
        self._last_output = ""
        self._error: str | None = None
        self._image = b""
        self._syncing = False  # True while widget values are set from the state (no callbacks)

        self.source, self.destination = self._default_pair(state, servers)
        self._build()
        self.refresh(probe=self.auto_probe)

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
    def explanation(self) -> str:
        """``Verdict.explain()`` for the selected pair (``source`` -> ``destination``)."""
        return self._explanation

    @property
    def last_command(self) -> str:
        """The kubectl command equivalent to the last change (``kubectl label pod X app-``)."""
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
        """The matrix figure last rendered (PNG or SVG bytes, as ``image_format`` says)."""
        return self._image

    # -- actions (the widget handlers call these) ------------------------------------
    def toggle(self, pod: str, key: str, value: str, on: bool) -> None:
        """Tick (``on``: set ``key=value``) or untick (remove ``key``) a lesson label on ``pod``."""
        self._change(pod, key, value if on else None)

    def set_label(self, pod: str, text: str) -> None:
        """Apply the free text ``key=value`` (or ``key-``) to ``pod``; bad input only sets :attr:`error`."""
        try:
            key, value = _parse_change(text)
        except ValueError as err:
            self._fail(str(err))
            return
        self._change(pod, key, value)

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
        self._change(pod, key, None)

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
        try:
            self._state = self.lab.backend.state()
        except NphelpersError as err:  # e.g. the kind cluster went away: say so, keep the last picture
            self._fail(str(err))
            return
        self._compute_matrix()
        self._explain()
        if self.auto_probe if probe is None else probe:
            self.probe()
        elif self._probes:
            self._probes_stale = True
        # Text first (instant in the browser), then the figure, the one slow part.
        self._sync_widgets()
        self._draw_matrix()

    def probe(self) -> list[ProbeResult]:
        """Run the probes now: ``wget`` from every client to the target (seconds each on kind)."""
        if not self.url:
            self._probes = []
            return []
        if self.live:
            self._w_probes.value = _pre("probing… (each wget runs in its pod)", "color:#555")
        stable: Callable[..., ProbeResult] | None = getattr(self.lab.backend, "probe_stable", None)
        wget = stable or self.lab.backend.wget
        results = []
        for client in self.clients:
            if client not in self._state.pods:  # deleted since: nothing to exec in
                continue
            try:
                results.append(wget(client, self.url, self.timeout))
            except NphelpersError as err:
                self._fail(str(err))
                break
        self._probes = results
        self._probes_stale = False
        self._w_probes.value = self._probes_html()
        return list(results)

    def view(self) -> W.VBox:
        """The widget to display in the notebook (built once, updated in place)."""
        return self._view

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self._view)

    # -- internals --------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return name if "/" in name else f"{self.lab.namespace}/{name}"

    def _target(self, state: ClusterState, target: str | None) -> tuple[str | None, set[str]]:
        """The probe URL and the pods serving it (those are not clients)."""
        if not target:
            return None, set()
        if "://" in target:
            return target, set()
        service = state.services.get(self._key(target))
        if service is None:
            return None, set()
        url = f"http://{target}" + (f":{self.port}" if self.port != 80 else "")
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

    def _change(self, pod: str, key: str, value: str | None) -> None:
        """Label ``pod`` through the backend (quietly), then refresh everything."""
        name = self._key(pod).rpartition("/")[2]
        change = {key: value}
        try:
            output = kubectl.render(self.lab.backend.label("pod", name, change, self.lab.namespace))
        except NotFoundError as err:
            # Most often the lesson ran to its cleanup cell: say how to get the pods back.
            self.refresh()  # show what is really left: deleted pods get disabled boxes
            self._fail(f"{err}: was the lab cleaned up? Run the lesson's cells down to this one again "
                       "(Kernel > Restart Kernel and Run up to Selected Cell).")
            self._sync_widgets()
            return
        except NphelpersError as err:
            self._fail(str(err))
            self._sync_widgets()  # put a clicked checkbox back to what the pod really has
            return
        # The command a student would type (the lab's namespace is the context's).
        self._last_command = kubectl.label_command("pod", name, change, namespace=self.lab.namespace)
        self._last_output = output
        self._error = None
        self.refresh()

    def _compute_matrix(self) -> None:
        """The matrix for the current state; the one shown so far becomes the previous one."""
        pods = [k for k in self.pods if k in self._state.pods]
        matrix = reachability(self._state, self.port, self.protocol, pods=pods)
        self._previous, self._matrix = self._matrix, matrix

    def _draw_matrix(self) -> None:
        """Redraw the figure as a diff against the previous matrix, into the Image widget."""
        self._image = _plot_image(self.matrix, self._state, self._previous, None, self.image_format)
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
        self._w_text: dict[str, tuple[W.Text, W.Button, W.Button]] = {}  # pod -> key=value box, add, remove
        rows: list[W.Widget] = []
        head = [W.HTML("<b>pod</b>", layout=W.Layout(width="130px"))]
        head += [W.HTML(f"<b>{html.escape(k)}={html.escape(v)}</b>", layout=W.Layout(width="140px"))
                 for k, v in self.labels]
        head += [W.HTML("<b>labels now</b>", layout=W.Layout(width="250px")),
                 W.HTML("<b>any label</b>", layout=W.Layout(width="260px"))]
        rows.append(W.HBox(head))
        for pod in self.pods:
            name = pod.rpartition("/")[2]
            cells: list[W.Widget] = [W.HTML(f"<code>{html.escape(name)}</code>", layout=W.Layout(width="130px"))]
            for key, value in self.labels:
                box = W.Checkbox(value=False, indent=False, description="", layout=W.Layout(width="140px"))
                box.observe(self._on_check(pod, key, value), names="value")
                self._w_checks[(pod, key, value)] = box
                cells.append(box)
            current = W.HTML(layout=W.Layout(width="250px"))
            self._w_current[pod] = current
            text = W.Text(placeholder="key=value", layout=W.Layout(width="140px"))
            add = W.Button(description="add", tooltip=f"kubectl label pod {name} key=value --overwrite",
                           layout=W.Layout(width="55px"))
            remove = W.Button(description="remove", tooltip=f"kubectl label pod {name} key-",
                              layout=W.Layout(width="80px"))
            add.on_click(lambda _b, p=pod, t=text: self.set_label(p, t.value))
            remove.on_click(lambda _b, p=pod, t=text: self.remove_label(p, t.value))
            self._w_text[pod] = (text, add, remove)
            rows.append(W.HBox([*cells, current, text, add, remove]))

        self._w_error = W.HTML()
        self._w_command = W.HTML()
        self._w_image = W.Image(format=_WIDGET_FORMAT[self.image_format], layout=W.Layout(max_width="560px"))
        self._w_probes = W.HTML()
        options = [(k.rpartition("/")[2], k) for k in self.pods]
        self._w_from = W.Dropdown(options=options, description="from", layout=W.Layout(width="220px"))
        self._w_to = W.Dropdown(options=options, description="to", layout=W.Layout(width="220px"))
        for dropdown in (self._w_from, self._w_to):
            dropdown.observe(self._on_select, names="value")
        self._w_explain = W.HTML()

        probe_box: list[W.Widget] = [W.HTML(f"<b>probes</b> <code>wget -qO- --timeout={self.timeout} "
                                            f"{html.escape(self.url or '-')}</code> from each client")]
        if not self.auto_probe and self.url:
            button = W.Button(description="probe now", icon="play", button_style="info",
                              tooltip="run wget in each client pod (takes seconds on kind)")
            button.on_click(lambda _b: self.probe())
            probe_box.append(button)
        if self.live:
            probe_box.append(W.HTML("<i>The matrix and <b>why?</b> are the policies' prediction, instant; "
                                    "the probes are what the cluster really does.</i>"))
        side = W.VBox([W.VBox(probe_box), self._w_probes,
                       W.HTML("<b>why?</b>"), W.HBox([self._w_from, self._w_to]), self._w_explain],
                      layout=W.Layout(min_width="420px", padding="0 0 0 12px"))
        self._view = W.VBox([
            W.VBox(rows),
            self._w_error,
            self._w_command,
            W.HBox([self._w_image, side]),
        ])

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
                widget.value = f"<code>{html.escape(_label_text(pod_obj.labels) if pod_obj else 'deleted')}</code>"
            if self.source and self.destination:
                self._w_from.value, self._w_to.value = self.source, self.destination
        finally:
            self._syncing = False
        self._w_error.value = _error_html(self._error)
        if self._last_command:
            self._w_command.value = _pre(f"$ {self._last_command}\n{self._last_output}")
        else:
            self._w_command.value = _pre("(tick a label: the kubectl command appears here)", "color:#555")
        self._w_probes.value = self._probes_html()
        self._w_explain.value = _pre(self._explanation)

    def _probes_html(self) -> str:
        if not self.url:
            return _pre("(no target Service to probe)", "color:#555")
        if not self._probes:
            return _pre('(press "probe now" to run them)' if not self.auto_probe else "(no client pods)", "color:#555")
        rows = []
        for r in self._probes:
            word, colour = _OUTCOME_STYLE.get(r.outcome, (r.outcome, "#000"))
            rows.append(
                f"<tr><td><code>{html.escape(r.source.rpartition('/')[2])}</code></td>"
                f'<td style="color:{colour};font-weight:600">{html.escape(word)}</td>'
                f"<td><code>{html.escape(_first_line(r.output) or '(empty)')}</code></td></tr>"
            )
        stale = ('<div style="color:#8a4b00">labels changed since: these are the old results, '
                 "press \"probe now\"</div>" if self._probes_stale else "")
        return (f'<table style="{_MONO}"><tr><th align="left">from</th><th align="left">outcome</th>'
                f'<th align="left">wget prints</th></tr>{"".join(rows)}</table>{stale}')


# -- policy editor ---------------------------------------------------------------------
class PolicyEditor:
    """A YAML text area with Validate and Apply: errors inline (one red line), never a traceback.

    Validation is :func:`nphelpers.manifests.load_text` (the same checks as ``lab.apply``).
    Apply goes through the lab (objects land in its namespace and carry its label), shows
    kubectl's result lines and redraws the reachability matrix, outlining the cells the
    change flipped.
    """

    def __init__(
        self, lab: Lab, text: str = "", *, port: int = 80, protocol: str = "TCP", rows: int = 18,
        image_format: ImageFormat = DEFAULT_IMAGE_FORMAT,
    ) -> None:
        self.lab = lab
        self.image_format: ImageFormat = image_format
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

        self._w_text = W.Textarea(value=text, rows=rows, layout=W.Layout(width="520px"))
        validate = W.Button(description="Validate", icon="check")
        apply = W.Button(description="Apply", icon="upload", button_style="primary")
        validate.on_click(lambda _b: self.validate())
        apply.on_click(lambda _b: self.apply())
        self._w_message = W.HTML()
        # Hidden until the first apply: an Image without a value shows as a broken picture.
        self._w_image = W.Image(format=_WIDGET_FORMAT[image_format],
                                layout=W.Layout(max_width="520px", display="none"))
        self._view = W.HBox([
            W.VBox([self._w_text, W.HBox([validate, apply]), self._w_message]),
            self._w_image,
        ])

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
        """The matrix figure drawn after the last apply (PNG or SVG bytes)."""
        return self._image

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
        state = self.lab.backend.state()
        pods = self._lab_pods(state)
        before = reachability(state, self.port, self.protocol, pods=pods)
        try:
            with self.lab.quiet():
                lines = self.lab.apply_objects(self._objects)
        except NphelpersError as err:
            self._show_error(str(err))
            return []
        self._lines = list(lines)
        state = self.lab.backend.state()
        self._previous = before
        self._matrix = reachability(state, self.port, self.protocol, pods=self._lab_pods(state))
        self._image = _plot_image(self._matrix, state, before, None, self.image_format)
        self._w_image.value = self._image
        self._w_image.layout.display = None
        self._show(["$ kubectl apply -f - <<EOF ... EOF", *self._notes, *lines])
        return list(lines)

    def view(self) -> W.HBox:
        """The widget to display in the notebook."""
        return self._view

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self._view)

    # -- internals --------------------------------------------------------------------
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
