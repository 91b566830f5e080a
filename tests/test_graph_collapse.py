"""Graphs that scale: collapsed repeated scopes, the one DOT-to-SVG renderer, zoom and legend."""
import re
import shutil
from pathlib import Path

import pytest

import step_lab as sl
from step_lab import ops
from step_lab.errors import GraphError
from step_lab.ir import render
from step_lab.ir.dot import PALETTE, TENSOR_COLOUR, mimebundle, to_dot
from step_lab.ir.dot_scopes import repeat_groups, scope_view
from step_lab.workloads import moe_layer

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz dot")
NODE = re.compile(r'^\s*"([^"]+)" \[label=', re.M)


@pytest.fixture(scope="module")
def qwen():
    """Qwen3 MoE layer: 128 expert pipelines (static tiling, no time-multiplexing)."""
    return moe_layer("qwen3-30b-a3b", batch=64, tiling="static", tile=32).program


@pytest.fixture(scope="module")
def qwen_tm():
    return moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic", time_multiplex=True).program


def _drawn(dot: str) -> set:
    return set(NODE.findall(dot))


def test_a_128_expert_moe_collapses_into_one_cluster_x128(qwen):
    dot = to_dot(qwen, expand="none")
    assert dot.count("×128\"; style=\"rounded,bold") == 1
    assert 'label="expert 0 … expert 127  ×128"' in dot
    drawn = _drawn(dot)
    assert "e0_gate" in drawn and "e1_gate" not in drawn and "e127_scale" not in drawn
    assert len(drawn) < 60 < len(qwen.nodes)
    # the 128 edges from the shared router into the experts are one edge labelled ×128
    assert re.search(r'"io_route" -> "e0_pad" \[label="[^"]* ×128"', dot)
    assert '"e0_scale" -> "io_gather"' in dot and dot.count('-> "io_gather"') == 2  # + rsel


def test_expand_all_restores_every_node_and_is_the_to_dot_default(qwen):
    assert _drawn(to_dot(qwen, expand="all")) == {n.name for n in qwen.nodes}
    assert to_dot(qwen) == to_dot(qwen, expand="all")
    assert "×128" not in to_dot(qwen)


def test_expanding_one_scope_draws_it_alone_and_keeps_the_rest_collapsed(qwen):
    dot = to_dot(qwen, expand=["expert 5"])
    drawn = _drawn(dot)
    assert {"e0_gate", "e5_gate"} <= drawn and "e6_gate" not in drawn
    assert 'label="expert 0 … expert 127  ×127"' in dot
    assert _drawn(to_dot(qwen, expand=("expert 5",))) == drawn       # a path works too


def test_time_multiplexed_layers_collapse_experts_and_regions(qwen_tm):
    view = scope_view(qwen_tm, "none")
    assert {p[-1]: n for p, n in view.repeats.items()} == {"expert 0": 128, "region 0": 32}
    groups = repeat_groups(qwen_tm)[()]
    assert sorted(len(g) for g in groups) == [32, 128]


def test_scopes_that_differ_do_not_collapse():
    prog = sl.Program("p")
    x = prog.input("x", sl.Tile(1, 64, "bf16"), (10, 1))
    with prog.scope("a"):
        a = ops.Flatten(x, 0, 1)
    with prog.scope("b"):
        b = ops.Promote(ops.Flatten(x, 0, 1))
    with prog.scope("c"):
        c = ops.Flatten(x, 0, 1)
    prog.output("a", a), prog.output("b", b), prog.output("c", c)
    view = scope_view(prog, "none")
    assert {p[-1]: n for p, n in view.repeats.items()} == {"a": 2}
    assert "promote0" in _drawn(to_dot(prog, expand="none"))


def test_an_unknown_expand_name_is_a_graph_error_with_a_suggestion(qwen):
    with pytest.raises(GraphError, match=r"expand='expert 500'.*did you mean"):
        to_dot(qwen, expand="expert 500")


def test_long_labels_are_elided_only_when_asked(qwen):
    full = to_dot(qwen)
    short = to_dot(qwen, expand="none", max_label=48)
    longest = max(len(x) for x in re.findall(r'label="([^"]*)"', short)
                  for x in x.split("\\n"))
    assert longest <= 48 + len(" ×128") and "…" in short
    assert max(len(x) for x in re.findall(r'label="([^"]*)"', full)) > 60


def test_edge_types_move_to_tooltips_in_compact_drawings(qwen):
    dot = to_dot(qwen, expand="none", edge_labels=False, max_label=48)
    assert 'tooltip="Stream<' in dot and 'label="Stream<' not in dot


