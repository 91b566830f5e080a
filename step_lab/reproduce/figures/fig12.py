"""Fig 12: configuration time-multiplexing of MoE experts — compute utilization vs regions.

EXPERIMENTS.md §3 Fig 12: Qwen3-30B-A3B, batch 64, Qwen b64 trace, tile_F = 48, every compute
operator at 1024 FLOPs/cycle; (a) static tiling tile_N = 32, (b) dynamic tiling; regions
R ∈ {128 (plain expert-parallel program, the baseline), 64, 32, 16, 8, 4}. Utilization =
(algorithmic FLOPs / cycles) / allocated compute (§1.3; padded rows count for static tiling).
``--quick`` keeps R ∈ {128, 32, 8, 4} (the headline points and the utilization peak).
"""
from __future__ import annotations

from ..registry import FigureResult, figure
from ._legend import legend_above
from ._moe import QWEN, REQUEST_GRANULARITY_NOTE, ROUTING_TRACES, by_label, routing_for, run_points

REGIONS = (128, 64, 32, 16, 8, 4)
QUICK_REGIONS = (128, 32, 8, 4)
TILE_N, TILE_F, BW = 32, 48, 1024

PAPER = {"padded_flop_ratio": 3.81, "static.util_ratio_r32": 2.64,
         "dynamic.util_ratio_r32": 2.51, "static.cycle_overhead_r32": 0.01,
         "dynamic.cycle_overhead_r32": 0.05, "static.cycle_ratio_r4": 2.4,
         "dynamic.cycle_ratio_r4": 1.8, "static.util_peaks_at_r16_or_r8": True,
         "static.util_falls_at_r4": True, "dynamic.util_peaks_at_r16_or_r8": True,
         "dynamic.util_falls_at_r4": True}
TOLERANCE = {"padded_flop_ratio": ("rel", 0.005), "static.util_ratio_r32": ("rel", 0.15),
             "dynamic.util_ratio_r32": ("rel", 0.15), "static.cycle_overhead_r32": ("max", 0.03),
             "dynamic.cycle_overhead_r32": ("max", 0.10), "static.cycle_ratio_r4": ("rel", 0.25),
             "dynamic.cycle_ratio_r4": ("rel", 0.25),
             "static.util_peaks_at_r16_or_r8": ("abs", 0), "static.util_falls_at_r4": ("abs", 0),
             "dynamic.util_peaks_at_r16_or_r8": ("abs", 0),
             "dynamic.util_falls_at_r4": ("abs", 0)}
# the shape criteria need every R: a --quick run (R ∈ QUICK_REGIONS) cannot decide them
SHAPE_KEYS = ("static.util_peaks_at_r16_or_r8", "static.util_falls_at_r4",
              "dynamic.util_peaks_at_r16_or_r8", "dynamic.util_falls_at_r4")


def region_points(ctx, notes: list, tilings=("static", "dynamic"), regions=REGIONS) -> list:
    """One point per (tiling, R); R = 128 is the plain expert-parallel program."""
    routing = routing_for(ctx, QWEN, 64, notes)
    points = []
    for tiling in tilings:
        base = {"model": QWEN, "batch": 64, "routing": routing, "tiling": tiling,
                "tile_f": TILE_F, "compute_bw": BW, "idle_policy": "on_demand"}
        if tiling == "static":
            base["tile"] = TILE_N
        for r in regions:
            tm = {} if r == 128 else {"time_multiplex": True, "regions": r}
            points.append({**base, **tm, "label": f"{tiling}.r{r}"})
    return points


def _field(table: dict, tiling: str, r: int, name: str):
    rec = table.get(f"{tiling}.r{r}")
    return rec[name] if rec else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def _shape(table: dict, tiling: str, regions) -> tuple:
    util = {r: _field(table, tiling, r, "compute_utilization") for r in regions}
    known = {r: u for r, u in util.items() if u is not None}
    if len(known) < len(regions):
        return None, None
    peak = max(known, key=known.get)
    falls = known[4] < max(u for r, u in known.items() if r != 4)
    return peak in (16, 8), falls


