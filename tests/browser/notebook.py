"""Driving a notebook in JupyterLab 4 the way a person does: menus, clicks, and reading what is on screen.

Selectors are the ones JupyterLab and ipywidgets render (``.jp-*``, ``.widget-*``); menu items are
found by the label a person reads, not by command id.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, Playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
KERNEL_STATUS = ".jp-StatusBar-Widget .jp-StatusBar-TextItem"


def launch_chromium(
    playwright: Playwright, executable: str, user_data_dir: Path, size: tuple[int, int] = (1024, 768)
) -> BrowserContext:
    """Debian's chromium (never a Playwright-downloaded build) with a fresh profile, at ``size`` (a small laptop)."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=executable,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": size[0], "height": size[1]},
        timeout=60_000,
    )


@dataclass
class CellState:
    prompt: str  # "[3]:", "[*]:", "[ ]:"
    text: str  # what the outputs show, as text


class NotebookPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    # -- waiting --------------------------------------------------------------------
    def wait_until_open(self, timeout_ms: int = 90_000) -> None:
        """The notebook's cells are on screen and its kernel has started and is idle."""
        self.page.locator(f"{NOTEBOOK} .jp-Cell").first.wait_for(state="visible", timeout=timeout_ms)
        self.wait_for_kernel_idle(timeout_ms)

    def kernel_status(self) -> str:
        """The status bar's kernel item, e.g. ``Python 3 (ipykernel) | Idle``."""
        texts = self.page.locator(KERNEL_STATUS).all_inner_texts()
        return next((t.strip() for t in texts if "|" in t), "")

    def wait_for_kernel_idle(self, timeout_ms: int) -> None:
        deadline = time.monotonic() + timeout_ms / 1000
        status = ""
        while time.monotonic() < deadline:
            status = self.kernel_status()
            if status.endswith("| Idle") and not status.startswith("No Kernel"):
                return
            self.page.wait_for_timeout(250)
        raise TimeoutError(f"the kernel did not become idle within {timeout_ms / 1000:.0f}s (status: {status!r})")

    # -- menus ------------------------------------------------------------------------
    def menu(self, top: str, item: str) -> None:
        """Click ``top`` in the menu bar, then ``item`` in the menu that opens."""
        bar = self.page.locator("#jp-MainMenu .lm-MenuBar-item", has_text=re.compile(rf"^\s*{re.escape(top)}\s*$"))
        bar.click()
        entry = self.page.locator(
            ".lm-Menu:not(.lm-MenuBar) .lm-Menu-item",
            has=self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^\s*{re.escape(item)}\s*$")),
        )
        entry.first.click()

    # -- cells ------------------------------------------------------------------------
    def code_cells(self) -> Locator:
        return self.page.locator(f"{NOTEBOOK} .jp-CodeCell")

    def cell_states(self) -> list[CellState]:
        return [
            CellState(prompt=s["prompt"], text=s["text"])
            for s in self.page.eval_on_selector_all(
                f"{NOTEBOOK} .jp-CodeCell",
                """cells => cells.map(c => ({
                    prompt: (c.querySelector('.jp-InputArea-prompt')?.textContent || '').trim(),
                    text: c.querySelector('.jp-OutputArea')?.innerText || '',
                }))""",
            )
        ]

    def cell_sources(self) -> list[str]:
        """The code of every code cell, as the editor shows it."""
        script = "cells => cells.map(c => c.querySelector('.cm-content')?.innerText || '')"
        return self.code_cells().evaluate_all(script)

    def find_code_cell(self, code: str) -> int:
        """The index (among code cells) of the first cell whose code contains ``code``."""
        for index, source in enumerate(self.cell_sources()):
            if code in source:
                return index
        raise AssertionError(f"no code cell contains {code!r}")

    def select_cell(self, index: int) -> None:
        """Click the cell's input prompt, as a person does to select a cell without editing it."""
        prompt = self.code_cells().nth(index).locator(".jp-InputArea-prompt")
        prompt.scroll_into_view_if_needed()
        prompt.click()
        self.page.wait_for_function(
            "cell => cell.classList.contains('jp-mod-selected') || cell.classList.contains('jp-mod-active')",
            arg=self.code_cells().nth(index).element_handle(),
            timeout=5_000,
        )

    def accept_dialog(self, button: str, timeout_ms: int = 10_000) -> None:
        dialog = self.page.locator(".jp-Dialog")
        label = re.compile(rf"^\s*{re.escape(button)}\s*$")
        dialog.locator(".jp-Dialog-button", has_text=label).click(timeout=timeout_ms)
        dialog.wait_for(state="detached", timeout=timeout_ms)

    def clear_all_outputs(self) -> None:
        """Edit > Clear Outputs of All Cells: every prompt goes back to ``[ ]:``."""
        self.menu("Edit", "Clear Outputs of All Cells")
        self.page.wait_for_function(
            """sel => [...document.querySelectorAll(sel)].every(p => /^\\[ ?\\]:$/.test(p.textContent.trim()))""",
            arg=f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt",
            timeout=10_000,
        )

    def run_all(self, timeout_ms: int) -> list[CellState]:
        """Clear every output, Run > Run All Cells, and wait until the run is over.

        Returns each code cell's prompt and output text. The run is over when every code cell
        has an execution count, or when nothing is running or queued any more (a cell failed
        and the rest were not run: their prompts stay ``[ ]:``).
        """
        self.clear_all_outputs()
        self.menu("Run", "Run All Cells")
        return self._wait_for_run(None, timeout_ms)

    def restart_and_run_to(self, index: int, timeout_ms: int) -> list[CellState]:
        """Kernel > Restart Kernel and Run up to Selected Cell, for code cell ``index``."""
        self.clear_all_outputs()
        self.select_cell(index)
        self.menu("Kernel", "Restart Kernel and Run up to Selected Cell…")
        self.accept_dialog("Restart")
        return self._wait_for_run(index, timeout_ms)

    def _wait_for_run(self, last: int | None, timeout_ms: int) -> list[CellState]:
        deadline = time.monotonic() + timeout_ms / 1000
        states: list[CellState] = []
        settled = 0
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(500)
            states = self.cell_states()
            wanted = states if last is None else states[: last + 1]
            numbered = [bool(re.fullmatch(r"\[\d+\]:", s.prompt)) for s in wanted]
            if wanted and all(numbered):
                break
            busy = any("*" in s.prompt for s in states) or not self.kernel_status().endswith("| Idle")
            settled = 0 if busy or not any(numbered) else settled + 1
            if settled >= 4:  # two seconds with nothing running or queued: the run stopped early
                break
        else:
            prompts = [s.prompt for s in states]
            raise TimeoutError(f"the cells did not finish running within {timeout_ms / 1000:.0f}s; prompts: {prompts}")
        self.wait_for_kernel_idle(int(max(1.0, deadline - time.monotonic()) * 1000))
        return self.cell_states()

    def error_outputs(self) -> dict[int, str]:
        """Code cell index -> the text of the error (traceback) it shows, for cells that failed."""
        found = self.code_cells().evaluate_all(
            """cells => cells.map(c => [...c.querySelectorAll(
                   '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                 .map(o => o.innerText)
                 .filter(t => /Traceback \\(most recent call last\\)|^\\w*(Error|Exception)\\b/m.test(t))
                 .join('\\n'))"""
        )
        return {i: text for i, text in enumerate(found) if text}

    def stderr_outputs(self) -> dict[int, str]:
        """Code cell index -> everything it printed on stderr (an error line, a warning, a traceback)."""
        found = self.code_cells().evaluate_all(
            """cells => cells.map(c => [...c.querySelectorAll(
                   '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                 .map(o => o.innerText).join('\\n'))"""
        )
        return {i: text for i, text in enumerate(found) if text.strip()}

    def output_area(self, index: int) -> Locator:
        return self.code_cells().nth(index).locator(".jp-OutputArea")


