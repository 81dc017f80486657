"""Lesson 02 in a real browser, as a person uses it, at 1024x768 with the file browser open.

JupyterLab runs headless on a free localhost port, serving a temporary copy of the repository's
``notebooks/`` and ``kind/`` (simulated backend). Debian's chromium, driven through Playwright,
opens the lesson in a 1024x768 window with JupyterLab's file browser open, clears the outputs
and runs every cell from the Run menu, then checks that each code cell ran and none failed,
and that the label widget (whose pods the lesson's cleanup deleted) says so. The student's
moment with the label widget is recreated next: Kernel > Restart Kernel and Run up to the
``lab.widget()`` cell. The test asserts that the widget fits (every control and panel inside
the notebook's width, no horizontal scrollbar, no clipped button or text), ticks
``app=bookstore`` on ``test-blocked`` and checks that the probe turns from a timeout into
nginx's page, the matrix is redrawn and the ``kubectl label`` command is shown; unticks and
checks that ``app=other`` is back; then runs up to the policy editor and checks that it starts
with ``api-allow`` and fits too. Then the notebook file must be unchanged (no autosave), and a
deliberate save must store no widget state. Last, one more lesson (:data:`NEW_LESSONS`: 01 once
it exists, else 00) is opened and run to the end: every cell runs, nothing on stderr, the file
unchanged. Screenshots go to ``artifacts/browser/``.

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
# One lesson of the course besides 02, run to the end (issue 10): lesson 01 once it is in the
# repository (the course branch ports it), until then 00-start-here, the other lesson there is.
NEW_LESSONS = ("notebooks/01-deny-all-traffic-to-an-application.ipynb", "notebooks/00-start-here.ipynb")
CHROMIUM = os.environ.get("NPHELPERS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "browser"
REQUIRED = os.environ.get("NPHELPERS_REQUIRE_BROWSER", "") == "1"
BUDGET_S = 300.0  # the whole test, server start to last screenshot


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


def _assert_fits(view_root: object, what: str) -> None:
    from tests.browser.notebook import layout_problems

    problems = layout_problems(view_root)  # type: ignore[arg-type]
    assert not problems, f"{what} does not fit a 1024x768 window with the file browser open:\n" + "\n".join(problems)


@pytest.mark.browser
def test_lesson_02_label_widget_in_chromium(tmp_path: Path) -> None:
    _check_tools()
    from playwright.sync_api import sync_playwright

    from tests.browser.notebook import LabelWidgetView, NotebookPage, ensure_file_browser_open, launch_chromium
    from tests.browser.server import jupyterlab

    budget = Budget(BUDGET_S)
    lesson_source = REPO / LESSON
    assert lesson_source.is_file(), f"{LESSON} is missing"
    root = tmp_path / "lab"
    for folder in ("notebooks", "kind"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("lesson-*.png"):
        stale.unlink()
    expected_errors = _raises_exception_cells(lesson_source)

    env = {
        "NPHELPERS_BACKEND": "simulated",
        # the kernel imports this checkout's package, whatever else is installed
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        # the project's JupyterLab defaults, as scripts/lab.sh and Binder use them (no widget state saved)
        "JUPYTER_CONFIG_PATH": str(REPO / "jupyter"),
    }
    console: list[str] = []
    with jupyterlab(root, tmp_path / "jupyter", env, timeout=budget.ms(60) / 1000) as server, sync_playwright() as pw:
        context = launch_chromium(pw, CHROMIUM, tmp_path / "chromium-profile", size=(1024, 768))
        page = context.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            page.goto(server.url(f"lab/tree/{LESSON}"), timeout=budget.ms(30))
            notebook = NotebookPage(page)
            notebook.wait_until_open(budget.ms(60))
            ensure_file_browser_open(page)

            # 1. Run > Run All Cells: every code cell runs, none fails; the widget knows its pods are gone.
            states = notebook.run_all(budget.ms(90))
            not_run = [i for i, s in enumerate(states) if not s.prompt.strip("[]:").isdigit()]
            errors = {i: t for i, t in notebook.error_outputs().items() if i not in expected_errors}
            assert not errors, "cells failed in Run All Cells:\n" + "\n\n".join(
                f"code cell {i}:\n{t}" for i, t in errors.items()
            )
            assert not not_run, f"Run All Cells left code cells {not_run} unrun: {[states[i].prompt for i in not_run]}"
            widget_cell = notebook.find_code_cell("lab.widget(")
            after_cleanup = LabelWidgetView(notebook.output_area(widget_cell))
            after_cleanup.wait_until_rendered(budget.ms(30))
            assert "pods are gone" in after_cleanup.text(), after_cleanup.text()

            # 2. Back to where the student meets the widget: restart and run up to the lab.widget() cell.
            notebook.restart_and_run_to(widget_cell, budget.ms(60))
            errors = {i: t for i, t in notebook.error_outputs().items() if i <= widget_cell}
            assert not errors, f"cells failed before the widget: {errors}"
            view = LabelWidgetView(notebook.output_area(widget_cell))
            view.wait_until_rendered(budget.ms(30))
            view.root.evaluate("el => el.scrollIntoView({block: 'start'})")
            _assert_fits(view.root, "the label widget")

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
            _wait_for(lambda: view.matrix_src() != before_src, budget.ms(10), "the matrix to be redrawn", page)
            after_probes = view.probes()
            text = view.text()
            page.screenshot(path=str(ARTIFACTS / "lesson-02.png"))
            _assert_fits(view.root, "the label widget after a tick")

            assert box.is_checked()
            assert "allowed" in after_probes["test-blocked"], after_probes
            assert "html" in after_probes["test-blocked"].lower(), f"expected nginx's page: {after_probes}"
            assert after_probes.get("test-allowed") == before_probes.get("test-allowed"), (before_probes, after_probes)
            assert "kubectl label pod test-blocked app=bookstore" in text, text
            assert "pod/test-blocked labeled" in text, text
            assert "error:" not in text, text

            # 4. Untick is undo: app=other comes back. Then reset labels.
            box.click()
            _wait_for(lambda: "app=other" in view.labels_now("test-blocked"), budget.ms(10),
                      "test-blocked's app=other to come back", page)
            _wait_for(lambda: "timed out" in view.probes().get("test-blocked", ""), budget.ms(10),
                      "test-blocked to time out again", page)
            view.checkbox("apiserver", "role=api").click()
            _wait_for(lambda: "no endpoints" in view.text(), budget.ms(10), "the Service's lost endpoint", page)
            page.screenshot(path=str(ARTIFACTS / "lesson-02-no-endpoints.png"))
            _assert_fits(view.root, "the label widget with a Service without endpoints")
            view.button("reset labels").click()
            _wait_for(lambda: "role=api" in view.labels_now("apiserver"), budget.ms(10), "reset labels", page)

            # 5. The policy editor starts with the policy in force, and fits too.
            editor_cell = notebook.find_code_cell("lab.policy_editor(")
            notebook.restart_and_run_to(editor_cell, budget.ms(60))
            editor = notebook.output_area(editor_cell).locator(".nphelpers-policy-editor").first
            editor.locator("textarea").wait_for(state="visible", timeout=budget.ms(30))
            editor.evaluate("el => el.scrollIntoView({block: 'start'})")
            assert "name: api-allow" in editor.locator("textarea").input_value()
            page.screenshot(path=str(ARTIFACTS / "lesson-02-editor.png"))
            _assert_fits(editor, "the policy editor")

            # 6. The project's JupyterLab settings are in force (no autosave, no widget state, no news), so
            # running the lesson did not rewrite it, and a deliberate save stores no widget state.
            for plugin, key, value in (("@jupyterlab/docmanager-extension:plugin", "autosave", False),
                                       ("@jupyter-widgets/jupyterlab-manager:plugin", "saveState", False),
                                       ("@jupyterlab/apputils-extension:notification", "fetchNews", "false")):
                settings = server.settings(plugin)
                assert settings.get(key) == value, f"{plugin}: {key} is {settings.get(key)!r}, not {value!r}"
            copy = root / LESSON
            assert copy.read_bytes() == lesson_source.read_bytes(), "the notebook was saved behind the student's back"
            notebook.select_cell(editor_cell)
            page.keyboard.press("Control+s")
            _wait_for(lambda: copy.read_bytes() != lesson_source.read_bytes(), budget.ms(15), "the save", page)
            saved = json.loads(copy.read_text())
            assert "widgets" not in saved["metadata"], "widget state was saved into the notebook"

            # 7. Another lesson, opened from scratch and run to the end, with no error output at all.
            new_lesson = next(n for n in NEW_LESSONS if (REPO / n).is_file())
            page.goto(server.url(f"lab/tree/{new_lesson}"), timeout=budget.ms(30))
            other = NotebookPage(page)
            other.wait_until_open(budget.ms(60))
            current = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")
            _wait_for(lambda: Path(new_lesson).name in " ".join(current.all_inner_texts()),
                      budget.ms(15), f"{new_lesson} to be the current tab", page)
            states = other.run_all(budget.ms(90))
            not_run = [i for i, s in enumerate(states) if not s.prompt.strip("[]:").isdigit()]
            assert states and not not_run, f"{new_lesson}: code cells {not_run} did not run"
            allowed = _raises_exception_cells(REPO / new_lesson)
            stderr = {i: t for i, t in other.stderr_outputs().items() if i not in allowed}
            assert not stderr, f"{new_lesson} printed on stderr:\n" + "\n\n".join(
                f"code cell {i}:\n{t}" for i, t in stderr.items())
            page.screenshot(path=str(ARTIFACTS / "lesson-new-run-all.png"))
            assert (root / new_lesson).read_bytes() == (REPO / new_lesson).read_bytes(), f"{new_lesson} was autosaved"

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