@figure("fig12", "Configuration time-multiplexing: compute utilization",
        "How much compute utilization is gained by sharing one configured expert pipeline "
        "among several experts, and at what latency cost?", paper=PAPER, tolerance=TOLERANCE,
        traces=(ROUTING_TRACES[(QWEN, 64)],), full_only=SHAPE_KEYS)
def run(ctx) -> FigureResult:
    notes: list = [REQUEST_GRANULARITY_NOTE]
    regions = QUICK_REGIONS if ctx.quick else REGIONS
    records = run_points(ctx, region_points(ctx, notes, regions=regions))
    table = by_label(records, notes)
    h: dict = {"padded_flop_ratio": _ratio(_field(table, "static", 128, "algorithmic_flops"),
                                           _field(table, "dynamic", 128, "algorithmic_flops"))}
    for tiling in ("static", "dynamic"):
        util = {r: _field(table, tiling, r, "compute_utilization") for r in regions}
        cycles = {r: _field(table, tiling, r, "cycles") for r in regions}
        h[f"{tiling}.util_ratio_r32"] = _ratio(util[32], util[128])
        ratio = _ratio(cycles[32], cycles[128])
        h[f"{tiling}.cycle_overhead_r32"] = ratio - 1 if ratio is not None else None
        h[f"{tiling}.cycle_ratio_r4"] = _ratio(cycles[4], cycles[128])
        peaks, falls = _shape(table, tiling, regions)
        h[f"{tiling}.util_peaks_at_r16_or_r8"] = peaks
        h[f"{tiling}.util_falls_at_r4"] = falls
        for r in regions:
            h[f"{tiling}.utilization.r{r}"] = util[r]
            h[f"{tiling}.cycles.r{r}"] = cycles[r]
    h["allocated_compute.r32"] = _field(table, "static", 32, "allocated_compute")
    if ctx.quick:
        notes.append(f"--quick: R ∈ {list(QUICK_REGIONS)} only; the shape criteria (peak at "
                     "R = 16–8, fall at R = 4) need every R and are not assessed in quick mode")
    notes.append("Utilization = algorithmic FLOPs (artifact formula, padded rows included for "
                 "static tiling) / cycles / allocated compute (gate, up, SiLU, multiply, down "
                 "per region + 128 weight-scale + 1 final-sum operators at 1024 FLOPs/cycle; "
                 "data-movement operators such as row packing are not counted, as in the paper).")
    return FigureResult(headline=h, points=records, notes=notes, plot=_plot(table, regions))


def _plot(table: dict, regions):
    try:
        from bokeh.layouts import row
        from bokeh.models import LinearAxis, Range1d
        from bokeh.plotting import figure
    except ImportError:
        return None
    labels = [str(r) for r in regions]
    panels = []
    for tiling, colour in (("static", "#1f77b4"), ("dynamic", "#d62728")):
        util = [100 * (_field(table, tiling, r, "compute_utilization") or 0) for r in regions]
        cyc = [(_field(table, tiling, r, "cycles") or 0) / 1e6 for r in regions]
        fig = figure(x_range=labels, title=f"Fig 12 ({tiling} tiling)", width=440, height=340,
                     x_axis_label="regions R (128/R experts each)",
                     y_axis_label="compute utilization [%]", tools="hover,save,reset")
        fig.vbar(x=labels, top=util, width=0.6, color=colour, alpha=0.7,
                 legend_label="utilization [%]")
        fig.extra_y_ranges = {"cycles": Range1d(0, 1.2 * max(cyc + [1e-9]))}
        fig.add_layout(LinearAxis(y_range_name="cycles", axis_label="cycles [millions]"), "right")
        fig.line(labels, cyc, color="black", line_width=2, y_range_name="cycles",
                 legend_label="cycles [millions]")
        fig.scatter(labels, cyc, color="black", size=6, y_range_name="cycles")
        fig.y_range.start, fig.y_range.end = 0, 1.15 * max(util + [1e-9])
        legend_above(fig)
        panels.append(fig)
    return row(*panels)
