"""A knob change never seen before (issue 15): the numbers first, the metrics after them, the
collector held off meanwhile, and the same results as an uncached full evaluation."""
from __future__ import annotations

import gc
import re

import step_lab as sl
from step_lab.notebook import gcpause
from step_lab.notebook import outcome as outcome_mod
from step_lab.notebook.cache import metrics_view
from step_lab.notebook.knobs import Knob
from step_lab.notebook.outcome import Options, complete, evaluate, is_complete, summary_html
from step_lab.notebook.panel import StepPanel
from step_lab.workloads import simplified_moe

SIM = Options(simulate=True, animate=True, show_graph=False, values=False)
KNOBS = {"chunk": Knob("chunk", 4, choices=(4, 8, 16)),
         "tiling": Knob("tiling", "static", choices=("static", "dynamic"))}


def moe(values: dict):
    return simplified_moe(tokens=64, experts=8, tiling=values["tiling"], chunk=values["chunk"])


def cells(summary: str) -> dict:
    """``{cell class: text}`` of a summary table."""
    return dict(re.findall(r"class='step-lab-([a-z-]+)'[^>]*>([^<]*)<", summary))


class Recorder:
    """Wraps a panel's drawing steps and records what was on screen after each."""

    def __init__(self, panel: StepPanel):
        self.panel, self.steps = panel, []
        for name in ("_show", "_show_metrics", "_show_views", "_show_animation"):
            self._wrap(name)

    def _wrap(self, name: str) -> None:
        original = getattr(self.panel, name)

        def recorded(*args):
            original(*args)
            p = self.panel
            player = p.plots.children[0].outputs if p.plots.children else None
            self.steps.append((name, p.summary.value, p.metrics.value, player,
                               gc.get_threshold()[0]))
        setattr(self.panel, name, recorded)


def test_a_cold_change_shows_the_numbers_before_the_metrics_and_the_player():
    panel = StepPanel(moe, KNOBS, SIM, background=False, speculate=False)
    rec = Recorder(panel)
    before = panel.plots.children[0].outputs                    # the first setting's player
    panel.set(chunk=8)
    names = [s[0] for s in rec.steps]
    assert names == ["_show", "_show_metrics", "_show_views", "_show_animation"]
    _, summary, metrics, player, collector = rec.steps[0]
    assert cells(summary)["on-chip-peak-bytes"] == "…"          # follows with the metrics
    assert cells(summary)["cycles"] not in ("", "…") and metrics == "" and player is before
    assert collector == gcpause.YOUNG_THRESHOLD                 # held back while drawing
    _, summary, metrics, player, _ = rec.steps[1]
    assert cells(summary)["on-chip-peak-bytes"] != "…" and "off-chip traffic" in metrics
    assert player is before and rec.steps[2][3] is before
    assert rec.steps[-1][3] is not before                       # the player came last
    assert gc.get_threshold()[0] < gcpause.YOUNG_THRESHOLD      # and the collector is back
    panel.close()


def test_the_two_step_evaluation_gives_what_an_uncached_full_evaluation_gives():
    panel = StepPanel(moe, KNOBS, SIM, background=False, speculate=False)
    for change in ({"chunk": 8}, {"tiling": "dynamic"}, {"chunk": 16}):
        panel.set(**change)
        shown = panel.outcome
        full = evaluate(moe, shown.values, SIM)
        assert is_complete(shown) and is_complete(full)
        assert shown.metric_values == full.metric_values
        assert str(shown.metrics.offchip_traffic) == str(full.metrics.offchip_traffic)
        for attr in ("cycles", "offchip_bytes", "onchip_peak_bytes", "flops",
                     "compute_utilization"):
            assert getattr(shown.result, attr) == getattr(full.result, attr), attr
        assert cells(panel.summary.value) == cells(summary_html(full))
        assert panel.metrics.value == metrics_view(full)
    panel.close()


def test_an_outcome_evaluated_without_metrics_is_completed_once():
    out = evaluate(moe, {"chunk": 4, "tiling": "static"}, SIM, metrics=False)
    assert out.metrics is None and not is_complete(out)
    assert cells(summary_html(out, pending=True))["on-chip-peak-bytes"] == "…"
    assert complete(out) is None and is_complete(out)
    metrics = out.metrics
    assert complete(out) is None and out.metrics is metrics     # nothing recomputed
    no_sim = evaluate(moe, {"chunk": 4, "tiling": "static"}, Options(simulate=False),
                      metrics=False)
    assert no_sim.metrics is not None                           # without a run: the numbers


def test_metrics_that_fail_after_the_numbers_are_shown_leave_the_numbers(monkeypatch):
    panel = StepPanel(moe, KNOBS, SIM, background=False, speculate=False)

    def broken(program, bindings):
        raise sl.errors.ShapeError("no metrics today (expected a test failure)")
    monkeypatch.setattr(outcome_mod, "_metrics", broken)
    panel.set(chunk=16)
    assert "no metrics today" in panel.metrics.value
    assert "step-lab-error" in panel.metrics.value
    assert cells(panel.summary.value)["cycles"] == f"{panel.outcome.result.cycles:,}"
    assert panel.error.value == ""
    panel.close()


