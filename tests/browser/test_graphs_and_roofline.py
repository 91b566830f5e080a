"""Real browser: the collapsed Qwen3 graph (fit, zoom, legend) and the roofline, offline.

Builds a standalone report page with the Qwen3-30B-A3B MoE layer's graph (128 expert pipelines
collapsed into one cluster "×128"), the "why is it slow?" verdict and the bokeh roofline with
static-tile variants, opens it from ``file://`` in chromium with the network off, and checks
what a person sees: the graph opens fitted with legible labels, the zoom buttons work, the
legend is there, the roofline is drawn. Screenshots: ``test-output/browser/11-*.png``.
"""
from __future__ import annotations

import statistics

import pytest
from test_jupyterlab import CHROMIUM, CHROMIUM_ARGS, SHOTS, _require_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from step_lab.notebook.graph import graph_html
    from step_lab.notebook.roofline import roofline_fragment, why_html
    from step_lab.report import write_report
    from step_lab.workloads import moe_layer
    runs = {}
    for tile in (None, 16, 64):
        wl = moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic" if tile is None else "static",
                       tile=tile)
        runs["dynamic" if tile is None else f"tile {tile}"] = (wl, wl.simulate(values=False))
    program, result = runs["dynamic"]
    why = result.why_slow({k: r for k, (_, r) in runs.items()}, label="dynamic")
    sections = [("graph", graph_html(program.program, result, max_nodes=400)),
                ("why", f"<div id='why'>{why_html(why)}{roofline_fragment(why)}</div>")]
    path, _ = write_report(tmp_path_factory.mktemp("report"), "Qwen3 layer", [{"a": 1}],
                           sections, {})
    return path


def test_the_collapsed_qwen3_graph_opens_fitted_legible_and_zooms(browser, report):
    context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
    try:
        page = context.new_page()
        page.goto(report.as_uri())
        graph = page.locator(".step-lab-graph").first
        view = graph.locator(".step-lab-graph-view")
        svg = view.locator("svg")
        svg.wait_for()
        assert "×128" in svg.text_content()
        view_box, svg_box = view.bounding_box(), svg.bounding_box()
        assert svg_box["width"] <= view_box["width"] + 1          # fitted: no sideways scroll
        assert svg_box["y"] <= view_box["y"] + 2                  # opens on the graph's top
        heights = page.evaluate("""() => [...document.querySelectorAll(
            '.step-lab-graph-view svg g.node text')].map(t => t.getBoundingClientRect().height)""")
        assert statistics.median(heights) >= 9, heights[:10]      # labels readable as drawn
        graph.screenshot(path=str(SHOTS / "11-collapsed-graph.png"))
        level = graph.locator(".step-lab-zoom-level")
        before = svg_box["width"]
        graph.get_by_role("button", name="zoom in").click()
        assert svg.bounding_box()["width"] > before * 1.2 and level.inner_text().endswith("%")
        graph.get_by_role("button", name="whole graph").click()
        whole = svg.bounding_box()
        assert whole["height"] <= view.bounding_box()["height"] + 2
        legend = graph.locator(".step-lab-graph-legend")
        for text in ("memory", "routing", "compute", "shape", "off-chip tensor", "×N"):
            assert text in legend.inner_text()
    finally:
        context.close()


def test_the_roofline_is_drawn_offline_with_the_verdict(browser, report):
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        why = page.locator("#why")
        why.locator("canvas").first.wait_for(timeout=30_000)
        assert "Why is it slow?" in why.inner_text() and "bound:" in why.inner_text()
        why.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        why.screenshot(path=str(SHOTS / "11-roofline.png"))
    finally:
        context.close()
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests), requests
