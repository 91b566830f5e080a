"""HTML fragments of the notebook views for report.html (step_lab.notebook.export)."""
import re

import pytest
from test_notebook_support import gemm_builder

import step_lab as sl
from step_lab.notebook import report_fragments
from step_lab.report import write_report


@pytest.fixture(scope="module")
def gemm_run():
    prog, inputs, bindings = gemm_builder({})
    return prog, sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)


def test_fragments_are_heading_html_pairs_with_graph_and_occupancy(gemm_run):
    prog, result = gemm_run
    sections = report_fragments(prog, result)
    assert [h for h, _ in sections] == ["gemm: graph", "gemm: occupancy",
                                        "gemm: why is it slow?"]
    graph, occupancy, why = (html for _, html in sections)
    assert "step-lab-why" in why and "Bokeh.embed.embed_items" in why
    assert len(why) < len(occupancy) / 5                           # BokehJS only once
    assert "<svg" in graph and "busy" in graph
    assert "data-step-player" in occupancy and "aria-label='play'" in occupancy
    assert "StepLabPlayer.start(" in occupancy


def test_the_occupancy_fragment_works_offline(gemm_run):
    prog, result = gemm_run
    occupancy = report_fragments(prog, result)[1][1]
    assert not re.search(r"<script[^>]+src=", occupancy)          # everything inline, no CDN
    assert len(occupancy) > 500_000                                # BokehJS itself is inlined
    lean = report_fragments(prog, result, include_bokehjs=False)[1][1]
    assert len(lean) < len(occupancy) / 5


def test_a_result_without_trace_gives_a_note_instead_of_the_player():
    prog, inputs, bindings = gemm_builder({})
    result = sl.simulate(prog, bindings=bindings, inputs=inputs)
    heading, note = report_fragments(prog, result)[1]
    assert heading == "gemm: occupancy" and "trace=True" in note
    heading, why = report_fragments(prog, result)[2]                # carries BokehJS itself
    assert heading == "gemm: why is it slow?" and len(why) > 500_000


def test_fragments_embed_into_write_report(gemm_run, tmp_path):
    prog, result = gemm_run
    html_path, _ = write_report(tmp_path, "gemm", [{"cycles": result.cycles}],
                                report_fragments(prog, result, title="GEMM"), {})
    page = html_path.read_text()
    assert "<h2>GEMM: graph</h2>" in page and "<h2>GEMM: occupancy</h2>" in page
    assert page.count("<svg") >= 1 and "data-step-player" in page