def test_the_collector_pause_nests_and_restores_the_state_it_found():
    before = gc.get_threshold()
    with gcpause.paused():
        assert gc.get_threshold() == (gcpause.YOUNG_THRESHOLD, *before[1:])
        assert gcpause.is_paused()
        with gcpause.paused():
            assert gc.get_threshold()[0] == gcpause.YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == gcpause.YOUNG_THRESHOLD   # the outer pause holds
    assert gc.get_threshold() == before and not gcpause.is_paused()
    gc.disable()                                                # a user's choice is kept
    try:
        with gcpause.paused():
            gcpause.freeze()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_freeze_inside_a_pause_waits_for_the_collection(monkeypatch):
    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    real_collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda gen=2: (calls.append(f"collect{gen}"),
                                                      real_collect(gen))[1])
    with gcpause.paused():
        gcpause.freeze()
        assert calls == []                     # garbage of this change is not frozen
    assert calls == ["collect1", "freeze"]
    gcpause.freeze()
    assert calls[-1] == "freeze"


def test_player_figures_carry_no_hidden_tools_axes_or_unused_glyphs():
    from bokeh.models import (
        BoxZoomTool,
        GlyphRenderer,
        LinearAxis,
        PanTool,
        SaveTool,
    )

    from step_lab.notebook.player import player_for
    prog, inputs, bindings = moe({"chunk": 4, "tiling": "static"})
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)
    player = player_for([result], [prog])
    models = list(player.layout("p").references())
    figures = {m.name.split(":", 1)[1]: m for m in models
               if getattr(m, "name", None) and hasattr(m, "renderers")
               and m.name.startswith("p:")}
    for name in ("group_grid_0", "unit_grid_0", "fifo_fill_0", "bandwidth"):
        assert not any(isinstance(t, (PanTool, BoxZoomTool, SaveTool))
                       for t in figures[name].tools), name
    for name in ("group_grid_0", "unit_grid_0"):
        assert not [m for m in figures[name].references() if isinstance(m, LinearAxis)]
    assert any(isinstance(t, PanTool) for t in figures["heatmap_0"].tools)   # kept: xpan
    renderers = [m for m in models if isinstance(m, GlyphRenderer)]
    assert all(r.muted_glyph is None for r in renderers)
    selectable = [r for r in renderers if r.nonselection_glyph is not None]
    assert len(selectable) == 1                        # the group cells (tap to drill in)
    assert selectable[0].nonselection_glyph.fill_alpha == 1.0


def test_a_large_program_gets_its_metric_values_without_formulas(monkeypatch):
    """Above FORMULA_NODES nodes (and with every symbol bound) the panel's metrics are
    computed numerically: the same values, shown without formulas; below it, or with an
    unbound symbol, the symbolic metrics as before."""
    from step_lab.analysis.numeric import NumericMetrics
    prog, inputs, bindings = moe({"chunk": 4, "tiling": "static"})[:3]
    symbolic, values = outcome_mod._metrics(prog, bindings)
    assert hasattr(symbolic, "symbols") and values is not None
    monkeypatch.setattr(outcome_mod, "FORMULA_NODES", len(prog.nodes) - 1)
    numeric, same = outcome_mod._metrics(prog, bindings)
    assert isinstance(numeric, NumericMetrics) and same == values
    unbound, none = outcome_mod._metrics(prog, {})
    assert hasattr(unbound, "symbols") and none is None       # symbols left: the formulas
    out = evaluate(moe, {"chunk": 4, "tiling": "static"}, SIM)
    assert isinstance(out.metrics, NumericMetrics) and out.metric_values == values
    latex = outcome_mod.metrics_latex(out)
    assert f"{values['offchip_traffic']:,}".replace(",", "{,}") in latex \
        or f"{values['offchip_traffic']:,}" in latex
    assert "sl.metrics(prog) has the formulas" in latex and "aligned" in latex
    assert r"at sel\_x0 = " in latex                          # the bindings, as with formulas
    assert cells(summary_html(out))["on-chip-peak-bytes"] == f"{out.result.onchip_peak_bytes:,}"


def test_the_run_s_onchip_peak_is_the_formula_at_the_observed_values(monkeypatch):
    """``SimResult.onchip_peak_bytes`` (computed numerically when every symbol was observed)
    equals the symbolic on-chip formula evaluated at the run's measured dims, bindings and
    ragged maxima; with a symbol never observed the formula counts it 0 and says so."""
    import importlib

    from step_lab.sim import api
    metrics_mod = importlib.import_module("step_lab.analysis.metrics")
    seen, real, calls, metrics = [], api._onchip, [], metrics_mod.metrics

    def both(program, values, options):
        got = real(program, values, options)
        seen.append((got, metrics(program, **options).evaluate(values)["onchip_memory"]))
        return got

    def spied(program, **kwargs):
        calls.append("numeric" if kwargs.get("bindings") is not None else "symbolic")
        return metrics(program, **kwargs)
    monkeypatch.setattr(api, "_onchip", both)
    monkeypatch.setattr(metrics_mod, "metrics", spied)
    for tiling in ("static", "dynamic"):
        prog, inputs, bindings = moe({"chunk": 8, "tiling": tiling})[:3]
        res = sl.simulate(prog, inputs=inputs, bindings=bindings, values=False)
        calls.clear()
        assert res.onchip_peak_bytes == seen[-1][0][0] == seen[-1][1] > 0
        assert seen[-1][0][1] == [] and calls == ["numeric"]     # no formula was built
    prog = moe({"chunk": 8, "tiling": "dynamic"})[0]              # memory depends on sel_x*
    calls.clear()
    got, notes = real(prog, {}, {})
    assert calls == ["numeric", "symbolic"]                    # the formula, zeros for the rest
    zeros = {f"sel_x{i}": 0 for i in range(8)}
    assert got == sl.metrics(prog).evaluate(zeros)["onchip_memory"]
    assert notes and "'sel_x7'] were never observed and count as 0" in notes[0]
