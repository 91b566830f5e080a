"""THE real-browser test: JupyterLab + Playwright driving Debian's chromium.

Starts JupyterLab from this interpreter's environment on 127.0.0.1 with a random token and a
temporary copy of ``notebooks/``, opens ``quickstart.ipynb``, runs all cells, and checks what a
person would see: the SVG graph and the knob widgets appear, moving the tile slider changes the
summary, pressing play advances the occupancy player. Screenshots go to
``test-output/browser/``. Skipped only when chromium is missing outside CI; in CI (``$CI`` set)
a missing browser fails.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM = os.environ.get("STEP_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message + " — in CI the browser test must run")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_settings(folder: Path) -> None:
    """User settings: no news toast or update check, start the notebook's kernel unasked."""
    notes = folder / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True)
    (notes / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    notebook = folder / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True)
    (notebook / "tracker.jupyterlab-settings").write_text('{"autoStartDefaultKernel": true}')


def running_lab(work: Path, root_dir: Path, kernel_for: str | None = None):
    """Run JupyterLab (this interpreter, 127.0.0.1, a fresh token) on ``root_dir``, with user
    settings under ``work``; yields ``(base_url, token)`` and always shuts it down afterwards.
    ``kernel_for`` starts that notebook's kernel before the page opens."""
    _require_chromium()
    _lab_settings(work / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path,              # kernels import this working tree
           "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(work / "runtime")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--allow-root", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root_dir}", "--ServerApp.port_retries=0"]
    log = open(work / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, token, server, work / "jupyterlab.log", timeout=90)
        if kernel_for is not None:
            _start_kernel_session(base, token, kernel_for)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


