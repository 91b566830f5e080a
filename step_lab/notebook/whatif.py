"""The Pareto view of the what-if explorer notebook (``notebooks/explorer.ipynb``).

:class:`ParetoView` shows where an explored design lies against a sweep of static designs, both
objectives minimised (on-chip memory on x, cycles on y): a live bokeh plot (static points, their
Pareto frontier, the explored design as a star) and a readout with the Pareto improvement
distance (``step_lab.dse.pid``, EXPERIMENTS.md §2) and the nearest static designs along each
axis. Attached to an ``explore`` widget it follows every knob change.
"""
from __future__ import annotations

import html
from collections.abc import Callable

from ..dse import pareto, pid

__all__ = ["ParetoView"]


class ParetoView:
    """Where the explored design lies against a (cached) sweep of static designs.

    ``measure(values, result) -> {"x", "y", "label"}`` measures the explored design from the knob
    values and its simulation result; ``sweep_key(values)`` names the static sweep it is compared
    with and ``sweep(values) -> [{"x", "y", "label"}, …]`` computes that sweep (once per key).
    The nearest static designs along each axis are looked up with a relative ``slack`` (the
    paper's "at the same memory" compares points within a fraction of a percent).
    """

    def __init__(self, measure: Callable, sweep_key: Callable, sweep: Callable, *,
                 x_label: str = "on-chip memory", x_unit: str = "MB", x_scale: float = 1e6,
                 title: str = "", slack: float = 0.01):
        self.measure, self.sweep_key, self.sweep = measure, sweep_key, sweep
        self.slack = slack          # "no more memory" / "as fast" allow this relative margin
        self.x_label, self.x_unit, self.x_scale = x_label, x_unit, x_scale
        self.cache: dict = {}
        self.last: dict | None = None
        self._build(title)

    # -- widgets -------------------------------------------------------------------------------
    def _build(self, title: str) -> None:
        import ipywidgets as w
        from bokeh.models import ColumnDataSource, LabelSet
        from bokeh.plotting import figure

        from ..notebook.animation import ensure_bokehjs
        ensure_bokehjs()
        self.static_source = ColumnDataSource({"x": [], "y": [], "label": []})
        self.frontier_source = ColumnDataSource({"x": [], "y": []})
        self.point_source = ColumnDataSource({"x": [], "y": [], "label": []})
        fig = figure(title=title, width=780, height=380, tools="pan,wheel_zoom,box_zoom,reset",
                     x_axis_label=f"{self.x_label} [{self.x_unit}]", y_axis_label="cycles",
                     tooltips=[("design", "@label"), (self.x_unit, "@x{0,0.000}"),
                               ("cycles", "@y{0,0}")])
        fig.scatter("x", "y", source=self.static_source, size=9, color="#1f77b4",
                    legend_label="static designs")
        fig.add_layout(LabelSet(x="x", y="y", text="label", source=self.static_source,
                                x_offset=6, y_offset=4, text_font_size="9pt"))
        fig.line("x", "y", source=self.frontier_source, color="#1f77b4", line_dash="dashed",
                 legend_label="static Pareto frontier")
        fig.scatter("x", "y", source=self.point_source, marker="star", size=18,
                    color="#d62728", legend_label="explored design")
        fig.x_range.range_padding = fig.y_range.range_padding = 0.5     # room for the labels
        fig.add_layout(fig.legend[0], "right")
        from ..formatting import readable_axes
        readable_axes(fig)                               # 7M, never 7.000e+6
        self.figure = fig
        self.model = None            # the plot's widget, created once the sources hold data
        self.readout = w.HTML()
        self.widget = w.VBox([self.readout])
        self.widget.add_class("step-lab-pareto")

    def attach(self, explorer) -> ParetoView:
        """Show this view inside an ``explore`` widget, below its summary, and follow its panel:
        update now and after every knob change."""
        panel = explorer.panel
        children = list(explorer.children)
        at = children.index(panel.summary) + 1 if panel.summary in children else len(children)
        explorer.children = (*children[:at], self.widget, *children[at:])
        panel.on_result = self.update
        if panel.outcome is not None:
            self.update(panel.outcome)
        return self

    # -- updating --------------------------------------------------------------------------------
    def update(self, outcome) -> None:
        """Measure the outcome's design, sweep the static designs if needed, redraw."""
        if outcome is None or outcome.error is not None or outcome.result is None:
            return
        values = dict(outcome.values)
        point = self.measure(values, outcome.result)
        key = self.sweep_key(values)
        if key not in self.cache:
            self.readout.value = "<i style='color:#777'>simulating the static sweep…</i>"
            self.cache[key] = self.sweep(values)
        static = self.cache[key]
        front = sorted(pareto(static, "x", "y"), key=lambda p: p["x"])
        self.last = {"point": point, "static": static, "frontier": front,
                     "pid": pid(point, static, "x", "y")}
        scale = self.x_scale
        self.static_source.data = {"x": [p["x"] / scale for p in static],
                                   "y": [p["y"] for p in static],
                                   "label": [p["label"] for p in static]}
        self.frontier_source.data = {"x": [p["x"] / scale for p in front],
                                     "y": [p["y"] for p in front]}
        self.point_source.data = {"x": [point["x"] / scale], "y": [point["y"]],
                                  "label": [point["label"]]}
        self.readout.value = self._html()
        if self.model is None:       # serialise the document with its data; later: patches
            from jupyter_bokeh import BokehModel
            self.model = BokehModel(self.figure)
            self.widget.children = (self.readout, self.model)

    # -- readout ---------------------------------------------------------------------------------
    def sentences(self) -> list[str]:
        """The readout as Markdown sentences (every number computed from the last update)."""
        if self.last is None:
            return ["No design has been measured yet."]
        point, static, score = self.last["point"], self.last["static"], self.last["pid"]
        out = [f"**{point['label']}**: **{point['y']:,}** cycles, **{self._x(point)}** "
               f"{self.x_label}."]
        if point.get("note"):
            out.append(f"Approximation: {point['note']}.")
        if score > 1:
            out.append(f"PID **{score:.3g}** > 1: beyond the static frontier — the best static "
                       f"design would have to improve its harder axis {score:.3g}× to match it.")
        elif score == 1:
            out.append("PID **1**: on the static frontier.")
        else:
            out.append(f"PID **{score:.3g}** < 1: a static design dominates it.")
        margin = f" (within {self.slack:.0%})" if self.slack else ""
        lean = [p for p in static if p["x"] <= point["x"] * (1 + self.slack)]
        if lean:
            best = min(lean, key=lambda p: p["y"])
            out.append(f"Fastest static design with no more {self.x_label}{margin}: "
                       f"**{best['label']}**, {best['y']:,} cycles "
                       f"({best['y'] / point['y']:.2f}× the explored design's).")
        else:
            out.append(f"No static design uses as little {self.x_label}{margin}.")
        fast = [p for p in static if p["y"] <= point["y"] * (1 + self.slack)]
        if fast:
            small = min(fast, key=lambda p: p["x"])
            out.append(f"Smallest static design at least as fast{margin}: "
                       f"**{small['label']}**, {self._x(small)} "
                       f"({small['x'] / point['x']:.2f}× the explored design's {self.x_label}).")
        else:
            out.append(f"No static design is as fast{margin}.")
        return out

    def _x(self, p: dict) -> str:
        return f"{p['x'] / self.x_scale:,.3g} {self.x_unit}"

    def _html(self) -> str:
        items = []
        for text in self.sentences():
            escaped = html.escape(text)
            parts = escaped.split("**")
            items.append("".join(f"<b>{s}</b>" if i % 2 else s for i, s in enumerate(parts)))
        return "<div style='line-height:1.5'>" + "<br>".join(items) + "</div>"
