"""Fig 8: simulator validation on a SwiGLU layer across 15 tiling schedules.

EXPERIMENTS.md §3 Fig 8: B = 64, D = 256, F = 512, FP32; tiles (m, 256, n) for m ∈ {16, 32, 64},
n ∈ {16, 32, 64, 128, 256}; compute 4096 FLOPs/cycle per operator, FIFO depth 1, HBM 8 channels
(256 B/cycle), on-chip 256 B/cycle (``sl.hw.VALIDATION``, which keeps one tile in flight per
off-chip operator, see OUTSTANDING). We cannot rerun the authors' HDL model:
the headline ``pearson_r`` correlates our cycles with the reference STeP simulator's exact
cycles; ``pearson_r_hdl`` with the HDL cycles read off the figure. Traffic is symbolic and must
equal the closed form exactly. Quick and full runs are the same 30 simulations (a few seconds).
"""
from __future__ import annotations

import numpy as np

from ...errors import StepError
from ...hw import VALIDATION
from ...workloads.swiglu import FIG8_TILES_M, FIG8_TILES_N, swiglu, swiglu_traffic
from ..registry import FigureResult, figure
from ._attention import source_digest
from ._legend import legend_above

# EXPERIMENTS.md §1.1: the artifact's HBM node allows 1 outstanding request; our closest knob is
# one tile in flight per off-chip operator (the VALIDATION preset's value; PAPER keeps 2)
OUTSTANDING = VALIDATION.offchip_outstanding_tiles
REF_CYCLES = {(16, 16): 33289, (16, 32): 29400, (16, 64): 27503, (16, 128): 26993,
              (16, 256): 27509, (32, 16): 21223, (32, 32): 17097, (32, 64): 15277,
              (32, 128): 14773, (32, 256): 15305, (64, 16): 15218, (64, 32): 11188,
              (64, 64): 9537, (64, 128): 9260, (64, 256): 11088}
HDL_CYCLES = {(16, 16): 37.0e3, (16, 32): 30.8e3, (16, 64): 28.4e3, (16, 128): 26.9e3,
              (16, 256): 27.0e3, (32, 16): 22.6e3, (32, 32): 18.1e3, (32, 64): 16.2e3,
              (32, 128): 15.0e3, (32, 256): 14.3e3, (64, 16): 16.5e3, (64, 32): 11.7e3,
              (64, 64): 9.7e3, (64, 128): 9.3e3, (64, 256): 8.7e3}
PAPER_TRAFFIC_MB = {(16, 16): 8.45, (16, 32): 7.41, (16, 64): 6.88, (16, 128): 6.62,
                    (16, 256): 6.49, (32, 16): 5.31, (32, 32): 4.26, (32, 64): 3.74,
                    (32, 128): 3.47, (32, 256): 3.34, (64, 16): 3.74, (64, 32): 2.69,
                    (64, 64): 2.16, (64, 128): 1.90, (64, 256): 1.77}

PAPER = {"pearson_r": 0.99, "pearson_r_hdl": 0.99, "max_deviation_vs_reference": 0.0,
         "mean_abs_error_vs_reference": 0.0, "max_rank_shift_vs_reference": 0}
# [Choice] mean |error| <= 2% is issue 16's target for the reference simulator (EXPERIMENTS.md
# only bounds each point at ±20%, kept for max_deviation_vs_reference)
TOLERANCE = {"pearson_r": ("min", 0.95), "pearson_r_hdl": ("min", 0.95),
             "max_deviation_vs_reference": ("max", 0.20),
             "mean_abs_error_vs_reference": ("max", 0.02),
             "max_rank_shift_vs_reference": ("max", 2)}
for _p, _mb in PAPER_TRAFFIC_MB.items():
    PAPER[f"traffic_mb.m{_p[0]}_n{_p[1]}"] = _mb
    TOLERANCE[f"traffic_mb.m{_p[0]}_n{_p[1]}"] = ("rel", 0.01)


def simulate_point(m: int, n: int, outstanding: int = OUTSTANDING) -> dict:
    """One schedule: simulated cycles and traffic, symbolic traffic, closed-form traffic."""
    wl = swiglu(tile_m=m, tile_n=n)
    res = wl.simulate(hw=VALIDATION.replace(offchip_outstanding_tiles=outstanding), values=False)
    symbolic = wl.metrics().evaluate({})["offchip_traffic"]
    return {"label": wl.meta["label"], "cycles": res.cycles, "offchip_bytes": res.offchip_bytes,
            "symbolic_traffic": symbolic, "formula_traffic": swiglu_traffic(64, 256, 512, m, n),
            "reference_cycles": REF_CYCLES[(m, n)], "hdl_cycles": HDL_CYCLES[(m, n)]}


def _correlations(ok: list, prefix: str) -> dict:
    """Pearson r vs the reference and HDL cycles, max deviation and rank shift."""
    if len(ok) < 3:
        return {}
    ours = np.array([r["cycles"] for r in ok], dtype=float)
    ref = np.array([r["reference_cycles"] for r in ok], dtype=float)
    hdl = np.array([r["hdl_cycles"] for r in ok], dtype=float)
    h = {f"{prefix}pearson_r": float(np.corrcoef(ours, ref)[0, 1]),
         f"{prefix}pearson_r_hdl": float(np.corrcoef(ours, hdl)[0, 1]),
         f"{prefix}max_deviation_vs_reference": float(np.max(np.abs(ours / ref - 1))),
         f"{prefix}mean_abs_error_vs_reference": mean_abs_error(ours, ref),
         f"{prefix}max_rank_shift_vs_reference": int(np.max(np.abs(_ranks(ours) - _ranks(ref)))),
         f"{prefix}max_rank_shift_vs_hdl": int(np.max(np.abs(_ranks(ours) - _ranks(hdl))))}
    if not prefix:
        h["pearson_r_reference_vs_hdl"] = float(np.corrcoef(ref, hdl)[0, 1])
        h["pearson_r_traffic_vs_cycles"] = float(np.corrcoef(
            [r["offchip_bytes"] for r in ok], ours)[0, 1])
    return h


