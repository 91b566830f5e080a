"""The what-if explorer in real chromium: every offered batch simulates; copy as code; save report.

JupyterLab (the fixtures of ``test_jupyterlab.py``) runs ``notebooks/explorer.ipynb``. On the MoE
panel the batch slider is stepped through every value it offers for the real trace (up to the
trace's tokens, never more), then the trace is switched to a synthetic one and the larger
batches appear and are stepped through too: each shows numbers and no error. The tile knob is
disabled under dynamic tiling with a tooltip. "copy as code" copies the Python to the
clipboard; "save report" writes the HTML next to the notebook. Screenshots go to
``test-output/browser/explorer-*.png``.
"""
from __future__ import annotations

import json
import re
import urllib.request

import pytest
from test_jupyterlab import (
    SHOTS,
    _poll,
    _start_kernel_session,
    _tall_shot,
    _wait_kernel_idle,
)

pytestmark = pytest.mark.browser

NOTEBOOK = "explorer.ipynb"


@pytest.fixture(scope="module")
def page(lab, browser):
    base, token = lab
    _no_windowing(base, token)             # every cell rendered: the MoE panel is mid-notebook
    _start_kernel_session(base, token, NOTEBOOK)
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
    yield page
    context.close()


def _no_windowing(base: str, token: str) -> None:
    body = json.dumps({"raw": json.dumps({"windowingMode": "none"})}).encode()
    request = urllib.request.Request(
        f"{base}/lab/api/settings/@jupyterlab/notebook-extension:tracker?token={token}",
        data=body, method="PUT", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status in (200, 204)


def _run_all_once(page) -> None:
    """Run > Run All Cells, once (the notebook simulates for a while: never twice)."""
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    page.locator(".jp-Toolbar-kernelName", has_text="Python 3").first.wait_for()
    _wait_kernel_idle(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()


def _summary(panel) -> str:
    return panel.locator(".step-lab-summary").first.inner_text()


def _batch_readout(panel) -> str:
    slider = panel.locator(".widget-slider", has_text="batch").first
    return slider.locator(".widget-readout").first.inner_text().strip()


def _settled(page, panel, needle: str, timeout: float = 180) -> None:
    """Wait until the summary names ``needle`` (the knob setting) and nothing is pending."""
    _poll(lambda: needle in _summary(panel) and "simulating" not in panel.inner_text(),
          f"the summary to show {needle!r}", timeout=timeout)


def _step_through_batches(page, panel) -> list[int]:
    """Move the batch slider to its lowest value, then up one value at a time; every value
    must simulate (numbers in the summary, no error). Returns the values seen."""
    handle = panel.locator(".widget-slider", has_text="batch").first.locator(".noUi-handle")
    handle.first.focus()
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(200)
    seen: list[int] = []
    while True:
        value = int(_batch_readout(panel).replace(",", ""))
        if seen and value == seen[-1]:
            return seen
        _settled(page, panel, f"batch={value}")
        assert panel.locator(".step-lab-error").count() == 0, f"batch {value}: error"
        assert re.search(r"\d[\d,]+", panel.locator(".step-lab-cycles").first.inner_text())
        seen.append(value)
        handle.first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(500)


def test_every_offered_batch_simulates_and_the_panel_travels(page, lab):
    try:
        _drive(page, lab)
    except BaseException:
        page.screenshot(path=str(SHOTS / "explorer-failure.png"))
        raise


def _drive(page, lab) -> None:
    _run_all_once(page)
    panel = page.locator(".step-lab-panel").first
    panel.wait_for(timeout=300_000)
    page.wait_for_function(                      # the whole notebook has run: kernel idle
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=600_000)
    panel.scroll_into_view_if_needed()
    _settled(page, panel, "trace='real'")
    real = _step_through_batches(page, panel)
    assert real == [16, 32, 64], real            # the real trace has 64 tokens: no 128/256
    tile = panel.locator(".widget-slider", has_text="tile").first
    _tall_shot(page, panel, "explorer-1-real-trace")

    panel.locator(".widget-dropdown", has_text="trace").locator("select").select_option(
        "synthetic: uniform")
    _settled(page, panel, "synthetic: uniform")
    assert "synthetic: uniform routing, not a recorded trace" in _summary(panel)
    synthetic = _step_through_batches(page, panel)
    assert synthetic == [16, 32, 64, 128, 256], synthetic

    panel.locator(".widget-dropdown", has_text="tiling").locator("select").select_option(
        "dynamic")
    _settled(page, panel, "tiling='dynamic'")
    assert tile.evaluate("e => e.querySelector('[disabled]') !== null"), "tile not disabled"
    titles = tile.evaluate("e => [e, ...e.querySelectorAll('[title]')].map(x => x.title)"
                           ".join(' | ')")
    assert "dynamic tiling" in titles, titles          # the tooltip says why
    _tall_shot(page, panel, "explorer-2-synthetic-dynamic")

    code_box = panel.locator("details.step-lab-code").first
    code_box.locator("summary").click()
    code = code_box.locator("pre").inner_text()
    assert "moe_design(" in code and "batch=256" in code and "tiling='dynamic'" in code
    code_box.locator("button.step-lab-copy").click()
    _poll(lambda: page.evaluate("navigator.clipboard.readText()") == code,
          "the code to reach the clipboard")

    panel.get_by_role("button", name=re.compile("save report")).click()
    saved = panel.locator(".step-lab-saved").first
    saved.wait_for(timeout=120_000)
    assert "step_lab_report_" in saved.inner_text()
    name = re.search(r"step_lab_report_\S+\.html", saved.inner_text()).group(0)
    base, token = lab
    with urllib.request.urlopen(f"{base}/api/contents/{name}?token={token}&content=0",
                                timeout=30) as r:
        assert json.load(r)["type"] == "file"              # next to the notebook
    _tall_shot(page, panel, "explorer-3-code-and-report")
