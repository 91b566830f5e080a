"""Shared machinery of the MoE figures (9, 10, 12, 13): trace lookup, sweep points, plots.

A sweep point is a plain dict of :func:`moe_layer` arguments (``routing`` is a trace path or
``"standin"``); :func:`run_points` simulates them through ``ctx.sweep`` (local processes, Dask,
on-disk cache) and returns one flat record per point with the simulated cycles and traffic and the
analytic metrics of :func:`~step_lab.workloads.moe.moe_analysis`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..inputs import resolve
from ._legend import legend_above

__all__ = ["ROUTING_TRACES", "routing_for", "run_points", "by_label", "ratio", "tiling_plot",
           "REQUEST_GRANULARITY_NOTE"]

REQUEST_GRANULARITY_NOTE = (
    "HBM request granularity: with tile_F = 48 a gate/up weight tile [2048, 48] bf16 is 2048 "
    "strided rows of 96 B; like the artifact's loads, the simulator issues one 64-B request per "
    "64 B of each tile row (2 requests = 128 B of HBM time per 96-B row) while off-chip traffic "
    "counts the 96 useful bytes. Charging the tile as contiguous bursts instead (the earlier "
    "model) made R >= 16 about 18% too fast and pushed bandwidth utilization at R = 128 to "
    "0.87. Figs 9/10 (tile_F = 64: 128-B rows, whole requests) are unaffected.")

MIXTRAL, QWEN = "mixtral-8x7b", "qwen3-30b-a3b"
ROUTING_TRACES = {(MIXTRAL, 64): "expert_routing/mixtral_b64/008_010.npz",
                  (QWEN, 64): "expert_routing/qwen_b64/032_012.npz",
                  (MIXTRAL, 1024): "expert_routing/mixtral_b1024/019_009.npz",
                  (QWEN, 1024): "expert_routing/qwen_b1024/022_016.npz"}
_SOURCES = ("sim", "workloads", "ops", "hw", "interpret", "analysis")


def routing_for(ctx, model: str, batch: int, notes: list) -> str:
    """The routing trace path for (model, batch) under ``ctx.traces`` (else the vendored copy),
    checked (:func:`~step_lab.reproduce.inputs.resolve`), or ``"standin"`` (a seeded synthetic
    routing, EXPERIMENTS.md §1.5) with a note when the file is missing."""
    relative = ROUTING_TRACES[(model, batch)]
    path, _ = resolve(ctx, relative, f"standin_routing({model!r}, {batch}): seeded skewed "
                      "routing (EXPERIMENTS.md §1.5)")
    if path is not None:
        return str(path)
    reason = ctx.inputs.get(relative, {}).get("reason", "missing")
    note = (f"SYNTHETIC INPUT: {model} batch {batch}: trace {relative} {reason}; used the "
            "seeded synthetic stand-in step_lab.workloads.moe.standin_routing (EXPERIMENTS.md "
            "§1.5: skewed routing) — its numbers show the mechanism, not the paper's values; "
            "rerun with --traces DIR holding the real file")
    if note not in notes:
        notes.append(note)
    return "standin"


def simulate_point(model: str, batch: int, routing: str, label: str = "", ablation: bool = False,
                   **kwargs) -> dict:
    """Build, analyse and simulate one MoE layer; a JSON-friendly record (``label`` and
    ``ablation`` only tag the point)."""
    from ...sim import simulate
    from ...workloads.base import timing_inputs
    from ...workloads.moe import moe_analysis, moe_layer, standin_routing
    routes = standin_routing(model, batch) if routing == "standin" else routing
    wl = moe_layer(model, batch=batch, routing=routes, **kwargs)
    analysis = moe_analysis(wl)
    # timing only: the weights and the token activations become ghosts (the same cycles)
    result = simulate(wl.program, hw=wl.hw, bindings=wl.bindings,
                      inputs=timing_inputs(wl.program, wl.inputs), values=False)
    cycles = result.cycles
    counts, regions = wl.meta["counts"], wl.meta["regions"]
    group = len(counts) // regions
    active_regions = sum(1 for r in range(regions) if any(counts[r * group:(r + 1) * group]))
    return {**analysis, "cycles": cycles, "offchip_bytes": result.offchip_bytes,
            "active_experts": wl.meta["active_experts"], "active_regions": active_regions,
            "token_tiles": sum(wl.meta["token_tiles"]),
            "compute_utilization": analysis["algorithmic_flops"] / cycles
            / analysis["allocated_compute"] if cycles else 0.0,
            "bandwidth_utilization": result.offchip_bytes / cycles
            / result.hw.offchip_bytes_per_cycle if cycles else 0.0}


def _point(point: dict) -> dict:
    return simulate_point(**point)


def _digest(points: list) -> str:
    """Cache key: the simulator/workload sources and the content of every trace file used."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for folder in _SOURCES:
        for src in sorted((root / folder).glob("*.py")):
            h.update(src.read_bytes())
    for path in sorted({p["routing"] for p in points if p["routing"] != "standin"}):
        h.update(Path(path).read_bytes())
    return f"moe-figure-point/{h.hexdigest()[:16]}"


