"""Graph rendering for notebooks and reports (step_lab.notebook.graph)."""
import os
import shutil
from types import SimpleNamespace

import pytest
from test_notebook_support import gemm_builder

from step_lab import ConfigError
from step_lab.ir.dot import PALETTE
from step_lab.notebook.graph import DOT_MISSING_HINT, graph_html, node_annotations, render_svg

needs_dot = pytest.mark.needs_dot
if shutil.which("dot") is None and not os.environ.get("CI"):
    needs_dot = pytest.mark.skip(reason="Graphviz `dot` is not installed (CI installs it)")


def gemm():
    return gemm_builder({})[0]


def fake_result(program, busy: dict, cycles: int = 200):
    per_node = {n.name: {"busy_cycles": busy.get(n.name, 0), "offchip_bytes": 2048}
                for n in program.nodes}
    return SimpleNamespace(cycles=cycles, per_node=per_node)


@needs_dot
def test_the_graph_is_an_svg_with_operators_coloured_by_group():
    prog = gemm()
    svg = render_svg(prog)
    assert svg.startswith("<svg")
    assert PALETTE["memory"] in svg and PALETTE["higher-order"] in svg
    for node in prog.nodes:
        assert node.name in svg
    assert "Stream&lt;Tile[64,128] bf16&gt;[1, M/64, 4]" in svg       # edge tooltip, symbolic


@needs_dot
def test_nodes_are_annotated_with_their_simulated_busy_share():
    prog = gemm()
    result = fake_result(prog, {"map0": 150})
    html = graph_html(prog, result, annotate="busy")
    assert "busy 75%" in html and "step-lab-graph" in html
    assert "2.0 KiB off&#45;chip" in graph_html(prog, result, annotate="bytes")
    assert "busy" not in graph_html(prog, result, annotate="none")


def test_annotations_skip_nodes_the_program_does_not_have():
    prog = gemm()
    result = fake_result(prog, {"map0": 20})
    result.per_node["hbm"] = {"busy_cycles": 5}
    notes = node_annotations(result, "busy", prog)
    assert notes["map0"] == "busy 10%" and "hbm" not in notes
    with pytest.raises(ConfigError, match=r"annotate='bsy' .*did you mean 'busy'"):
        node_annotations(result, "bsy", prog)


def test_without_the_dot_binary_the_graph_falls_back_to_text_with_one_hint(monkeypatch):
    monkeypatch.setenv("PATH", "")
    prog = gemm()
    assert render_svg(prog) is None
    html = graph_html(prog)
    assert "<svg" not in html
    assert html.count("apt-get install graphviz") == 1
    assert "linearoffchipload0 = LinearOffChipLoad(" in html
    assert DOT_MISSING_HINT.startswith("Graphviz's `dot` binary was not found")


def test_programs_above_max_nodes_are_not_redrawn_and_say_how_to_draw_them():
    prog = gemm()
    html = graph_html(prog, max_nodes=3)
    assert "<svg" not in html
    assert f"has {len(prog.nodes)} nodes (more than max_graph_nodes=3)" in html
    assert "render_svg(prog)" in html and "%step_config max_graph_nodes=" in html


@needs_dot
def test_fit_scales_the_svg_to_the_page_width_for_reports():
    html = graph_html(gemm(), fit=True)
    assert "style='width:100%;max-width:" in html and "viewBox" in html
    assert 'width="' not in html.split("<svg", 1)[1].split(">", 1)[0]     # scales with the box
