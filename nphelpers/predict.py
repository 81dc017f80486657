"""Predict, then reveal: the learner says which connections will be blocked, the lab scores it.

Two forms of one thing:

* ``lab.predict(blocked=[("test-blocked", "apiserver")])`` prints the score and the
  surprising cells, deterministically (for nbval and autograders), and returns a
  :class:`PredictionResult`;
* ``lab.predict()`` returns a :class:`PredictWidget`: a grid of toggles, one per
  connection, and a Reveal button that shows the same score and colours the surprises.

The truth is the lab's matrix on a port/protocol, now or, with ``after=``, as it would be once
a given policy is applied (judged on a copy; nothing changes). Names follow
:mod:`nphelpers.exercises`: ``web`` in the lab's namespace, ``prod/web`` elsewhere, patterns
allowed (``("*", "web")``). A pod always reaches itself, so the diagonal is not scored.
ipywidgets is imported only when the widget is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .exercises import load_answer, matches, resolve, show
from .matrix import Reachability, reachability

if TYPE_CHECKING:
    from .lab import Lab

__all__ = ["PredictionResult", "PredictWidget", "Surprise", "predict", "score", "truth"]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Surprise:
    """A connection the learner got wrong: what they expected and what is so."""

    source: str
    destination: str
    expected: str
    actual: str

    def describe(self, namespace: str) -> str:
        return (f"{show(self.source, namespace)} → {show(self.destination, namespace)}: "
                f"you expected {self.expected}, it is {self.actual}")


@dataclass(frozen=True)
class PredictionResult:
    """The score of a prediction: ``right`` of ``total`` connections, and the surprises. Truthy when all right."""

    port: int
    protocol: str
    namespace: str
    right: int
    total: int
    surprises: tuple[Surprise, ...]

    def __bool__(self) -> bool:
        return not self.surprises

    def __str__(self) -> str:
        lines = [f"Your prediction on {self.port}/{self.protocol}: {self.right} of {self.total} connections right."]
        if not self.surprises:
            lines.append("No surprises: the cluster does what you expected.")
        else:
            lines.append("Surprises:")
            lines += [f"  {s.describe(self.namespace)}" for s in self.surprises]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def score(matrix: Reachability, blocked: Iterable[Pair], namespace: str) -> PredictionResult:
    """Score ``blocked`` (patterns) against ``matrix``; the diagonal is left out."""
    pods = list(matrix.pods)
    predicted: set[Pair] = set()
    for pair in blocked:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise UsageError(f"a prediction is a (source, destination) pair of pod names, not {pair!r}")
        src, dst = pair
        hits = [(s, d) for s in pods for d in pods if matches(src, s, namespace) and matches(dst, d, namespace)]
        if not hits:
            names = ", ".join(show(p, namespace) for p in pods)
            raise UsageError(f"no connection {src} → {dst} in the matrix (its pods: {names})")
        if all(s == d for s, d in hits):
            raise UsageError(f"{src} → {src}: a pod always reaches itself (the diagonal is not scored); leave it out")
        predicted |= {(s, d) for s, d in hits if s != d}
    surprises = []
    for s in pods:
        for d in pods:
            if s == d:
                continue
            actual = "allowed" if matrix.is_allowed(s, d) else "blocked"
            expected = "blocked" if (s, d) in predicted else "allowed"
            if actual != expected:
                surprises.append(Surprise(s, d, expected, actual))
    total = len(pods) * (len(pods) - 1)
    return PredictionResult(matrix.port, matrix.protocol, namespace, total - len(surprises), total, tuple(surprises))


def truth(lab: Lab, port: int = 80, protocol: str = "TCP", after: str | os.PathLike[str] | None = None,
          pods: Sequence[str] | None = None) -> Reachability:
    """The matrix a prediction is scored against: the lab's now, or with ``after`` applied to a copy."""
    chosen = [resolve(p, lab.namespace) for p in pods] if pods is not None else list(lab.matrix(port, protocol).pods)
    state = lab.state()
    if after is not None:
        for obj in load_answer(after, lab.namespace):
            state.apply(obj, lab.namespace)
    return reachability(state, port, protocol, pods=chosen)


def predict(lab: Lab, blocked: Iterable[Pair] | None = None, *, port: int = 80, protocol: str = "TCP",
            after: str | os.PathLike[str] | None = None, pods: Sequence[str] | None = None,
            say: Callable[..., None] = print) -> PredictionResult | PredictWidget:
    """Score ``blocked`` and print the result; without ``blocked``, the widget (see the module docstring)."""
    if blocked is None:
        return PredictWidget(lab, port=port, protocol=protocol, after=after, pods=pods)
    if isinstance(blocked, tuple) and len(blocked) == 2 and all(isinstance(p, str) for p in blocked):
        blocked = [blocked]  # one pair given on its own
    result = score(truth(lab, port, protocol, after, pods), list(blocked), lab.namespace)
    say(str(result))
    return result


