"""Bokeh figures of an occupancy run: unit grid, FIFO fill, off-chip bandwidth, static timeline.

Pure bokeh (no ipywidgets): :mod:`.animation` wires them to playback controls, the report embeds
:func:`timeline_figure` as a static plot. Each view builds its figure once; ``set_run``
replaces the data (a knob change sends small patches instead of a new document) and ``show``
draws one frame. Colours: unit *state* fills the inner square
(:data:`STATE_COLOURS`), the operator *group* fills the outer frame (the graph's palette).
"""
from __future__ import annotations

import numpy as np

from .frames import Frames
from .occupancy import STATES, Occupancy

__all__ = ["STATE_COLOURS", "RUN_COLOURS", "UnitGrid", "FifoBars", "BandwidthPlot",
           "timeline_figure", "legend_html", "unit_columns", "fifo_columns"]

STATE_COLOURS = ("#e6e6e6", "#2ca02c", "#ff9f1a", "#d62728")   # idle, busy, stall in, stall out
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_CELL = 72          # pixels per grid cell (at most)
_MIN_CELL = 30      # ... and at least: big fabrics scroll rather than vanish
SMOOTH_CYCLES = 16  # bandwidth is shown averaged over at least this many cycles


def _group_colour(group: str) -> str:
    from ..analysis.dot import PALETTE
    return PALETTE.get(group, PALETTE["other"])


def unit_columns(frames: Frames, k: int) -> dict:
    """The per-frame columns of the unit source at frame ``k``."""
    state = frames.state[k]
    return {"fill": [STATE_COLOURS[s] for s in state],
            "alpha": (0.35 + 0.65 * frames.share[k]).round(3).tolist(),
            "state": [STATES[s] for s in state],
            "busy": [f"{100 * b:.0f}%" for b in frames.busy[k]]}


def fifo_columns(frames: Frames, k: int) -> dict:
    """The FIFO source's per-frame column at frame ``k`` (the frames' picked FIFOs)."""
    return {"fill_level": frames.fifo_fill[k].round(3).tolist()}


