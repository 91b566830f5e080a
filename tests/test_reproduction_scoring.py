"""Scoring of the reproduction (issue 18): every EXPERIMENTS.md criterion is a scored headline,
no tolerance looser than §4, quick mode says what it cannot decide, and the report counts the
quick and full runs and real and synthetic inputs separately."""
import json

import pytest

from step_lab.reproduce import get_figure
from step_lab.reproduce.figures.fig17 import ordered
from step_lab.reproduce.registry import within
from step_lab.reproduce.scoring import NOT_IN_QUICK, describe, score
from step_lab.reproduce.summary import reproduction_markdown

QWEN17 = "qwen.speedup_vs_memory_matched"


@pytest.mark.parametrize("value,ok", [(0.80, False), (0.95, False), (1.0, False), (1.05, True),
                                      (1.38, True), (1.45, True), (1.50, True), (1.55, False)])
def test_fig17_qwen_accepts_the_text_or_the_bar_each_20_percent_and_above_1(value, ok):
    fig = get_figure("fig17")
    assert within(value, fig.paper[QWEN17], fig.tolerance[QWEN17]) is ok
    assert describe(fig.tolerance[QWEN17]) == "±20% of 1.15 or 1.25; > 1"


@pytest.mark.parametrize("key,value,ok", [
    ("mixtral.speedup_vs_memory_matched", 1.0, False),
    ("mixtral.speedup_vs_memory_matched", 1.52, True),
    ("mixtral.speedup_vs_performance_matched", 0.9, False),       # within 20% of 1.05 but < 1
    ("qwen.speedup_vs_performance_matched", 0.95, False),
    ("qwen.speedup_vs_performance_matched", 1.02, True),
])
def test_fig17_every_speedup_must_also_exceed_1(key, value, ok):
    fig = get_figure("fig17")
    assert within(value, fig.paper[key], fig.tolerance[key]) is ok


# EXPERIMENTS.md §4: the loosest band each criterion may have
SECTION4 = {
    "fig8": {"pearson_r": ("min", 0.95), "max_deviation_vs_reference": ("max", 0.20),
             "max_rank_shift_vs_reference": ("max", 2)},
    "fig9": {"mixtral.pid": ("rel", 0.10), "mixtral.speedup_vs_tile16": ("rel", 0.15),
             "mixtral.memory_ratio_vs_tile32": ("rel", 0.15), "qwen.pid": ("rel", 0.15),
             "qwen.speedup_vs_tile8": ("rel", 0.15), "qwen.memory_ratio_vs_tile8": ("rel", 0.03),
             "qwen.memory_ratio_vs_tile64": ("rel", 0.03),
             "fig19.qwen.traffic_ratio_vs_tile8": ("rel", 0.05)},
    "fig10": {"mixtral.pid": ("rel", 0.15), "mixtral.speedup_vs_tile128": ("rel", 0.15),
              "mixtral.speedup_vs_tile256": ("rel", 0.15), "qwen.pid": ("rel", 0.15),
              "qwen.speedup_vs_tile64": ("rel", 0.15), "qwen.speedup_vs_tile1024": ("rel", 0.15),
              "qwen.memory_ratio_vs_tile1024": ("rel", 0.03),
              "fig20.mixtral.traffic_ratio_vs_tile256": ("rel", 0.05),
              "fig20.qwen.traffic_ratio_vs_tile64": ("rel", 0.05),
              "mixtral.static_flattens_after_128": ("abs", 0),
              "mixtral.static_rises_at_1024": ("abs", 0),
              "qwen.dynamic_faster_than_every_static": ("abs", 0)},
    "fig12": {"padded_flop_ratio": ("rel", 0.005), "static.util_ratio_r32": ("rel", 0.15),
              "dynamic.util_ratio_r32": ("rel", 0.15), "static.cycle_overhead_r32": ("max", 0.03),
              "dynamic.cycle_overhead_r32": ("max", 0.10), "static.cycle_ratio_r4": ("rel", 0.25),
              "dynamic.cycle_ratio_r4": ("rel", 0.25),
              "static.util_peaks_at_r16_or_r8": ("abs", 0),
              "dynamic.util_peaks_at_r16_or_r8": ("abs", 0),
              "static.util_falls_at_r4": ("abs", 0), "dynamic.util_falls_at_r4": ("abs", 0)},
    "fig13": {"memory_reduction_r32": ("abs", 0.01), "compute_reduction_r32": ("abs", 0.01),
              "bandwidth_utilization.r128": ("abs", 0.10),
              "bandwidth_utilization.r4": ("abs", 0.10),
              "bandwidth_drop_monotone_below_r32": ("abs", 0)},
    "fig14": {"geomean_low": ("rel", 0.15), "geomean_medium": ("rel", 0.15),
              "geomean_high": ("rel", 0.15), "all_bars_above_1": ("abs", 0),
              "high_ge_low": ("abs", 0)},
    "fig15": {"speedup_b16": ("rel", 0.15), "speedup_b64": ("rel", 0.15),
              "coarse_flatness_b16_48": ("max", 0.10)},
    "fig21": {"geomean_vs_interleaved": ("rel", 0.15), "geomean_vs_coarse": ("rel", 0.15),
              "coarse_ge_3x_at_b16": ("abs", 0),
              "interleaved_worse_than_coarse_at_b64_classes": ("min", 2),
              "dynamic_beats_both_everywhere": ("abs", 0)},
    "fig17": {"qwen.memory_reduction_vs_performance_matched": ("abs", 0.10),
              "mixtral.memory_reduction_vs_performance_matched": ("abs", 0.10),
              "qwen.memory_reduction_vs_memory_matched": ("abs", 0.10),
              "qwen.compute_reduction": ("abs", 0.10),
              **{f"{m}.ordering.{p}": ("abs", 0) for m in ("mixtral", "qwen")
                 for p in ("speedup", "memory", "compute")}},
}