class PredictWidget:
    """Toggles for "I expect this blocked", one per connection, and a Reveal button.

    The plain methods (:meth:`mark`, :meth:`reveal`) do the work and tests call them; the
    ipywidgets handlers only call them. The truth is computed when revealed.
    """

    def __init__(self, lab: Lab, *, port: int = 80, protocol: str = "TCP",
                 after: str | os.PathLike[str] | None = None, pods: Sequence[str] | None = None) -> None:
        self.lab = lab
        self.port = port
        self.protocol = protocol
        self.after = after
        first = truth(lab, port, protocol, after, pods)  # checks the answer and names now, not at reveal
        self.pods: list[str] = list(first.pods)
        self.marked: set[Pair] = set()
        self.result: PredictionResult | None = None
        self._toggles: dict[Pair, Any] = {}
        self._view: Any = None

    # -- the work ---------------------------------------------------------------------------
    def mark(self, source: str, destination: str, blocked: bool = True) -> None:
        """Mark (or unmark) one connection as expected blocked."""
        pair = (resolve(source, self.lab.namespace), resolve(destination, self.lab.namespace))
        if pair[0] not in self.pods or pair[1] not in self.pods or pair[0] == pair[1]:
            raise UsageError(f"no connection {source} → {destination} to predict here")
        if self.result is not None:
            raise UsageError("already revealed: make a new prediction with lab.predict()")
        (self.marked.add if blocked else self.marked.discard)(pair)
        toggle = self._toggles.get(pair)
        if toggle is not None and toggle.value != blocked:
            toggle.value = blocked

    def reveal(self) -> PredictionResult:
        """Score the marks against the truth (now), and show it."""
        matrix = truth(self.lab, self.port, self.protocol, self.after, self.pods)
        self.result = score(matrix, sorted(self.marked), self.lab.namespace)
        if self._view is not None:
            self._show_result()
        return self.result

    # -- the widgets --------------------------------------------------------------------------
    def view(self) -> Any:
        """The ipywidgets box: the grid, the Reveal button and the result."""
        if self._view is None:
            self._build()
        return self._view

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self.view())

    def _build(self) -> None:
        import ipywidgets as W

        ns = self.lab.namespace
        names = [show(p, ns) for p in self.pods]
        cells: list[Any] = [W.HTML("<b>from \\ to</b>")] + [W.HTML(f"<b>{n}</b>") for n in names]
        for src, src_name in zip(self.pods, names, strict=True):
            cells.append(W.HTML(f"<b>{src_name}</b>"))
            for dst in self.pods:
                if src == dst:
                    cells.append(W.HTML("<span title='a pod always reaches itself'>self</span>"))
                    continue
                toggle = W.ToggleButton(value=(src, dst) in self.marked, description="blocked?",
                                        tooltip=f"{src_name} → {show(dst, ns)}",
                                        layout=W.Layout(width="auto"))
                toggle.observe(self._on_toggle(src, dst), names="value")
                self._toggles[(src, dst)] = toggle
                cells.append(toggle)
        grid = W.GridBox(cells, layout=W.Layout(grid_template_columns=f"repeat({len(self.pods) + 1}, auto)"))
        self._button = W.Button(description="Reveal", button_style="primary")
        self._button.on_click(lambda _b: self.reveal())
        self._output = W.HTML("")
        title = f"Mark the connections you expect to be blocked on {self.port}/{self.protocol}, then reveal."
        self._view = W.VBox([W.HTML(title), grid, self._button, self._output])

    def _on_toggle(self, source: str, destination: str) -> Callable[[dict[str, Any]], None]:
        def handler(change: dict[str, Any]) -> None:
            if self.result is None:
                (self.marked.add if change["new"] else self.marked.discard)((source, destination))
        return handler

    def _show_result(self) -> None:
        import html

        assert self.result is not None
        wrong = {(s.source, s.destination) for s in self.result.surprises}
        for pair, toggle in self._toggles.items():
            toggle.disabled = True
            toggle.button_style = "danger" if pair in wrong else "success"
            toggle.description = "blocked" if pair in self.marked else "allowed"
        self._button.disabled = True
        self._output.value = f"<pre>{html.escape(str(self.result))}</pre>"
