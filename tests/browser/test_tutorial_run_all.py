"""A learner's *Run All* on a tutorial in a real JupyterLab (Playwright + Debian chromium): no
exercise is reported correct and no solution runs; opening a solution shows its code, and its
"Run the solution" button runs it and reports correct.

JupyterLab runs from this interpreter on 127.0.0.1 with a token, on a temporary copy of
``tutorials/`` (autosave must not write outputs into the repository).
"""
from __future__ import annotations

import shutil

import pytest
from test_jupyterlab import CHROMIUM, CHROMIUM_ARGS, ROOT, _poll, running_lab

NOTEBOOK = "01_streams_and_stop_tokens.ipynb"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a temporary copy of tutorials/ (autosave must not touch the repository)."""
    pytest.importorskip("playwright")
    work = tmp_path_factory.mktemp("tutorial_lab")
    shutil.copytree(ROOT / "tutorials", work / "tutorials",
                    ignore=shutil.ignore_patterns("src", "_build.py"))
    yield from running_lab(work, work / "tutorials")


def test_run_all_on_a_tutorial_solves_nothing_until_the_learner_asks(lab):
    from playwright.sync_api import sync_playwright
    base, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            _run_all_and_wait(page)
            notebook = page.locator(".jp-Notebook").first
            text = notebook.inner_text()
            assert "Correct" not in text, "Run All shows a solved exercise"
            assert "No answer yet" in text
            boxes = page.locator("details", has_text="Solution (not run")
            assert boxes.count() == 2
            first = boxes.first
            code = first.locator("pre")
            assert not code.is_visible()                       # closed until opened
            first.locator("summary").click()
            _poll(code.is_visible, "the solution's code to show")
            assert 'check("01.encode"' in code.inner_text()
            button = page.get_by_role("button", name="Run the solution").first
            button.scroll_into_view_if_needed()
            button.click()
            _poll(lambda: "Correct" in notebook.inner_text(), "the solution's check", 60)
        finally:
            browser.close()


def _run_all_and_wait(page) -> None:
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    page.locator(".jp-Toolbar-kernelName", has_text="Python 3").first.wait_for()
    select = page.get_by_role("button", name="Select", exact=True)
    if select.is_visible():
        select.click()
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=90_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=False).first.click()
    last = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").last
    _poll(lambda: any(ch.isdigit() for ch in last.inner_text()), "the last cell to run", 180)
