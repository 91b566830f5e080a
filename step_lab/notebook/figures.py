"""Display helpers of the paper-figure notebooks (``notebooks/figNN_*.ipynb``).

The notebooks run a figure's own reproduction (``get_figure(id).run(RunContext(quick=…))``, what
``step-lab reproduce <id> --quick`` runs) and show its results with these functions: the figure's
title and question, the bokeh plot (BokehJS loaded INLINE, no CDN), the table of our headline
values against the paper's (values and tolerances from the figure registry), the run's notes and
tables describing the workload. Nothing here types a number: every value shown is computed or
read from the registry.
"""
from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np
from IPython.display import HTML, Markdown, display

from ..reproduce.registry import within

__all__ = ["setup", "say", "header", "show_plot", "headline_table", "show_notes",
           "points_table", "models_table", "routing_table", "kv_table", "moe_points_table",
           "moe_workload", "attention_setup", "settings_table", "fmt"]

_CELL = "padding:2px 10px;text-align:right"
_LEFT = "padding:2px 10px;text-align:left"


def setup() -> None:
    """Load BokehJS into the page, from the installed bokeh (INLINE: works offline).

    Displayed on every call (the page may have been reloaded since the last one); the page
    evaluates it only when it has no BokehJS of this version yet.
    """
    from .player import bokehjs_loader
    display(HTML(bokehjs_loader()))


def say(markdown: str) -> None:
    """Display Markdown (sentences whose numbers are computed by the cell)."""
    display(Markdown(markdown))


def header(fig) -> None:
    """The figure's registered id, title and question."""
    say(f"### `{fig.id}` — {fig.title}\n\n**Question.** {fig.question}")


def show_plot(plot) -> None:
    """Show a figure's bokeh plot inline (or say why there is none).

    The output is self-sufficient HTML — BokehJS (INLINE, evaluated only if the page lacks it),
    then the plot — so it renders after a page reload and in exported HTML too.
    """
    if plot is None:
        say("*No plot: bokeh is not installed (`pip install step-lab[notebook]`).*")
        return
    from bokeh.embed import components

    from ..formatting import readable_axes
    from .player import bokehjs_loader
    script, div = components(readable_axes(plot))
    display(HTML(bokehjs_loader() + script + div))


# -- formatting ----------------------------------------------------------------------------------
def fmt(value) -> str:
    """A value for a table: bools as yes/no, big numbers with separators, 4 significant digits
    (``step_lab.formatting.number``, the one number format of tables and reports)."""
    from ..formatting import number
    return number(value)


def _tolerance(tol) -> str:
    if tol is None:
        return "–"
    if tol[0] in ("all", "rel_any", "gt"):      # composite criteria (e.g. Fig 17 speedups)
        from ..reproduce.scoring import describe
        return describe(tol)
    kind, amount = tol
    if kind == "rel":
        return f"±{amount * 100:g}%"
    if kind == "abs":
        return "exact" if amount == 0 else f"±{amount:g}"
    return {"min": "≥ ", "max": "≤ "}.get(kind, f"{kind} ") + f"{amount:g}"


def _deviation(ours, paper) -> str:
    numbers = (int, float, np.integer, np.floating)
    if (not isinstance(ours, numbers) or not isinstance(paper, numbers)
            or isinstance(ours, (bool, np.bool_)) or isinstance(paper, (bool, np.bool_))):
        return ""
    if paper == 0:
        return f"{ours - paper:+.3g}"
    return f"{(ours - paper) / abs(paper):+.1%}"