class UnitGrid:
    """Units at their placement: outer square = operator group, inner square = state.

    Unused cells of the placement grid are drawn faintly, so the picture reads as the fabric.
    :meth:`set_run` replaces the run (a knob change) without rebuilding the figure.
    """

    def __init__(self, width: int = 1000):
        from bokeh.models import ColumnDataSource, HoverTool, Range1d
        from bokeh.plotting import figure
        self.width = width                    # pixel budget: cells shrink to fit it
        self.source = ColumnDataSource({k: [] for k in _UNIT_COLUMNS}, name="units")
        self.empty = ColumnDataSource({"x": [], "y": []}, name="empty_cells")
        self.figure = fig = figure(width=300, height=200, x_range=Range1d(0, 1),
                                   y_range=Range1d(0, 1), toolbar_location=None,
                                   name="unit_grid")
        fig.rect("x", "y", 0.94, 0.94, source=self.empty, fill_color="#fafafa",
                 line_color="#dddddd", line_dash="dotted")
        fig.rect("x", "y", 0.94, 0.94, source=self.source, fill_color="group",
                 line_color="#555555")
        squares = fig.rect("x", "y", 0.66, 0.52, source=self.source, fill_color="fill",
                           fill_alpha="alpha", line_color="#777777")
        self.labels = fig.text("x", "y", text="label", source=self.source, text_font_size="8pt",
                               text_align="center", text_baseline="middle",
                               y_offset=-_CELL * 0.36).glyph
        fig.add_tools(HoverTool(renderers=[squares], tooltips=[
            ("node", "@name"), ("op", "@op"), ("state", "@state"), ("busy", "@busy")]))
        _bare(fig)

    def set_run(self, occ: Occupancy, frames: Frames, title: str) -> None:
        xs = [u.col for u in occ.units]
        ys = [-u.row for u in occ.units]
        rows, cols = occ.grid or (max((-y for y in ys), default=0) + 1, max(xs, default=0) + 1)
        used = set(zip(xs, ys))
        empty = [(c, -r) for r in range(rows) for c in range(cols) if (c, -r) not in used]
        self.empty.data = {"x": [e[0] for e in empty], "y": [e[1] for e in empty]}
        self.source.data = {"x": xs, "y": ys, "name": [u.name for u in occ.units],
                            "op": [u.op for u in occ.units],
                            "group": [_group_colour(u.group) for u in occ.units],
                            "label": [_short(u.name) for u in occ.units],
                            **unit_columns(frames, 0)}
        fig = self.figure
        cell = int(min(_CELL, max(_MIN_CELL, (self.width - 40) // max(cols, 1))))
        fig.x_range.update(start=-0.55, end=cols - 0.45)
        fig.y_range.update(start=-rows + 0.45, end=0.55)
        fig.width, fig.height = 40 + cell * cols, 50 + cell * rows
        self.labels.update(y_offset=-cell * 0.36,
                           text_font_size="8pt" if cell >= 64 else "7pt" if cell >= 48 else "6pt")
        fig.title.text = title

    def show(self, frames: Frames, k: int) -> None:
        self.source.data.update(unit_columns(frames, k))


_UNIT_COLUMNS = ("x", "y", "name", "op", "group", "label", "fill", "alpha", "state", "busy")


class FifoBars:
    """One bar per FIFO followed by the frames (at most ``frames.MAX_FIFOS``, the fullest on
    average): the time-averaged fill fraction in the current frame."""

    def __init__(self, width: int = 900):
        self.width = width                    # pixel budget
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure
        self.source = ColumnDataSource({"x": [], "name": [], "capacity": [], "fill_level": []},
                                       name="fifos")
        self.figure = fig = figure(width=320, height=170, y_range=(0, 1.05),
                                   toolbar_location=None, name="fifo_fill")
        bars = fig.vbar(x="x", top="fill_level", width=0.8, source=self.source,
                        color="#4c78a8")
        fig.add_tools(HoverTool(renderers=[bars], tooltips=[
            ("FIFO", "@name"), ("fill", "@fill_level{0%}"), ("capacity", "@capacity tokens")]))
        fig.xaxis.visible = False
        from bokeh.models import NumeralTickFormatter
        fig.yaxis.axis_label = "fill [% of capacity]"
        fig.yaxis.formatter = NumeralTickFormatter(format="0%")

    def set_run(self, occ: Occupancy, frames: Frames, title: str) -> None:
        n = len(frames.fifo_pick)
        fifos = [occ.fifos[q] for q in frames.fifo_pick]
        if n < len(occ.fifos):
            title += f" ({n} fullest of {len(occ.fifos)})"
        self.source.data = {"x": list(range(n)), "name": [f.name for f in fifos],
                            "capacity": [f.capacity for f in fifos],
                            **fifo_columns(frames, 0)}
        self.figure.title.text = title
        self.figure.width = min(max(320, 14 * n + 60), self.width)
        self.figure.visible = n > 0

    def show(self, frames: Frames, k: int) -> None:
        if len(frames.fifo_pick):
            self.source.data.update(fifo_columns(frames, k))


class BandwidthPlot:
    """Off-chip bytes/cycle over time, one line per run, a dashed peak and a moving cursor."""

    def __init__(self, runs: int):
        from bokeh.core.properties import value
        from bokeh.models import ColumnDataSource, Legend, LegendItem, Span
        from bokeh.plotting import figure
        from ..formatting import label_axes
        self.figure = fig = figure(title="off-chip bandwidth", width=720, height=200,
                                   toolbar_location=None, name="bandwidth")
        label_axes(fig, x=("time", "cycles"), y=("off-chip bandwidth", "B/cycle"))
        self.sources = [ColumnDataSource({"cycle": [], "bandwidth": []}, name=f"bandwidth_{i}")
                        for i in range(runs)]
        lines = [fig.line("cycle", "bandwidth", source=src, color=RUN_COLOURS[i % 4],
                          line_width=1.5) for i, src in enumerate(self.sources)]
        self.peak = Span(location=0, dimension="width", line_dash="dashed",
                         line_color="#888888")
        self.cursor = Span(location=0, dimension="height", line_color="#000000",
                           line_width=1.5, name="cursor")
        fig.add_layout(self.peak)
        fig.add_layout(self.cursor)
        self.legend = None
        if runs > 1:
            self.legend = Legend(items=[LegendItem(label=value(f"run {i}"), renderers=[line])
                                        for i, line in enumerate(lines)], location="top_right")
            fig.add_layout(self.legend)

    def set_runs(self, runs: list, frames: list) -> None:
        """Per-frame bandwidth; frames shorter than :data:`SMOOTH_CYCLES` are averaged over a
        moving window that long (single tiles spread over their span overshoot the cap)."""
        title = "off-chip bandwidth"
        for src, fr in zip(self.sources, frames):
            mid = (fr.boundaries[:-1] + fr.boundaries[1:]) / 2
            k = max(1, round(SMOOTH_CYCLES / max(np.diff(fr.boundaries).mean(), 1)))
            series = np.convolve(fr.bandwidth, np.ones(k) / k, mode="same") if k > 1 else \
                fr.bandwidth
            if k > 1:
                title = f"off-chip bandwidth (moving average over {SMOOTH_CYCLES} cycles)"
            src.data = {"cycle": mid.tolist(), "bandwidth": series.round(2).tolist()}
        self.figure.title.text = title
        self.peak.location = max(o.offchip_bytes_per_cycle for o in runs)
        if self.legend is not None:
            from bokeh.core.properties import value
            for i, (item, occ) in enumerate(zip(self.legend.items, runs)):
                item.label = value(occ.label or f"run {i}")

    def show(self, cycle: int) -> None:
        self.cursor.location = int(cycle)


def timeline_figure(occ: Occupancy, frames: Frames, title: str = ""):
    """A static view of the whole run: units × time coloured by dominant state (for reports)."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure
    n_frames, n_units = frames.state.shape
    left = np.repeat(frames.boundaries[:-1], n_units)
    right = np.repeat(frames.boundaries[1:], n_units)
    unit = np.tile(np.arange(n_units), n_frames)
    state = frames.state.reshape(-1)
    keep = state != 0                                   # idle cells stay background
    names = [u.name for u in occ.units]
    source = ColumnDataSource({"left": left[keep], "right": right[keep],
                               "bottom": unit[keep] - 0.45, "top": unit[keep] + 0.45,
                               "color": np.array(STATE_COLOURS)[state[keep]],
                               "node": np.array(names, dtype=object)[unit[keep]],
                               "state": np.array(STATES, dtype=object)[state[keep]]})
    fig = figure(title=title or "unit occupancy over time", width=900,
                 height=min(80 + 14 * n_units, 900), x_axis_label="cycle",
                 y_range=(n_units - 0.4, -0.6), toolbar_location="above",
                 tools="xpan,xwheel_zoom,reset", name="timeline")
    quads = fig.quad(left="left", right="right", bottom="bottom", top="top", color="color",
                     source=source)
    fig.add_tools(HoverTool(renderers=[quads], tooltips=[("node", "@node"), ("state", "@state")]))
    fig.yaxis.ticker = list(range(n_units))
    fig.yaxis.major_label_overrides = {i: n for i, n in enumerate(names)}
    fig.yaxis.major_label_text_font_size = "7pt"
    from ..formatting import label_axes
    label_axes(fig, x=("time", "cycles"))
    fig.yaxis.axis_label = "unit"
    return fig


def legend_html() -> str:
    """State swatches (the unit grid's inner squares)."""
    swatch = ("<span style='display:inline-block;width:11px;height:11px;background:{};"
              "margin:0 4px 0 12px;border:1px solid #999'></span>{}")
    return "".join(swatch.format(c, s) for c, s in zip(STATE_COLOURS, STATES))


_ABBREVIATIONS = (("linearoffchipload", "load"), ("linearoffchipstore", "store"),
                  ("randomoffchipload", "rload"), ("randomoffchipstore", "rstore"),
                  ("bufferize", "buf"), ("streamify", "strm"))


def _short(name: str, width: int = 11) -> str:
    """A label that fits a grid cell: ``linearoffchipload3`` -> ``load3``."""
    for long, short in _ABBREVIATIONS:
        name = name.replace(long, short)
    return name if len(name) <= width else name[: width - 1] + "…"


def _bare(fig) -> None:
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = None