def mean_abs_error(ours, ref) -> float:
    """Mean of |ours / ref − 1| over the points (the relative error, averaged without sign)."""
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    if ours.shape != ref.shape or not ours.size or np.any(ref <= 0):
        raise StepError(f"mean_abs_error: {ours.size} values vs {ref.size} positive "
                         "references (expected as many, at least one)")
    return float(np.mean(np.abs(ours / ref - 1)))


def _ranks(values) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(len(values))
    return ranks


@figure("fig8", "Simulator validation against a cycle-accurate HDL model (SwiGLU)",
        "Does the cycle-approximate simulator track a cycle-accurate hardware model, and does "
        "the symbolic off-chip traffic explain performance, across tiling schedules?",
        paper=PAPER, tolerance=TOLERANCE)
def run(ctx) -> FigureResult:
    notes: list = []
    records = ctx.sweep(simulate_point, {"m": list(FIG8_TILES_M), "n": list(FIG8_TILES_N),
                                         "outstanding": [OUTSTANDING, 2]},
                        key=source_digest("fig8-swiglu"))
    notes += [f"point ({r['m']}, 256, {r['n']}) failed: {r['error']}" for r in records
              if r.get("error")]
    ok = [r for r in records if not r.get("error") and r["outstanding"] == OUTSTANDING]
    h = _correlations(ok, "")
    h.update(_correlations([r for r in records if not r.get("error")
                            and r["outstanding"] == 2], "preset_outstanding2."))
    for r in ok:
        key = f"m{r['m']}_n{r['n']}"
        h[f"traffic_mb.{key}"] = r["offchip_bytes"] / 1e6
        h[f"cycles.{key}"] = r["cycles"]
    h["traffic_exact"] = bool(ok) and all(r["offchip_bytes"] == r["symbolic_traffic"]
                                          == r["formula_traffic"] for r in ok)
    notes += [
        "pearson_r: ours vs the reference STeP simulator's cycles (exact, from the authors' "
        "reference output) — the tolerance r >= 0.95, each point within ±20%, mean |error| "
        "<= 2% (mean_abs_error_vs_reference), ranking within ±2 positions; pearson_r_hdl: vs "
        "the HDL cycles read off the published figure (±5%).",
        "traffic_exact: simulated off-chip bytes = symbolic metric = 4·(B·D·F/n + 3·(B/m)·D·F "
        "+ B·D) at every point.",
        "Schedule: x tiles [m, 256] re-read per intermediate column tile, Wg/Wu [256, n] and "
        "Wd [n, 256] re-streamed per batch tile; gate/up are matmul-accumulates over the single "
        "D tile, the down projection accumulates over F/n (workloads.swiglu).",
        "Hardware: sl.hw.VALIDATION, whose offchip_outstanding_tiles = 1 (the artifact's HBM "
        "node allows 1 outstanding request, EXPERIMENTS.md §1.1; PAPER keeps 2). "
        "'preset_outstanding2.*' keys repeat the comparison with 2 tiles in flight: r is "
        "the same to 3 digits, but the near-tied n = 128 / n = 256 schedules swap, the "
        "largest rank shift vs the reference becomes 3 and the mean |error| about 2% (the "
        "reference's loads prefetch one tile less).",
        "Quick and full runs are identical (15 + 15 simulations, about 3 s).",
    ]
    return FigureResult(headline=h, points=ok, notes=notes, plot=_plot(ok))


def _plot(records: list):
    try:
        from bokeh.layouts import row
        from bokeh.models import ColumnDataSource
        from bokeh.plotting import figure
    except ImportError:
        return None
    if not records:
        return None
    src = ColumnDataSource({
        "label": [r["label"] for r in records], "ours": [r["cycles"] for r in records],
        "ref": [r["reference_cycles"] for r in records],
        "hdl": [r["hdl_cycles"] for r in records],
        "traffic": [r["offchip_bytes"] / 1e6 for r in records]})
    tips = [("schedule", "@label"), ("ours", "@ours"), ("reference", "@ref"), ("HDL", "@hdl")]
    left = figure(title="Fig 8: cycles, ours vs reference STeP / HDL", width=460, height=400,
                  x_axis_label="reference cycles", y_axis_label="our cycles", tooltips=tips)
    left.scatter("ref", "ours", source=src, size=9, legend_label="vs reference STeP sim")
    left.scatter("hdl", "ours", source=src, size=9, marker="triangle", color="#ff7f0e",
                 legend_label="vs HDL (≈)")
    hi = max(max(r["cycles"], r["reference_cycles"], r["hdl_cycles"]) for r in records) * 1.05
    left.line([0, hi], [0, hi], color="gray", line_dash="dashed")
    legend_above(left)
    right = figure(title="cycles vs symbolic off-chip traffic", width=460, height=400,
                   x_axis_label="off-chip traffic [MB]", y_axis_label="cycles", tooltips=tips)
    right.scatter("traffic", "ours", source=src, size=9, legend_label="ours")
    right.scatter("traffic", "ref", source=src, size=9, marker="square", color="#2ca02c",
                  legend_label="reference STeP sim")
    legend_above(right)
    return row(left, right)
