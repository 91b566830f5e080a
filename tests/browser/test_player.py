"""The browser occupancy player in real chromium: reload-proof, client-side, offline reports.

JupyterLab (the fixtures of ``test_jupyterlab.py``) runs a notebook that plays the Qwen3-30B-A3B
dynamic b64 layer and then sleeps: the frames must advance while the kernel is busy (playback is
client-side), the measured frames per second are printed. The page is saved, reloaded and run
again: the player renders (no failed views). A report written by ``step-lab simulate --report``
is opened from ``file://`` with the network off and plays. Screenshots of the grouped view and
the heatmap go to ``test-output/browser/``.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from test_jupyterlab import ROOT, SHOTS, _poll, _run_all, _wait_kernel_idle, put_notebook

pytestmark = pytest.mark.browser

NOTEBOOK = "player_check.ipynb"
CELLS = [
    "from step_lab.notebook import animate\n"
    "from step_lab.workloads import moe_layer, trace_path\n"
    "wl = moe_layer('qwen3-30b-a3b', batch=64, tiling='dynamic',\n"
    "               routing=trace_path('expert_routing/qwen_b64/032_012.npz'))\n"
    "res = wl.simulate(values=False, trace=True)\n"
    "animate(res, wl.program)",
    "import time\ntime.sleep(30)\n'slept'",
]


@pytest.fixture(scope="module")
def page(lab, browser):
    base, token = lab
    put_notebook(base, token, NOTEBOOK, CELLS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
    yield page
    page.close()


def _ready_player(page):
    player = page.locator("[data-step-player][data-ready='1']").first
    player.wait_for(timeout=120_000)
    return player


def _kernel_status(page) -> str:
    return page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status")


def _no_failed_views(page) -> None:
    text = page.locator(".jp-Notebook").first.inner_text()
    assert "Failed to create view" not in text and "Javascript Error" not in text
    assert page.locator("[data-step-player][data-error]").count() == 0


def test_the_player_plays_while_the_kernel_is_busy_and_survives_a_reload(page):
    try:
        _drive(page)
    except BaseException:
        page.screenshot(path=str(SHOTS / "player-failure.png"))
        raise


def _drive(page) -> None:
    _run_all(page)
    player = _ready_player(page)
    _poll(lambda: _kernel_status(page) == "busy", "the sleeping cell to start")
    start = int(player.get_attribute("data-frame"))
    player.locator("[aria-label=play]").click()
    t0 = time.monotonic()
    time.sleep(3.0)
    frame, readout, status = page.evaluate(
        "() => { const p = document.querySelector('[data-step-player]');"
        " return [p.getAttribute('data-frame'), p.querySelector('.sp-readout').textContent,"
        " document.querySelector('.jp-Notebook-ExecutionIndicator')"
        ".getAttribute('data-status')]; }")
    elapsed = time.monotonic() - t0
    assert status == "busy"                                  # the kernel still sleeps ...
    assert int(frame) > start + 10                           # ... and the frames advance
    assert readout.startswith(f"frame {int(frame):,} /")     # the picture = the indicator
    print(f"\nplayer: {int(frame) - start} frames in {elapsed:.2f} s = "
          f"{(int(frame) - start) / elapsed:.1f} fps at 1x (nominal 20) while the kernel is busy")
    player.locator("[aria-label=pause]").click()
    _shots(page, player)
    _no_failed_views(page)

    _wait_kernel_idle(page, timeout=90)
    page.keyboard.press("Control+s")                         # outputs saved in the notebook
    time.sleep(1.5)
    page.reload()
    saved = page.locator("[data-step-player][data-ready='1']").first
    saved.wait_for(timeout=60_000)                           # the saved output renders
    _run_all(page)                                           # the same kernel, re-run
    page.wait_for_function("() => [...document.querySelectorAll('[data-step-player]')]"
                           ".some(p => p.getAttribute('data-ready') === '1')", timeout=120_000)
    again = _ready_player(page)
    again.locator("[aria-label=play]").click()
    _poll(lambda: int(again.get_attribute("data-frame")) > 5, "the re-run player to play")
    assert again.locator("canvas").count() >= 3
    _no_failed_views(page)
    page.screenshot(path=str(SHOTS / "player-after-reload.png"))


def _shots(page, player) -> None:
    """The grouped view and the heatmap of the Qwen3 layer, one screenshot each."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 3000})
    player.scroll_into_view_if_needed()
    player.screenshot(path=str(SHOTS / "player-qwen3.png"))
    for name in ("group_grid_0", "heatmap_0"):
        box = page.evaluate(
            "(name) => { const p = document.querySelector('[data-step-player]');"
            " const player = window.StepLabPlayer.players[p.id];"
            " const view = player.views.find_one(player.model(name));"
            " if (!view) { return null; }"
            " const r = view.el.getBoundingClientRect();"
            " return {x: r.x, y: r.y, width: r.width, height: r.height}; "
            " }", name)
        assert box, f"no view of {name}"
        page.screenshot(path=str(SHOTS / f"player-qwen3-{name}.png"), clip=box)
    page.set_viewport_size(size)


