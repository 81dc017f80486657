"""Lesson 02 in a real browser, as a person uses it.

JupyterLab runs headless on a free localhost port, serving a temporary copy of ``notebooks/``
(simulated backend). Debian's chromium, driven through Playwright, opens the lesson, clears the
outputs and runs every cell from the Run menu, then checks that each code cell ran and none
failed. Because the lesson ends by deleting its pods, the student's moment with the label widget
is recreated next: select the ``lab.widget()`` cell, Kernel > Restart Kernel and Run up to
Selected Cell. The test then ticks ``app=bookstore`` on ``test-blocked`` and checks that the
widget's probe to ``apiserver`` turns from a timeout into nginx's page, the matrix image is
redrawn and the equivalent ``kubectl label`` command is shown. Screenshots before and after the
click go to ``artifacts/browser/``.

The test skips when chromium (or Playwright or JupyterLab) is missing, unless
``NPHELPERS_REQUIRE_BROWSER=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO = Path(__file__).resolve().parent.parent
LESSON = "notebooks/02-limit-traffic-to-an-application.ipynb"
CHROMIUM = os.environ.get("NPHELPERS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "browser"
REQUIRED = os.environ.get("NPHELPERS_REQUIRE_BROWSER", "") == "1"
BUDGET_S = 170.0  # the whole test, server start to last screenshot


def _missing(what: str) -> None:
    if REQUIRED:
        pytest.fail(f"{what}, and NPHELPERS_REQUIRE_BROWSER=1 says the browser test must run")
    pytest.skip(f"{what}: the browser test needs it (apt-get install chromium; pip install -e '.[test]')")


def _check_tools() -> None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _missing(f"chromium is not installed at {CHROMIUM}")
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab"), ("ipywidgets", "ipywidgets")):
        if importlib.util.find_spec(module) is None:
            _missing(f"the Python package {package} is not installed")


class Budget:
    """What is left of the test's time, handed out step by step so that the whole stays bounded."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def ms(self, step_max_s: float) -> int:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the browser test ran out of its {BUDGET_S:.0f}s budget")
        return int(min(step_max_s, left) * 1000)


def _raises_exception_cells(notebook: Path) -> set[int]:
    """Code cells (by index among code cells) tagged ``raises-exception``: their errors are intended."""
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    return {i for i, c in enumerate(cells) if "raises-exception" in c.get("metadata", {}).get("tags", [])}


def _wait_for(condition: Callable[[], bool], timeout_ms: int, what: str, page: Page) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out after {timeout_ms / 1000:.0f}s waiting for {what}")


@pytest.mark.browser
def test_lesson_02_label_widget_in_chromium(tmp_path: Path) -> None:
    _check_tools()
    from playwright.sync_api import sync_playwright

    from tests.browser.notebook import LabelWidgetView, NotebookPage, launch_chromium
    from tests.browser.server import jupyterlab

    budget = Budget(BUDGET_S)
    lesson_source = REPO / LESSON
    assert lesson_source.is_file(), f"{LESSON} is missing"
    root = tmp_path / "lab"
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("lesson-02*.png"):
        stale.unlink()
    expected_errors = _raises_exception_cells(lesson_source)

    env = {
        "NPHELPERS_BACKEND": "simulated",
        # the kernel imports this checkout's package, whatever else is installed
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    console: list[str] = []
    with jupyterlab(root, tmp_path / "jupyter", env, timeout=budget.ms(60) / 1000) as server, sync_playwright() as pw:
        context = launch_chromium(pw, CHROMIUM, tmp_path / "chromium-profile")
        page = context.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            page.goto(server.url(f"lab/tree/{LESSON}"), timeout=budget.ms(30))
            notebook = NotebookPage(page)
            notebook.wait_until_open(budget.ms(60))

            # 1. Run > Run All Cells: every code cell runs, none fails.
            states = notebook.run_all(budget.ms(60))
            not_run = [i for i, s in enumerate(states) if not s.prompt.strip("[]:").isdigit()]
            errors = {i: t for i, t in notebook.error_outputs().items() if i not in expected_errors}
            assert not errors, "cells failed in Run All Cells:\n" + "\n\n".join(
                f"code cell {i}:\n{t}" for i, t in errors.items()
            )
            assert not not_run, f"Run All Cells left code cells {not_run} unrun: {[states[i].prompt for i in not_run]}"

            # 2. Back to where the student meets the widget: restart and run up to the lab.widget() cell.
            widget_cell = notebook.find_code_cell("lab.widget(")
            notebook.restart_and_run_to(widget_cell, budget.ms(60))
            errors = {i: t for i, t in notebook.error_outputs().items() if i <= widget_cell}
            assert not errors, f"cells failed before the widget: {errors}"
            view = LabelWidgetView(notebook.output_area(widget_cell))
            view.wait_until_rendered(budget.ms(30))
            view.root.evaluate("el => el.scrollIntoView({block: 'start'})")

            before_probes = view.probes()
            before_src = view.matrix_src()
            assert "timed out" in before_probes.get("test-blocked", ""), (
                f"before the click test-blocked should time out; probes: {before_probes}\n{view.text()}"
            )
            box = view.checkbox("test-blocked", "app=bookstore")
            assert not box.is_checked(), "test-blocked starts without app=bookstore"
            page.screenshot(path=str(ARTIFACTS / "lesson-02-before.png"))

            # 3. Tick app=bookstore on test-blocked: the probe, the matrix and the command line follow.
            box.click()
            _wait_for(
                lambda: "timed out" not in view.probes().get("test-blocked", "timed out"),
                budget.ms(20),
                "test-blocked's probe to stop timing out",
                page,
            )
            _wait_for(lambda: view.matrix_src() != before_src, budget.ms(10), "the matrix image to be redrawn", page)
            after_probes = view.probes()
            text = view.text()
            page.screenshot(path=str(ARTIFACTS / "lesson-02.png"))

            assert box.is_checked()
            assert "allowed" in after_probes["test-blocked"], after_probes
            assert "html" in after_probes["test-blocked"].lower(), f"expected nginx's page: {after_probes}"
            assert after_probes.get("test-allowed") == before_probes.get("test-allowed"), (before_probes, after_probes)
            assert "kubectl label pod test-blocked app=bookstore" in text, text
            assert "pod/test-blocked labeled" in text, text
            assert "error:" not in text, text
            broken = [m for m in console if m.startswith("pageerror") or re.search(r"widget|model", m, re.I)]
            assert not broken, "the page reported errors:\n" + "\n".join(broken)
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "lesson-02-failure.png"))
            print("browser console errors:", *console[-30:], sep="\n", file=sys.stderr)
            print("jupyter lab log (tail):", server.log(), sep="\n", file=sys.stderr)
            raise
        finally:
            context.close()