@pytest.mark.parametrize("fig_id", sorted(SECTION4))
def test_every_section4_criterion_is_scored_and_none_is_looser(fig_id):
    fig = get_figure(fig_id)
    for key, band in SECTION4[fig_id].items():
        assert key in fig.paper and key in fig.tolerance, key
        tol = fig.tolerance[key]
        assert tol[0] == band[0], key
        if band[0] == "min":
            assert tol[1] >= band[1], key
        else:
            assert tol[1] <= band[1], key


def test_fig21_criteria_are_scored_and_undecided_in_quick_mode():
    fig = get_figure("fig21")
    h = {"geomean_vs_interleaved": 1.3, "geomean_vs_coarse": 1.8, "coarse_ge_3x_at_b16": False,
         "interleaved_worse_than_coarse_at_b64_classes": 1,
         "dynamic_beats_both_everywhere": False}
    inputs = {f"kv_lengths/b80/x{i}.npy": {"source": "synthetic"} for i in range(3)}
    quick = score(fig, h, inputs, quick=True)
    assert {quick[k]["status"] for k in h} == {NOT_IN_QUICK}
    full = score(fig, h, inputs, quick=False)
    assert full["coarse_ge_3x_at_b16"]["status"] == "fail"
    assert full["interleaved_worse_than_coarse_at_b64_classes"]["status"] == "fail"
    assert full["geomean_vs_coarse"]["status"] == "pass"
    assert full["b16.high.coarse"]["status"] == "reference only"


@pytest.mark.parametrize("values,order,ok", [
    ((1.0, 1.2, 1.3), "mm < pm < dyn", True), ((1.0, 1.3, 1.2), "mm < pm < dyn", False),
    ((24, 30, 24.5), "mm = dyn < pm", True), ((24, 30, 31), "mm = dyn < pm", False),
    ((100, 270, 31), "dyn < mm < pm", True), ((950, 950, 430), "dyn < mm = pm", True),
    ((950, 700, 430), "dyn < mm = pm", False), ((170, 170, 171), "mm = pm = dyn", True),
])
def test_fig17_bar_ordering(values, order, ok):
    bars = dict(zip(("memory_matched", "performance_matched", "dynamic"), values, strict=True))
    assert ordered(bars, order) is ok


def _record(fig_id, quick, checks, standins=(), traces="vendored"):
    return {"figure": fig_id, "title": "t", "quick": quick, "elapsed_s": 1.0, "traces": traces,
            "inputs": {s: {"source": "synthetic"} for s in standins}, "standins": list(standins),
            "headline": {k: 1.0 for k in checks}, "paper": {k: 1.0 for k in checks},
            "checks": {k: {"status": s, "inputs": i, "tolerance": "±15%"}
                       for k, (s, i) in checks.items()},
            "notes": [], "points": [], "failed_points": []}


def test_the_summary_counts_quick_and_full_and_real_and_synthetic_separately(tmp_path):
    for mode, quick in (("quick", True), ("full", False)):
        folder = tmp_path / mode
        folder.mkdir()
        real_a = ("pass", "real")
        last = (NOT_IN_QUICK, "real") if quick else ("pass", "real")
        (folder / "fig9.json").write_text(json.dumps(_record(
            "fig9", quick, {"a": real_a, "b": ("fail", "real"), "c": last})))
        (folder / "fig10.json").write_text(json.dumps(_record(
            "fig10", quick, {"x": ("pass", "synthetic"), "y": ("fail", "synthetic")},
            standins=["expert_routing/qwen_b1024/022_016.npz"])))
    (tmp_path / "KNOWN_MISSES.json").write_text(json.dumps(
        [{"figure": "fig9", "key": "b", "runs": ["quick", "full"], "reason": "documented"}]))
    text = reproduction_markdown(tmp_path / "quick", tmp_path / "full")
    head = "\n".join(text.splitlines()[:12])
    assert "qwen_b1024/022_016.npz" in head                   # stand-ins named up front
    assert f"| quick run (`{tmp_path / 'quick'}`) | **1 of 2** | 1 of 2 | 1 | 1 |" in text
    assert f"| full run (`{tmp_path / 'full'}`) | **2 of 3** | 1 of 2 | — | 1 |" in text
    assert "fig9 `b` (quick, full) — known miss: documented" in text
    assert "| 1 (not assessed in quick mode) |" in text
    assert "## How to check our numbers" in text
