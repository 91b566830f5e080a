"""Knob widgets wired to re-build and redraw in place (step_lab.notebook.panel)."""
import threading
import time

import pytest
from test_notebook_support import GEMM_CELL

import step_lab as sl
from step_lab.notebook.cell import StepCell
from step_lab.notebook.knobs import Knob
from step_lab.notebook.outcome import Options, evaluate
from step_lab.notebook.panel import StepPanel

NO_SIM = Options(simulate=False, show_graph=False)


def gemm_panel(options=NO_SIM, background=False, **kwargs) -> StepPanel:
    cell = StepCell(GEMM_CELL, "gemm")
    first = evaluate(cell.build, {}, options)
    return StepPanel(cell.build, cell.knobs, options, first=first, background=background,
                     **kwargs)


def tiny_builder(log: list, gate: dict | None = None):
    """A builder whose program size is the knob ``n``; optional per-value Events to hold it."""
    def build(values):
        n = values["n"]
        if gate and n in gate:
            gate[n].wait(5)
        log.append(n)
        if n == 13:
            raise sl.ShapeError(f"unlucky n={n} (expected anything but 13)")
        prog = sl.Program(f"tiny{n}")
        X = prog.tensor("X", (16 * n, 16))
        sl.ops.LinearOffChipStore(sl.ops.LinearOffChipLoad(X, tile=(16, 16)), "Y")
        return prog, {}, {}
    return build


def test_every_knob_gets_a_widget_with_its_default():
    panel = gemm_panel()
    assert panel.values() == {"tile": 64, "col_tile": 128, "M": 256}
    assert "851,968" in panel.summary.value


def test_changing_a_widget_rebuilds_and_redraws_in_place():
    panel = gemm_panel()
    before = panel.summary.value
    panel.controls["tile"].value = 16                      # as the browser would
    assert panel.outcome.values["tile"] == 16
    assert panel.summary.value != before and "tile=16" in panel.summary.value
    assert "2,424,832" in panel.summary.value              # W streamed 16 times instead of 4
    assert r"\begin{aligned}" in panel.metrics.value and panel.error.value == ""


def test_set_checks_knob_names_with_a_did_you_mean():
    panel = gemm_panel()
    with pytest.raises(sl.ConfigError, match=r"unknown knob 'tiel' \(did you mean 'tile'\?\)"):
        panel.set(tiel=16)
    panel.set(M=64)
    assert panel.outcome.bindings == {"M": 64}


def test_results_are_rebound_in_the_user_namespace_after_each_change():
    seen = []
    panel = gemm_panel(on_result=lambda outcome: seen.append(outcome.values["tile"]))
    panel.set(tile=32)
    panel.set(tile=128)
    assert seen == [64, 32, 128]


def test_a_bad_knob_combination_shows_an_error_and_keeps_the_widgets_alive():
    log = []
    panel = StepPanel(tiny_builder(log), {"n": Knob("n", 2, range=(1, 20, 1))},
                      Options(simulate=False, show_graph=False), background=False)
    good = panel.summary.value
    panel.set(n=13)
    assert "unlucky n=13" in panel.error.value and "ShapeError" in panel.error.value
    assert panel.summary.value == good                      # last good result stays visible
    assert "failed" in panel.status.value
    panel.set(n=3)
    assert panel.error.value == "" and "tiny3" in panel.summary.value


def test_a_stale_result_never_overwrites_a_newer_one():
    log = []
    gate = {5: threading.Event()}
    panel = StepPanel(tiny_builder(log, gate), {"n": Knob("n", 2, range=(1, 20, 1))},
                      Options(simulate=False, show_graph=False), background=True,
                      speculate=False)                 # the log counts foreground builds only
    panel.set(n=5)                                          # slow: held at the gate
    time.sleep(0.05)
    panel.set(n=7)                                          # newer request
    panel.set(n=9)                                          # newest; 7 is skipped unstarted
    gate[5].set()
    panel.wait()
    assert "tiny9" in panel.summary.value
    assert log == [2, 5, 9]                                 # 5 finished late and was dropped
    assert panel.applied_generation == panel.generation == 3


def test_applying_an_older_generation_is_refused():
    panel = gemm_panel()
    panel.set(tile=32)
    old = evaluate(panel.builder, {"tile": 128, "col_tile": 128, "M": 256}, NO_SIM)
    assert panel._apply(panel.generation - 1, old) is False
    assert panel.outcome.values["tile"] == 32


def test_background_evaluation_updates_the_widgets_when_done():
    panel = gemm_panel(background=True)
    panel.set(tile=16)
    panel.wait()
    assert panel.outcome.values["tile"] == 16
    panel.close()


def test_a_knob_change_re_simulates_and_redraws_the_graph():
    panel = gemm_panel(Options(simulate=True, show_graph=True))
    cycles = panel.outcome.result.cycles
    panel.set(tile=16)
    assert panel.outcome.result.cycles != cycles
    assert "<svg" in panel.graph.value or "apt-get install graphviz" in panel.graph.value
    assert f"{panel.outcome.result.cycles:,}" in panel.summary.value


def test_a_knob_change_replaces_the_player_output():
    panel = gemm_panel(Options(simulate=True, animate=True, show_graph=False))
    output = panel.plots.children[0]
    first = output.outputs[0]["data"]["text/html"]
    assert "data-step-player" in first
    assert panel.animation.runs[0].cycles == panel.outcome.result.cycles
    before = panel.animation.runs[0].cycles
    panel.set(tile=16)
    assert panel.plots.children[0] is output                  # same output area, new player
    assert len(output.outputs) == 1
    second = output.outputs[0]["data"]["text/html"]
    assert second != first and "step-lab-bokehjs" not in second
    loader = panel.plots.children[1]                          # BokehJS: its own output, sent
    assert "step-lab-bokehjs" in loader.outputs[0]["data"]["text/html"]   # once (the panel
    assert len(panel.plots.children) == 2                     # stays self-sufficient after a
    assert panel.animation.runs[0].cycles == panel.outcome.result.cycles != before  # reload)


def test_the_previous_settings_views_are_dimmed_until_the_new_ones_are_drawn():
    """Numbers first: between them and the verdict/graph/player of the new setting, the old
    views carry the dimming class; a failing setting keeps the last good views undimmed."""
    from step_lab.notebook.stale import STALE, STYLE
    panel = gemm_panel(Options(show_graph=True, animate=True))
    views = (panel.why, panel.roofline, panel.graph, panel.plots)
    assert not any(STALE in v._dom_classes for v in views)
    assert any(getattr(c, "value", "") == STYLE for c in panel.widget.children)
    seen = []                          # on_result runs after the numbers, before the views
    panel.on_result = lambda _o: seen.append([STALE in v._dom_classes for v in views])
    panel.set(tile=16)
    assert seen == [[True, True, True, True]]
    assert not any(STALE in v._dom_classes for v in views)   # all redrawn
    assert "tile=16" in panel.summary.value


def test_a_failed_setting_leaves_the_last_good_views_undimmed():
    from step_lab.notebook.stale import STALE
    log: list = []
    first = evaluate(tiny_builder(log), {"n": 2}, Options(show_graph=True))
    panel = StepPanel(tiny_builder(log), {"n": Knob("n", 2, range=(1, 20, 1))},
                      Options(show_graph=True), first=first, background=False)
    panel.set(n=13)
    assert "last good result" in panel.status.value
    assert not any(STALE in v._dom_classes for v in (panel.why, panel.graph, panel.plots))
