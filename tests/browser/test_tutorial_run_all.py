"""A learner's *Run All* on a tutorial in a real JupyterLab (Playwright + Debian chromium): no
exercise is reported correct and no solution runs; opening a solution shows its code, and its
"Run the solution" button runs it and reports correct.

JupyterLab runs from this interpreter on 127.0.0.1 with a token, on a temporary copy of
``tutorials/`` (autosave must not write outputs into the repository).
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("STEP_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
NOTEBOOK = "01_streams_and_stop_tokens.ipynb"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _poll(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium is missing at {CHROMIUM} (CI needs it)")
        pytest.skip(f"chromium is missing at {CHROMIUM}")
    pytest.importorskip("playwright")
    work = tmp_path_factory.mktemp("tutorial_lab")
    shutil.copytree(ROOT / "tutorials", work / "tutorials",
                    ignore=shutil.ignore_patterns("src", "_build.py"))
    settings = work / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"autoStartDefaultKernel": true}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(work / "runtime")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--allow-root", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={work / 'tutorials'}", "--ServerApp.port_retries=0"]
    log = open(work / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert server.poll() is None, (work / "jupyterlab.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    return True
            except OSError:
                return False
        _poll(up, "JupyterLab to start", timeout=90)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


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
