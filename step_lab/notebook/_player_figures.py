"""The bokeh figures of the player (built once per output; the browser fills them per frame).

The figures' *structure* depends only on the player's width and number of runs; everything a
run decides (titles, heights, ranges, labels, the sources' data) comes from
:func:`._player_values.figure_values` and is applied by :func:`apply_values` — the same values
:mod:`._player_doc` writes into a cached serialised document of that structure.

Names of the models the JavaScript drives: ``{pid}:groups_{r}`` (group cell centres),
``{pid}:segments_{r}`` (four bars per group: busy, stalled on input, stalled on output, idle),
``{pid}:group_mark_{r}``, ``{pid}:units_{r}`` / ``{pid}:unit_grid_{r}`` (the drilled-into
group), ``{pid}:fifos_{r}``, ``{pid}:cursor_heat_{r}`` and ``{pid}:cursor_bw``.
Labels never overlap: group and unit names are elided to their cell's width (tail kept, the full
name is in the hover), heatmap row labels are thinned to one per 12 px.
"""
from __future__ import annotations

import re

from ._player_values import UNIT_COLUMNS, Values
from .player_style import RUN_COLOURS

__all__ = ["player_layout", "apply_values", "targets", "path_steps"]


def player_layout(runs: int, pid: str, width: int, values: Values):
    """The whole player's bokeh layout: ``runs`` columns side by side above the bandwidth
    figure, with ``values`` applied."""
    from bokeh.layouts import column, row
    column_width = width // runs
    columns = [run_column(r, pid, column_width) for r in range(runs)]
    layout = column(row(*columns), bandwidth_figure(runs, pid, width))
    apply_values(layout, pid, values)
    return layout


_STEP = re.compile(r"([A-Za-z_]\w*)(?:\[(\d+)\])?")


def path_steps(path: str) -> list:
    """``"left[0].ticker.ticks"`` → ``["left", 0, "ticker", "ticks"]``."""
    steps: list = []
    for part in path.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            raise ValueError(f"player figures: bad property path {path!r}")
        steps.append(match.group(1))
        if match.group(2) is not None:
            steps.append(int(match.group(2)))
    return steps


def apply_values(layout, pid: str, values: Values) -> None:
    """Set every ``{model: {path: value}}`` on the models of ``layout`` named ``{pid}:model``."""
    for target, attr, value in targets(layout, pid, values):
        setattr(target, attr, value)


def targets(layout, pid: str, values: Values):
    """``(object, attribute, value)`` of every path in ``values`` (the object holding it)."""
    named = {m.name: m for m in layout.references() if m.name}
    for model, props in values.items():
        for path, value in props.items():
            *steps, last = path_steps(path)
            target = named[f"{pid}:{model}"]
            for step in steps:
                target = target[step] if isinstance(step, int) else getattr(target, step)
            yield target, last, value


def _fmt_axis(axis) -> None:
    from bokeh.models import NumeralTickFormatter
    axis.formatter = NumeralTickFormatter(format="0,0")


def run_column(r: int, pid: str, width: int):
    """Group cells, units of the drilled-into group, heatmap and FIFO fill of run ``r``."""
    from bokeh.layouts import column
    return column(_groups_figure(r, pid, width), _units_figure(r, pid, width),
                  _heatmap_figure(r, pid, width), _fifo_figure(r, pid, width))


def _few_ticks(axis, width: int) -> None:
    """Cycle-axis ticks at least ~110 px apart (labels like 600,000 never touch)."""
    axis.ticker.desired_num_ticks = max(3, width // 110)


def _groups_figure(r: int, pid: str, width: int):
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool, Range1d, TapTool
    from bokeh.plotting import figure
    centres = ColumnDataSource({"cx": [], "cy": []}, name=f"{pid}:groups_{r}")
    segments = ColumnDataSource({k: [] for k in ("left", "right", "top", "bottom", "color",
                                                 "group", "state", "share", "units")},
                                name=f"{pid}:segments_{r}")
    fig = figure(width=width, height=100, x_range=Range1d(0, 1), y_range=Range1d(-1, 0.1),
                 toolbar_location=None, tools="", name=f"{pid}:group_grid_{r}", **_BARE,
                 title="groups")
    bars = fig.quad(left="left", right="right", top="top", bottom="bottom", color="color",
                    source=segments, line_color=None, nonselection_fill_alpha=1.0,
                    selection_fill_alpha=1.0)
    fig.rect(x="cx", y="cy", width=0.86, height=0.48, source=centres, fill_color=None,
             line_color="#999999")
    mark = ColumnDataSource({"x": [], "y": []}, name=f"{pid}:group_mark_{r}")
    fig.rect(x="x", y="y", width=0.94, height=0.62, source=mark, fill_color=None,
             line_color="#000000", line_width=2)
    labels = ColumnDataSource({"x": [], "y": [], "text": []}, name=f"{pid}:group_labels_{r}")
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
    src = ColumnDataSource({k: [] for k in UNIT_COLUMNS}, name=f"{pid}:units_{r}")
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


def _heatmap_figure(r: int, pid: str, width: int):
    from bokeh.models import ColumnDataSource, FixedTicker, Range1d, Span
    from bokeh.plotting import figure
    fig = figure(width=width, height=140, x_range=Range1d(0, 1), y_range=Range1d(-1, 0),
                 toolbar_location="above", tools="xpan,xwheel_zoom,reset",
                 name=f"{pid}:heatmap_{r}", title="utilization", x_axis_label="time [cycles]")
    image = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []},
                             name=f"{pid}:heat_{r}")
    picture = fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=image)
    _heat_hover(fig, picture, r, pid)
    fig.yaxis.ticker = FixedTicker(ticks=[])
    fig.yaxis.major_label_text_font_size = "9px"
    fig.yaxis.axis_label_text_font_size = "10px"
    _few_ticks(fig.xaxis, width)
    fig.ygrid.visible = False
    fig.xgrid.visible = False
    _fmt_axis(fig.xaxis)
    fig.add_layout(Span(location=0, dimension="height", line_color="#000000", line_width=1.5,
                        name=f"{pid}:cursor_heat_{r}"))
    _lean(fig)
    return fig