@needs_dot
def test_the_collapsed_qwen_graph_renders_fitted_zoomable_with_a_legend(qwen):
    from step_lab.notebook.graph import graph_html
    page = graph_html(qwen, max_nodes=400)
    assert "<svg" in page and "×128" in page
    assert "39 of 3,341 nodes drawn" in page or "of 3,341 nodes drawn" in page
    for label in ("zoom in", "zoom out", "fit width", "whole graph", "actual size"):
        assert f"aria-label='{label}'" in page
    assert "onwheel=" in page and "onmousemove=" in page and "<script" not in page
    legend = page[page.index("step-lab-graph-legend"):]
    for colour in [*PALETTE.values(), TENSOR_COLOUR]:
        if colour != PALETTE["other"]:
            assert colour in legend
    assert "×N" in legend


@needs_dot
def test_every_graph_goes_through_the_one_renderer(monkeypatch, qwen):
    from step_lab import report
    from step_lab.notebook.graph import graph_html, render_svg
    calls = []
    real = render.dot_to_svg

    def spy(source, **kw):
        calls.append(source)
        return real(source, **kw)
    monkeypatch.setattr(render, "dot_to_svg", spy)
    small = moe_layer("mixtral-8x7b", batch=8, tiling="dynamic").program
    assert "<svg" in mimebundle(small)["text/html"]
    assert "<svg" in graph_html(small)
    assert "<svg" in render_svg(small)
    assert "<svg" in report.render_svg(small)
    assert "<svg" in report.graph_fragment(small)
    assert len(calls) == 5 and all("×8" in c for c in calls)


def test_collapsed_nodes_are_annotated_with_the_busiest_member():
    from types import SimpleNamespace

    from step_lab.notebook.graph import graph_html
    prog = moe_layer("mixtral-8x7b", batch=8, tiling="dynamic").program
    per_node = {n.name: {"busy": 10} for n in prog.nodes}
    per_node["e5_gate"] = {"busy": 90}
    page = graph_html(prog, SimpleNamespace(cycles=100, per_node=per_node))
    assert "busy max 90% of 8" in page and "busy max 10% of 8" in page


@needs_dot
def test_an_expanded_drawing_that_graphviz_cannot_rank_is_retried_without_clusters(monkeypatch):
    real = render.dot_to_svg

    def picky(source, **kw):
        if "cluster_scope_" in source:
            raise GraphError("Graphviz could not draw it: trouble in init_rank")
        return real(source, **kw)
    monkeypatch.setattr(render, "dot_to_svg", picky)
    prog = moe_layer("mixtral-8x7b", batch=8, tiling="dynamic").program
    assert "e3_gate" in render.program_svg(prog, expand="all")
    with pytest.raises(GraphError, match="init_rank"):
        render.program_svg(prog, expand="none")                 # collapsed: no silent expand


def test_no_other_module_runs_graphviz():
    root = Path(sl.__file__).parent
    runners = [p.relative_to(root).as_posix() for p in root.rglob("*.py")
               if re.search(r'\[(binary|dot|"dot")\s*,\s*"-Tsvg"|graphviz\.Source',
                            p.read_text(encoding="utf-8"))]
    assert runners == ["ir/render.py"]


def test_without_dot_the_report_fragment_shows_the_collapsed_dot_source(monkeypatch, qwen):
    from step_lab import report
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    frag = report.graph_fragment(qwen)
    assert "dot binary was not found" in frag and "×128" in frag


@needs_dot
def test_the_panel_offers_collapsed_expand_all_and_per_group_choices():
    from step_lab.notebook.outcome import Options, evaluate
    from step_lab.notebook.panel import StepPanel
    wl = moe_layer("mixtral-8x7b", batch=8, tiling="dynamic")
    options = Options(simulate=False, animate=False, show_graph=True)

    def build(values):
        return wl.program, dict(wl.inputs), dict(wl.bindings)
    panel = StepPanel(build, {}, options, first=evaluate(build, {}, options), background=False)
    labels = [label for label, _ in panel.expand.options]
    assert labels == ["collapsed", "expand all", "expand expert 0 … expert 7"]
    assert panel.expand.layout.display == ""
    assert "×8" in panel.graph.value and "e3_gate" not in panel.graph.value
    panel.expand.value = "all"
    assert "e3_gate" in panel.graph.value and "×8" not in panel.graph.value
    panel.expand.value = panel.expand.options[2][1]          # the expert group, by its paths
    assert "e3_gate" in panel.graph.value and "×8" not in panel.graph.value
    panel.expand.value = "none"
    assert "×8" in panel.graph.value
    panel.close()