def _wait_for_server(base: str, token: str, server, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited early:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not start in {timeout} s:\n{log_path.read_text()[-3000:]}")


def _start_kernel_session(base: str, token: str, path: str) -> None:
    """Start the notebook's kernel through the REST API, so the page attaches to it unasked."""
    body = json.dumps({"path": path, "name": path, "type": "notebook",
                       "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"{base}/api/sessions?token={token}", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert json.load(r)["kernel"]["name"] == "python3"


@pytest.fixture(scope="module")
def page(lab, browser):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(f"{base}/lab/tree/quickstart.ipynb?token={token}")
    yield page
    page.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _tall_shot(page, element, name: str) -> None:
    """Screenshot of an element taller than the window: JupyterLab scrolls inside the notebook,
    so the window is made tall enough for a moment."""
    size = page.viewport_size
    box = element.bounding_box()
    page.set_viewport_size({"width": size["width"], "height": int(min(box["height"] + 400, 4000))})
    element.scroll_into_view_if_needed()
    element.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def _wait_kernel_idle(page, timeout: float = 60) -> None:
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=timeout * 1000)


def _run_all(page, attempts: int = 3) -> None:
    """Run > Run All Cells once the kernel is connected; retried if a click is lost."""
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    first_prompt = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").first
    for _ in range(attempts):
        select = page.get_by_role("button", name="Select", exact=True)
        if select.is_visible():                                  # kernel dialog, if shown
            select.click()
        page.locator(".jp-Toolbar-kernelName", has_text="Python 3").first.wait_for()
        _wait_kernel_idle(page)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        try:
            _poll(lambda: re.search(r"\[\d+\]", first_prompt.inner_text()),
                  "the first cell to run", timeout=15)
            return
        except pytest.fail.Exception:
            page.keyboard.press("Escape")
    pytest.fail(f"Run All Cells did not run the first cell in {attempts} attempts")


def _summary_text(page) -> str:
    return page.locator(".step-lab-panel .step-lab-summary").first.inner_text()


def _clock_text(page) -> str:
    return page.locator(".step-lab-panel [data-step-player] .sp-readout").first.inner_text()


def test_a_person_can_run_a_step_cell_drag_a_knob_and_play_the_animation(page):
    try:
        _drive(page)
    except BaseException:
        _shot(page, "failure")                                   # what the browser showed
        raise


def _drive(page) -> None:
    _run_all(page)
    panel = page.locator(".step-lab-panel").first
    panel.wait_for(timeout=60_000)
    graph = panel.locator(".step-lab-graph svg")
    graph.first.wait_for()
    assert graph.locator("g.node").count() >= 5                 # operators drawn by Graphviz
    sliders = panel.locator(".widget-slider")
    assert sliders.count() >= 3                                 # tile, col_tile, M
    player = panel.locator("[data-step-player][data-ready='1']").first
    player.wait_for(timeout=60_000)
    player.scroll_into_view_if_needed()
    panel.scroll_into_view_if_needed()
    _shot(page, "1-after-run")
    _tall_shot(page, panel, "1-panel")                          # the whole output, knobs to plots
    before = _summary_text(page)
    assert "tile=64" in before and "cycles" in before
    first_player = player.get_attribute("id")
    assert _cell(page, "off-chip-bytes") == "851,968"

    tile = panel.locator(".widget-slider", has_text="tile").first
    tile.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowLeft")                            # 64 -> 32
    page.wait_for_function(
        "() => [...document.querySelectorAll('.step-lab-summary')]"
        ".some(e => e.innerText.includes('tile=32'))", timeout=30_000)
    after = _summary_text(page)
    assert after != before
    assert _cell(page, "off-chip-bytes") == "1,376,256"          # was 851,968 at tile=64
    _shot(page, "2-after-slider")

    page.wait_for_function(                                      # the new run's player
        "(old) => { const p = document.querySelector('.step-lab-panel [data-step-player]');"
        " return p && p.id !== old && p.getAttribute('data-ready') === '1'; }",
        arg=first_player, timeout=60_000)
    animation = panel.locator("[data-step-player][data-ready='1']").first
    animation.scroll_into_view_if_needed()
    start_clock, start_frame = _clock_text(page), _frame(animation)
    animation.locator("[aria-label=play]").first.click()        # ▶ play
    _poll(lambda: _frame(animation) > start_frame + 3, "the player's frame to advance")
    _poll(lambda: _clock_text(page) != start_clock, "the readout to follow the frame")
    _shot(page, "3-playing")
    _tall_shot(page, animation, "3-animation")

    compare = page.locator("[data-step-player]").nth(1)         # static vs dynamic tiling
    compare.wait_for()
    page.wait_for_function("() => document.querySelectorAll('[data-step-player]')[1]"
                           ".getAttribute('data-ready') === '1'", timeout=60_000)
    assert compare.locator("canvas").count() >= 1
    compare.locator("[aria-label=play]").first.click()
    _poll(lambda: _frame(compare) > 10, "the comparison to play")
    _tall_shot(page, compare, "4-compare")


def _frame(player) -> int:
    return int(player.get_attribute("data-frame"))


def put_notebook(base: str, token: str, name: str, cells: list[str]) -> None:
    """Write a notebook of code ``cells`` (no outputs) to the lab's root through its REST API."""
    body = {"type": "notebook", "format": "json", "content": {
        "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                   "execution_count": None} for c in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}}
    request = urllib.request.Request(f"{base}/api/contents/{name}?token={token}",
                                     data=json.dumps(body).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status in (200, 201)


def _poll(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _cell(page, name: str) -> str:
    return page.locator(f".step-lab-panel .step-lab-{name}").first.inner_text().strip()


def test_the_exported_report_fragments_render_offline(browser, tmp_path):
    """report_fragments() in a report.html: chromium draws the bokeh plot with no network."""
    import step_lab as sl
    from step_lab.notebook import report_fragments
    from step_lab.report import write_report
    from step_lab.workloads import simplified_moe
    prog, inputs, bindings = simplified_moe(tokens=64, experts=8, tiling="dynamic")
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)
    page_path, _ = write_report(tmp_path, "offline", [{"cycles": result.cycles}],
                                report_fragments(prog, result), {})
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
    try:
        page = context.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        page.locator("svg").first.wait_for()                        # the Graphviz graph
        page.locator("canvas").first.wait_for(timeout=30_000)       # bokeh drew its plot
        player = page.locator("[data-step-player][data-ready='1']").first
        player.wait_for(timeout=30_000)
        player.locator("[aria-label=play]").click()
        _poll(lambda: int(player.get_attribute("data-frame")) > 5, "the report's player to play")
        page.screenshot(path=str(SHOTS / "5-report-offline.png"), full_page=True)
    finally:
        context.close()
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests), requests


def test_step_cells_are_highlighted_by_the_lab_extension(page):
    """The step-lab-jupyterlab extension (its checks live in ``_labext_check.py``)."""
    from _labext_check import check_step_highlighting
    page.locator(".jp-Notebook .jp-CodeCell").first.scroll_into_view_if_needed()
    check_step_highlighting(page)