def run_points(ctx, points: list) -> list:
    """Simulate ``points`` via ``ctx.sweep``; flat records ``{**point, **result, "error"}``."""
    records = ctx.sweep(_point, {"point": points}, key=_digest(points))
    out = []
    for rec in records:
        flat = {k: v for k, v in rec.items() if k != "point"}
        out.append({**rec["point"], **flat, "routing": _portable(rec["point"]["routing"])})
    return out


def _portable(routing: str) -> str:
    """A trace path as the relative name of its trace (no machine-specific folder)."""
    if routing == "standin":
        return "synthetic stand-in"
    for relative in ROUTING_TRACES.values():
        if routing.endswith(relative):
            return relative
    return Path(routing).name


def by_label(records: list, notes: list) -> dict:
    """``label -> record`` of the points that succeeded; failures become notes."""
    table = {}
    for rec in records:
        if rec.get("error"):
            notes.append(f"point {rec['label']} failed: {rec['error']}")
        else:
            table[rec["label"]] = rec
    return table


def ratio(table: dict, num: str, den: str, field: str):
    """``table[num][field] / table[den][field]`` or None when a point is missing."""
    if num not in table or den not in table or not table[den][field]:
        return None
    return table[num][field] / table[den][field]


# -- plots ---------------------------------------------------------------------------------------
def tiling_plot(table: dict, models: list, *, log: bool = False, title: str = ""):
    """Memory vs cycles per model: static points, their Pareto frontier and the dynamic point."""
    try:
        from bokeh.layouts import row
        from bokeh.models import ColumnDataSource, LabelSet
        from bokeh.plotting import figure
    except ImportError:                     # bokeh is an optional extra
        return None
    from ...dse import pareto
    panels = []
    for model in models:
        static = [r for r in table.values() if r["model"] == model and r["tiling"] == "static"
                  and not r.get("ablation")]
        dynamic = [r for r in table.values() if r["model"] == model and r["tiling"] == "dynamic"
                   and not r.get("ablation")]
        kind = "log" if log else "linear"
        fig = figure(title=f"{title} — {model}", x_axis_label="on-chip memory [MB]",
                     y_axis_label="cycles", x_axis_type=kind, y_axis_type=kind,
                     width=520, height=380, tools="pan,wheel_zoom,box_zoom,reset,hover,save")
        src = ColumnDataSource({"x": [r["onchip_memory"] / 1e6 for r in static],
                                "y": [r["cycles"] for r in static],
                                "label": [f"tile {r['tile']}" for r in static]})
        fig.scatter("x", "y", source=src, size=9, color="#1f77b4", legend_label="static tiling")
        fig.add_layout(LabelSet(x="x", y="y", text="label", source=src, x_offset=6, y_offset=4,
                                text_font_size="9pt"))
        front = sorted(pareto(static), key=lambda r: r["onchip_memory"])
        if front:
            fig.line([r["onchip_memory"] / 1e6 for r in front], [r["cycles"] for r in front],
                     color="#1f77b4", line_dash="dashed", legend_label="static frontier")
        if dynamic:
            fig.scatter([r["onchip_memory"] / 1e6 for r in dynamic],
                        [r["cycles"] for r in dynamic], marker="star", size=16,
                        color="#d62728", legend_label="dynamic tiling")
        legend_above(fig)
        fig.x_range.range_padding = 0.45        # room for the point labels at the right edge
        fig.y_range.range_padding = 0.15
        panels.append(fig)
    return row(*panels) if panels else None