def test_a_simulate_report_plays_offline_from_file(browser, tmp_path):
    source = tmp_path / "moe.py"
    source.write_text("from step_lab.workloads import simplified_moe\n"
                      "prog = simplified_moe(tokens=64, experts=8, tiling='dynamic')\n")
    out = tmp_path / "moe.html"
    done = subprocess.run([sys.executable, "-m", "step_lab.cli", "simulate", str(source),
                           "--report", str(out)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
    try:
        page = context.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        player = page.locator("[data-step-player][data-ready='1']").first
        player.wait_for(timeout=30_000)
        assert player.get_attribute("data-frame") == "1"
        player.locator("[aria-label=play]").click()
        _poll(lambda: int(player.get_attribute("data-frame")) > 10, "data-frame to advance")
        page.screenshot(path=str(SHOTS / "player-simulate-report.png"), full_page=True)
    finally:
        context.close()
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests), requests


def test_an_nbconvert_html_export_plays(browser, tmp_path):
    """A notebook executed and exported by nbconvert: the saved output plays with no kernel."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import step_lab as sl\nfrom step_lab.notebook import animate\n"
        "from step_lab.workloads import simplified_moe\n"
        "p, inputs, bindings = simplified_moe(tokens=64, experts=8, tiling='dynamic')\n"
        "animate(sl.simulate(p, bindings=bindings, inputs=inputs, trace=True), p)")])
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(ROOT)}})
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    page_path = tmp_path / "exported.html"
    page_path.write_text(body, encoding="utf-8")
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
    try:
        page = context.new_page()
        page.goto(page_path.as_uri())
        player = page.locator("[data-step-player][data-ready='1']").first
        player.wait_for(timeout=30_000)
        player.locator("[aria-label=play]").click()
        _poll(lambda: int(player.get_attribute("data-frame")) > 10, "the exported player to play")
    finally:
        context.close()


def _moe_player_html(tiling: str) -> tuple[str, str]:
    """``(html without BokehJS, player id)`` of the simplified MoE's player."""
    import step_lab as sl
    from step_lab.notebook.player import player_for
    from step_lab.workloads import simplified_moe
    prog, inputs, bindings = simplified_moe(tokens=64, experts=8, tiling=tiling)
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)
    text = player_for([result], [prog], [prog.name]).html(include_bokehjs=False,
                                                          replaceable=True)
    return text, text.split("id='", 1)[1].split("'", 1)[0]


_TOUCH = """(id) => {
  const p = window.StepLabPlayer.players[id];
  p.model('heatmap_0').x_range.setv({start: 100, end: 300});
  p.model('heatmap_0').y_range.setv({start: -3, end: -1});
  p.model('segments_0').selected.indices = [4];
}"""
_STATE = """(id) => {
  const p = window.StepLabPlayer.players[id], x = p.model('heatmap_0').x_range;
  return {reset: [x.reset_start, x.reset_end], cycles: p.runs[0].cycles,
          tapped: p.model('segments_0').selected.indices};
}"""
_INSERT = """(html) => {
  const slot = document.getElementById('slot');
  slot.replaceChildren(document.createRange().createContextualFragment(html));
}"""


def test_a_player_replacing_one_of_the_same_structure_draws_what_a_new_one_draws(browser):
    """A knob change's player takes over the replaced player's figures (data-replaces) and
    patches in its own values: the picture equals a freshly embedded one, pixel for pixel, even
    after the user panned and zoomed the old heatmap and tapped a group cell (reset points and
    selection are the new player's), and the group cells' tap callback (which names the first
    document) drills the new player."""
    from io import BytesIO

    import numpy as np
    from PIL import Image, ImageChops

    from step_lab.notebook.player import bokehjs_loader
    old, old_id = _moe_player_html("static")
    new, new_id = _moe_player_html("dynamic")
    replacing = new.replace("data-step-player", f"data-step-player data-replaces='{old_id}'", 1)
    shots = []
    for first, second in ((old, replacing), (None, new)):
        page = browser.new_page(viewport={"width": 1300, "height": 1800})
        try:
            page.set_content("<!doctype html><meta charset='utf-8'><body><div id='slot'></div>"
                             + bokehjs_loader() + "</body>")
            if first is not None:
                page.evaluate(_INSERT, first)
                page.locator(f"#{old_id}[data-ready='1']").wait_for(timeout=30_000)
                page.evaluate(_TOUCH, old_id)        # the user panned, zoomed and tapped
            page.evaluate(_INSERT, second)
            player = page.locator(f"#{new_id}[data-ready='1']")
            player.wait_for(timeout=30_000)
            assert (player.get_attribute("data-reused") == "1") == (first is not None)
            page.wait_for_timeout(500)                     # BokehJS paints on the next frame
            shots.append(Image.open(BytesIO(player.screenshot())).convert("RGB"))
            if first is not None:
                page.screenshot(path=str(SHOTS / "player-reused.png"), full_page=True)
                title = page.evaluate(
                    "([old, id]) => { window.StepLabPlayer.drill(old, 0, [1]);"
                    " return window.StepLabPlayer.players[id].model('unit_grid_0').title.text; }",
                    [old_id, new_id])
                groups = page.locator(f"#{new_id} .sp-group option").all_inner_texts()
                assert title.split(" — ")[0] == groups[1].split(" (")[0], (title, groups)
                state = page.evaluate(_STATE, new_id)
                assert state["reset"] == [0, state["cycles"]] and state["tapped"] == [], state
        finally:
            page.close()
    reused, fresh = shots
    assert reused.size == fresh.size
    changed = np.count_nonzero(np.asarray(ImageChops.difference(reused, fresh)).any(axis=2))
    assert changed <= 0.001 * reused.size[0] * reused.size[1], changed