class LabelWidgetView:
    """The rendered ``lab.widget()``: rows of pods with a checkbox per lesson label, the matrix
    image, the probe table, the kubectl command line and an error line.

    A checkbox is found as a person finds it: in the row that names the pod, under the column
    headed by the label (or, should the checkbox carry the label as its own description, by that).
    """

    FIND_CHECKBOX = """(root, [pod, label]) => {
        const text = el => (el.innerText || el.textContent || '').trim();
        const isBox = el => el.classList.contains('widget-checkbox');
        const rows = [...root.querySelectorAll('.widget-hbox')].filter(r => [...r.children].some(isBox));
        const row = rows.find(r => [...r.children].some(c => !isBox(c) && text(c) === pod));
        if (!row) return `no row of checkboxes names the pod ${pod}`;
        const boxes = [...row.children].filter(isBox);
        let box = boxes.find(b => text(b) === label);
        if (!box) {
            const header = [...row.parentElement.children].find(
                r => r !== row && [...r.children].some(c => text(c) === label));
            if (!header) return `no checkbox or column is labelled ${label}`;
            box = row.children[[...header.children].findIndex(c => text(c) === label)];
            if (!box || !isBox(box)) return `the ${label} column of ${pod}'s row holds no checkbox`;
        }
        root.querySelectorAll('[data-browser-test]').forEach(el => el.removeAttribute('data-browser-test'));
        box.setAttribute('data-browser-test', 'checkbox');
        return '';
    }"""

    PROBE_TABLE = """root => {
        const table = root.querySelector('.nphelpers-probes table');
        if (!table) return null;
        return Object.fromEntries([...table.rows].slice(1).map(r => {
            const cells = [...r.cells].map(c => c.innerText.trim());
            return [cells[0], cells.slice(1).join(' | ')];
        }));
    }"""

    def __init__(self, output: Locator) -> None:
        self.output = output
        self.root = output.locator(".nphelpers-label-widget").first

    def wait_until_rendered(self, timeout_ms: int = 30_000) -> None:
        self.root.locator(".widget-checkbox input[type=checkbox]").first.wait_for(state="visible", timeout=timeout_ms)
        self.root.locator(".nphelpers-matrix table").first.wait_for(state="visible", timeout=timeout_ms)

    def checkbox(self, pod: str, label: str) -> Locator:
        problem = self.root.evaluate(self.FIND_CHECKBOX, [pod, label])
        if problem:
            raise AssertionError(f"label widget: {problem}; it shows:\n{self.text()}")
        return self.root.locator('[data-browser-test="checkbox"] input[type=checkbox]')

    def probes(self) -> dict[str, str]:
        """Client pod -> ``outcome | what wget prints``, from the probe table."""
        return self.root.evaluate(self.PROBE_TABLE) or {}

    def matrix_src(self) -> str:
        """The matrix as drawn now (its HTML), to see that it was redrawn."""
        return self.root.locator(".nphelpers-matrix").first.inner_html()

    def labels_now(self, pod: str) -> str:
        """The "labels now" text of ``pod``'s row."""
        return self.root.evaluate(
            """(root, pod) => {
                const rows = [...root.querySelectorAll('.widget-hbox')];
                const row = rows.find(r => (r.children[0]?.innerText || '').trim() === pod);
                return row ? row.children[row.children.length - 1].innerText.trim() : '';
            }""",
            pod,
        )

    def button(self, label: str) -> Locator:
        return self.root.locator(".widget-button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).first

    def text(self) -> str:
        return self.root.inner_text()


# -- layout ------------------------------------------------------------------------------
FILE_BROWSER = "#filebrowser"
FILE_BROWSER_TAB = '.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="filebrowser"]'

LAYOUT_PROBLEMS = """root => {
    const problems = [];
    const name = el => {
        const cls = [...el.classList].filter(c => /^(widget-|nphelpers-|jp-)/.test(c)).slice(0, 2).join('.');
        const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 30);
        return `<${el.tagName.toLowerCase()}${cls ? '.' + cls : ''}> "${text}"`;
    };
    const doc = document.scrollingElement || document.documentElement;
    if (doc.scrollWidth > window.innerWidth) {
        problems.push(`the page scrolls horizontally: ${doc.scrollWidth} px wide in a ${window.innerWidth} px window`);
    }
    // Every scrolling box from the widget up to the notebook: none may scroll sideways.
    for (let el = root; el && el !== document.body; el = el.parentElement) {
        const style = getComputedStyle(el);
        if (/(auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
            problems.push(`${name(el)} has a horizontal scrollbar: ${el.scrollWidth} > ${el.clientWidth} px`);
        }
    }
    const notebook = root.closest('.jp-Notebook') || document.body;
    const right = Math.min(window.innerWidth, notebook.getBoundingClientRect().right);
    const parts = root.querySelectorAll(
        '.widget-button, .widget-checkbox, .widget-dropdown, .widget-text, .widget-textarea, textarea, ' +
        '.widget-html, .widget-hbox, .widget-vbox, .widget-image, table, pre');
    for (const el of [root, ...parts]) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;  // not displayed
        if (r.left < -1 || r.right > right + 1) {
            problems.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)} px, past the notebook's ` +
                          `right edge at ${Math.round(right)} px`);
        }
        const clips = el.matches('.widget-button, .widget-html-content, pre, textarea, .widget-textarea');
        if (clips && el.scrollWidth > el.clientWidth + 1) {
            problems.push(`${name(el)} clips its content: ${el.scrollWidth} > ${el.clientWidth} px`);
        }
    }
    return problems;
}"""


def ensure_file_browser_open(page: Page) -> None:
    """The left sidebar shows the file browser, as it does for a student who just opened JupyterLab."""
    panel = page.locator(FILE_BROWSER)
    if not panel.is_visible():
        page.locator(FILE_BROWSER_TAB).click()
    panel.wait_for(state="visible", timeout=10_000)


def layout_problems(root: Locator) -> list[str]:
    """What does not fit: controls past the notebook's right edge, horizontal scrollbars, clipped text."""
    return list(root.evaluate(LAYOUT_PROBLEMS))
