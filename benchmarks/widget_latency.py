"""How long a label toggle takes to show its consequences in the lesson widget.

Builds lesson 2 on the simulator (nginx ``apiserver`` behind a Service, clients
``test-blocked`` and ``test-allowed``, policy ``api-allow``; ``--extra`` adds more client
pods), then times N toggles of ``app=bookstore`` on ``test-blocked`` through
:meth:`LabelToggles.toggle`: label change, new matrix, diff figure rendered to PNG, probes,
explanation and widget updates. Separately it times the matrix redraw alone (reachability +
diff figure + image), and the figure's two halves; both for PNG and for SVG images. Prints
median and p95 in milliseconds, wall clock and CPU time of this process.

    .venv/bin/python benchmarks/widget_latency.py [-n 30] [--extra 2]

The budget is 150 ms for a toggle with the lesson's 4-6 pods. A CPU-bound reference loop is
timed too, so figures from a busy or slow machine can be put in proportion.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

from nphelpers.lab import Lab  # noqa: E402
from nphelpers.lessons import deploy_lesson_02  # noqa: E402
from nphelpers.matrix import reachability  # noqa: E402
from nphelpers.plotting import plot_matrix  # noqa: E402
from nphelpers.widgets import ImageFormat, LabelToggles, render_image  # noqa: E402


def lesson_lab(extra: int) -> Lab:
    lab = Lab(backend="simulated", namespace="lesson-02", out=False)
    deploy_lesson_02(lab, extra_clients=extra)
    return lab


if TYPE_CHECKING:
    from matplotlib.figure import Figure


def timed(fn: Callable[[int], object], n: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of ``fn(i)`` for i in 0..n-1 (CPU time shrugs off other processes)."""
    wall, cpu = [], []
    for i in range(n):
        w, c = time.perf_counter(), time.process_time()
        fn(i)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return wall, cpu


def stats(ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ms):6.1f}  p95 {p95:6.1f}"


def report(name: str, times: tuple[list[float], list[float]]) -> None:
    wall, cpu = times
    print(f"{name:<36} wall {stats(wall)}   cpu {stats(cpu)}   ms (n={len(wall)})")


def reference_loop() -> float:
    """CPU ms for a fixed pure-Python loop (about 40-60 ms on an idle modern core, CPython 3.11)."""
    start = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += i * i
    return (time.process_time() - start) * 1000


def bench_format(lab: Lab, fmt: ImageFormat, n: int) -> None:
    """Time toggles and their parts with the matrix drawn as ``fmt``."""
    toggles = LabelToggles(lab, image_format=fmt)  # first render pays imports and font caches
    toggles.toggle("test-blocked", "app", "bookstore", True)
    toggles.toggle("test-blocked", "app", "bookstore", False)
    pods = toggles.pods
    print(f"\n[{fmt}] {len(pods)} pods, {len(toggles.clients)} probe clients, backend {lab.backend.name}")

    # Alternate on/off so that every toggle flips a cell and draws a diff.
    report("toggle -> everything refreshed",
           timed(lambda i: toggles.toggle("test-blocked", "app", "bookstore", i % 2 == 0), n))
    assert toggles.error is None

    state = lab.state()
    before = reachability(state, 80, "TCP", pods=pods)

    def redraw(_: int) -> None:
        after = reachability(lab.state(), 80, "TCP", pods=pods)
        render_image(plot_matrix(after, state, compare=before), fmt)

    figures: list[Figure] = []
    report("matrix redraw (matrix+figure+image)", timed(redraw, n))
    report("  plot_matrix (build the figure)",
           timed(lambda _: figures.append(plot_matrix(before, state, compare=before)), n))
    report(f"  render {fmt.upper()}", timed(lambda i: render_image(figures[i], fmt), n))
    report("  reachability (state + matrix)", timed(lambda _: reachability(lab.state(), 80, "TCP", pods=pods), n))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="toggles to time (default 30)")
    parser.add_argument("--extra", type=int, default=2, help="extra client pods (default 2: 5 pods)")
    args = parser.parse_args()

    lab = lesson_lab(args.extra)
    print(f"reference loop: {reference_loop():.0f} ms cpu")
    for fmt in ("png", "svg"):
        bench_format(lab, fmt, args.n)
    print(f"\nreference loop: {reference_loop():.0f} ms cpu")


if __name__ == "__main__":
    main()