def _heat_hover(fig, renderer, r: int, pid: str) -> None:
    """Hover: the group under the pointer (its full name) and the cycle."""
    from bokeh.models import CustomJSHover, HoverTool
    name = CustomJSHover(args={"names": []}, name=f"{pid}:heat_names_{r}", code=(
        "const g = Math.floor(-value); return (g >= 0 && g < names.length) ? names[g] : '';"))
    fig.add_tools(HoverTool(renderers=[renderer], tooltips=[("group", "$y{custom}"),
                                                            ("cycle", "$x{0,0}")],
                            formatters={"$y": name}))


def _fifo_figure(r: int, pid: str, width: int):
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure
    src = ColumnDataSource({"x": [], "name": [], "capacity": [], "fill_level": []},
                           name=f"{pid}:fifos_{r}")
    fig = figure(width=width, height=190, y_range=(0, 1.05), toolbar_location=None, tools="",
                 name=f"{pid}:fifo_fill_{r}", title="FIFO fill (this frame)",
                 x_axis_label="FIFOs", y_axis_label="fill [% of capacity]")
    bars = fig.vbar(x="x", top="fill_level", width=0.8, source=src, color="#4c78a8")
    fig.add_tools(HoverTool(renderers=[bars], tooltips=[
        ("FIFO", "@name"), ("fill", "@fill_level{0%}"), ("capacity", "@capacity{0,0} tokens")]))
    fig.yaxis.formatter = NumeralTickFormatter(format="0%")
    fig.xaxis.major_label_text_font_size = "0px"
    fig.xaxis.major_tick_line_color = None
    fig.xgrid.visible = False
    _lean(fig)
    return fig


def bandwidth_figure(runs: int, pid: str, width: int):
    """Off-chip bytes/cycle per frame, one line per run, the labelled peak and a cursor."""
    from bokeh.models import ColumnDataSource, Label, Legend, LegendItem, Range1d, Span
    from bokeh.plotting import figure
    # a fixed y range (not a data range: BokehJS would put a data range's end back to its
    # first value when a reused figure's data change, _player_js)
    fig = figure(title="off-chip bandwidth", width=width, height=220, toolbar_location=None,
                 tools="", x_axis_label="time [cycles]", y_range=Range1d(0, 1),
                 y_axis_label="off-chip bandwidth [B/cycle]", name=f"{pid}:bandwidth")
    lines = []
    for i in range(runs):
        src = ColumnDataSource({"cycle": [], "bandwidth": []}, name=f"{pid}:bandwidth_{i}")
        lines.append(fig.line("cycle", "bandwidth", source=src, color=RUN_COLOURS[i % 4],
                              line_width=1.5))
    fig.add_layout(Span(location=0, dimension="width", line_dash="dashed",
                        line_color="#666666", name=f"{pid}:peak"))
    # the label sits in a headroom band above the peak, where no line can reach, on an
    # opaque box so neither the dashed line nor a curve at the peak crosses its text
    fig.add_layout(Label(x=6, x_units="screen", y=0, text="peak", text_font_size="10px",
                         text_color="#444444", y_offset=4, background_fill_color="#ffffff",
                         background_fill_alpha=0.9, name=f"{pid}:peak_label"))
    fig.add_layout(Span(location=0, dimension="height", line_color="#000000", line_width=1.5,
                        name=f"{pid}:cursor_bw"))
    _fmt_axis(fig.xaxis)
    _fmt_axis(fig.yaxis)
    _few_ticks(fig.xaxis, width)
    if runs > 1:
        # outside the plot area (above it): a legend inside would cover the curves
        fig.add_layout(Legend(items=[LegendItem(label=f"run {i + 1}", renderers=[line])
                                     for i, line in enumerate(lines)],
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
