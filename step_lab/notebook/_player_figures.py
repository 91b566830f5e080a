"""The bokeh figures of the player (built once per output; the browser fills them per frame).

Names of the models the JavaScript drives: ``{pid}:groups_{r}`` (group cell centres),
``{pid}:segments_{r}`` (four bars per group: busy, stalled on input, stalled on output, idle),
``{pid}:group_mark_{r}``, ``{pid}:units_{r}`` / ``{pid}:unit_grid_{r}`` (the drilled-into
group), ``{pid}:fifos_{r}``, ``{pid}:cursor_heat_{r}`` and ``{pid}:cursor_bw``.
Labels never overlap: group and unit names are elided to their cell's width (tail kept, the full
name is in the hover), heatmap row labels are thinned to one per 12 px.
"""
from __future__ import annotations

import math

import numpy as np

from .player_data import RunData
from .player_style import (
    HEAT_COLOURS,
    RUN_COLOURS,
    SMOOTH_CYCLES,
    STATE_COLOURS,
    heat_rgba,
    rgba,
)

__all__ = ["run_column", "bandwidth_figure", "group_cells", "heat_ticks", "elide",
           "short_label", "short_labels"]

_GROUP_CELL_MIN = 60     # px per group cell (at least)
_GROUP_ROW = 34          # px per row of group cells
_CHAR_PX = 6.2           # average width of a 9-10 px label character
_LABEL_PX = 12           # heatmap: at least this many px between row labels