def _mark(ok) -> str:
    if ok is None:
        return "<span style='color:#777'>–</span>"
    return ("<b style='color:#2a7d2a'>✔</b>" if ok else "<b style='color:#b00020'>✘</b>")


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    """HTML table; the first ``left`` columns are left-aligned, the others right-aligned."""
    th = "".join(f"<th style='{_LEFT if i < left else _CELL}'>{h}</th>"
                 for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td style='{_LEFT if i < left else _CELL}'>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


# -- results -------------------------------------------------------------------------------------
def headline_table(fig, result) -> dict:
    """Our headline values vs the paper's, with tolerance, deviation and verdict; then the
    values we measure that the paper does not state. Returns ``{key: within}``."""
    undecided = set(getattr(fig, "full_only", ())) if getattr(result, "quick", False) else set()
    checks = {k: None if k in undecided else
              within(result.headline.get(k), fig.paper[k], fig.tolerance.get(k))
              for k in fig.paper}
    rows = [[f"<code>{html.escape(k)}</code>", fmt(result.headline.get(k)), fmt(fig.paper[k]),
             _tolerance(fig.tolerance.get(k)),
             _deviation(result.headline.get(k), fig.paper[k]),
             "not assessed in quick mode" if k in undecided else _mark(checks[k])]
            for k in fig.paper]
    table = _table(["headline", "ours", "paper", "tolerance", "deviation", "within"], rows)
    extra = {k: v for k, v in result.headline.items() if k not in fig.paper}
    if extra:
        more = _table(["measured", "ours"], [[f"<code>{html.escape(k)}</code>", fmt(v)]
                                             for k, v in extra.items()])
        table += (f"<details><summary>{len(extra)} further measured values (no paper value)"
                  f"</summary>{more}</details>")
    display(HTML(table))
    say(_verdict(fig, result, checks))
    return checks


def _verdict(fig, result, checks: dict) -> str:
    undecided = set(getattr(fig, "full_only", ())) if getattr(result, "quick", False) else set()
    toleranced = [k for k in fig.paper if fig.tolerance.get(k) is not None
                  and k not in undecided]
    inside = [k for k in toleranced if checks[k] is True]
    outside = [k for k in toleranced if checks[k] is False]
    missing = [k for k in fig.paper if result.headline.get(k) is None and k not in undecided]
    free = [k for k in fig.paper if fig.tolerance.get(k) is None]
    text = (f"**{len(inside)} of {len(toleranced)}** paper values that have a tolerance are "
            "within it")
    if outside:
        text += "; outside: " + ", ".join(f"`{k}`" for k in outside)
    if missing:
        text += (f"; **{len(missing)}** not measured by this run (the full run measures "
                 "them)")
    if undecided:
        text += (f"; **{len(undecided)}** criteria need the full sweep and are not assessed in "
                 "quick mode")
    if free:
        text += (f"; **{len(free)}** further paper values have no tolerance (read off the "
                 "published plot) and are shown for comparison")
    return text + "."


def show_notes(result) -> None:
    """The run's notes: honest explanations of gaps, stand-ins and choices."""
    items = "".join(f"<li>{html.escape(str(n))}</li>" for n in result.notes)
    display(HTML(f"<ul style='max-width:60em'>{items}</ul>"))


def points_table(points: Iterable[dict], columns: dict, title: str = "points") -> None:
    """One row per point: ``columns`` maps a record key to its column header (collapsed)."""
    points = list(points)
    rows = [[fmt(p.get(key)) for key in columns] for p in points]
    display(HTML(f"<details><summary>{len(points)} {html.escape(title)}</summary>"
                 f"{_table(list(columns.values()), rows)}</details>"))


# -- workloads -----------------------------------------------------------------------------------
def settings_table(settings: dict) -> None:
    """A two-column table ``setting | value`` (values formatted by :func:`fmt`)."""
    rows = [[html.escape(str(k)), html.escape(fmt(v))] for k, v in settings.items()]
    display(HTML(_table(["setting", "value"], rows)))


def models_table(names: Iterable[str], attention: bool = False) -> None:
    """Dimensions of the models (EXPERIMENTS.md §1.4) that the figure uses."""
    from ..workloads import MODELS
    if attention:
        head = ["model", "query heads", "KV heads", "queries per KV head", "head dim"]
        rows = [[m.name, fmt(m.query_heads), fmt(m.kv_heads), fmt(m.queries_per_kv_head),
                 fmt(m.head_dim)] for m in (MODELS[n] for n in names)]
    else:
        head = ["model", "experts E", "top-k", "hidden D", "intermediate F"]
        rows = [[m.name, fmt(m.experts), fmt(m.top_k), fmt(m.hidden), fmt(m.moe_intermediate)]
                for m in (MODELS[n] for n in names)]
    display(HTML(_table(head, rows)))


def routing_table(traces: dict) -> None:
    """Per routing trace (``label -> (routing array [B, k], experts)``): tokens per expert."""
    from ..workloads import expert_counts
    rows = []
    for label, (routing, experts) in traces.items():
        counts = expert_counts(routing, experts)
        active = counts[counts > 0]
        rows.append([html.escape(label), fmt(routing.shape[0]), fmt(routing.shape[1]),
                     f"{fmt(len(active))} of {fmt(experts)}", fmt(int(counts.max())),
                     fmt(int(active.min()) if len(active) else 0), fmt(float(counts.std()))])
    display(HTML(_table(["trace", "tokens B", "top-k", "active experts", "max X_i",
                         "min active X_i", "σ of X_i"], rows)))


def kv_table(traces: dict) -> None:
    """Per KV-length trace (``label -> lengths``): requests, length statistics, KV tiles."""
    from ..workloads.attention import kv_tiles
    rows = []
    for label, lengths in traces.items():
        lengths = np.asarray(lengths)
        rows.append([html.escape(label), fmt(len(lengths)), fmt(float(lengths.mean())),
                     fmt(float(lengths.std(ddof=1))), fmt(int(lengths.min())),
                     fmt(int(lengths.max())), fmt(int(kv_tiles(lengths).sum()))])
    display(HTML(_table(["trace", "requests B", "mean KV length", "σ", "min", "max",
                         "KV tiles"], rows)))


def moe_points_table(points: Iterable[dict]) -> None:
    """The MoE sweep points a figure simulates, with their compute bandwidths (§1.6)."""
    from ..workloads.moe import moe_bandwidths
    rows = []
    for p in points:
        bw = moe_bandwidths(p["tiling"], p.get("compute_bw"))
        regions = p.get("regions") if p.get("time_multiplex") else None
        rows.append([p["label"], p["model"], fmt(p["batch"]), p["tiling"], fmt(p.get("tile")),
                     fmt(p.get("tile_f")), " / ".join(fmt(bw[r]) for r in
                                                      ("expert", "combine", "pack")),
                     p.get("idle_policy") or "default", fmt(regions)])
    display(HTML(_table(["point", "model", "batch", "tiling", "tile_N", "tile_F",
                         "FLOPs/cycle expert / combine / pack", "idle experts",
                         "regions (time-mux)"], rows, left=2)))


def moe_workload(points: list) -> None:
    """Models, routing traces (or their seeded stand-ins) and sweep points of an MoE figure."""
    from pathlib import Path

    from ..workloads import MODELS, load_routing
    from ..workloads.moe import standin_routing
    models_table(dict.fromkeys(p["model"] for p in points))
    traces = {}
    for p in points:
        experts = MODELS[p["model"]].experts
        if p["routing"] == "standin":
            label = f"{p['model']} batch {p['batch']}: seeded stand-in (real trace withheld)"
            traces[label] = (standin_routing(p["model"], p["batch"]), experts)
        else:
            path = Path(p["routing"])
            traces[f"{path.parent.name}/{path.name}"] = (load_routing(path), experts)
    routing_table(traces)
    moe_points_table(points)


def attention_setup() -> None:
    """The attention-decode settings the figures' sweep points use (EXPERIMENTS.md §1.7)."""
    import inspect

    from ..hw import ATTENTION
    from ..reproduce.figures._attention import MODEL, simulate_point
    from ..workloads.attention import COARSE_BLOCK, COMPUTE_BW, TILE_ROWS
    regions = inspect.signature(simulate_point).parameters["parallel"].default
    settings_table({"model": MODEL, "parallel regions": regions,
                    "compute per stage [FLOPs/cycle]": COMPUTE_BW, "KV tile rows": TILE_ROWS,
                    "coarse block [requests per region]": COARSE_BLOCK,
                    "HBM [B/cycle]": ATTENTION.offchip_bytes_per_cycle,
                    "default FIFO depth": ATTENTION.fifo_depth})
    models_table([MODEL], attention=True)
