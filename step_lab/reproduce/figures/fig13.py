"""Fig 13: configuration time-multiplexing of MoE experts — freed memory and compute.

EXPERIMENTS.md §3 Fig 13: exactly Fig 12(a) (Qwen3-30B-A3B, batch 64, static tile_N = 32,
tile_F = 48, 1024 FLOPs/cycle, R ∈ {128, 64, 32, 16, 8, 4}). Measured: cycles, on-chip memory
(KB, "artifact" preset, on-demand: idle experts and regions count 0), allocated compute and
off-chip bandwidth utilization. ``--quick`` keeps R ∈ {128, 32, 8, 4}.
"""
from __future__ import annotations

from ..registry import FigureResult, figure
from ._legend import legend_above
from ._moe import QWEN, REQUEST_GRANULARITY_NOTE, ROUTING_TRACES, by_label, run_points
from .fig12 import QUICK_REGIONS, REGIONS, region_points

# EXPERIMENTS.md §3 Fig 13: exact memory (KB) and ≈ bandwidth utilization per R
_MEMORY_KB = {128: 82_575, 64: 66_978, 32: 44_696, 16: 32_440, 8: 24_642, 4: 20_185}
_BW_UTIL = {128: 0.71, 64: 0.78, 32: 0.71, 16: 0.67, 8: 0.57, 4: 0.30}

PAPER = {"memory_reduction_r32": 0.46, "compute_reduction_r32": 0.62,
         "bandwidth_utilization.r128": 0.71, "bandwidth_utilization.r4": 0.30,
         "bandwidth_drop_monotone_below_r32": True}
TOLERANCE = {"memory_reduction_r32": ("abs", 0.01), "compute_reduction_r32": ("abs", 0.01),
             "bandwidth_utilization.r128": ("abs", 0.10),
             "bandwidth_utilization.r4": ("abs", 0.10),
             "bandwidth_drop_monotone_below_r32": ("abs", 0)}
for _r, _kb in _MEMORY_KB.items():
    PAPER[f"memory_kb.r{_r}"] = _kb
    TOLERANCE[f"memory_kb.r{_r}"] = ("rel", 0.002)


def _field(table: dict, r: int, name: str):
    rec = table.get(f"static.r{r}")
    return rec[name] if rec else None


def _reduction(table: dict, name: str):
    base, r32 = _field(table, 128, name), _field(table, 32, name)
    return 1 - r32 / base if base and r32 is not None else None


def _monotone(table: dict, regions):
    util = [_field(table, r, "bandwidth_utilization") for r in regions if r <= 32]
    if len(util) < 2 or any(u is None for u in util):
        return None
    return all(a >= b for a, b in zip(util, util[1:], strict=False))


@figure("fig13", "Configuration time-multiplexing: resources",
        "How much on-chip memory and compute is freed, and why does performance eventually "
        "drop?", paper=PAPER, tolerance=TOLERANCE, traces=(ROUTING_TRACES[(QWEN, 64)],),
        full_only=("bandwidth_drop_monotone_below_r32", "memory_kb.r64", "memory_kb.r16"))
def run(ctx) -> FigureResult:
    notes: list = [REQUEST_GRANULARITY_NOTE]
    regions = QUICK_REGIONS if ctx.quick else REGIONS
    records = run_points(ctx, region_points(ctx, notes, tilings=("static",), regions=regions))
    table = by_label(records, notes)
    h = {"memory_reduction_r32": _reduction(table, "onchip_memory"),
         "compute_reduction_r32": _reduction(table, "allocated_compute"),
         "bandwidth_drop_monotone_below_r32": _monotone(table, regions)}
    for r in regions:
        mem = _field(table, r, "onchip_memory")
        h[f"memory_kb.r{r}"] = mem / 1e3 if mem is not None else None
        h[f"bandwidth_utilization.r{r}"] = _field(table, r, "bandwidth_utilization")
        h[f"allocated_compute.r{r}"] = _field(table, r, "allocated_compute")
        h[f"cycles.r{r}"] = _field(table, r, "cycles")
        h[f"active_regions.r{r}"] = _active_regions(table.get(f"static.r{r}"), r)
    notes.append("Memory: whole program, 'artifact' preset, on-demand (idle experts and regions "
                 "count 0); it includes 16.4 KB of shared input/output buffers and 32 B of "
                 "padding mask per active expert (1.9 KB), which the paper's KB values leave out "
                 "(+0.02% at R = 128, +0.09% at R = 4).")
    if ctx.quick:
        notes.append(f"--quick: R ∈ {list(QUICK_REGIONS)} only; R = 64 and 16 and the "
                     "monotone bandwidth drop for R <= 32 are not assessed in quick mode")
    return FigureResult(headline=h, points=records, notes=notes, plot=_plot(table, regions))


def _active_regions(rec, r: int):
    if rec is None:
        return None
    return rec.get("active_regions")


def _plot(table: dict, regions):
    try:
        from bokeh.layouts import row
        from bokeh.plotting import figure
    except ImportError:
        return None
    labels = [str(r) for r in regions]
    mem = [(_field(table, r, "onchip_memory") or 0) / 1e6 for r in regions]
    comp = [(_field(table, r, "allocated_compute") or 0) / 1e3 for r in regions]
    bw = [100 * (_field(table, r, "bandwidth_utilization") or 0) for r in regions]
    cyc = [(_field(table, r, "cycles") or 0) / 1e6 for r in regions]
    a = figure(x_range=labels, title="Fig 13(a): resources", width=440, height=340,
               x_axis_label="regions R", y_axis_label="memory [MB] / compute [KFLOPs/cycle]",
               tools="hover,save,reset")
    a.line(labels, mem, color="#1f77b4", line_width=2, legend_label="on-chip memory [MB]")
    a.line(labels, comp, color="#2ca02c", line_width=2,
           legend_label="allocated compute [KFLOPs/cycle]")
    b = figure(x_range=labels, title="Fig 13(b): HBM bandwidth", width=440, height=340,
               x_axis_label="regions R",
               y_axis_label="bandwidth utilization [%] / cycles [100,000s]",
               tools="hover,save,reset")
    b.vbar(x=labels, top=bw, width=0.6, color="#ff7f0e", alpha=0.7,
           legend_label="off-chip BW utilization [%]")
    b.line(labels, [10 * c for c in cyc], color="black", line_width=2,
           legend_label="cycles [100,000s]")
    legend_above(a)
    legend_above(b)
    return row(a, b)
