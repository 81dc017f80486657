"""How long a label toggle takes to show its consequences in the lesson widget.

Builds lesson 2 on the simulator (nginx ``apiserver`` behind a Service, clients
``test-blocked`` and ``test-allowed``, policy ``api-allow``; ``--extra`` adds more client
pods), then times N toggles of ``app=bookstore`` on ``test-blocked`` through
:meth:`LabelToggles.toggle`: label change, new matrix, the matrix drawn (HTML table by
default, or the SVG/PNG figure), probes, endpoints, explanation and widget updates; kernel side
only. Separately it times the figure redraw alone for SVG and PNG. Prints median and p95 in
milliseconds, wall clock and CPU time of this process.

With ``--browser`` it also measures the whole round trip a student sees: JupyterLab (headless,
on a free localhost port) runs a two-cell notebook with the widget in Debian's chromium at
1024x768; each click on the checkbox is timed from the click to the frame after the matrix
changed on screen (kernel, comm messages and rendering included).

    .venv/bin/python benchmarks/widget_latency.py [-n 30] [--extra 2] [--browser]

The budget is 150 ms for a toggle with the lesson's 4-6 pods, in the browser. A CPU-bound
reference loop is timed too, so figures from a busy or slow machine can be put in proportion.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

from nphelpers.lab import Lab  # noqa: E402
from nphelpers.lessons import deploy_lesson_02  # noqa: E402
from nphelpers.matrix import reachability  # noqa: E402
from nphelpers.plotting import plot_matrix  # noqa: E402
from nphelpers.widgets import ImageFormat, LabelToggles, MatrixFormat, render_image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


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


def bench_toggles(lab: Lab, fmt: MatrixFormat, n: int) -> None:
    """Time toggles with the matrix drawn as ``fmt`` (kernel side: everything up to the widget values)."""
    toggles = LabelToggles(lab, matrix_format=fmt)  # first render pays imports and font caches
    toggles.toggle("test-blocked", "app", "bookstore", True)
    toggles.toggle("test-blocked", "app", "bookstore", False)
    print(f"\n[{fmt}] {len(toggles.pods)} pods, {len(toggles.clients)} probe clients")
    # Alternate on/off so that every toggle flips a cell and draws a diff.
    report("toggle -> everything refreshed",
           timed(lambda i: toggles.toggle("test-blocked", "app", "bookstore", i % 2 == 0), n))
    assert toggles.error is None


def bench_figure(lab: Lab, fmt: ImageFormat, n: int) -> None:
    """The figure alone (``matrix_format`` svg/png): reachability, plot_matrix, rendering."""
    state = lab.state()
    pods = sorted(k for k in state.pods if k.startswith(f"{lab.namespace}/"))
    before = reachability(state, 80, "TCP", pods=pods)

    def redraw(_: int) -> None:
        after = reachability(lab.state(), 80, "TCP", pods=pods)
        render_image(plot_matrix(after, state, compare=before), fmt)

    figures: list[Figure] = []
    print(f"\n[{fmt} figure]")
    report("matrix redraw (matrix+figure+image)", timed(redraw, n))
    report("  plot_matrix (build the figure)",
           timed(lambda _: figures.append(plot_matrix(before, state, compare=before)), n))
    report(f"  render {fmt.upper()}", timed(lambda i: render_image(figures[i], fmt), n))


NOTEBOOK_CELLS = [
    "from nphelpers import Lab\nfrom nphelpers.lessons import deploy_lesson_02\n"
    "lab = Lab(backend='simulated', namespace='lesson-02', out=None)\ndeploy_lesson_02(lab, extra_clients={extra})",
    "lab.widget()",
]

CLICKS = """async ([n, pod, label]) => {
    const root = document.querySelector('.nphelpers-label-widget');
    const text = el => (el.innerText || el.textContent || '').trim();
    const rows = [...root.querySelectorAll('.widget-hbox')];
    const header = rows.find(r => [...r.children].some(c => text(c) === label));
    const column = [...header.children].findIndex(c => text(c) === label);
    const row = rows.find(r => text(r.children[0]) === pod);
    const box = row.children[column].querySelector('input[type=checkbox]');
    const matrix = root.querySelector('.nphelpers-matrix');
    const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    const times = [];
    for (let i = 0; i < n; i++) {
        const before = matrix.innerHTML;
        const changed = new Promise(resolve => {
            const seen = new MutationObserver(() => {
                if (matrix.innerHTML !== before) { seen.disconnect(); resolve(); }
            });
            seen.observe(matrix, {subtree: true, childList: true, characterData: true, attributes: true});
        });
        const start = performance.now();
        box.click();
        await changed;
        await frame();  // the frame that shows it
        times.push(performance.now() - start);
        await new Promise(r => setTimeout(r, 150));  // let the kernel settle before the next click
    }
    return times;
}"""


def bench_browser(n: int, extra: int, chromium: str) -> None:
    """Click the checkbox in real Chromium at 1024x768 and time click -> matrix redrawn on screen."""
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.browser.notebook import NotebookPage, ensure_file_browser_open, launch_chromium
    from tests.browser.server import jupyterlab

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "lab"
        root.mkdir()
        cells = [{"cell_type": "code", "metadata": {}, "source": src.format(extra=extra), "outputs": [],
                  "execution_count": None} for src in NOTEBOOK_CELLS]
        notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                "language": "python"}},
                    "nbformat": 4, "nbformat_minor": 5}
        (root / "bench.ipynb").write_text(json.dumps(notebook))
        env = {"NPHELPERS_BACKEND": "simulated", "JUPYTER_CONFIG_PATH": str(REPO / "jupyter"),
               "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
        with jupyterlab(root, Path(scratch) / "jupyter", env) as server, sync_playwright() as pw:
            context = launch_chromium(pw, chromium, Path(scratch) / "profile", size=(1024, 768))
            try:
                page = context.new_page()
                page.goto(server.url("lab/tree/bench.ipynb"), timeout=60_000)
                lab_page = NotebookPage(page)
                lab_page.wait_until_open(90_000)
                ensure_file_browser_open(page)
                lab_page.run_all(120_000)
                page.locator(".nphelpers-label-widget .nphelpers-matrix table").first.wait_for(timeout=60_000)
                width = page.evaluate("() => document.querySelector('.nphelpers-label-widget')"
                                      ".getBoundingClientRect().width")
                page.evaluate(CLICKS, [4, "test-blocked", "app=bookstore"])  # warm up
                times = page.evaluate(CLICKS, [n, "test-blocked", "app=bookstore"])
            finally:
                context.close()
    print(f"\n[browser] chromium 1024x768, file browser open, widget {width:.0f} px wide, {3 + extra} pods")
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{'click -> matrix redrawn on screen':<36} median {statistics.median(times):6.1f}  p95 {p95:6.1f}   "
          f"ms (n={len(times)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="toggles to time (default 30)")
    parser.add_argument("--extra", type=int, default=2, help="extra client pods (default 2: 5 pods)")
    parser.add_argument("--browser", action="store_true", help="also time the round trip in chromium")
    parser.add_argument("--chromium", default=os.environ.get("NPHELPERS_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    lab = lesson_lab(args.extra)
    print(f"reference loop: {reference_loop():.0f} ms cpu")
    for matrix_format in ("html", "svg", "png"):
        bench_toggles(lab, matrix_format, args.n)  # type: ignore[arg-type]
    for image_format in ("svg", "png"):
        bench_figure(lab, image_format, args.n)  # type: ignore[arg-type]
    if args.browser:
        bench_browser(args.n, args.extra, args.chromium)
    print(f"\nreference loop: {reference_loop():.0f} ms cpu")


if __name__ == "__main__":
    main()
