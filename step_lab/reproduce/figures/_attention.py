"""Shared machinery of the attention-decode figures (14, 15, 21): KV traces, sweeps, bar plots.

KV traces (EXPERIMENTS.md §1.5, §3 Figs 14/21): ``kv_lengths/b<B>/conv_stdev<σ>_<a>_<b>.npy``
under ``ctx.traces`` (else the vendored copy). The batch-80 traces are withheld: when a b80 file is
missing, the documented stand-in — the class's batch-64 file followed by its batch-16 file — is
used, recorded as synthetic in ``ctx.inputs`` and a note says so. A sweep point carries the KV
vector itself, so stand-ins and subsets need no files in the worker processes.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from ..inputs import resolve, synthetic_kv
from ._legend import legend_above

__all__ = ["MODEL", "CLASSES", "TRACES", "kv_trace", "run_points", "geomean", "bar_plot",
           "CLASS_LABEL", "source_digest"]

MODEL = "qwen3-30b-a3b"      # EXPERIMENTS.md §1.7: Qwen3 attention, query tile [8, 64]
CLASSES = ("low", "medium", "high")
CLASS_LABEL = {"low": "Low", "medium": "Med", "high": "High"}
# (σ label, first request, last request) per batch size and class, in the paper's plot order
TRACES = {
    64: {"low": [(484, 4185, 4248), (508, 2019, 2082), (477, 271, 334)],
         "medium": [(996, 4007, 4070), (995, 3123, 3186), (995, 733, 796)],
         "high": [(1374, 3239, 3302), (1370, 1727, 1790), (1457, 961, 1024)]},
    16: {"low": [(480, 3799, 3814), (479, 2477, 2492), (479, 1063, 1078)],
         "medium": [(987, 3349, 3364), (987, 3275, 3290), (986, 3181, 3196)],
         "high": [(1456, 2805, 2820), (1455, 821, 836), (1454, 985, 1000)]},
    80: {"low": [(562, 4181, 4260), (531, 135, 214), (529, 2025, 2104)],
         "medium": [(987, 4687, 4766), (986, 3989, 4068), (987, 1891, 1970)],
         "high": [(1413, 981, 1060), (1334, 3227, 3306), (1310, 815, 894)]},
}
_SOURCES = ("sim", "workloads", "ops", "hw", "interpret", "ir", "analysis")


def _relative(batch: int, spec: tuple) -> str:
    sigma, lo, hi = spec
    return f"kv_lengths/b{batch}/conv_stdev{sigma:04d}_{lo:04d}_{hi:04d}.npy"


def kv_trace(ctx, batch: int, cls: str, i: int, notes: list) -> tuple:
    """``(lengths, label)`` of trace ``i`` of a class, checked; a missing file becomes its
    labelled stand-in (b80: the class's b64 file followed by its b16 file; others: seeded
    synthetic lengths with the file's σ, see :mod:`step_lab.reproduce.inputs`) with a note."""
    spec = TRACES[batch][cls][i]
    relative = _relative(batch, spec)
    if batch == 80:
        b64, b16 = TRACES[64][cls][i], TRACES[16][cls][i]
        how = (f"b64 σ{b64[0]} ({b64[1]}–{b64[2]}) followed by b16 σ{b16[0]} "
               f"({b16[1]}–{b16[2]}), the documented stand-in (EXPERIMENTS.md §1.5)")
    else:
        how = f"seeded synthetic KV lengths (gamma, mean 1000, σ {spec[0]})"
    path, lengths = resolve(ctx, relative, how)
    if path is not None:
        return lengths, f"b{batch}.{cls}.{spec[0]}_{spec[1]}"
    if batch == 80:
        lengths = np.concatenate([kv_trace(ctx, b, cls, i, notes)[0] for b in (64, 16)])
    else:
        lengths = synthetic_kv(relative)
    reason = ctx.inputs.get(relative, {}).get("reason", "missing")
    note = (f"SYNTHETIC INPUT: b{batch} {cls} #{i + 1}: {relative} {reason}; used {how} (σ of "
            f"the stand-in {np.std(lengths, ddof=1):.0f}, paper's file σ{spec[0]})")
    if note not in notes:
        notes.append(note)
    return lengths, f"b{batch}.{cls}.standin{i + 1}"


def simulate_point(lengths: list, strategy: str, parallel: int = 4, model: str = MODEL,
                   label: str = "", **tags) -> dict:
    """Simulate one attention-decode point (timing only); a JSON-friendly record."""
    from ...workloads.attention import attention_decode
    wl = attention_decode(model, kv_lengths=np.asarray(lengths, dtype=np.int64),
                          parallel=parallel, strategy=strategy, data="none")
    res = wl.simulate(values=False)
    return {"cycles": res.cycles, "offchip_bytes": res.offchip_bytes,
            "kv_tiles": wl.meta["total_kv_tiles"], "allocated_compute":
            wl.meta["allocated_compute"]}


def _point(point: dict) -> dict:
    return simulate_point(**point)


def source_digest(prefix: str) -> str:
    """Sweep-cache key: ``prefix`` + a hash of the simulator, workload and operator sources, so a
    cached point is reused only while the code that produced it is unchanged."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for folder in _SOURCES:
        for src in sorted((root / folder).glob("*.py")):
            h.update(src.read_bytes())
    return f"{prefix}/{h.hexdigest()[:16]}"


def run_points(ctx, points: list, notes: list) -> dict:
    """Simulate ``points`` (dicts with ``lengths``, ``strategy``, ``label``) via ``ctx.sweep``;
    returns ``label -> record``; failed points become notes."""
    records = ctx.sweep(_point, {"point": points}, key=source_digest("attention-figure-point"))
    table = {}
    for rec in records:
        point = rec["point"]
        flat = {k: v for k, v in rec.items() if k != "point"}
        row = {**{k: v for k, v in point.items() if k != "lengths"}, **flat,
               "batch": len(point["lengths"])}
        if rec.get("error"):
            notes.append(f"point {point['label']} failed: {rec['error']}")
        else:
            table[point["label"]] = row
    return table


def geomean(values) -> float | None:
    values = [v for v in values if v]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def bar_plot(groups: list, series: dict, *, title: str, y_label: str, log: bool = False,
             reference: dict | None = None):
    """Grouped bars: ``groups`` on x, ``series`` name -> values; optional paper markers."""
    try:
        from bokeh.models import ColumnDataSource, FactorRange
        from bokeh.plotting import figure
        from bokeh.transform import factor_cmap
    except ImportError:                     # bokeh is an optional extra
        return None
    names = list(series)
    x = [(g, s) for g in groups for s in names]
    top = [series[s][i] or 0 for i in range(len(groups)) for s in names]
    src = ColumnDataSource({"x": x, "top": top})
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"][:max(len(names), 1)]
    fig = figure(x_range=FactorRange(*x), title=title, y_axis_label=y_label,
                 y_axis_type="log" if log else "linear", width=max(420, 60 * len(x)),
                 height=380, tools="hover,save,reset", tooltips=[("", "@x"), ("value", "@top")])
    bottom = min((v for v in top if v), default=1) / 2 if log else 0
    fig.vbar(x="x", top="top", bottom=bottom, width=0.8, source=src,
             fill_color=factor_cmap("x", palette=palette, factors=names, start=1, end=2))
    if reference:
        keys = [k for k in x if k in reference]
        fig.scatter([k for k in keys], [reference[k] for k in keys], marker="dash", size=22,
                    color="black", line_width=3, legend_label="paper (≈ read from the figure)")
        legend_above(fig)       # never over the bars (inside the plot it covered the tall ones)
    fig.xaxis.major_label_orientation = 0.9
    return fig