def elide(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters keeping its tail (``…expert 12``); '' if < 2."""
    if chars < 2:
        return ""
    return text if len(text) <= chars else "…" + text[len(text) - chars + 1:]


def _label_levels(text: str) -> list[str]:
    """``text`` at each abbreviation level, longest first (see :func:`short_label`)."""
    last = text.split(" / ")[-1]
    words = last.split()
    shorter = " ".join(w[:3] + "." if w.isalpha() and len(w) > 4 else w for w in words)
    initials = "".join(w[0] if w.isalpha() else w for w in words)
    return [text, last, shorter, initials]


def short_label(text: str, chars: int) -> str:
    """A group name in at most ``chars`` characters, the most telling part kept:
    ``moe / expert 127`` → ``expert 127`` → ``exp. 127`` → ``e127`` → ``…t 127``."""
    return short_labels([text], chars)[0]


def short_labels(texts: list[str], chars: int) -> list[str]:
    """Group names in at most ``chars`` characters each; names of one family (the same words,
    other numbers) share one abbreviation level — the first at which every one of them fits —
    so neighbours read alike: ``exp. 99`` beside ``exp. 100``, never ``expert 99`` beside
    ``exp. 100``; a lone ``combine`` keeps its full name."""
    levels = [_label_levels(t) for t in texts]
    families: dict[tuple, list[int]] = {}
    for i, text in enumerate(texts):
        key = tuple(w for w in text.split(" / ")[-1].split() if w.isalpha())
        families.setdefault(key, []).append(i)
    out = [""] * len(texts)
    for members in families.values():
        depth = next((d for d in range(4)
                      if all(len(levels[i][d]) <= chars for i in members)), None)
        for i in members:
            out[i] = levels[i][depth] if depth is not None else elide(levels[i][1], chars)
    return out


def group_cells(count: int, width: int) -> tuple[int, int, int]:
    """``(columns, rows, cell px)`` of ``count`` group cells in ``width`` pixels."""
    cols = max(1, min(count, width // _GROUP_CELL_MIN))
    return cols, max(1, math.ceil(count / cols)), width // cols


def heat_ticks(count: int, row_px: float) -> list[int]:
    """Indices of the heatmap rows that get a label: every k-th so labels are >= 12 px apart."""
    step = max(1, math.ceil(_LABEL_PX / max(row_px, 1e-9)))
    return list(range(0, count, step))


def _fmt_axis(axis) -> None:
    from bokeh.models import NumeralTickFormatter
    axis.formatter = NumeralTickFormatter(format="0,0")


def run_column(run: RunData, r: int, pid: str, name: str, width: int, x_end: int):
    """Group cells, units of the drilled-into group, heatmap (cycle axis 0…``x_end``, shared
    by all runs) and FIFO fill of run ``r``."""
    from bokeh.layouts import column
    return column(_groups_figure(run, r, pid, name, width), _units_figure(r, pid, width),
                  _heatmap_figure(run, r, pid, name, width, x_end),
                  _fifo_figure(run, r, pid, name, width))


def _few_ticks(axis, width: int) -> None:
    """Cycle-axis ticks at least ~110 px apart (labels like 600,000 never touch)."""
    axis.ticker.desired_num_ticks = max(3, width // 110)


def _groups_figure(run: RunData, r: int, pid: str, name: str, width: int):
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool, Range1d, TapTool
    from bokeh.plotting import figure
    count = len(run.groups)
    cols, rows, cell = group_cells(count, width - 20)
    cx = [g % cols + 0.5 for g in range(count)]
    cy = [-(g // cols) - 0.35 for g in range(count)]
    sizes = np.bincount(run.unit_group, minlength=count).tolist()
    centres = ColumnDataSource({"cx": cx, "cy": cy}, name=f"{pid}:groups_{r}")
    order = (1, 2, 3, 0)
    seg = {"left": [], "right": [], "top": [], "bottom": [], "color": [], "group": [],
           "state": [], "share": [], "units": []}
    for g in range(count):
        for s in order:
            seg["left"].append(cx[g] - 0.42)
            seg["right"].append(cx[g] - 0.42 + (0.84 if s == 0 else 0.0))
            seg["top"].append(cy[g] + 0.22)
            seg["bottom"].append(cy[g] - 0.22)
            seg["color"].append(STATE_COLOURS[s])
            seg["group"].append(run.groups[g])
            seg["state"].append(("idle", "busy", "stalled on input", "stalled on output")[s])
            seg["share"].append("100%" if s == 0 else "0%")
            seg["units"].append(sizes[g])
    segments = ColumnDataSource(seg, name=f"{pid}:segments_{r}")
    height = 50 + rows * _GROUP_ROW
    fig = figure(width=width, height=height, x_range=Range1d(0, cols), y_range=Range1d(-rows, 0.1),
                 toolbar_location=None, tools="", name=f"{pid}:group_grid_{r}", **_BARE,
                 title=f"{name}: {count} group{'s' if count != 1 else ''}, "
                       f"{len(run.unit_names):,} units")
    bars = fig.quad(left="left", right="right", top="top", bottom="bottom", color="color",
                    source=segments, line_color=None, nonselection_fill_alpha=1.0,
                    selection_fill_alpha=1.0)
    fig.rect(x="cx", y="cy", width=0.86, height=0.48, source=centres, fill_color=None,
             line_color="#999999")
    mark = ColumnDataSource({"x": [], "y": []}, name=f"{pid}:group_mark_{r}")
    fig.rect(x="x", y="y", width=0.94, height=0.62, source=mark, fill_color=None,
             line_color="#000000", line_width=2)
    chars = int(cell * 0.92 / _CHAR_PX)
    labels = ColumnDataSource({"x": cx, "y": [y - 0.3 for y in cy],
                               "text": short_labels(run.groups, chars)})
    fig.text(x="x", y="y", text="text", source=labels, text_font_size="10px",
             text_align="center", text_baseline="top", text_color="#333333")
    fig.add_tools(HoverTool(renderers=[bars], tooltips=[
        ("group", "@group"), ("units", "@units"), ("state", "@state"), ("share", "@share")]))
    tap = TapTool(renderers=[bars])
    fig.add_tools(tap)
    segments.selected.js_on_change("indices", CustomJS(args={}, code=(
        f"if (window.StepLabPlayer) {{ window.StepLabPlayer.drill('{pid}', {r}, "
        "cb_obj.indices.map(i => Math.floor(i / 4))); }")))
    _bare(fig)
    _lean(fig, selectable=bars)
    return fig


def _units_figure(r: int, pid: str, width: int):
    from bokeh.models import ColumnDataSource, HoverTool, Range1d
    from bokeh.plotting import figure
    src = ColumnDataSource({k: [] for k in ("x", "y", "name", "op", "label", "fill", "alpha",
                                            "state", "busy")}, name=f"{pid}:units_{r}")
    fig = figure(width=width, height=100, x_range=Range1d(-0.55, 1), y_range=Range1d(-1, 0.55),
                 toolbar_location=None, tools="", name=f"{pid}:unit_grid_{r}", title="units",
                 **_BARE)
    squares = fig.rect("x", "y", 0.92, 0.62, source=src, fill_color="fill", fill_alpha="alpha",
                       line_color="#777777")
    fig.text("x", "y", text="label", source=src, text_font_size="9px", text_align="center",
             text_baseline="top", y_offset=20, text_color="#222222")
    fig.add_tools(HoverTool(renderers=[squares], attachment="right", tooltips=[
        ("node", "@name"), ("op", "@op"), ("state", "@state"), ("busy", "@busy")]))
    _bare(fig)
    _lean(fig)
    return fig


def _heatmap_figure(run: RunData, r: int, pid: str, name: str, width: int, x_end: int):
    from bokeh.models import Range1d, Span
    from bokeh.plotting import figure

    count = len(run.groups)
    row_px = min(24.0, max(3.0, 420.0 / max(count, 1)))
    height = max(140, int(90 + row_px * count))
    cycles = int(run.heat_edges[-1])
    fig = figure(width=width, height=height, x_range=Range1d(0, max(cycles, x_end)),
                 y_range=Range1d(-count, 0), toolbar_location="above",
                 tools="xpan,xwheel_zoom,reset", name=f"{pid}:heatmap_{r}",
                 title=f"{name}: utilization, bins of "
                       f"{cycles / max(len(run.heat_edges) - 1, 1):,.0f} cycles",
                 x_axis_label="time [cycles]")
    image = heat_rgba(run)[::-1]                    # image row 0 is drawn at the bottom
    if count == 0:                                  # no units placed: one idle row
        image = np.full((1, len(run.heat_edges) - 1), rgba(HEAT_COLOURS[0]), dtype=np.uint32)
        fig.y_range.start = -1
    picture = fig.image_rgba(image=[image], x=0, y=-max(count, 1), dw=cycles,
                             dh=max(count, 1))
    _heat_hover(fig, picture, run.groups)
    ticks = heat_ticks(count, row_px)
    fig.yaxis.ticker = [-g - 0.5 for g in ticks]
    label_chars = 16
    labels = short_labels([run.groups[g] for g in ticks], label_chars)
    fig.yaxis.major_label_overrides = {-g - 0.5: text for g, text in zip(ticks, labels,
                                                                          strict=True)}
    fig.yaxis.major_label_text_font_size = "9px"
    if len(ticks) < count:
        fig.yaxis.axis_label = f"groups (1 in {ticks[1] - ticks[0]} labelled)"
        fig.yaxis.axis_label_text_font_size = "10px"
    _few_ticks(fig.xaxis, width)
    fig.ygrid.visible = False
    fig.xgrid.visible = False
    _fmt_axis(fig.xaxis)
    fig.add_layout(Span(location=0, dimension="height", line_color="#000000", line_width=1.5,
                        name=f"{pid}:cursor_heat_{r}"))
    _lean(fig)
    return fig


def _heat_hover(fig, renderer, groups: list) -> None:
    """Hover: the group under the pointer (its full name) and the cycle."""
    from bokeh.models import CustomJSHover, HoverTool
    name = CustomJSHover(args={"names": list(groups)}, code=(
        "const g = Math.floor(-value); return (g >= 0 && g < names.length) ? names[g] : '';"))
    fig.add_tools(HoverTool(renderers=[renderer], tooltips=[("group", "$y{custom}"),
                                                            ("cycle", "$x{0,0}")],
                            formatters={"$y": name}))


def _fifo_figure(run: RunData, r: int, pid: str, name: str, width: int):
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure
    n = len(run.fifo_names)
    src = ColumnDataSource({"x": list(range(n)), "name": run.fifo_names,
                            "capacity": run.fifo_capacity.tolist(), "fill_level": [0.0] * n},
                           name=f"{pid}:fifos_{r}")
    shown = (f"{n} fullest of {run.fifo_total:,} FIFOs (by mean fill)" if n < run.fifo_total
             else f"all {n} FIFOs")
    fig = figure(width=width, height=190, y_range=(0, 1.05), toolbar_location=None, tools="",
                 name=f"{pid}:fifo_fill_{r}", title=f"{name}: FIFO fill (this frame)",
                 x_axis_label=shown, y_axis_label="fill [% of capacity]")
    bars = fig.vbar(x="x", top="fill_level", width=0.8, source=src, color="#4c78a8")
    fig.add_tools(HoverTool(renderers=[bars], tooltips=[
        ("FIFO", "@name"), ("fill", "@fill_level{0%}"), ("capacity", "@capacity{0,0} tokens")]))
    fig.yaxis.formatter = NumeralTickFormatter(format="0%")
    fig.xaxis.major_label_text_font_size = "0px"
    fig.xaxis.major_tick_line_color = None
    fig.xgrid.visible = False
    fig.visible = n > 0
    _lean(fig)
    return fig


def bandwidth_figure(runs: list, boundaries: np.ndarray, pid: str, width: int, names: list):
    """Off-chip bytes/cycle per frame, one line per run, the labelled peak and a cursor."""
    from bokeh.models import ColumnDataSource, Label, Legend, LegendItem, Span
    from bokeh.plotting import figure

    mid = (boundaries[:-1] + boundaries[1:]) / 2
    k = max(1, round(SMOOTH_CYCLES / max(float(np.diff(boundaries).mean()), 1.0)))
    title = "off-chip bandwidth" + (f" (moving average over {SMOOTH_CYCLES} cycles)"
                                    if k > 1 else " (average per frame)")
    fig = figure(title=title, width=width, height=220, toolbar_location=None, tools="",
                 x_axis_label="time [cycles]", y_axis_label="off-chip bandwidth [B/cycle]",
                 name=f"{pid}:bandwidth")
    lines = []
    for i, run in enumerate(runs):
        series = (np.convolve(run.bandwidth, np.ones(k) / k, mode="same") if k > 1
                  else run.bandwidth)
        # numpy columns: sent as binary arrays (the browser only draws them)
        src = ColumnDataSource({"cycle": np.asarray(mid, dtype=np.float64),
                                "bandwidth": np.asarray(series, dtype=np.float64).round(2)})
        lines.append(fig.line("cycle", "bandwidth", source=src, color=RUN_COLOURS[i % 4],
                              line_width=1.5))
    peak = max(run.peak for run in runs)
    fig.add_layout(Span(location=peak, dimension="width", line_dash="dashed",
                        line_color="#666666"))
    # the label sits in a headroom band above the peak, where no line can reach, on an
    # opaque box so neither the dashed line nor a curve at the peak crosses its text
    fig.add_layout(Label(x=6, x_units="screen", y=peak, text=f"peak {peak:,.0f} bytes/cycle",
                         text_font_size="10px", text_color="#444444", y_offset=4,
                         background_fill_color="#ffffff", background_fill_alpha=0.9,
                         name=f"{pid}:peak_label"))
    fig.y_range.start = 0
    fig.y_range.end = peak * 1.3
    fig.add_layout(Span(location=0, dimension="height", line_color="#000000", line_width=1.5,
                        name=f"{pid}:cursor_bw"))
    _fmt_axis(fig.xaxis)
    _fmt_axis(fig.yaxis)
    _few_ticks(fig.xaxis, width)
    if len(runs) > 1:
        from bokeh.core.properties import value
        # outside the plot area (above it): a legend inside would cover the curves
        fig.add_layout(Legend(items=[LegendItem(label=value(n), renderers=[line])
                                     for n, line in zip(names, lines, strict=True)],
                              orientation="horizontal", location="top_left", border_line_alpha=0,
                              margin=0, padding=2, name=f"{pid}:bandwidth_legend"), "above")
    _lean(fig)
    return fig


# [Choice] Figures without axes or a toolbar are made without them (not hidden): every bokeh
# model costs ~1 ms to build and serialise on each knob change (issue 15).
_BARE = {"x_axis_type": None, "y_axis_type": None}


def _bare(fig) -> None:
    fig.outline_line_color = None


def _lean(fig, selectable=None) -> None:
    """No muted glyphs (nothing mutes) and no non-selection glyphs on renderers that are never
    selected (only the group cells are): fewer models to build and send (see ``_BARE``)."""
    for renderer in fig.renderers:
        renderer.muted_glyph = None
        if renderer is not selectable:
            renderer.nonselection_glyph = None
